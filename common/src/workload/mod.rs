//! The workload model: the kinds that get scanned, references to workloads (plain and in
//! the gRPC contract), which objects are scanned themselves and which are covered by their
//! controller ([`disposition`]), and where the pod spec and container images of each kind
//! are ([`pod_spec`]).

mod control_plane;
mod disposition;
mod kind;
mod pod_spec;

pub use control_plane::{CONTROL_PLANE_NAMESPACE, is_control_plane_component, is_infra_check};
pub use disposition::{
    DEPLOYMENT_REVISION_ANNOTATION, Disposition, SkipReason, controller_of, disposition,
    is_builtin_controller, job_disposition, pod_disposition, replicaset_disposition,
};
pub use kind::WorkloadKind;
pub use pod_spec::{ContainerImage, container_images, normalize_image_id, pod_spec_of};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::proto;

/// Why a workload reference or kind is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A required field is empty.
    #[error("workload reference has an empty {field}")]
    MissingField {
        /// The field's name.
        field: &'static str,
    },
    /// The kind is not one of the scanned kinds.
    #[error("{kind:?} is not a scanned workload kind")]
    UnknownKind {
        /// The kind as given.
        kind: String,
    },
    /// The apiVersion does not belong to the kind.
    #[error("apiVersion {api_version:?} does not match kind {kind} ({expected})")]
    ApiVersionMismatch {
        /// The kind.
        kind: WorkloadKind,
        /// The apiVersion as given.
        api_version: String,
        /// The apiVersion of the kind.
        expected: &'static str,
    },
}

impl Error {
    /// A short, bounded label for metrics and events.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::MissingField { .. } => "missing_field",
            Self::UnknownKind { .. } => "unknown_kind",
            Self::ApiVersionMismatch { .. } => "api_version_mismatch",
        }
    }
}

/// A reference to one workload object.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WorkloadRef {
    /// The kind.
    pub kind: WorkloadKind,
    /// apiVersion of the kind, e.g. `apps/v1`.
    pub api_version: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// UID.
    pub uid: String,
}

impl WorkloadRef {
    /// A reference to a workload of `kind` named by its metadata; `None` when the metadata
    /// lacks a namespace, name or uid.
    pub fn from_meta(kind: WorkloadKind, meta: &ObjectMeta) -> Option<Self> {
        let non_empty = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
        Some(Self {
            kind,
            api_version: kind.api_version().to_owned(),
            namespace: non_empty(&meta.namespace)?,
            name: non_empty(&meta.name)?,
            uid: non_empty(&meta.uid)?,
        })
    }
}

impl std::fmt::Display for WorkloadRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.kind, self.namespace, self.name)
    }
}

impl From<WorkloadRef> for proto::WorkloadRef {
    fn from(r: WorkloadRef) -> Self {
        Self {
            kind: r.kind.as_str().to_owned(),
            api_version: r.api_version,
            namespace: r.namespace,
            name: r.name,
            uid: r.uid,
        }
    }
}

impl TryFrom<proto::WorkloadRef> for WorkloadRef {
    type Error = Error;

    /// Validates every field: all non-empty, a scanned kind, and the kind's own apiVersion.
    fn try_from(r: proto::WorkloadRef) -> Result<Self, Error> {
        for (field, value) in [
            ("kind", &r.kind),
            ("api_version", &r.api_version),
            ("namespace", &r.namespace),
            ("name", &r.name),
            ("uid", &r.uid),
        ] {
            if value.is_empty() {
                return Err(Error::MissingField { field });
            }
        }
        let kind: WorkloadKind = r.kind.parse()?;
        if r.api_version != kind.api_version() {
            return Err(Error::ApiVersionMismatch {
                kind,
                api_version: r.api_version,
                expected: kind.api_version(),
            });
        }
        Ok(Self {
            kind,
            api_version: r.api_version,
            namespace: r.namespace,
            name: r.name,
            uid: r.uid,
        })
    }
}

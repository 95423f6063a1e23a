//! Which objects are scanned themselves and which are covered by their controller, as
//! upstream decides it: bare Pods are scanned, Pods of a built-in controller are not (the
//! controller is); Jobs of a CronJob are covered by the CronJob; a Deployment is covered by
//! its current ReplicaSet only.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use super::WorkloadKind;

/// Annotation with a Deployment's revision, also copied onto its ReplicaSets.
pub const DEPLOYMENT_REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";

/// Whether to scan an object itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// Scan the object as a workload of its own kind.
    Scan,
    /// Do not scan it.
    Skip(SkipReason),
}

impl Disposition {
    /// Whether this is [`Disposition::Scan`].
    pub fn is_scan(&self) -> bool {
        matches!(self, Self::Scan)
    }
}

/// Why an object is not scanned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// A built-in controller (ReplicaSet, ReplicationController, StatefulSet, DaemonSet, Job)
    /// or a CronJob controls it; that controller is scanned instead.
    CoveredByController {
        /// The controller's kind.
        kind: WorkloadKind,
        /// The controller's name.
        name: String,
    },
    /// A ReplicaSet of an older (or newer, not yet current) revision of its Deployment.
    NotCurrentRevision {
        /// The ReplicaSet's revision, when it has one.
        revision: Option<String>,
        /// The Deployment's revision.
        current: String,
    },
    /// A ReplicaSet controlled by a Deployment whose revision is not known (yet).
    DeploymentRevisionUnknown {
        /// The Deployment's name.
        deployment: String,
    },
}

/// The owner reference with `controller: true`, if any.
pub fn controller_of(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references
        .as_deref()?
        .iter()
        .find(|o| o.controller == Some(true))
}

/// Whether an owner reference points at a built-in controller whose pods it covers:
/// ReplicaSet, ReplicationController, StatefulSet, DaemonSet or Job, in their own API
/// group (any version). A custom resource that happens to be named `Job` is not one.
pub fn is_builtin_controller(owner: &OwnerReference) -> Option<WorkloadKind> {
    use WorkloadKind::*;
    let kind: WorkloadKind = owner.kind.parse().ok()?;
    let builtin = matches!(
        kind,
        ReplicaSet | ReplicationController | StatefulSet | DaemonSet | Job
    );
    (builtin && group_of(&owner.api_version) == kind.group()).then_some(kind)
}

fn group_of(api_version: &str) -> &str {
    api_version.split_once('/').map_or("", |(group, _)| group)
}

/// A Pod is scanned unless a built-in controller controls it.
pub fn pod_disposition(meta: &ObjectMeta) -> Disposition {
    match controller_of(meta) {
        Some(owner) => match is_builtin_controller(owner) {
            Some(kind) => Disposition::Skip(SkipReason::CoveredByController {
                kind,
                name: owner.name.clone(),
            }),
            None => Disposition::Scan,
        },
        None => Disposition::Scan,
    }
}

/// A Job is scanned unless a CronJob (`batch` group) controls it.
pub fn job_disposition(meta: &ObjectMeta) -> Disposition {
    match controller_of(meta) {
        Some(owner) if owner.kind == "CronJob" && group_of(&owner.api_version) == "batch" => {
            Disposition::Skip(SkipReason::CoveredByController {
                kind: WorkloadKind::CronJob,
                name: owner.name.clone(),
            })
        }
        _ => Disposition::Scan,
    }
}

/// A ReplicaSet is scanned unless a Deployment (`apps` group) controls it; then only when it
/// is the Deployment's current one, i.e. its revision annotation equals the Deployment's
/// (`owner_deployment_revision`, the controlling Deployment's annotation; `None` when the
/// Deployment or its annotation is not known).
pub fn replicaset_disposition(
    rs_meta: &ObjectMeta,
    owner_deployment_revision: Option<&str>,
) -> Disposition {
    let Some(owner) = controller_of(rs_meta)
        .filter(|o| o.kind == "Deployment" && group_of(&o.api_version) == "apps")
    else {
        return Disposition::Scan;
    };
    let Some(current) = owner_deployment_revision else {
        return Disposition::Skip(SkipReason::DeploymentRevisionUnknown {
            deployment: owner.name.clone(),
        });
    };
    let revision = rs_meta
        .annotations
        .as_ref()
        .and_then(|a| a.get(DEPLOYMENT_REVISION_ANNOTATION));
    if revision.map(String::as_str) == Some(current) {
        Disposition::Scan
    } else {
        Disposition::Skip(SkipReason::NotCurrentRevision {
            revision: revision.cloned(),
            current: current.to_owned(),
        })
    }
}

/// The disposition of any workload kind. `owner_deployment_revision` is only used for
/// ReplicaSets. StatefulSets, DaemonSets, ReplicationControllers and CronJobs are always
/// scanned.
pub fn disposition(
    kind: WorkloadKind,
    meta: &ObjectMeta,
    owner_deployment_revision: Option<&str>,
) -> Disposition {
    match kind {
        WorkloadKind::Pod => pod_disposition(meta),
        WorkloadKind::Job => job_disposition(meta),
        WorkloadKind::ReplicaSet => replicaset_disposition(meta, owner_deployment_revision),
        WorkloadKind::ReplicationController
        | WorkloadKind::StatefulSet
        | WorkloadKind::DaemonSet
        | WorkloadKind::CronJob => Disposition::Scan,
    }
}

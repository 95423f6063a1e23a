//! Upstream-compatible report custom resources (`aquasecurity.github.io/v1alpha1`).
//!
//! Upstream reports have no `spec`: their data lives under a root `report` field, so the
//! `kube::CustomResource` derive does not fit. Each report kind is a plain struct
//! `{ metadata: ObjectMeta, report: <Kind>Data }`; the crate-private `report_resource!` macro
//! implements the `k8s_openapi::Resource` and `Metadata` traits for it (which gives
//! `kube::Resource`, so `kube::Api<Report>` works) and its serde with `apiVersion` and `kind`
//! on the wire.
//! The CRD schemas are generated from the `<Kind>Data` types in [`crd`].

pub mod config_audit;
pub mod crd;
mod crd_contract;
pub mod exposed_secret;
pub mod gauge;
pub mod image_vulnerability;
pub mod infra_assessment;
pub mod rbac_assessment;
pub mod sbom;
mod schema;
pub mod vulnerability;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// API group of every upstream report kind.
pub const GROUP: &str = "aquasecurity.github.io";
/// API group of this operator's own kinds (those upstream has no kind for).
pub const OWN_GROUP: &str = "trivy-operator-rs.dev";
/// API version (without group) of every report kind.
pub const VERSION: &str = "v1alpha1";
/// `apiVersion` of every upstream report kind.
pub const API_VERSION: &str = "aquasecurity.github.io/v1alpha1";

/// Scanner name written into reports.
pub const SCANNER_NAME: &str = "Trivy";
/// Scanner vendor written into reports.
pub const SCANNER_VENDOR: &str = "Aqua Security";

/// The scanner that produced a report (`report.scanner`), shared by all report kinds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Scanner {
    /// The name of the scanner, `Trivy`.
    pub name: String,
    /// The vendor of the scanner, `Aqua Security`.
    pub vendor: String,
    /// The version of the scanner.
    pub version: String,
}

impl Scanner {
    /// The Trivy scanner at the given version (name `Trivy`, vendor `Aqua Security`).
    pub fn trivy(version: impl Into<String>) -> Self {
        Self {
            name: SCANNER_NAME.to_owned(),
            vendor: SCANNER_VENDOR.to_owned(),
            version: version.into(),
        }
    }
}

/// JSON schema of a `metav1.Time` field: an RFC 3339 `date-time` string. Use it with
/// `#[schemars(schema_with = "crate::reports::date_time_schema")]` on `Time` fields (the
/// `schemars` feature of k8s-openapi is not enabled in this tree).
pub fn date_time_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({"type": "string", "format": "date-time"})
}

/// The wire form of a report, borrowed for serialization.
#[derive(Serialize)]
pub(crate) struct WireRef<'a, R> {
    #[serde(rename = "apiVersion")]
    pub(crate) api_version: &'static str,
    pub(crate) kind: &'static str,
    pub(crate) metadata: &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    pub(crate) report: &'a R,
}

/// The wire form of a report, owned for deserialization. `apiVersion` and `kind` may be
/// absent (list items from some servers omit them) but must match when present.
#[derive(Deserialize)]
pub(crate) struct Wire<R> {
    #[serde(rename = "apiVersion", default)]
    pub(crate) api_version: Option<String>,
    #[serde(default)]
    pub(crate) kind: Option<String>,
    #[serde(default)]
    pub(crate) metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    pub(crate) report: R,
}

impl<R> Wire<R> {
    /// Checks `apiVersion` and `kind` against the expected ones, when present.
    pub(crate) fn check_type(&self, api_version: &str, kind: &str) -> Result<(), String> {
        if let Some(v) = &self.api_version
            && v != api_version
        {
            return Err(format!("expected apiVersion {api_version}, got {v}"));
        }
        if let Some(k) = &self.kind
            && k != kind
        {
            return Err(format!("expected kind {kind}, got {k}"));
        }
        Ok(())
    }
}

/// Implements `k8s_openapi::Resource`, `k8s_openapi::Metadata` (hence `kube::Resource`),
/// `Serialize` and `Deserialize` for a report struct `{ metadata: ObjectMeta, report: $data }`.
///
/// ```ignore
/// crate::reports::report_resource!(VulnerabilityReport, VulnerabilityReportData,
///     kind = "VulnerabilityReport", plural = "vulnerabilityreports");
/// ```
///
/// Upstream's kinds are namespaced in `aquasecurity.github.io`; a kind of another group or
/// scope names them: `group = "...", api_version = "...", scope = ClusterResourceScope`.
macro_rules! report_resource {
    ($ty:ident, $data:ty, kind = $kind:literal, plural = $plural:literal) => {
        $crate::reports::report_resource!(
            $ty,
            $data,
            kind = $kind,
            plural = $plural,
            group = "aquasecurity.github.io",
            api_version = "aquasecurity.github.io/v1alpha1",
            scope = NamespaceResourceScope
        );
    };
    ($ty:ident, $data:ty, kind = $kind:literal, plural = $plural:literal,
     group = $group:literal, api_version = $api_version:literal, scope = $scope:ident) => {
        impl k8s_openapi::Resource for $ty {
            const API_VERSION: &'static str = $api_version;
            const GROUP: &'static str = $group;
            const KIND: &'static str = $kind;
            const VERSION: &'static str = $crate::reports::VERSION;
            const URL_PATH_SEGMENT: &'static str = $plural;
            type Scope = k8s_openapi::$scope;
        }

        impl k8s_openapi::Metadata for $ty {
            type Ty = k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

            fn metadata(&self) -> &Self::Ty {
                &self.metadata
            }

            fn metadata_mut(&mut self) -> &mut Self::Ty {
                &mut self.metadata
            }
        }

        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                $crate::reports::WireRef {
                    api_version: $api_version,
                    kind: $kind,
                    metadata: &self.metadata,
                    report: &self.report,
                }
                .serialize(serializer)
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let wire = $crate::reports::Wire::<$data>::deserialize(deserializer)?;
                wire.check_type($api_version, $kind)
                    .map_err(serde::de::Error::custom)?;
                Ok(Self {
                    metadata: wire.metadata,
                    report: wire.report,
                })
            }
        }
    };
}
pub(crate) use report_resource;

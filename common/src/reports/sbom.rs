//! The `SbomReport` custom resource (`aquasecurity.github.io/v1alpha1`): the software bill of
//! materials of one container image of one workload, a CycloneDX BOM stored under
//! `report.components` as upstream stores it (the subset of CycloneDX upstream's CRD keeps:
//! components with their references, purls, suppliers, hashes, licenses and properties, and
//! the dependency graph; anything else a BOM carries is not kept, as the API server would
//! prune it). Written from the same scan Job as the container's VulnerabilityReport, under
//! the same name.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Scanner;
use super::vulnerability::{Artifact, Registry};

/// `kind` of an SbomReport.
pub const KIND: &str = "SbomReport";
/// Plural resource name of SbomReports.
pub const PLURAL: &str = "sbomreports";

/// An SbomReport: the components of one container image of one workload.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct SbomReport {
    /// Standard object metadata.
    pub metadata: ObjectMeta,
    /// The report data.
    pub report: SbomReportData,
}

super::report_resource!(
    SbomReport,
    SbomReportData,
    kind = "SbomReport",
    plural = "sbomreports"
);

impl SbomReport {
    /// A report with the given metadata and data.
    pub fn new(metadata: ObjectMeta, report: SbomReportData) -> Self {
        Self { metadata, report }
    }
}

/// The data of an SbomReport (`.report`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SbomReportData {
    /// When this report was written (RFC 3339, UTC).
    #[schemars(schema_with = "super::date_time_schema")]
    pub update_timestamp: jiff::Timestamp,
    /// The scanner that produced the report.
    pub scanner: Scanner,
    /// The registry the image was pulled from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<Registry>,
    /// The scanned image.
    pub artifact: Artifact,
    /// How many components and dependency entries the BOM has.
    pub summary: SbomSummary,
    /// The CycloneDX BOM.
    pub components: Bom,
}

impl Default for SbomReportData {
    fn default() -> Self {
        Self {
            update_timestamp: jiff::Timestamp::UNIX_EPOCH,
            scanner: Scanner::default(),
            registry: None,
            artifact: Artifact::default(),
            summary: SbomSummary::default(),
            components: Bom::default(),
        }
    }
}

/// Upstream's counts: the components plus the image itself, and the dependency entries.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SbomSummary {
    /// Components in the BOM, the image's own (`metadata.component`) included.
    pub components_count: u64,
    /// Entries of the BOM's dependency graph.
    pub dependencies_count: u64,
}

impl SbomSummary {
    /// The counts of `bom`, as upstream computes them.
    pub fn of(bom: &Bom) -> Self {
        Self {
            components_count: bom.components.len() as u64 + 1,
            dependencies_count: bom.dependencies.as_ref().map_or(0, Vec::len) as u64,
        }
    }
}

/// A CycloneDX BOM, the fields upstream's CRD keeps.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Bom {
    /// `CycloneDX`.
    #[serde(default)]
    pub bom_format: String,
    /// E.g. `1.5`.
    #[serde(default)]
    pub spec_version: String,
    /// `urn:uuid:...`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub serial_number: String,
    /// The BOM's version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    /// When and by what the BOM was made, and the image it describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BomMetadata>,
    /// The operating system, applications and packages found.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<Component>,
    /// Which component depends on which (by `bom-ref`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dependencies: Option<Vec<Dependency>>,
}

/// `metadata` of a BOM.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
pub struct BomMetadata {
    /// When the BOM was made.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub timestamp: String,
    /// The tools that made it.
    #[serde(default)]
    pub tools: Tools,
    /// The image the BOM describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<Component>,
}

/// `metadata.tools` of a BOM.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
pub struct Tools {
    /// The tools, as components.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<Component>,
}

/// One CycloneDX component.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
pub struct Component {
    /// Its reference in the BOM (a purl or a UUID).
    #[serde(rename = "bom-ref", default, skip_serializing_if = "String::is_empty")]
    pub bom_ref: String,
    /// E.g. `library`, `operating-system`, `application`, `container`.
    #[serde(rename = "type", default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub group: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    /// Package URL.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub purl: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supplier: Option<Supplier>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hashes: Vec<Hash>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub licenses: Vec<LicenseChoice>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<Property>,
}

/// The organization that supplied a component.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
pub struct Supplier {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<Vec<Contact>>,
}

/// A contact of a supplier.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
pub struct Contact {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub email: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub phone: String,
}

/// A hash of a component.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
pub struct Hash {
    /// E.g. `SHA-1`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub alg: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub content: String,
}

/// A license of a component: a license or an SPDX expression.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
pub struct LicenseChoice {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<License>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub expression: String,
}

/// A license.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
pub struct License {
    /// SPDX identifier.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub url: String,
}

/// A name/value property (Trivy's `aquasecurity:trivy:*`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
pub struct Property {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub value: String,
}

/// One entry of the dependency graph.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
pub struct Dependency {
    /// The `bom-ref` of the depending component.
    #[serde(rename = "ref", default, skip_serializing_if = "String::is_empty")]
    pub reference: String,
    /// The `bom-ref`s it depends on.
    #[serde(rename = "dependsOn", default, skip_serializing_if = "Option::is_none")]
    pub depends_on: Option<Vec<String>>,
}

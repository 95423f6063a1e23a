//! The input model: the parts of `trivy image --format json` output (SchemaVersion 2) that a
//! VulnerabilityReport needs. Unknown fields are ignored, and every field that Trivy may
//! leave out is optional, so newer Trivy versions still parse.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The only Trivy JSON schema version this model understands.
pub const SUPPORTED_SCHEMA_VERSION: u64 = 2;

/// A whole Trivy report.
#[derive(Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "PascalCase")]
pub struct TrivyReport {
    /// Schema version; must be [`SUPPORTED_SCHEMA_VERSION`].
    pub schema_version: u64,
    /// What was scanned, e.g. an image reference or a tarball path.
    #[serde(default)]
    pub artifact_name: Option<String>,
    /// E.g. `container_image`.
    #[serde(default)]
    pub artifact_type: Option<String>,
    /// Image metadata.
    #[serde(default)]
    pub metadata: Metadata,
    /// One result per scanned target (OS packages, each lock file or jar...).
    #[serde(default, deserialize_with = "null_as_default")]
    pub results: Vec<ScanResult>,
}

/// Image metadata.
#[derive(Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "PascalCase")]
pub struct Metadata {
    /// The detected operating system, absent for an image without one.
    #[serde(default, rename = "OS")]
    pub os: Option<TrivyOs>,
    /// Image ID (the config digest), e.g. `sha256:...`.
    #[serde(default, rename = "ImageID")]
    pub image_id: Option<String>,
    /// `repo@sha256:...` digests of the image.
    #[serde(default, deserialize_with = "null_as_default")]
    pub repo_digests: Vec<String>,
    /// `repo:tag` names of the image.
    #[serde(default, deserialize_with = "null_as_default")]
    pub repo_tags: Vec<String>,
}

/// The detected operating system.
#[derive(Deserialize, Clone, Debug, PartialEq, Default)]
pub struct TrivyOs {
    /// E.g. `alpine`, `debian`.
    #[serde(rename = "Family", default)]
    pub family: String,
    /// E.g. `3.10.2`.
    #[serde(rename = "Name", default)]
    pub name: Option<String>,
    /// Whether the OS version is past its end of service life.
    #[serde(rename = "EOSL", default)]
    pub eosl: Option<bool>,
}

/// The findings for one target.
#[derive(Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "PascalCase")]
pub struct ScanResult {
    /// E.g. `alpine:3.10 (alpine 3.10.2)`, `Cargo.lock`, `Java`.
    #[serde(default)]
    pub target: String,
    /// E.g. `os-pkgs`, `lang-pkgs`, `custom`.
    #[serde(default)]
    pub class: Option<String>,
    /// E.g. `alpine`, `cargo`, `jar`.
    #[serde(default)]
    pub r#type: Option<String>,
    /// Vulnerabilities found in the target (`null` or absent when none).
    #[serde(default, deserialize_with = "null_as_default")]
    pub vulnerabilities: Vec<DetectedVulnerability>,
    /// Secrets found in the target by the secret scanner (`null` or absent when none).
    #[serde(default, deserialize_with = "null_as_default")]
    pub secrets: Vec<DetectedSecret>,
}

/// One secret found by Trivy's secret scanner (its `Code` excerpt is not read: the match
/// line is what reports keep).
#[derive(Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "PascalCase")]
pub struct DetectedSecret {
    /// E.g. `aws-access-key-id`.
    #[serde(rename = "RuleID", default)]
    pub rule_id: String,
    /// E.g. `AWS`.
    #[serde(default)]
    pub category: String,
    /// E.g. `CRITICAL`.
    #[serde(default)]
    pub severity: String,
    /// E.g. `AWS Access Key ID`.
    #[serde(default)]
    pub title: String,
    /// The matched line, the secret masked.
    #[serde(default)]
    pub r#match: String,
}

/// One vulnerability of one package.
#[derive(Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "PascalCase")]
pub struct DetectedVulnerability {
    /// E.g. `CVE-2019-1549`.
    #[serde(rename = "VulnerabilityID")]
    pub vulnerability_id: String,
    /// Package name.
    #[serde(default)]
    pub pkg_name: String,
    /// Path of the package inside the image (language packages).
    #[serde(default)]
    pub pkg_path: Option<String>,
    /// Package identifiers.
    #[serde(default)]
    pub pkg_identifier: Option<PkgIdentifier>,
    /// Installed version.
    #[serde(default)]
    pub installed_version: String,
    /// Version that fixes the vulnerability, if any.
    #[serde(default)]
    pub fixed_version: Option<String>,
    /// The vendor whose severity Trivy uses, e.g. `nvd`, `ghsa`.
    #[serde(default)]
    pub severity_source: Option<String>,
    /// Severity by vendor: 0 UNKNOWN, 1 LOW, 2 MEDIUM, 3 HIGH, 4 CRITICAL.
    #[serde(default, deserialize_with = "null_as_default")]
    pub vendor_severity: BTreeMap<String, i64>,
    /// Trivy's own severity string (not used for reports; see the converter).
    #[serde(default)]
    pub severity: Option<String>,
    /// Short title.
    #[serde(default)]
    pub title: Option<String>,
    /// Long description.
    #[serde(default)]
    pub description: Option<String>,
    /// Primary reference URL.
    #[serde(default, rename = "PrimaryURL")]
    pub primary_url: Option<String>,
    /// Reference URLs.
    #[serde(default, deserialize_with = "null_as_default")]
    pub references: Vec<String>,
    /// CVSS data by vendor.
    #[serde(default, rename = "CVSS", deserialize_with = "null_as_default")]
    pub cvss: BTreeMap<String, TrivyCvss>,
    /// RFC 3339 publication date.
    #[serde(default)]
    pub published_date: Option<String>,
    /// RFC 3339 last modification date.
    #[serde(default)]
    pub last_modified_date: Option<String>,
}

/// Package identifiers of a finding.
#[derive(Deserialize, Clone, Debug, PartialEq, Default)]
pub struct PkgIdentifier {
    /// Package URL.
    #[serde(rename = "PURL", default)]
    pub purl: Option<String>,
}

/// CVSS data of one vendor.
#[derive(Deserialize, Clone, Debug, PartialEq, Default)]
pub struct TrivyCvss {
    /// CVSS v2 vector.
    #[serde(rename = "V2Vector", default)]
    pub v2_vector: Option<String>,
    /// CVSS v3 vector.
    #[serde(rename = "V3Vector", default)]
    pub v3_vector: Option<String>,
    /// CVSS v4.0 vector.
    #[serde(rename = "V40Vector", default)]
    pub v40_vector: Option<String>,
    /// CVSS v2 score.
    #[serde(rename = "V2Score", default)]
    pub v2_score: Option<f64>,
    /// CVSS v3 score.
    #[serde(rename = "V3Score", default)]
    pub v3_score: Option<f64>,
    /// CVSS v4.0 score.
    #[serde(rename = "V40Score", default)]
    pub v40_score: Option<f64>,
}

/// Reads `null` as the type's default (Trivy writes `null` for empty lists in places).
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

//! The `ExposedSecretReport` custom resource (`aquasecurity.github.io/v1alpha1`): the
//! secrets (passwords, API keys, tokens...) Trivy's secret scanner found in plain-text files
//! of one container image of one workload. Field for field compatible with upstream's CRD;
//! written from the same scan as the container's VulnerabilityReport, under the same name.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Scanner;
use super::vulnerability::{Artifact, Registry};

/// `kind` of an ExposedSecretReport.
pub const KIND: &str = "ExposedSecretReport";
/// Plural resource name of ExposedSecretReports.
pub const PLURAL: &str = "exposedsecretreports";

/// An ExposedSecretReport: the secrets found in one container image of one workload.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ExposedSecretReport {
    /// Standard object metadata.
    pub metadata: ObjectMeta,
    /// The report data.
    pub report: ExposedSecretReportData,
}

super::report_resource!(
    ExposedSecretReport,
    ExposedSecretReportData,
    kind = "ExposedSecretReport",
    plural = "exposedsecretreports"
);

impl ExposedSecretReport {
    /// A report with the given metadata and data.
    pub fn new(metadata: ObjectMeta, report: ExposedSecretReportData) -> Self {
        Self { metadata, report }
    }
}

/// The data of an ExposedSecretReport (`.report`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExposedSecretReportData {
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
    /// Counts of exposed secrets by severity.
    pub summary: ExposedSecretSummary,
    /// Every secret found, over all of Trivy's results for the image.
    #[serde(default)]
    pub secrets: Vec<ExposedSecret>,
}

impl Default for ExposedSecretReportData {
    fn default() -> Self {
        Self {
            update_timestamp: jiff::Timestamp::UNIX_EPOCH,
            scanner: Scanner::default(),
            registry: None,
            artifact: Artifact::default(),
            summary: ExposedSecretSummary::default(),
            secrets: Vec::new(),
        }
    }
}

/// Counts of exposed secrets by severity (upstream has no unknown count: a secret rule
/// always has one of the four severities).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExposedSecretSummary {
    /// Number of CRITICAL secrets.
    pub critical_count: u64,
    /// Number of HIGH secrets.
    pub high_count: u64,
    /// Number of MEDIUM secrets.
    pub medium_count: u64,
    /// Number of LOW secrets.
    pub low_count: u64,
}

impl ExposedSecretSummary {
    /// Counts the severities of `secrets`.
    pub fn count<'a>(secrets: impl IntoIterator<Item = &'a ExposedSecret>) -> Self {
        let mut s = Self::default();
        for secret in secrets {
            match secret.severity {
                SecretSeverity::Critical => s.critical_count += 1,
                SecretSeverity::High => s.high_count += 1,
                SecretSeverity::Medium => s.medium_count += 1,
                SecretSeverity::Low => s.low_count += 1,
            }
        }
        s
    }
}

/// Severity of an exposed secret: upstream's CRD allows only these four.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, JsonSchema,
)]
#[serde(rename_all = "UPPERCASE")]
pub enum SecretSeverity {
    /// `CRITICAL`
    Critical,
    /// `HIGH`
    High,
    /// `MEDIUM`
    Medium,
    /// `LOW`
    Low,
}

impl SecretSeverity {
    /// The upper-case name used in reports, e.g. `CRITICAL`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Critical => "CRITICAL",
            Self::High => "HIGH",
            Self::Medium => "MEDIUM",
            Self::Low => "LOW",
        }
    }

    /// A severity as Trivy writes it (any case); `None` for anything else, such as
    /// `UNKNOWN`, which upstream's CRD would refuse.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_uppercase().as_str() {
            "CRITICAL" => Some(Self::Critical),
            "HIGH" => Some(Self::High),
            "MEDIUM" => Some(Self::Medium),
            "LOW" => Some(Self::Low),
            _ => None,
        }
    }
}

/// One exposed secret.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExposedSecret {
    /// The file the secret was found in.
    #[serde(default)]
    pub target: String,
    /// The identifier of the rule that matched, e.g. `aws-access-key-id`.
    #[serde(rename = "ruleID", default)]
    pub rule_id: String,
    /// The rule's title, e.g. `AWS Access Key ID`.
    #[serde(default)]
    pub title: String,
    /// The rule's category, e.g. `AWS`.
    #[serde(default)]
    pub category: String,
    /// The rule's severity.
    pub severity: SecretSeverity,
    /// The matched line, with the secret itself masked by Trivy.
    #[serde(rename = "match", default)]
    pub matched: String,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn wire_form_is_upstreams() {
        let report = ExposedSecretReport::new(
            ObjectMeta {
                name: Some("replicaset-web-6d4cf56db6-nginx".into()),
                namespace: Some("prod".into()),
                ..ObjectMeta::default()
            },
            ExposedSecretReportData {
                secrets: vec![ExposedSecret {
                    target: "/etc/apt/s3auth.conf".into(),
                    rule_id: "aws-access-key-id".into(),
                    title: "AWS Access Key ID".into(),
                    category: "AWS".into(),
                    severity: SecretSeverity::Critical,
                    matched: "AccessKeyId = ****".into(),
                }],
                summary: ExposedSecretSummary {
                    critical_count: 1,
                    ..ExposedSecretSummary::default()
                },
                ..ExposedSecretReportData::default()
            },
        );
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["apiVersion"], "aquasecurity.github.io/v1alpha1");
        assert_eq!(json["kind"], "ExposedSecretReport");
        let secret = &json["report"]["secrets"][0];
        assert_eq!(secret["ruleID"], "aws-access-key-id");
        assert_eq!(secret["match"], "AccessKeyId = ****");
        assert_eq!(secret["severity"], "CRITICAL");
        assert_eq!(json["report"]["summary"]["criticalCount"], 1);
        assert_eq!(json["report"]["summary"].as_object().unwrap().len(), 4);
        let back: ExposedSecretReport = serde_json::from_value(json).unwrap();
        assert_eq!(back, report);
    }

    #[test]
    fn severities_outside_the_crd_enum_do_not_parse() {
        assert_eq!(SecretSeverity::parse("high"), Some(SecretSeverity::High));
        assert_eq!(SecretSeverity::parse("UNKNOWN"), None);
        assert_eq!(SecretSeverity::parse(""), None);
    }
}

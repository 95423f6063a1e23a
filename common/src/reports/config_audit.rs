//! The `ConfigAuditReport` custom resource: the result of auditing one workload's
//! configuration against the built-in checks and the custom policies.
//!
//! Field names and optionality follow upstream (`omitempty` strings are empty `String`s that
//! are left out of the JSON).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Scanner;

/// A `ConfigAuditReport` (`aquasecurity.github.io/v1alpha1`), owned by the audited workload.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ConfigAuditReport {
    /// Standard object metadata.
    pub metadata: ObjectMeta,
    /// The report data, under the root `report` field.
    pub report: ConfigAuditReportData,
}

super::report_resource!(
    ConfigAuditReport,
    ConfigAuditReportData,
    kind = "ConfigAuditReport",
    plural = "configauditreports"
);

impl ConfigAuditReport {
    /// A report with the given metadata and data.
    pub fn new(metadata: ObjectMeta, report: ConfigAuditReportData) -> Self {
        Self { metadata, report }
    }
}

/// A `ClusterConfigAuditReport` (`aquasecurity.github.io/v1alpha1`), cluster-scoped, owned
/// by the cluster-scoped object it audits (a ClusterRoleBinding or a
/// CustomResourceDefinition).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClusterConfigAuditReport {
    /// Standard object metadata.
    pub metadata: ObjectMeta,
    /// The report data, under the root `report` field.
    pub report: ConfigAuditReportData,
}

super::report_resource!(
    ClusterConfigAuditReport,
    ConfigAuditReportData,
    kind = "ClusterConfigAuditReport",
    plural = "clusterconfigauditreports",
    group = "aquasecurity.github.io",
    api_version = "aquasecurity.github.io/v1alpha1",
    scope = ClusterResourceScope
);

/// The data of a config audit report (`report`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfigAuditReportData {
    /// When the report was last updated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::date_time_schema")]
    pub update_timestamp: Option<Time>,
    /// The scanner that produced the report.
    #[serde(default)]
    pub scanner: Scanner,
    /// The number of failed checks by severity.
    #[serde(default)]
    pub summary: ConfigAuditSummary,
    /// The result of every check that was evaluated.
    pub checks: Vec<Check>,
}

impl ConfigAuditReportData {
    /// Report data for the given checks, with the summary computed from them.
    pub fn from_checks(
        update_timestamp: Option<Time>,
        scanner: Scanner,
        checks: Vec<Check>,
    ) -> Self {
        Self {
            update_timestamp,
            scanner,
            summary: ConfigAuditSummary::from_checks(&checks),
            checks,
        }
    }
}

/// The number of failed checks by severity (`report.summary`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfigAuditSummary {
    /// The number of failed checks with critical severity.
    pub critical_count: u32,
    /// The number of failed checks with high severity.
    pub high_count: u32,
    /// The number of failed checks with medium severity.
    pub medium_count: u32,
    /// The number of failed checks with low severity.
    pub low_count: u32,
}

impl ConfigAuditSummary {
    /// Counts the failed checks (`success: false`) by severity, case-insensitively.
    /// Checks with any other severity are not counted.
    pub fn from_checks(checks: &[Check]) -> Self {
        let mut summary = Self::default();
        for check in checks.iter().filter(|c| !c.success) {
            let count = match check.severity.to_ascii_uppercase().as_str() {
                "CRITICAL" => &mut summary.critical_count,
                "HIGH" => &mut summary.high_count,
                "MEDIUM" => &mut summary.medium_count,
                "LOW" => &mut summary.low_count,
                _ => continue,
            };
            *count = count.saturating_add(1);
        }
        summary
    }
}

/// The result of one audit step (`report.checks[]`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    /// The identifier of the check, e.g. `KSV001`.
    #[serde(rename = "checkID")]
    pub check_id: String,
    /// A short title of the check.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub title: String,
    /// What the check is about.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The severity of the check, e.g. `HIGH`.
    pub severity: String,
    /// The category of the check, e.g. `Kubernetes Security Check`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub category: String,
    /// Messages explaining why the check failed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<String>,
    /// How to remediate a failing check.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub remediation: String,
    /// Whether the check passed.
    pub success: bool,
    /// What part of the resource the check applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<CheckScope>,
}

/// The part of a resource a check applies to (`report.checks[].scope`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CheckScope {
    /// The type of the scope, e.g. `Container`.
    #[serde(rename = "type")]
    pub scope_type: String,
    /// The value of the scope, e.g. a container name.
    pub value: String,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn check(id: &str, severity: &str, success: bool) -> Check {
        Check {
            check_id: id.to_owned(),
            severity: severity.to_owned(),
            success,
            ..Check::default()
        }
    }

    /// (severity, success) of each check, and the expected [critical, high, medium, low].
    type SummaryCase = (&'static [(&'static str, bool)], [u32; 4]);

    #[test]
    fn summary_counts_failed_checks_by_severity() {
        let cases: &[SummaryCase] = &[
            (&[], [0, 0, 0, 0]),
            (
                &[
                    ("CRITICAL", false),
                    ("HIGH", false),
                    ("MEDIUM", false),
                    ("LOW", false),
                ],
                [1, 1, 1, 1],
            ),
            (
                &[("critical", false), ("High", false), ("mEdIuM", false)],
                [1, 1, 1, 0],
            ),
            (&[("HIGH", true), ("LOW", true)], [0, 0, 0, 0]),
            (
                &[("UNKNOWN", false), ("", false), ("info", false)],
                [0, 0, 0, 0],
            ),
            (
                &[
                    ("LOW", false),
                    ("LOW", false),
                    ("LOW", true),
                    ("MEDIUM", false),
                ],
                [0, 0, 1, 2],
            ),
        ];
        for (checks, [c, h, m, l]) in cases {
            let checks: Vec<Check> = checks.iter().map(|(s, ok)| check("X", s, *ok)).collect();
            let got = ConfigAuditSummary::from_checks(&checks);
            let want = ConfigAuditSummary {
                critical_count: *c,
                high_count: *h,
                medium_count: *m,
                low_count: *l,
            };
            assert_eq!(got, want, "checks {checks:?}");
        }
    }

    #[test]
    fn serializes_upstream_field_names() {
        let mut failed = check("KSV001", "MEDIUM", false);
        failed.title = "t".into();
        failed.messages = vec!["m".into()];
        failed.scope = Some(CheckScope {
            scope_type: "Container".into(),
            value: "app".into(),
        });
        let data = ConfigAuditReportData::from_checks(
            Some(Time("2022-12-08T15:50:37Z".parse().unwrap())),
            Scanner::trivy("0.50.0"),
            vec![failed, check("KSV002", "LOW", true)],
        );
        let report = ConfigAuditReport::new(
            ObjectMeta {
                name: Some("pod-x".into()),
                ..ObjectMeta::default()
            },
            data,
        );
        let got = serde_json::to_value(&report).unwrap();
        let want = serde_json::json!({
            "apiVersion": "aquasecurity.github.io/v1alpha1",
            "kind": "ConfigAuditReport",
            "metadata": {"name": "pod-x"},
            "report": {
                "updateTimestamp": "2022-12-08T15:50:37Z",
                "scanner": {"name": "Trivy", "vendor": "Aqua Security", "version": "0.50.0"},
                "summary": {"criticalCount": 0, "highCount": 0, "mediumCount": 1, "lowCount": 0},
                "checks": [
                    {"checkID": "KSV001", "title": "t", "severity": "MEDIUM",
                     "messages": ["m"], "success": false,
                     "scope": {"type": "Container", "value": "app"}},
                    {"checkID": "KSV002", "severity": "LOW", "success": true},
                ],
            },
        });
        assert_eq!(got, want);
        let back: ConfigAuditReport = serde_json::from_value(got).unwrap();
        assert_eq!(back, report);
    }

    #[test]
    fn deserialize_checks_type_meta() {
        let ok = serde_json::json!({"metadata": {"name": "a"}, "report": {"checks": []}});
        let r: ConfigAuditReport = serde_json::from_value(ok).unwrap();
        assert_eq!(r.metadata.name.as_deref(), Some("a"));

        let bad_kind = serde_json::json!({
            "apiVersion": "aquasecurity.github.io/v1alpha1",
            "kind": "VulnerabilityReport",
            "report": {"checks": []}
        });
        let err = serde_json::from_value::<ConfigAuditReport>(bad_kind).unwrap_err();
        assert!(
            err.to_string().contains("expected kind ConfigAuditReport"),
            "{err}"
        );

        let bad_version = serde_json::json!({"apiVersion": "v1", "report": {"checks": []}});
        assert!(serde_json::from_value::<ConfigAuditReport>(bad_version).is_err());

        let no_report = serde_json::json!({"kind": "ConfigAuditReport"});
        assert!(serde_json::from_value::<ConfigAuditReport>(no_report).is_err());
    }

    /// Compiles only if `Api<ConfigAuditReport>` and a watcher on it type-check.
    #[allow(dead_code)]
    fn api_and_watcher_type_check(client: kube::Client) {
        let api: kube::Api<ConfigAuditReport> = kube::Api::namespaced(client, "ns");
        let _stream = kube::runtime::watcher(api, kube::runtime::watcher::Config::default());
    }

    #[test]
    fn kube_resource_plumbing() {
        use kube::Resource;
        assert_eq!(ConfigAuditReport::kind(&()), "ConfigAuditReport");
        assert_eq!(ConfigAuditReport::group(&()), "aquasecurity.github.io");
        assert_eq!(
            ConfigAuditReport::api_version(&()),
            "aquasecurity.github.io/v1alpha1"
        );
        assert_eq!(ConfigAuditReport::plural(&()), "configauditreports");
        assert_eq!(
            ConfigAuditReport::url_path(&(), Some("ns")),
            "/apis/aquasecurity.github.io/v1alpha1/namespaces/ns/configauditreports"
        );
    }
}

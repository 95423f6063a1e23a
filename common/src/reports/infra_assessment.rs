//! `ClusterInfraAssessmentReport` (a node's assessment, cluster-scoped, owned by the Node)
//! and `InfraAssessmentReport` (its namespaced twin, upstream's kind for control-plane
//! pods): the checks of the node-collector's findings, in upstream's shape — a config
//! audit's scanner, summary and checks, without `updateTimestamp`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Scanner;
use super::config_audit::{Check, ConfigAuditSummary};

/// A `ClusterInfraAssessmentReport` (`aquasecurity.github.io/v1alpha1`), named
/// `node-<node>` and owned by the Node it assesses.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClusterInfraAssessmentReport {
    /// Standard object metadata.
    pub metadata: ObjectMeta,
    /// The report data, under the root `report` field.
    pub report: InfraAssessmentReportData,
}

super::report_resource!(
    ClusterInfraAssessmentReport,
    InfraAssessmentReportData,
    kind = "ClusterInfraAssessmentReport",
    plural = "clusterinfraassessmentreports",
    group = "aquasecurity.github.io",
    api_version = "aquasecurity.github.io/v1alpha1",
    scope = ClusterResourceScope
);

/// An `InfraAssessmentReport` (`aquasecurity.github.io/v1alpha1`), namespaced.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct InfraAssessmentReport {
    /// Standard object metadata.
    pub metadata: ObjectMeta,
    /// The report data, under the root `report` field.
    pub report: InfraAssessmentReportData,
}

super::report_resource!(
    InfraAssessmentReport,
    InfraAssessmentReportData,
    kind = "InfraAssessmentReport",
    plural = "infraassessmentreports"
);

/// The data of an infra assessment report (`report`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InfraAssessmentReportData {
    /// The scanner that produced the report.
    #[serde(default)]
    pub scanner: Scanner,
    /// The number of failed checks by severity.
    #[serde(default)]
    pub summary: ConfigAuditSummary,
    /// The result of every check that was evaluated.
    pub checks: Vec<Check>,
}

impl InfraAssessmentReportData {
    /// Report data for the given checks, with the summary computed from them.
    pub fn from_checks(scanner: Scanner, checks: Vec<Check>) -> Self {
        Self {
            scanner,
            summary: ConfigAuditSummary::from_checks(&checks),
            checks,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_node_report_has_upstreams_wire_shape() {
        let check = Check {
            check_id: "KCV0079".into(),
            severity: "CRITICAL".into(),
            success: false,
            ..Check::default()
        };
        let report = ClusterInfraAssessmentReport {
            metadata: ObjectMeta {
                name: Some("node-a".into()),
                ..ObjectMeta::default()
            },
            report: InfraAssessmentReportData::from_checks(Scanner::trivy("1"), vec![check]),
        };
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["apiVersion"], "aquasecurity.github.io/v1alpha1");
        assert_eq!(json["kind"], "ClusterInfraAssessmentReport");
        assert_eq!(json["report"]["summary"]["criticalCount"], 1);
        assert!(json["report"].get("updateTimestamp").is_none());
        let back: ClusterInfraAssessmentReport = serde_json::from_value(json).unwrap();
        assert_eq!(back, report);
    }
}

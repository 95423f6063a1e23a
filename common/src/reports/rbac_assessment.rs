//! `RbacAssessmentReport` (a Role's assessment, namespaced, owned by the Role) and
//! `ClusterRbacAssessmentReport` (a ClusterRole's, cluster-scoped): the RBAC checks of the
//! role's rules, in upstream's shape — a scanner, a summary and checks, as an infra
//! assessment's.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// The data of an RBAC assessment report (`report`): the same fields as an infra
/// assessment's (scanner, summary, checks).
pub type RbacAssessmentReportData = super::infra_assessment::InfraAssessmentReportData;

/// An `RbacAssessmentReport` (`aquasecurity.github.io/v1alpha1`), named `role-<role>` and
/// owned by the Role it assesses.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RbacAssessmentReport {
    /// Standard object metadata.
    pub metadata: ObjectMeta,
    /// The report data, under the root `report` field.
    pub report: RbacAssessmentReportData,
}

super::report_resource!(
    RbacAssessmentReport,
    RbacAssessmentReportData,
    kind = "RbacAssessmentReport",
    plural = "rbacassessmentreports"
);

/// A `ClusterRbacAssessmentReport` (`aquasecurity.github.io/v1alpha1`), cluster-scoped,
/// named `clusterrole-<role>` and owned by the ClusterRole it assesses.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClusterRbacAssessmentReport {
    /// Standard object metadata.
    pub metadata: ObjectMeta,
    /// The report data, under the root `report` field.
    pub report: RbacAssessmentReportData,
}

super::report_resource!(
    ClusterRbacAssessmentReport,
    RbacAssessmentReportData,
    kind = "ClusterRbacAssessmentReport",
    plural = "clusterrbacassessmentreports",
    group = "aquasecurity.github.io",
    api_version = "aquasecurity.github.io/v1alpha1",
    scope = ClusterResourceScope
);

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::reports::Scanner;
    use crate::reports::config_audit::Check;

    #[test]
    fn reports_have_upstreams_wire_shape() {
        let check = Check {
            check_id: "KSV113".into(),
            severity: "MEDIUM".into(),
            success: false,
            ..Check::default()
        };
        let report = RbacAssessmentReport {
            metadata: ObjectMeta {
                name: Some("role-proxy".into()),
                namespace: Some("default".into()),
                ..ObjectMeta::default()
            },
            report: RbacAssessmentReportData::from_checks(Scanner::trivy("1"), vec![check]),
        };
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["apiVersion"], "aquasecurity.github.io/v1alpha1");
        assert_eq!(json["kind"], "RbacAssessmentReport");
        assert_eq!(json["report"]["summary"]["mediumCount"], 1);
        assert!(json["report"].get("updateTimestamp").is_none());
        let back: RbacAssessmentReport = serde_json::from_value(json).unwrap();
        assert_eq!(back, report);
        let cluster = ClusterRbacAssessmentReport {
            metadata: ObjectMeta {
                name: Some("clusterrole-view".into()),
                ..ObjectMeta::default()
            },
            report: report.report.clone(),
        };
        let json = serde_json::to_value(&cluster).unwrap();
        assert_eq!(json["kind"], "ClusterRbacAssessmentReport");
        let back: ClusterRbacAssessmentReport = serde_json::from_value(json).unwrap();
        assert_eq!(back, cluster);
    }
}

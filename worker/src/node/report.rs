//! The `ClusterInfraAssessmentReport` of an assessed node: upstream's name (`node-<node>`),
//! labels (kind Node, the node's name, an empty namespace, the spec and plugin-config
//! hashes) and owner reference (the Node, so the report goes with it). Pure.

use common::labels;
use common::names::config_audit_report_name;
use common::owner::owner_reference;
use common::reports::Scanner;
use common::reports::config_audit::Check;
use common::reports::infra_assessment::{ClusterInfraAssessmentReport, InfraAssessmentReportData};
use kube::api::ObjectMeta;

use crate::task::NodeTask;

/// The report of `task`'s node with `checks`.
/// `assessed_at` goes into the `scanned-at` annotation, which the leader reads for the TTL.
pub(super) fn node_report(
    task: &NodeTask,
    checks: Vec<Check>,
    scanner: Scanner,
    assessed_at: jiff::Timestamp,
) -> ClusterInfraAssessmentReport {
    let (mut report_labels, mut annotations) =
        labels::report_labels("Node", &task.node, "", &task.spec_hash);
    labels::add_plugin_config_hash(&mut report_labels, &task.config_hash);
    annotations.insert(labels::SCANNED_AT.to_owned(), assessed_at.to_string());
    let metadata = ObjectMeta {
        name: Some(config_audit_report_name("Node", &task.node)),
        labels: Some(report_labels),
        annotations: (!annotations.is_empty()).then_some(annotations),
        owner_references: Some(vec![owner_reference("v1", "Node", &task.node, &task.uid)]),
        ..ObjectMeta::default()
    };
    ClusterInfraAssessmentReport {
        metadata,
        report: InfraAssessmentReportData::from_checks(scanner, checks),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_report_is_named_labelled_and_owned_like_upstreams() {
        let task = NodeTask {
            task_id: "t".into(),
            node: "kind-worker".into(),
            uid: "n1".into(),
            spec_hash: "s1".into(),
            config_hash: "c1".into(),
            tolerations: Vec::new(),
            summary_only: false,
        };
        let failed = Check {
            check_id: "KCV0083".into(),
            severity: "HIGH".into(),
            success: false,
            ..Check::default()
        };
        let at = jiff::Timestamp::from_second(1_000_000).unwrap();
        let report = node_report(&task, vec![failed], Scanner::trivy("0.1.0"), at);
        assert_eq!(
            report.metadata.annotations.as_ref().unwrap()[labels::SCANNED_AT],
            at.to_string()
        );
        assert_eq!(report.metadata.name.as_deref(), Some("node-kind-worker"));
        assert_eq!(report.metadata.namespace, None);
        let l = report.metadata.labels.as_ref().unwrap();
        assert_eq!(l[labels::RESOURCE_KIND], "Node");
        assert_eq!(l[labels::RESOURCE_NAME], "kind-worker");
        assert_eq!(l[labels::RESOURCE_NAMESPACE], "");
        assert_eq!(l[labels::RESOURCE_SPEC_HASH], "s1");
        assert_eq!(l[labels::PLUGIN_CONFIG_HASH], "c1");
        let owner = &report.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!((owner.kind.as_str(), owner.uid.as_str()), ("Node", "n1"));
        assert_eq!(report.report.summary.high_count, 1);
    }
}

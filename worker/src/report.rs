//! Builds the ConfigAuditReport for an audited workload: upstream name, labels, annotations
//! and owner reference, and the checks with their summary. Pure.

use common::labels;
use common::names::config_audit_report_name;
use common::owner::owner_reference;
use common::reports::Scanner;
use common::reports::config_audit::{Check, ConfigAuditReport, ConfigAuditReportData};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::ObjectMeta;

use crate::task::AuditTask;

/// The scanner named in config-audit reports: this operator's own Rego evaluation.
pub fn scanner() -> Scanner {
    Scanner::trivy(env!("CARGO_PKG_VERSION"))
}

/// The report for `task`'s workload, audited with policies of `config_hash`, whose pod spec
/// hashes to `spec_hash`.
pub fn config_audit_report(
    task: &AuditTask,
    spec_hash: &str,
    config_hash: &str,
    checks: Vec<Check>,
    now: Time,
) -> ConfigAuditReport {
    let w = &task.workload;
    let kind = w.kind.as_str();
    let (mut report_labels, annotations) =
        labels::report_labels(kind, &w.name, &w.namespace, spec_hash);
    labels::add_plugin_config_hash(&mut report_labels, config_hash);
    let metadata = ObjectMeta {
        name: Some(config_audit_report_name(kind, &w.name)),
        namespace: Some(w.namespace.clone()),
        labels: Some(report_labels),
        annotations: (!annotations.is_empty()).then_some(annotations),
        owner_references: Some(vec![owner_reference(
            kind_api_version(task),
            kind,
            &w.name,
            &w.uid,
        )]),
        ..ObjectMeta::default()
    };
    ConfigAuditReport::new(
        metadata,
        ConfigAuditReportData::from_checks(Some(now), scanner(), checks),
    )
}

fn kind_api_version(task: &AuditTask) -> &'static str {
    task.workload.kind.api_version()
}

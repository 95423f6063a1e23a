//! Builds the ConfigAuditReport for an audited workload, and the InfraAssessmentReport of a
//! control-plane component: upstream name, labels, annotations and owner reference (the same
//! for both), and the checks with their summary. Pure.

use common::labels;
use common::names::config_audit_report_name;
use common::owner::owner_reference;
use common::reports::Scanner;
use common::reports::config_audit::{Check, ConfigAuditReport, ConfigAuditReportData};
use common::reports::infra_assessment::{InfraAssessmentReport, InfraAssessmentReportData};
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
    ConfigAuditReport::new(
        report_metadata(task, spec_hash, config_hash),
        ConfigAuditReportData::from_checks(Some(now), scanner(), checks),
    )
}

/// The InfraAssessmentReport of `task`'s workload (a control-plane component) with its KCV
/// `checks`: named, labelled and owned as its ConfigAuditReport.
pub fn infra_assessment_report(
    task: &AuditTask,
    spec_hash: &str,
    config_hash: &str,
    checks: Vec<Check>,
) -> InfraAssessmentReport {
    InfraAssessmentReport {
        metadata: report_metadata(task, spec_hash, config_hash),
        report: InfraAssessmentReportData::from_checks(scanner(), checks),
    }
}

/// The metadata of a report about `task`'s workload: upstream's name, labels, annotations and
/// owner reference.
fn report_metadata(task: &AuditTask, spec_hash: &str, config_hash: &str) -> ObjectMeta {
    let w = &task.workload;
    let kind = w.kind.as_str();
    let (mut report_labels, annotations) =
        labels::report_labels(kind, &w.name, &w.namespace, spec_hash);
    labels::add_plugin_config_hash(&mut report_labels, config_hash);
    ObjectMeta {
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
    }
}

fn kind_api_version(task: &AuditTask) -> &'static str {
    task.workload.kind.api_version()
}

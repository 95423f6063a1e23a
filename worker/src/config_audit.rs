//! Runs one config audit: takes the workload the leader sent with the task (or reads it:
//! its one read), evaluates the policies the task was planned with, and writes the
//! ConfigAuditReport with server-side apply — and, for a control-plane component, first its
//! InfraAssessmentReport with the KCV checks (which never go into a ConfigAuditReport, as
//! upstream's).

use std::time::Duration;

use common::names::config_audit_report_name;
use common::proto;
use common::reports::config_audit::{Check, ConfigAuditReport};
use common::reports::infra_assessment::InfraAssessmentReport;
use common::resources::workload_api_resource;
use common::retry;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{DynamicObject, Patch, PatchParams};
use kube::{Api, Client};

use crate::policies::{self, PolicyCache};
use crate::report::{config_audit_report, infra_assessment_report};
use crate::task::AuditTask;

/// Field manager of every report write.
pub const FIELD_MANAGER: &str = "trivy-operator";
/// How long to wait for the local policy copy to match the leader's.
const POLICY_PATIENCE: Duration = Duration::from_secs(10);

/// Why an audit failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The workload is gone, or a new one with the same name replaced it.
    #[error("workload {0} no longer exists")]
    WorkloadGone(String),
    /// The workload has no pod spec where its kind keeps it.
    #[error("workload {0} has no pod spec")]
    NoPodSpec(String),
    /// No matching policy version.
    #[error(transparent)]
    Policies(#[from] policies::Error),
    /// The evaluation did not complete (interrupted, or a built-in check panicked).
    #[error("evaluating the policies: {0}")]
    Evaluation(String),
    /// Reading the workload failed.
    #[error("reading the workload: {0}")]
    ReadWorkload(#[source] kube::Error),
    /// Writing the report failed.
    #[error("writing the report: {0}")]
    WriteReport(#[source] kube::Error),
}

impl Error {
    /// A bounded reason for results, metrics and Events.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::WorkloadGone(_) => "WorkloadGone",
            Self::NoPodSpec(_) => "NoPodSpec",
            Self::Policies(policies::Error::NotLoaded) => "PolicyConfigNotLoaded",
            Self::Policies(policies::Error::Mismatch { .. }) => "PolicyConfigMismatch",
            Self::Evaluation(_) => "PolicyEvaluationFailed",
            Self::ReadWorkload(_) => "ReadWorkloadFailed",
            Self::WriteReport(_) => "WriteReportFailed",
        }
    }

    /// Whether a retry can help without the workload changing.
    pub fn outcome(&self) -> proto::Outcome {
        match self {
            Self::WorkloadGone(_) | Self::NoPodSpec(_) => proto::Outcome::FailedPermanent,
            _ => proto::Outcome::FailedRetryable,
        }
    }
}

/// Audits the task's workload and writes its report; returns the report's name.
#[tracing::instrument(skip_all, fields(task = %task.task_id))]
pub async fn run(
    client: &Client,
    cache: &PolicyCache,
    task: &AuditTask,
    include_passed: bool,
) -> Result<String, Error> {
    let w = &task.workload;
    let described = format!("{} {}/{}", w.kind.as_str(), w.namespace, w.name);
    let object = match sent_object(task) {
        Some(object) => object,
        None => {
            let api: Api<DynamicObject> =
                Api::namespaced_with(client.clone(), &w.namespace, &workload_api_resource(w.kind));
            match retry::idempotent("read workload", || api.get_opt(&w.name))
                .await
                .map_err(Error::ReadWorkload)?
            {
                Some(o) if o.metadata.uid.as_deref() == Some(w.uid.as_str()) => o,
                _ => return Err(Error::WorkloadGone(described)),
            }
        }
    };
    let pod_spec = common::workload::pod_spec_of(w.kind, &object.data)
        .ok_or_else(|| Error::NoPodSpec(described.clone()))?;
    let spec_hash = common::hash::resource_spec_hash(pod_spec);
    let reports: Api<ConfigAuditReport> = Api::namespaced(client.clone(), &w.namespace);
    let name = config_audit_report_name(w.kind.as_str(), &w.name);
    // The leader sends an audit only when no current report exists: write without reading.
    let policies = cache
        .matching(w.kind, &task.config_hash, POLICY_PATIENCE)
        .await?;
    let checks = policies
        .audit(w.kind, object, include_passed)
        .await
        .map_err(Error::Evaluation)?;
    let (infra, checks): (Vec<Check>, Vec<Check>) = checks
        .into_iter()
        .partition(|c| common::workload::is_infra_check(&c.check_id));
    if common::workload::is_control_plane_component(&w.namespace, &w.name) {
        let mut report = infra_assessment_report(task, &spec_hash, &task.config_hash, infra);
        common::reports::gauge::annotate_namespaced_infra_assessment_report(&mut report);
        write_infra_report(client, &report, &name).await?;
    }
    let now = Time(jiff::Timestamp::now());
    let mut report = config_audit_report(task, &spec_hash, &task.config_hash, checks, now);
    if task.summary_only {
        // The summary was counted from the checks; the checks are left out.
        report.report.checks.clear();
        common::reports::gauge::mark_summary_only(&mut report.metadata);
    }
    if crate::report_trim::trim_config_audit_report(
        &mut report,
        crate::report_trim::MAX_REPORT_BYTES,
    ) {
        tracing::warn!(report = %name, "config audit report trimmed to fit");
    }
    common::reports::gauge::annotate_config_audit_report(&mut report);
    let (apply, patch) = (
        PatchParams::apply(FIELD_MANAGER).force(),
        Patch::Apply(&report),
    );
    retry::idempotent("write report", || reports.patch(&name, &apply, &patch))
        .await
        .map_err(Error::WriteReport)?;
    tracing::info!(
        report = %name,
        namespace = %w.namespace,
        kind = w.kind.as_str(),
        workload = %w.name,
        %spec_hash,
        "config audit report written"
    );
    Ok(name)
}

/// Writes a control-plane component's InfraAssessmentReport with server-side apply; without
/// its CRD (the API server does not serve the kind) the config audit goes on without it.
async fn write_infra_report(
    client: &Client,
    report: &InfraAssessmentReport,
    name: &str,
) -> Result<(), Error> {
    let namespace = report.metadata.namespace.as_deref().unwrap_or_default();
    let api: Api<InfraAssessmentReport> = Api::namespaced(client.clone(), namespace);
    let (apply, patch) = (
        PatchParams::apply(FIELD_MANAGER).force(),
        Patch::Apply(report),
    );
    match retry::idempotent("write infra report", || api.patch(name, &apply, &patch)).await {
        Ok(_) => {
            tracing::info!(report = %name, %namespace, "infra assessment report written");
            Ok(())
        }
        Err(kube::Error::Api(e)) if e.code == 404 => {
            tracing::warn!(
                report = %name,
                %namespace,
                "infraassessmentreports are not served (is the CRD installed?): \
                 the control-plane checks of this workload are not written"
            );
            Ok(())
        }
        Err(e) => Err(Error::WriteReport(e)),
    }
}

/// The workload object the leader sent with the task, if it is the task's workload at the
/// task's spec (anything else is read from the API instead).
fn sent_object(task: &AuditTask) -> Option<DynamicObject> {
    if task.workload_json.is_empty() {
        return None;
    }
    let object: DynamicObject = serde_json::from_str(&task.workload_json).ok()?;
    let w = &task.workload;
    let same = object.metadata.uid.as_deref() == Some(w.uid.as_str())
        && object.metadata.namespace.as_deref() == Some(w.namespace.as_str())
        && object.metadata.name.as_deref() == Some(w.name.as_str());
    let spec = common::workload::pod_spec_of(w.kind, &object.data)?;
    (same && common::hash::resource_spec_hash(spec) == task.spec_hash).then_some(object)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::task::Workload;
    use common::workload::WorkloadKind;

    fn task(json: &str, spec_hash: &str) -> AuditTask {
        AuditTask {
            task_id: "t".into(),
            workload: Workload {
                kind: WorkloadKind::ReplicaSet,
                namespace: "ns".into(),
                name: "web".into(),
                uid: "u1".into(),
            },
            spec_hash: spec_hash.into(),
            config_hash: "c".into(),
            summary_only: false,
            workload_json: json.into(),
        }
    }

    const RS: &str = r#"{"apiVersion":"apps/v1","kind":"ReplicaSet",
        "metadata":{"name":"web","namespace":"ns","uid":"u1"},
        "spec":{"template":{"spec":{"containers":[{"name":"c","image":"nginx"}]}}}}"#;

    #[test]
    fn the_sent_object_is_used_only_when_it_is_the_tasks_workload_and_spec() {
        let object: DynamicObject = serde_json::from_str(RS).unwrap();
        let spec = common::workload::pod_spec_of(WorkloadKind::ReplicaSet, &object.data).unwrap();
        let hash = common::hash::resource_spec_hash(spec);
        assert!(sent_object(&task(RS, &hash)).is_some());
        assert!(sent_object(&task(RS, "another-spec")).is_none());
        assert!(sent_object(&task(&RS.replace("\"u1\"", "\"u2\""), &hash)).is_none());
        assert!(sent_object(&task("", &hash)).is_none());
        assert!(sent_object(&task("{not json", &hash)).is_none());
    }
}

//! Runs one config audit: reads the workload (its one read), evaluates the policies the
//! task was planned with, and writes the ConfigAuditReport with server-side apply.

use std::time::Duration;

use common::names::config_audit_report_name;
use common::proto;
use common::reports::config_audit::ConfigAuditReport;
use common::resources::workload_api_resource;
use common::retry;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{DynamicObject, Patch, PatchParams};
use kube::{Api, Client};

use crate::policies::{self, PolicyCache};
use crate::report::config_audit_report;
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
    let api: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), &w.namespace, &workload_api_resource(w.kind));
    let object = match retry::idempotent("read workload", || api.get_opt(&w.name))
        .await
        .map_err(Error::ReadWorkload)?
    {
        Some(o) if o.metadata.uid.as_deref() == Some(w.uid.as_str()) => o,
        _ => return Err(Error::WorkloadGone(described)),
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
    let input = serde_json::to_value(&object).unwrap_or_default();
    let checks = common::audit::audit(&policies.engine, w.kind.as_str(), &input, include_passed);
    let now = Time(jiff::Timestamp::now());
    let report = config_audit_report(task, &spec_hash, &task.config_hash, checks, now);
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

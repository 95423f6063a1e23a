//! Node assessments: runs the node-collector Job on the node ([`collector`]), checks its
//! `NodeInfo` with the node checks of the policy version the task was planned with, and
//! writes the node's `ClusterInfraAssessmentReport` with server-side apply ([`report`]).
//! A failure is also a Warning Event on the Node ([`events`]).

mod args;
mod collector;
mod events;
mod job;
mod report;

use std::time::Duration;

use common::proto;
use common::reports::infra_assessment::ClusterInfraAssessmentReport;
use common::retry;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};

use crate::config_audit::FIELD_MANAGER;
use crate::policies::{self, PolicyCache};
use crate::task::NodeTask;

pub use args::NodeArgs;
pub use job::{COLLECTOR_LABEL, job_name};

/// How long to wait for the local policy copy to match the leader's.
const POLICY_PATIENCE: Duration = Duration::from_secs(10);

/// How node-collector Jobs are run.
#[derive(Clone)]
pub struct NodeSettings {
    /// Namespace of the collector Jobs (one that admits host namespaces and paths).
    pub namespace: String,
    /// The node-collector image.
    pub image: String,
    /// ServiceAccount of the collector Jobs (reads the kubelet's configuration).
    pub service_account: Option<String>,
    /// Deadline of a collector Job.
    pub timeout: Duration,
    /// Also list the checks that passed.
    pub include_passed: bool,
    /// The process's Event recorder (shared, so a failure repeated at every retry is one
    /// Event series); `None`: one per failure.
    pub recorder: Option<kube::runtime::events::Recorder>,
}

impl std::fmt::Debug for NodeSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeSettings")
            .field("namespace", &self.namespace)
            .field("image", &self.image)
            .field("service_account", &self.service_account)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Why a node assessment failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Policies(#[from] policies::Error),
    #[error("creating the node-collector job {job}: {source}")]
    CreateJob {
        job: String,
        #[source]
        source: kube::Error,
    },
    #[error("job {job} exists but collects from {found:?}, not this node")]
    ForeignJob { job: String, found: String },
    #[error("watching the node-collector job {job}: {source}")]
    WatchJob {
        job: String,
        #[source]
        source: kube::runtime::wait::Error,
    },
    #[error("the node-collector job {job} was deleted before it finished")]
    JobGone { job: String },
    #[error("the node-collector job {job} did not finish within {timeout:?}")]
    JobTimeout { job: String, timeout: Duration },
    #[error("the node-collector job {job} failed: {detail}")]
    CollectorFailed { job: String, detail: String },
    #[error("reading the node-collector log of job {job}: {detail}")]
    ReadLog { job: String, detail: String },
    #[error("the node-collector job {job} printed no NodeInfo document: {detail}")]
    InvalidOutput { job: String, detail: String },
    #[error("evaluating the node checks: {0}")]
    Evaluation(String),
    #[error("writing the report: {0}")]
    WriteReport(#[source] kube::Error),
}

impl Error {
    /// A bounded reason for results, metrics and Events.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Policies(policies::Error::NotLoaded) => "PolicyConfigNotLoaded",
            Self::Policies(policies::Error::Mismatch { .. }) => "PolicyConfigMismatch",
            Self::CreateJob { .. } => "CreateJobFailed",
            Self::ForeignJob { .. } => "ForeignJob",
            Self::WatchJob { .. } => "WatchJobFailed",
            Self::JobGone { .. } => "JobDeleted",
            Self::JobTimeout { .. } => "NodeCollectorTimeout",
            Self::CollectorFailed { .. } => "NodeCollectorFailed",
            Self::ReadLog { .. } => "ReadLogsFailed",
            Self::InvalidOutput { .. } => "InvalidNodeInfo",
            Self::Evaluation(_) => "PolicyEvaluationFailed",
            Self::WriteReport(_) => "WriteReportFailed",
        }
    }

    /// Every failure may pass on a retry (a collector that failed may not fail the next
    /// time; the node does not change for the leader to notice).
    pub fn outcome(&self) -> proto::Outcome {
        proto::Outcome::FailedRetryable
    }
}

/// Assesses the task's node and writes its report; returns the report's name. A failure
/// is published as an Event on the Node.
#[tracing::instrument(skip_all, fields(task = %task.task_id, node = %task.node))]
pub async fn run(
    client: &Client,
    cache: &PolicyCache,
    settings: &NodeSettings,
    task: &NodeTask,
) -> Result<String, Error> {
    let result = assess(client, cache, settings, task).await;
    match &result {
        // Waiting for this worker's copy of the policies is no news about the node.
        Err(Error::Policies(_)) | Ok(_) => {}
        Err(error) => events::publish_failure(client, settings, task, error).await,
    }
    result
}

async fn assess(
    client: &Client,
    cache: &PolicyCache,
    settings: &NodeSettings,
    task: &NodeTask,
) -> Result<String, Error> {
    // The policies first: no Job runs for a task this worker could not evaluate.
    let policies = cache
        .matching_node(&task.config_hash, POLICY_PATIENCE)
        .await?;
    let node_info = collector::collect(client, settings, task).await?;
    let checks = policies
        .assess_node(node_info, settings.include_passed)
        .await
        .map_err(Error::Evaluation)?;
    let now = jiff::Timestamp::now();
    let mut report = report::node_report(task, checks, crate::report::scanner(), now);
    if task.summary_only {
        report.report.checks.clear();
        common::reports::gauge::mark_summary_only(&mut report.metadata);
    }
    common::reports::gauge::annotate_infra_assessment_report(&mut report);
    let name = report.metadata.name.clone().unwrap_or_default();
    let reports: Api<ClusterInfraAssessmentReport> = Api::all(client.clone());
    let (apply, patch) = (
        PatchParams::apply(FIELD_MANAGER).force(),
        Patch::Apply(&report),
    );
    retry::idempotent("write node report", || reports.patch(&name, &apply, &patch))
        .await
        .map_err(Error::WriteReport)?;
    tracing::info!(report = %name, "node assessment report written");
    Ok(name)
}

//! Vulnerability scans: one scan Job per image (or a copy of a fresh report of the same
//! image), then one VulnerabilityReport per subscribing workload container.
//!
//! [`run`] is the entry point. The pure parts are [`job`] (the Job manifest), [`reports`]
//! (the report of each subscriber) and [`trim`] (the size limit); [`runner`] creates or
//! adopts the Job, waits for it with a watch, reads the scan container's log and deletes the
//! Job; [`credentials`] passes private registry credentials; [`events`] records failures
//! on the workloads.

mod args;
pub mod credentials;
pub mod events;
pub mod job;
pub mod reports;
pub mod runner;
pub mod trim;

use std::time::Duration;

use common::proto;
use common::reports::vulnerability::{VulnerabilityReport, VulnerabilityReportData};
use common::resources::workload_api_resource;
use common::retry;
use common::trivy::ImageRef;
use kube::api::{DynamicObject, Patch, PatchParams};
use kube::{Api, Client};

pub use args::ScanArgs;

use crate::task::{ScanSource, ScanTask, Subscriber};

/// Field manager of every report write.
pub const FIELD_MANAGER: &str = "trivy-operator";

/// Resource requests and limits of scan containers (Kubernetes quantities).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobResources {
    pub cpu_request: String,
    pub cpu_limit: String,
    pub memory_request: String,
    pub memory_limit: String,
}

/// What a scan needs from the flags and the environment.
#[derive(Clone)]
pub struct ScanSettings {
    /// Namespace of the scan Jobs (the operator's).
    pub namespace: String,
    /// Trivy image of scan Jobs.
    pub trivy_image: String,
    /// `scanner.version` of reports.
    pub trivy_version: String,
    /// Deadline of a scan Job.
    pub timeout: Duration,
    /// `report-ttl` annotation; zero writes none.
    pub report_ttl: Duration,
    /// Scan output as bzip2 + base64.
    pub compress_logs: bool,
    pub resources: JobResources,
    /// Service account of scan Jobs.
    pub service_account: Option<String>,
    /// Reporting instance of Events (the worker's id); `None`: the controller name.
    pub reporting_instance: Option<String>,
    /// The process's Event recorder, shared so that a failure repeated at every retry is
    /// one Event series (count, last time) rather than a new Event each time; `None`: a
    /// recorder per failure.
    pub recorder: Option<kube::runtime::events::Recorder>,
}

impl std::fmt::Debug for ScanSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScanSettings")
            .field("namespace", &self.namespace)
            .field("trivy_image", &self.trivy_image)
            .field("timeout", &self.timeout)
            .field("report_ttl", &self.report_ttl)
            .field("compress_logs", &self.compress_logs)
            .field("reporting_instance", &self.reporting_instance)
            .finish_non_exhaustive()
    }
}

impl ScanSettings {
    /// Settings from the flags, with scan Jobs in `namespace` (the operator namespace).
    pub fn new(args: &ScanArgs, namespace: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            trivy_image: args.trivy_image.clone(),
            trivy_version: args.trivy_version.clone(),
            timeout: args.scan_job_timeout,
            report_ttl: args.report_ttl,
            compress_logs: args.scan_compress_logs,
            resources: JobResources {
                cpu_request: args.scan_job_cpu_request.clone(),
                cpu_limit: args.scan_job_cpu_limit.clone(),
                memory_request: args.scan_job_memory_request.clone(),
                memory_limit: args.scan_job_memory_limit.clone(),
            },
            service_account: args.scan_job_service_account.clone(),
            reporting_instance: None,
            recorder: None,
        }
    }

    /// The same settings, with Events reported by `instance` (the worker id) through one
    /// shared recorder.
    pub fn with_reporting_instance(
        mut self,
        client: &kube::Client,
        instance: impl Into<String>,
    ) -> Self {
        let instance = instance.into();
        self.recorder = Some(events::recorder(client, Some(instance.clone())));
        self.reporting_instance = Some(instance);
        self
    }
}

/// Why a scan failed. No report is written for a failed scan.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The image reference to scan is not valid.
    #[error("invalid image {image:?}: {source}")]
    InvalidImage {
        image: String,
        source: common::trivy::ImageRefError,
    },
    /// Creating (or reading the existing) scan Job failed.
    #[error("creating scan job {job}: {source}")]
    CreateJob { job: String, source: kube::Error },
    /// Creating the scan Job's registry credentials Secret failed.
    #[error("creating the registry credentials of scan job {job}: {source}")]
    CreateSecret { job: String, source: kube::Error },
    /// Watching the scan Job failed.
    #[error("watching scan job {job}: {source}")]
    WatchJob {
        job: String,
        source: kube::runtime::wait::Error,
    },
    /// The scan Job was deleted by someone else before it finished.
    #[error("scan job {job} was deleted before it finished")]
    JobGone { job: String },
    /// The scan Job did not finish in time.
    #[error("scan job {job} did not finish within {timeout:?}: {detail}")]
    JobTimeout {
        job: String,
        timeout: Duration,
        detail: String,
    },
    /// The scan Job failed (Trivy exited non-zero, the pod could not run...).
    #[error("scan job {job} failed: {detail}")]
    JobFailed { job: String, detail: String },
    /// The scan container's log could not be read.
    #[error("reading the log of scan job {job}: {detail}")]
    ReadLogs { job: String, detail: String },
    /// The scan container's log is not valid Trivy output.
    #[error("output of scan job {job} is not valid trivy json: {source}")]
    InvalidOutput {
        job: String,
        source: common::trivy::Error,
    },
    /// Reading the VulnerabilityReport to copy failed.
    #[error("reading source report {namespace}/{name}: {source}")]
    ReadSourceReport {
        namespace: String,
        name: String,
        source: kube::Error,
    },
    /// The VulnerabilityReport to copy no longer exists.
    #[error("source report {namespace}/{name} no longer exists")]
    SourceReportGone { namespace: String, name: String },
    /// Reading a subscriber's workload failed.
    #[error("reading workload {workload}: {source}")]
    ReadWorkload {
        workload: String,
        source: kube::Error,
    },
    /// Writing a report failed.
    #[error("writing report {namespace}/{name}: {source}")]
    WriteReport {
        namespace: String,
        name: String,
        source: kube::Error,
    },
}

impl Error {
    /// A bounded reason for results, metrics and Events.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::InvalidImage { .. } => "InvalidImage",
            Self::CreateJob { .. } => "CreateJobFailed",
            Self::CreateSecret { .. } => "CreateSecretFailed",
            Self::WatchJob { .. } => "WatchJobFailed",
            Self::JobGone { .. } => "ScanJobGone",
            Self::JobTimeout { .. } => "ScanJobTimeout",
            Self::JobFailed { .. } => "ScanJobFailed",
            Self::ReadLogs { .. } => "ReadLogsFailed",
            Self::InvalidOutput { .. } => "ScanOutputInvalid",
            Self::ReadSourceReport { .. } => "ReadSourceReportFailed",
            Self::SourceReportGone { .. } => "SourceReportGone",
            Self::ReadWorkload { .. } => "ReadWorkloadFailed",
            Self::WriteReport { .. } => "WriteReportFailed",
        }
    }

    /// Whether a retry (with backoff) can help. Only an invalid image reference cannot: it
    /// needs the workload to change. A failed scan may be a registry hiccup or a fixed image.
    pub fn outcome(&self) -> proto::Outcome {
        match self {
            Self::InvalidImage { .. } => proto::Outcome::FailedPermanent,
            _ => proto::Outcome::FailedRetryable,
        }
    }
}

/// Runs the scan of `task` and writes one VulnerabilityReport per subscriber whose workload
/// still exists (same uid); returns the reports written, as `namespace/name`. A subscriber
/// whose workload is gone is skipped; when none is left, no Job is created.
///
/// On failure no report is written, the Job (if any) is deleted, and a Warning Event with
/// [`Error::reason`] is published on every subscriber's workload (best effort).
#[tracing::instrument(skip_all, fields(task = %task.task_id, image = %task.image))]
pub async fn run(
    client: &Client,
    settings: &ScanSettings,
    task: &ScanTask,
) -> Result<Vec<String>, Error> {
    let result = scan_and_write(client, settings, task).await;
    if let Err(error) = &result {
        tracing::warn!(%error, reason = error.reason(), "vulnerability scan failed");
        events::publish_failure(client, settings, task, error).await;
    }
    result
}

async fn scan_and_write(
    client: &Client,
    settings: &ScanSettings,
    task: &ScanTask,
) -> Result<Vec<String>, Error> {
    let image = ImageRef::parse(&task.image).map_err(|source| Error::InvalidImage {
        image: task.image.clone(),
        source,
    })?;
    let mut alive = Vec::new();
    for s in &task.subscribers {
        if workload_exists(client, s).await? {
            alive.push(s);
        }
    }
    if alive.is_empty() {
        tracing::info!("every subscriber is gone; nothing to scan");
        return Ok(Vec::new());
    }
    let (base, scanned_at) = match &task.source {
        ScanSource::Job => {
            let credentials = registry_credentials(client, alive[0], image.registry()).await;
            let output = runner::scan(
                client,
                settings,
                &task.scan_key,
                &task.image,
                credentials.as_ref(),
            )
            .await?;
            let scanner = common::reports::Scanner::trivy(settings.trivy_version.clone());
            let now = jiff::Timestamp::now();
            let data = common::trivy::to_report_data(&output, &image, scanner, now);
            (data, now)
        }
        ScanSource::Copy { namespace, name } => copy_source(client, namespace, name).await?,
    };
    let mut written = Vec::new();
    for s in alive {
        let data = reports::for_subscriber(&base, s, &image);
        let mut report =
            reports::vulnerability_report(s, &task.scan_key, data, scanned_at, settings);
        trim::trim_report(&mut report, trim::MAX_REPORT_BYTES);
        if write(client, s, &report).await? {
            let name = report.metadata.name.clone().unwrap_or_default();
            written.push(format!("{}/{name}", s.workload.namespace));
        }
    }
    Ok(written)
}

/// Credentials for `registry` from the first subscriber's pull secrets. Best effort: when
/// they cannot be read the scan runs without (public images still scan).
async fn registry_credentials(
    client: &Client,
    s: &Subscriber,
    registry: &str,
) -> Option<credentials::RegistryCredentials> {
    match credentials::lookup(client, s, registry).await {
        Ok(found) => found,
        Err(error) => {
            tracing::warn!(%error, workload = %described(s), "could not read image pull secrets");
            None
        }
    }
}

/// The `report` of the source VulnerabilityReport and its scan time.
async fn copy_source(
    client: &Client,
    namespace: &str,
    name: &str,
) -> Result<(VulnerabilityReportData, jiff::Timestamp), Error> {
    let api: Api<VulnerabilityReport> = Api::namespaced(client.clone(), namespace);
    let source = retry::idempotent("read source report", || api.get_opt(name))
        .await
        .map_err(|source| Error::ReadSourceReport {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            source,
        })?
        .ok_or_else(|| Error::SourceReportGone {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        })?;
    let scanned_at = reports::scanned_at(&source).unwrap_or(source.report.update_timestamp);
    Ok((source.report, scanned_at))
}

fn described(s: &Subscriber) -> String {
    let w = &s.workload;
    format!("{} {}/{}", w.kind.as_str(), w.namespace, w.name)
}

/// Whether the subscriber's workload exists with the uid the task names.
async fn workload_exists(client: &Client, s: &Subscriber) -> Result<bool, Error> {
    let w = &s.workload;
    let api: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), &w.namespace, &workload_api_resource(w.kind));
    let found = retry::idempotent("read workload", || api.get_opt(&w.name))
        .await
        .map_err(|source| Error::ReadWorkload {
            workload: described(s),
            source,
        })?;
    Ok(found.is_some_and(|o| o.metadata.uid.as_deref() == Some(w.uid.as_str())))
}

/// Writes the report with server-side apply if its workload still exists; false if gone.
async fn write(
    client: &Client,
    s: &Subscriber,
    report: &VulnerabilityReport,
) -> Result<bool, Error> {
    if !workload_exists(client, s).await? {
        tracing::info!(workload = %described(s), "workload gone; report skipped");
        return Ok(false);
    }
    let namespace = &s.workload.namespace;
    let name = report.metadata.name.clone().unwrap_or_default();
    let api: Api<VulnerabilityReport> = Api::namespaced(client.clone(), namespace);
    let (apply, patch) = (
        PatchParams::apply(FIELD_MANAGER).force(),
        Patch::Apply(report),
    );
    retry::idempotent("write report", || api.patch(&name, &apply, &patch))
        .await
        .map_err(|source| Error::WriteReport {
            namespace: namespace.clone(),
            name: name.clone(),
            source,
        })?;
    let summary = &report.report.summary;
    tracing::info!(
        report = %name,
        %namespace,
        workload = %described(s),
        critical = summary.critical_count,
        high = summary.high_count,
        "vulnerability report written"
    );
    Ok(true)
}

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
pub mod detail;
pub mod events;
pub mod job;
pub mod per_image;
pub mod registry_secrets;
pub mod reports;
pub mod runner;
pub mod trim;

use std::time::Duration;

use common::proto;
use common::reports::vulnerability::{VulnerabilityReport, VulnerabilityReportData};
use std::collections::BTreeMap;

use common::retry;
use common::trivy::ImageRef;
use kube::api::{Patch, PatchParams};
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
    /// Scratch space (the vulnerability DB and Java DB land there): the request and the
    /// limit, which is also the `sizeLimit` of the scratch `emptyDir`.
    pub ephemeral_storage_request: String,
    pub ephemeral_storage_limit: String,
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
    /// Which Secrets scans may read for registry credentials.
    pub registry_secrets: registry_secrets::SecretSource,
    /// What reports keep of a scan.
    pub detail: detail::Detail,
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
        let namespace = namespace.into();
        Self {
            registry_secrets: registry_secrets::SecretSource {
                mode: args.registry_secrets,
                names: args.registry_secret_names.clone(),
                operator_namespace: namespace.clone(),
            },
            namespace,
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
                ephemeral_storage_request: args.scan_job_ephemeral_storage_request.clone(),
                ephemeral_storage_limit: args.scan_job_ephemeral_storage_limit.clone(),
            },
            service_account: args.scan_job_service_account.clone(),
            detail: detail::Detail {
                severities: args.trivy_severity.clone(),
                ignore_unfixed: args.trivy_ignore_unfixed,
                omit: args.vulnerability_report_omit.iter().copied().collect(),
                per_image_keep: args.per_image_keep_severities.clone(),
            },
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
    /// A Job with this scan's name exists but is not this scan's (another scan key, or not
    /// made by the operator): it is neither adopted nor deleted.
    #[error("scan job {job} exists but belongs to scan key {found:?}; not adopted")]
    ForeignJob { job: String, found: String },
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
    /// The VulnerabilityReport to copy changed since this operator wrote it.
    #[error("source report {namespace}/{name} changed since it was written; not copied")]
    SourceReportChanged { namespace: String, name: String },
    /// Writing a report failed.
    #[error("writing report {namespace}/{name}: {source}")]
    WriteReport {
        namespace: String,
        name: String,
        source: kube::Error,
    },
    /// Writing the image's ImageVulnerabilityReport (per-image mode) failed; no workload
    /// report refers to it.
    #[error("writing image report {name}: {source}")]
    WriteImageReport { name: String, source: kube::Error },
    /// Reading the ImageVulnerabilityReport to copy failed.
    #[error("reading image report {name}: {source}")]
    ReadImageReport { name: String, source: kube::Error },
    /// The ImageVulnerabilityReport the source report names no longer exists.
    #[error("image report {name} no longer exists")]
    ImageReportGone { name: String },
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
            Self::ForeignJob { .. } => "ScanJobNameTaken",
            Self::ReadLogs { .. } => "ReadLogsFailed",
            Self::InvalidOutput {
                source: common::trivy::Error::TooLarge { .. },
                ..
            } => "ScanOutputTooLarge",
            Self::InvalidOutput { .. } => "ScanOutputInvalid",
            Self::ReadSourceReport { .. } => "ReadSourceReportFailed",
            Self::SourceReportGone { .. } => "SourceReportGone",
            Self::SourceReportChanged { .. } => "SourceReportChanged",
            Self::WriteReport { .. } => "WriteReportFailed",
            Self::WriteImageReport { .. } => "WriteImageReportFailed",
            Self::ReadImageReport { .. } => "ReadImageReportFailed",
            Self::ImageReportGone { .. } => "ImageReportGone",
        }
    }

    /// Whether a retry (with backoff) can help. Only an invalid image reference cannot: it
    /// needs the workload to change. A failed scan may be a registry hiccup or a fixed image.
    pub fn outcome(&self) -> proto::Outcome {
        match self {
            // The same image gives the same output: retrying waits the longest delay.
            Self::InvalidImage { .. }
            | Self::InvalidOutput {
                source: common::trivy::Error::TooLarge { .. },
                ..
            } => proto::Outcome::FailedPermanent,
            _ => proto::Outcome::FailedRetryable,
        }
    }
}

/// What a scan task achieved: the reports written (possibly only some, when the scan of
/// one credential identity failed) and the first failure, if any.
#[derive(Debug, Default)]
pub struct Outcome {
    pub written: Vec<proto::WrittenReport>,
    pub error: Option<Error>,
}

/// Runs the scan of `task` and writes one VulnerabilityReport per subscriber; returns the
/// reports written, as `namespace/name`, or the first failure.
pub async fn run(
    client: &Client,
    settings: &ScanSettings,
    task: &ScanTask,
) -> Result<Vec<String>, Error> {
    let outcome = run_task(client, settings, task).await;
    match outcome.error {
        Some(error) => Err(error),
        None => Ok(outcome
            .written
            .iter()
            .map(|w| format!("{}/{}", w.namespace, w.name))
            .collect()),
    }
}

/// Runs the scan of `task` and writes one VulnerabilityReport per subscriber, trusting the
/// leader's view of the workloads (a report whose owner is gone is garbage-collected).
///
/// Subscribers are scanned per credential identity: those whose pull secrets hold no
/// credentials for the image's registry share one anonymous scan (the only reports the
/// leader copies to other workloads); each set of credentials gets its own scan Job, run
/// one after another in the task's one scan slot, so one namespace's credentials never
/// serve another namespace, and one subscriber without them never fails the others.
///
/// On failure no report is written for the subscribers concerned, their Job (if any) is
/// deleted, and a Warning Event with [`Error::reason`] is published on each of their
/// workloads (best effort).
#[tracing::instrument(skip_all, fields(task = %task.task_id, image = %task.image))]
pub async fn run_task(client: &Client, settings: &ScanSettings, task: &ScanTask) -> Outcome {
    let image = match ImageRef::parse(&task.image) {
        Ok(image) => image,
        Err(source) => {
            let error = Error::InvalidImage {
                image: task.image.clone(),
                source,
            };
            let all: Vec<&Subscriber> = task.subscribers.iter().collect();
            return failed(client, settings, &all, error).await;
        }
    };
    let reference = image.normalized();
    let mut outcome = Outcome::default();
    // The image report a copied report names (per-image mode): written already.
    let mut existing_image_report = None;
    let all = || task.subscribers.iter().collect::<Vec<_>>();
    let groups = match &task.source {
        ScanSource::Copy {
            namespace,
            name,
            resource_version,
        } => {
            let copied = copy_source(client, namespace, name, resource_version, task.per_image)
                .await
                .map(|(data, at, image_report)| {
                    existing_image_report = image_report;
                    (data, at)
                });
            vec![(true, task.scan_key.clone(), all(), copied)]
        }
        ScanSource::Job => {
            let mut groups = Vec::new();
            for (identity, (credentials, members)) in
                credential_groups(client, &settings.registry_secrets, task, image.registry()).await
            {
                let job_key = credentials::job_key(&task.scan_key, identity.as_deref());
                let scanned = scan_image(
                    client,
                    settings,
                    task,
                    &job_key,
                    &image,
                    credentials.as_ref(),
                )
                .await;
                groups.push((identity.is_none(), job_key, members, scanned));
            }
            groups
        }
    };
    for (shareable, job_key, members, scanned) in groups {
        let (mut base, scanned_at) = match scanned {
            Ok(found) => found,
            Err(error) => {
                let partial = failed(client, settings, &members, error).await;
                outcome.error = outcome.error.or(partial.error);
                continue;
            }
        };
        settings.detail.apply(&mut base);
        if task.summary_only {
            // The summary counts what the scan found; the list is left out.
            base.vulnerabilities.clear();
        }
        let image_report = if task.per_image && !task.summary_only {
            match image_report_of(
                client,
                task,
                &job_key,
                &base,
                scanned_at,
                &mut existing_image_report,
            )
            .await
            {
                Ok(name) => Some(name),
                Err(error) => {
                    let partial = failed(client, settings, &members, error).await;
                    outcome.error = outcome.error.or(partial.error);
                    continue;
                }
            }
        } else {
            None
        };
        for s in members {
            let mut data = reports::for_subscriber(&base, s, &image);
            if image_report.is_some() {
                data = per_image::workload_data(data, &settings.detail.per_image_keep);
            }
            let mut report =
                reports::vulnerability_report(s, &task.scan_key, data, scanned_at, settings);
            if task.summary_only {
                common::reports::gauge::mark_summary_only(&mut report.metadata);
            }
            if let Some(name) = &image_report {
                per_image::refer(&mut report, name);
            }
            trim::trim_report(&mut report, trim::MAX_REPORT_BYTES);
            common::reports::gauge::annotate_vulnerability_report(&mut report);
            match write(client, s, &mut report).await {
                Ok(resource_version) => outcome.written.push(proto::WrittenReport {
                    namespace: s.workload.namespace.clone(),
                    name: report.metadata.name.clone().unwrap_or_default(),
                    resource_version,
                    scan_key: task.scan_key.clone(),
                    // A summary-only report has no list to copy: copying it would give
                    // other workloads an empty list (and, recounted, a zero summary).
                    shareable: shareable && !task.summary_only,
                    scanned_at_unix: scanned_at.as_second(),
                    workload_uid: s.workload.uid.clone(),
                    container_name: s.container_name.clone(),
                    resource_spec_hash: s.spec_hash.clone(),
                    image_reference: reference.clone(),
                }),
                Err(error) => {
                    tracing::warn!(%error, reason = error.reason(), "writing a vulnerability report failed");
                    outcome.error = outcome.error.or(Some(error));
                }
            }
        }
    }
    outcome
}

/// The name of the image report of this group's scan (per-image mode): the one the copied
/// report names, else one written now from `base`.
async fn image_report_of(
    client: &Client,
    task: &ScanTask,
    job_key: &str,
    base: &VulnerabilityReportData,
    scanned_at: jiff::Timestamp,
    existing: &mut Option<String>,
) -> Result<String, Error> {
    if let Some(name) = existing.take() {
        return Ok(name);
    }
    let report = per_image::image_report(job_key, &task.scan_key, base.clone(), scanned_at);
    per_image::write(client, &report).await
}

async fn apply_report(
    api: &Api<VulnerabilityReport>,
    name: &str,
    params: &PatchParams,
    report: &VulnerabilityReport,
) -> Result<VulnerabilityReport, kube::Error> {
    let patch = Patch::Apply(report);
    retry::idempotent("write report", || api.patch(name, params, &patch)).await
}

/// Whether the API server refused a write because the report already has another
/// workload as its controller.
fn is_name_taken(status: &kube::core::Status) -> bool {
    status.code == 422
        && status
            .message
            .contains("Only one reference can have Controller set to true")
}

/// Logs a failure and publishes it on the workloads of `members`.
async fn failed(
    client: &Client,
    settings: &ScanSettings,
    members: &[&Subscriber],
    error: Error,
) -> Outcome {
    tracing::warn!(%error, reason = error.reason(), "vulnerability scan failed");
    events::publish_failure(client, settings, members, &error).await;
    Outcome {
        written: Vec::new(),
        error: Some(error),
    }
}

/// Runs the scan Job of `job_key` and turns Trivy's output into report data.
async fn scan_image(
    client: &Client,
    settings: &ScanSettings,
    task: &ScanTask,
    job_key: &str,
    image: &ImageRef,
    credentials: Option<&credentials::RegistryCredentials>,
) -> Result<(VulnerabilityReportData, jiff::Timestamp), Error> {
    let output = runner::scan(client, settings, job_key, &task.image, credentials).await?;
    let scanner = common::reports::Scanner::trivy(settings.trivy_version.clone());
    let now = jiff::Timestamp::now();
    Ok((
        common::trivy::to_report_data(&output, image, scanner, now),
        now,
    ))
}

/// The subscribers by credential identity (`None`: anonymous, first), with the credentials.
/// A subscriber whose pull secrets cannot be read, or hold nothing for the registry, is
/// scanned anonymously (public images still scan).
async fn credential_groups<'a>(
    client: &Client,
    source: &registry_secrets::SecretSource,
    task: &'a ScanTask,
    registry: &str,
) -> BTreeMap<
    Option<String>,
    (
        Option<credentials::RegistryCredentials>,
        Vec<&'a Subscriber>,
    ),
> {
    let mut groups: BTreeMap<Option<String>, (Option<_>, Vec<&Subscriber>)> = BTreeMap::new();
    let mut known: BTreeMap<(String, Vec<String>), Option<credentials::Found>> = BTreeMap::new();
    for s in &task.subscribers {
        let found = if let Some(cache_key) =
            source.secrets_for(&s.workload.namespace, &s.pull_secrets)
        {
            if !known.contains_key(&cache_key) {
                let (namespace, names) = &cache_key;
                let found = match credentials::lookup(client, namespace, names, registry).await {
                    Ok(found) => found,
                    Err(error) => {
                        tracing::warn!(%error, workload = %described(s), "could not read image pull secrets");
                        None
                    }
                };
                known.insert(cache_key.clone(), found);
            }
            known.get(&cache_key).cloned().flatten()
        } else {
            None
        };
        let (identity, credentials) = match found {
            Some(found) => (Some(found.identity), Some(found.credentials)),
            None => (None, None),
        };
        groups
            .entry(identity)
            .or_insert_with(|| (credentials, Vec::new()))
            .1
            .push(s);
    }
    groups
}

/// The `report` of the source VulnerabilityReport and its scan time, if the report is
/// still the one this operator wrote (same resourceVersion). In per-image mode, a source
/// that names its image report gives that report's whole list (and, in per-image mode, its
/// name, to refer to).
async fn copy_source(
    client: &Client,
    namespace: &str,
    name: &str,
    resource_version: &str,
    per_image: bool,
) -> Result<(VulnerabilityReportData, jiff::Timestamp, Option<String>), Error> {
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
    if !resource_version.is_empty()
        && source.metadata.resource_version.as_deref() != Some(resource_version)
    {
        return Err(Error::SourceReportChanged {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        });
    }
    let scanned_at = reports::scanned_at(&source)
        .unwrap_or(source.report.update_timestamp)
        .min(jiff::Timestamp::now());
    match per_image::referred(&source) {
        // Its own list is only a share: the whole one is in the image report (also when
        // the mode was switched back to the default since).
        Some(image_report) => {
            let image = per_image::read(client, image_report).await?;
            Ok((
                image.report,
                scanned_at,
                per_image.then(|| image_report.to_owned()),
            ))
        }
        // A source written in the default mode holds the whole list itself.
        None => Ok((source.report, scanned_at, None)),
    }
}

fn described(s: &Subscriber) -> String {
    let w = &s.workload;
    format!("{} {}/{}", w.kind.as_str(), w.namespace, w.name)
}

/// Writes the report with server-side apply, without reading anything first; returns the
/// resourceVersion the write produced.
///
/// Each workload writes as its own field manager, so a report of another workload under the
/// same name keeps that workload's owner reference: the API server then refuses the write
/// (two controller owners), and the report is written under
/// [`vulnerability_report_fallback_name`](common::names::vulnerability_report_fallback_name)
/// instead (`report`'s name says which was used). The leader sends that name with later
/// scans, so the workload keeps one report.
async fn write(
    client: &Client,
    s: &Subscriber,
    report: &mut VulnerabilityReport,
) -> Result<String, Error> {
    let namespace = &s.workload.namespace;
    let api: Api<VulnerabilityReport> = Api::namespaced(client.clone(), namespace);
    let manager = format!("{FIELD_MANAGER}/{}", s.workload.uid);
    let apply = PatchParams::apply(&manager).force();
    let mut name = report.metadata.name.clone().unwrap_or_default();
    let mut result = apply_report(&api, &name, &apply, report).await;
    if let Err(kube::Error::Api(status)) = &result
        && is_name_taken(status)
    {
        let w = &s.workload;
        let fallback = common::names::vulnerability_report_fallback_name(
            w.kind.as_str(),
            &w.name,
            &s.container_name,
        );
        tracing::warn!(report = %name, %fallback, workload = %described(s), "the report name belongs to another workload; writing under the fallback name");
        name = fallback;
        report.metadata.name = Some(name.clone());
        result = apply_report(&api, &name, &apply, report).await;
    }
    let written = result.map_err(|source| Error::WriteReport {
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
    Ok(written.metadata.resource_version.unwrap_or_default())
}

//! Why a scan failed.

use std::time::Duration;

use common::proto;

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
    /// This scan's Job exists but runs other Trivy scanners; it was deleted so that a retry
    /// creates the right one.
    #[error("scan job {job} runs scanners {found:?}, not {wanted:?}; deleted, to be recreated")]
    OutdatedJob {
        job: String,
        found: String,
        wanted: String,
    },
    /// The scan Job failed because the Trivy server (ClientServer mode) could not be
    /// reached or refused the client.
    #[error("scan job {job} failed: the trivy server {server} could not be used: {detail}")]
    TrivyServerUnavailable {
        job: String,
        server: String,
        detail: String,
    },
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
    /// The task wants a report kind (exposed secrets, an SBOM) that its source report came
    /// without.
    #[error("source report {namespace}/{name} has no {kind} report to copy")]
    SourceLacksReport {
        namespace: String,
        name: String,
        kind: &'static str,
    },
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
            Self::OutdatedJob { .. } => "ScanJobOutdated",
            Self::TrivyServerUnavailable { .. } => "TrivyServerUnavailable",
            Self::ReadLogs { .. } => "ReadLogsFailed",
            Self::InvalidOutput {
                source: common::trivy::Error::TooLarge { .. },
                ..
            } => "ScanOutputTooLarge",
            Self::InvalidOutput { .. } => "ScanOutputInvalid",
            Self::ReadSourceReport { .. } => "ReadSourceReportFailed",
            Self::SourceReportGone { .. } => "SourceReportGone",
            Self::SourceReportChanged { .. } => "SourceReportChanged",
            Self::SourceLacksReport { .. } => "SourceReportIncomplete",
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

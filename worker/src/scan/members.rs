//! Writing what one scan found to its subscribers: each subscriber's VulnerabilityReport,
//! then the reports beside it, a few subscribers at a time.
//!
//! A scan task holds one of the operator's scan slots (`--max-concurrent-scans`) until its
//! result is sent, and an image's subscribers are often many (every workload running it):
//! written one after another, their writes took as long as the Job itself.

use common::proto;
use common::reports::exposed_secret::ExposedSecretReportData;
use common::reports::sbom::Bom;
use common::reports::vulnerability::VulnerabilityReportData;
use common::trivy::ImageRef;
use futures::StreamExt;
use kube::Client;

use super::write::{described, write};
use super::{Error, Outcome, ScanSettings, companions, per_image, reports, trim};
use crate::task::{ScanTask, Subscriber};

/// Subscribers whose reports are written at once (each subscriber's own reports stay in
/// order: the VulnerabilityReport first, the reports beside it after it).
const CONCURRENT_SUBSCRIBERS: usize = 4;

/// What one scan (or copied source) gives every subscriber of its group.
pub(super) struct Scanned<'a> {
    pub(super) base: &'a VulnerabilityReportData,
    pub(super) secrets: Option<&'a ExposedSecretReportData>,
    pub(super) sbom: Option<&'a Bom>,
    pub(super) scanned_at: jiff::Timestamp,
    /// Offered as a copy source under the scan key only (see `Found::key_only`).
    pub(super) key_only: bool,
    /// Whether its reports may be copied to other workloads (an anonymous scan).
    pub(super) shareable: bool,
    /// The ImageVulnerabilityReport the reports name (per-image mode).
    pub(super) image_report: Option<&'a str>,
    pub(super) image: &'a ImageRef,
}

/// Writes the reports of every member, adding what was written (in the members' order) and
/// the first failure to `outcome`.
pub(super) async fn write_all(
    client: &Client,
    settings: &ScanSettings,
    task: &ScanTask,
    members: &[&Subscriber],
    scanned: &Scanned<'_>,
    outcome: &mut Outcome,
) {
    let reference = scanned.image.normalized();
    // The futures are made first: a stream mapping with a closure over borrowed parts is not
    // `Send` for every lifetime, which the task's spawn needs.
    let writes: Vec<_> = members
        .iter()
        .map(|s| write_member(client, settings, task, s, scanned, &reference))
        .collect();
    let mut results = futures::stream::iter(writes).buffered(CONCURRENT_SUBSCRIBERS);
    while let Some((written, error)) = results.next().await {
        outcome.written.extend(written);
        if outcome.error.is_none() {
            outcome.error = error;
        }
    }
}

/// Writes one subscriber's VulnerabilityReport and the reports beside it.
async fn write_member(
    client: &Client,
    settings: &ScanSettings,
    task: &ScanTask,
    s: &Subscriber,
    scanned: &Scanned<'_>,
    reference: &str,
) -> (Option<proto::WrittenReport>, Option<Error>) {
    let mut data = reports::for_subscriber(scanned.base, s, scanned.image);
    if scanned.image_report.is_some() {
        data = per_image::workload_data(data, &settings.detail.per_image_keep);
    }
    let mut report =
        reports::vulnerability_report(s, &task.scan_key, data, scanned.scanned_at, settings);
    if task.summary_only {
        common::reports::gauge::mark_summary_only(&mut report.metadata);
    }
    if let Some(name) = scanned.image_report {
        per_image::refer(&mut report, name);
    }
    trim::trim_report(&mut report, trim::MAX_REPORT_BYTES);
    common::reports::gauge::annotate_vulnerability_report(&mut report);
    let written = match write(client, s, &mut report).await {
        Ok(resource_version) => {
            let summary = &report.report.summary;
            tracing::info!(
                report = report.metadata.name.as_deref().unwrap_or_default(),
                namespace = %s.workload.namespace,
                workload = %described(s),
                critical = summary.critical_count,
                high = summary.high_count,
                "vulnerability report written"
            );
            proto::WrittenReport {
                namespace: s.workload.namespace.clone(),
                name: report.metadata.name.clone().unwrap_or_default(),
                resource_version,
                scan_key: task.scan_key.clone(),
                // A summary-only report has no list to copy: copying it would give other
                // workloads an empty list (and, recounted, a zero summary).
                shareable: scanned.shareable && !task.summary_only,
                scanned_at_unix: scanned.scanned_at.as_second(),
                workload_uid: s.workload.uid.clone(),
                container_name: s.container_name.clone(),
                resource_spec_hash: s.spec_hash.clone(),
                image_reference: if scanned.key_only {
                    String::new()
                } else {
                    reference.to_string()
                },
                // Filled in by the reports written beside it.
                ..Default::default()
            }
        }
        Err(error) => {
            tracing::warn!(%error, reason = error.reason(), "writing a vulnerability report failed");
            return (None, Some(error));
        }
    };
    let beside = companions::Beside {
        secrets: scanned.secrets,
        sbom: scanned.sbom,
        vulnerabilities: &report.report,
        image: scanned.image,
        scan: (&task.scan_key, scanned.scanned_at),
        summary_only: task.summary_only,
    };
    let (written, error) = companions::write(client, settings, s, &beside, written).await;
    (Some(written), error)
}

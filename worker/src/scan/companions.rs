//! The reports written beside a subscriber's VulnerabilityReport from the same scan — its
//! ExposedSecretReport and its SbomReport — under the VulnerabilityReport's name, and what
//! the leader learns of them (their names and resourceVersions, to pin copies to).

use common::proto;
use common::reports::exposed_secret::ExposedSecretReportData;
use common::reports::sbom::Bom;
use common::reports::vulnerability::VulnerabilityReportData;
use common::trivy::ImageRef;
use kube::Client;

use super::write::write as apply;
use super::{Error, ScanSettings, sbom, secrets, trim};
use crate::task::Subscriber;

/// What the scan gives the reports beside one subscriber's VulnerabilityReport.
pub(super) struct Beside<'a> {
    /// The scan's secrets, when the task wants them.
    pub(super) secrets: Option<&'a ExposedSecretReportData>,
    /// The scan's BOM, when the task wants it.
    pub(super) sbom: Option<&'a Bom>,
    /// The subscriber's VulnerabilityReport data as written (its registry and artifact).
    pub(super) vulnerabilities: &'a VulnerabilityReportData,
    /// The scanned image (the artifact when the subscriber's reference does not parse).
    pub(super) image: &'a ImageRef,
    /// The scan key and the scan time.
    pub(super) scan: (&'a str, jiff::Timestamp),
    /// Reports are over their storage budget: summaries only.
    pub(super) summary_only: bool,
}

/// Writes the reports beside the VulnerabilityReport `written` describes; returns it with
/// their names and resourceVersions, and the first failure. A subscriber whose companion
/// report failed keeps its VulnerabilityReport, which is then no copy source (a copy would
/// lack that report).
pub(super) async fn write(
    client: &Client,
    settings: &ScanSettings,
    s: &Subscriber,
    beside: &Beside<'_>,
    mut written: proto::WrittenReport,
) -> (proto::WrittenReport, Option<Error>) {
    let mut first_error = None;
    let mut failed = |error: Error, what: &str| {
        tracing::warn!(%error, reason = error.reason(), "writing an {what} report failed");
        first_error.get_or_insert(error);
    };
    if let Some(base) = beside.secrets {
        let name = written.name.clone();
        let mut report = secrets::secret_report(s, base, beside.image, beside.scan, settings, name);
        if beside.summary_only {
            // The summary counts what the scan found; the list is left out.
            report.report.secrets.clear();
            common::reports::gauge::mark_summary_only(&mut report.metadata);
        }
        secrets::trim(&mut report, trim::MAX_REPORT_BYTES);
        common::reports::gauge::annotate_exposed_secret_report(&mut report);
        match apply(client, s, &mut report).await {
            Ok(rv) => {
                let summary = &report.report.summary;
                tracing::info!(report = %written.name, namespace = %s.workload.namespace, critical = summary.critical_count, high = summary.high_count, "exposed secret report written");
                written.secret_report_name = report.metadata.name.clone().unwrap_or_default();
                written.secret_resource_version = rv;
            }
            Err(error) => failed(error, "exposed secret"),
        }
    }
    if let Some(bom) = beside.sbom {
        let name = written.name.clone();
        let mut report =
            sbom::sbom_report(s, bom, beside.vulnerabilities, beside.scan, settings, name);
        if beside.summary_only {
            sbom::summary_only(&mut report);
            common::reports::gauge::mark_summary_only(&mut report.metadata);
        }
        sbom::trim(&mut report, trim::MAX_REPORT_BYTES);
        common::reports::gauge::annotate_sbom_report(&mut report);
        match apply(client, s, &mut report).await {
            Ok(rv) => {
                let components = report.report.summary.components_count;
                tracing::info!(report = %written.name, namespace = %s.workload.namespace, components, "sbom report written");
                written.sbom_report_name = report.metadata.name.clone().unwrap_or_default();
                written.sbom_resource_version = rv;
            }
            Err(error) => failed(error, "sbom"),
        }
    }
    if first_error.is_some() {
        written.shareable = false;
    }
    (written, first_error)
}

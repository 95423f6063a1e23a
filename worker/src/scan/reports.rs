//! The VulnerabilityReport of each subscriber of a scan: upstream name, labels, owner and
//! `report-ttl` annotation, plus the scan key and scan time the leader dedupes with. Pure.

use std::collections::BTreeMap;

use common::labels;
use common::names::vulnerability_report_name;
use common::owner::owner_reference;
use common::reports::vulnerability::{Registry, VulnerabilityReport, VulnerabilityReportData};
use common::trivy::ImageRef;
use kube::api::ObjectMeta;

use super::ScanSettings;
use super::job::SCAN_KEY_ANNOTATION;
use crate::task::Subscriber;

pub use common::labels::SCANNED_AT as SCANNED_AT_ANNOTATION;
pub use common::labels::TRIMMED as TRIMMED_ANNOTATION;

/// The scan's data as it applies to `s`: the artifact and registry from the subscriber's own
/// image reference (`fallback`, the scanned image, when it does not parse). The digest is the
/// subscriber's when its reference has one, else the scan's.
pub fn for_subscriber(
    base: &VulnerabilityReportData,
    s: &Subscriber,
    fallback: &ImageRef,
) -> VulnerabilityReportData {
    let parsed = ImageRef::parse(&s.image).ok();
    let image = parsed.as_ref().unwrap_or(fallback);
    let mut data = base.clone();
    data.registry = Some(Registry {
        server: image.registry().to_owned(),
    });
    data.artifact.repository = image.repository().to_owned();
    data.artifact.tag = image.tag().map(str::to_owned);
    if let Some(digest) = image.digest() {
        data.artifact.digest = Some(digest.to_owned());
    }
    data
}

/// The report of `s`, scanned under `scan_key` at `scanned_at`.
pub fn vulnerability_report(
    s: &Subscriber,
    scan_key: &str,
    data: VulnerabilityReportData,
    scanned_at: jiff::Timestamp,
    settings: &ScanSettings,
) -> VulnerabilityReport {
    let w = &s.workload;
    let kind = w.kind.as_str();
    let (mut report_labels, mut annotations) =
        labels::report_labels(kind, &w.name, &w.namespace, &s.spec_hash);
    labels::add_container_label(&mut report_labels, &s.container_name);
    if !settings.report_ttl.is_zero() {
        let ttl = common::cli::format_go_duration(settings.report_ttl);
        labels::add_report_ttl(&mut annotations, &ttl);
    }
    annotations.insert(SCAN_KEY_ANNOTATION.to_owned(), scan_key.to_owned());
    // Whole seconds, as Kubernetes writes times.
    let scanned_at = jiff::Timestamp::from_second(scanned_at.as_second()).unwrap_or(scanned_at);
    annotations.insert(SCANNED_AT_ANNOTATION.to_owned(), scanned_at.to_string());
    let metadata = ObjectMeta {
        name: Some(
            s.report_name
                .clone()
                .unwrap_or_else(|| vulnerability_report_name(kind, &w.name, &s.container_name)),
        ),
        namespace: Some(w.namespace.clone()),
        labels: Some(report_labels),
        annotations: Some(annotations),
        owner_references: Some(vec![owner_reference(
            w.kind.api_version(),
            kind,
            &w.name,
            &w.uid,
        )]),
        ..ObjectMeta::default()
    };
    VulnerabilityReport::new(metadata, data)
}

/// The scan time of a report: its scanned-at annotation, if valid.
pub fn scanned_at(report: &VulnerabilityReport) -> Option<jiff::Timestamp> {
    annotation(&report.metadata.annotations, SCANNED_AT_ANNOTATION)?
        .parse()
        .ok()
}

fn annotation<'a>(annotations: &'a Option<BTreeMap<String, String>>, key: &str) -> Option<&'a str> {
    annotations.as_ref()?.get(key).map(String::as_str)
}

#[cfg(test)]
#[path = "reports_tests.rs"]
mod tests;

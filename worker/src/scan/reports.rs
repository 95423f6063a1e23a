//! The VulnerabilityReport of each subscriber of a scan: upstream name, labels, owner and
//! `report-ttl` annotation, plus the scan key and scan time the leader dedupes with. Pure.

use std::collections::BTreeMap;

use common::labels;
use common::names::vulnerability_report_name;
use common::owner::owner_reference;
use common::reports::vulnerability::{
    Artifact, Registry, VulnerabilityReport, VulnerabilityReportData,
};
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
    let mut data = base.clone();
    point_at_subscriber(&mut data.registry, &mut data.artifact, s, fallback);
    data
}

/// Points `registry` and `artifact` at the subscriber's own image reference (`fallback`, the
/// scanned image, when it does not parse), keeping the scan's digest unless the reference
/// has its own.
pub fn point_at_subscriber(
    registry: &mut Option<Registry>,
    artifact: &mut Artifact,
    s: &Subscriber,
    fallback: &ImageRef,
) {
    let parsed = ImageRef::parse(&s.image).ok();
    let image = parsed.as_ref().unwrap_or(fallback);
    *registry = Some(Registry {
        server: image.registry().to_owned(),
    });
    artifact.repository = image.repository().to_owned();
    artifact.tag = image.tag().map(str::to_owned);
    if let Some(digest) = image.digest() {
        artifact.digest = Some(digest.to_owned());
    }
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
    let name = s
        .report_name
        .clone()
        .unwrap_or_else(|| vulnerability_report_name(w.kind.as_str(), &w.name, &s.container_name));
    VulnerabilityReport::new(
        report_metadata(s, scan_key, scanned_at, settings, name),
        data,
    )
}

/// The metadata of a report of `s` from a scan (VulnerabilityReport or ExposedSecretReport):
/// upstream's labels, owner and `report-ttl`, plus the scan key and scan time.
pub fn report_metadata(
    s: &Subscriber,
    scan_key: &str,
    scanned_at: jiff::Timestamp,
    settings: &ScanSettings,
    name: String,
) -> ObjectMeta {
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
    ObjectMeta {
        name: Some(name),
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
    }
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

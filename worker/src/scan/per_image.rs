//! The per-image storage mode: an image's whole vulnerability list is written once, into
//! its cluster-scoped [`ImageVulnerabilityReport`]; each workload's VulnerabilityReport
//! keeps the summary of the whole list (so `kubectl get vulns`, dashboards and metrics show
//! the same counts as in the default mode), the artifact, the vulnerabilities of the kept
//! severities (each without its description, links and CVSS vectors, the bulk of its size,
//! which the image report holds), and the image report's name in the [`IMAGE_REPORT`]
//! annotation.

use std::collections::BTreeSet;

use common::labels;
use common::reports::image_vulnerability::{self, IMAGE_REPORT, ImageVulnerabilityReport};
use common::reports::vulnerability::{Severity, VulnerabilityReport, VulnerabilityReportData};
use common::retry;
use kube::api::{ObjectMeta, Patch, PatchParams};
use kube::{Api, Client};

use super::{Error, FIELD_MANAGER, trim};

/// A workload's share of the image's data: the vulnerabilities of the `keep` severities,
/// without description, links and CVSS vectors (the primary link and the score stay); the
/// summary still counts the whole list. Pure.
pub fn workload_data(
    mut data: VulnerabilityReportData,
    keep: &BTreeSet<Severity>,
) -> VulnerabilityReportData {
    data.vulnerabilities.retain(|v| keep.contains(&v.severity));
    for v in &mut data.vulnerabilities {
        v.description = None;
        v.links = None;
        v.cvss = None;
    }
    data
}

/// Names the image's report on a workload's report.
pub fn refer(report: &mut VulnerabilityReport, image_report: &str) {
    report
        .metadata
        .annotations
        .get_or_insert_with(Default::default)
        .insert(IMAGE_REPORT.to_owned(), image_report.to_owned());
}

/// The image report a workload's report names, if any.
pub fn referred(report: &VulnerabilityReport) -> Option<&str> {
    report
        .metadata
        .annotations
        .as_ref()?
        .get(IMAGE_REPORT)
        .map(String::as_str)
}

/// The image report of the scan `job_key` (key `scan_key`), scanned at `scanned_at`, with
/// `data` (the scan's, before any subscriber's share), trimmed to the size limit and with
/// the gauge annotations (its size among them). Pure.
pub fn image_report(
    job_key: &str,
    scan_key: &str,
    data: VulnerabilityReportData,
    scanned_at: jiff::Timestamp,
) -> ImageVulnerabilityReport {
    let name = image_vulnerability::name(job_key, &data.artifact.repository);
    let scanned_at = jiff::Timestamp::from_second(scanned_at.as_second()).unwrap_or(scanned_at);
    let metadata = ObjectMeta {
        name: Some(name),
        labels: Some(
            [(
                labels::MANAGED_BY.to_owned(),
                labels::MANAGED_BY_VALUE.to_owned(),
            )]
            .into(),
        ),
        annotations: Some(
            [
                (labels::SCAN_KEY.to_owned(), scan_key.to_owned()),
                (labels::SCANNED_AT.to_owned(), scanned_at.to_string()),
            ]
            .into(),
        ),
        ..ObjectMeta::default()
    };
    // Same shape as a VulnerabilityReport (only apiVersion and kind differ, by a few
    // bytes): trimmed and measured as one.
    let mut as_workload_report = VulnerabilityReport::new(metadata, data);
    trim::trim_report(&mut as_workload_report, trim::MAX_REPORT_BYTES);
    common::reports::gauge::annotate_vulnerability_report(&mut as_workload_report);
    ImageVulnerabilityReport::new(as_workload_report.metadata, as_workload_report.report)
}

/// Writes `report` with server-side apply; returns its name.
pub async fn write(client: &Client, report: &ImageVulnerabilityReport) -> Result<String, Error> {
    let api: Api<ImageVulnerabilityReport> = Api::all(client.clone());
    let name = report.metadata.name.clone().unwrap_or_default();
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let patch = Patch::Apply(report);
    retry::idempotent("write image report", || api.patch(&name, &params, &patch))
        .await
        .map_err(|source| Error::WriteImageReport {
            name: name.clone(),
            source,
        })?;
    tracing::debug!(report = %name, vulnerabilities = report.report.vulnerabilities.len(), "image vulnerability report written");
    Ok(name)
}

/// Reads the image report `name` (to copy its whole list to new subscribers).
pub async fn read(client: &Client, name: &str) -> Result<ImageVulnerabilityReport, Error> {
    let api: Api<ImageVulnerabilityReport> = Api::all(client.clone());
    retry::idempotent("read image report", || api.get_opt(name))
        .await
        .map_err(|source| Error::ReadImageReport {
            name: name.to_owned(),
            source,
        })?
        .ok_or_else(|| Error::ImageReportGone {
            name: name.to_owned(),
        })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use common::reports::vulnerability::{Vulnerability, VulnerabilitySummary};

    use super::*;

    fn data() -> VulnerabilityReportData {
        let v = |id: &str, severity: &str| -> Vulnerability {
            serde_json::from_value(serde_json::json!({
                "vulnerabilityID": id, "resource": "pkg", "installedVersion": "1",
                "fixedVersion": "2", "publishedDate": "", "lastModifiedDate": "",
                "severity": severity, "title": "t", "description": "d",
                "primaryLink": "https://x/1", "links": ["https://x/2"], "score": 9.8,
                "cvss": {"nvd": {"V3Score": 9.8}},
            }))
            .unwrap()
        };
        let mut d = VulnerabilityReportData::default();
        d.artifact.repository = "library/nginx".into();
        d.vulnerabilities = vec![
            v("CVE-1", "CRITICAL"),
            v("CVE-2", "HIGH"),
            v("CVE-3", "LOW"),
            v("CVE-4", "MEDIUM"),
        ];
        d.summary = VulnerabilitySummary::count(&d.vulnerabilities);
        d
    }

    #[test]
    fn a_workload_keeps_the_kept_severities_and_the_whole_summary() {
        let full = data();
        let kept = workload_data(full.clone(), &[Severity::Critical].into());
        assert_eq!(kept.vulnerabilities.len(), 1);
        let v = &kept.vulnerabilities[0];
        assert_eq!(
            (v.vulnerability_id.as_str(), v.title.as_str()),
            ("CVE-1", "t")
        );
        assert!(v.description.is_none() && v.links.is_none() && v.cvss.is_none());
        assert_eq!(
            (v.primary_link.as_deref(), v.score),
            (Some("https://x/1"), Some(9.8))
        );
        assert_eq!(kept.summary, full.summary);
        assert_eq!(kept.summary.low_count, 1);
        assert!(
            workload_data(full, &BTreeSet::new())
                .vulnerabilities
                .is_empty()
        );
    }

    #[test]
    fn the_image_report_has_the_whole_list_and_says_what_it_is() {
        let at = jiff::Timestamp::from_second(1_700_000_000).unwrap();
        let report = image_report("sha256:abc", "sha256:abc", data(), at);
        assert_eq!(report.report.vulnerabilities.len(), 4);
        let name = report.metadata.name.as_deref().unwrap();
        assert!(name.starts_with("nginx-"), "{name}");
        let annotations = report.metadata.annotations.as_ref().unwrap();
        assert_eq!(annotations[labels::SCAN_KEY], "sha256:abc");
        assert_eq!(annotations[labels::SCANNED_AT], "2023-11-14T22:13:20Z");
        let bytes: usize = annotations[common::reports::gauge::BYTES].parse().unwrap();
        let json = serde_json::to_vec(&report).unwrap().len();
        assert!(bytes.abs_diff(json) < 64, "{bytes} vs {json}");
        let mut workload = VulnerabilityReport::default();
        assert_eq!(referred(&workload), None);
        refer(&mut workload, name);
        assert_eq!(referred(&workload), Some(name));
    }
}

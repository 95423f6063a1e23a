//! Trivy JSON → VulnerabilityReport data, with upstream's mapping rules.
//!
//! - severity is `VendorSeverity[SeveritySource]` (0 UNKNOWN, 1 LOW, 2 MEDIUM, 3 HIGH,
//!   4 CRITICAL; a missing source or level is UNKNOWN), never the top-level `Severity`;
//! - score: see [`score_from_cvss`];
//! - registry, repository and tag come from the workload's image reference; the digest too,
//!   falling back to `Metadata.RepoDigests` (the part after `@`);
//! - every vulnerability of every `Results[]` entry goes into the one report;
//! - dates are re-written as RFC 3339 in UTC with whole seconds (as upstream's Go
//!   `time.RFC3339`); a missing or unparseable date becomes "".

use std::collections::BTreeMap;

use crate::reports::vulnerability::{
    Artifact, Cvss, Os, Registry, Scanner, Severity, Vulnerability, VulnerabilityReportData,
    VulnerabilitySummary,
};

use super::image_ref::{ImageRef, is_valid_digest};
use super::json::{DetectedVulnerability, Metadata, ScanResult, TrivyCvss, TrivyReport};

/// The CVSS vendor key of the NVD.
const NVD: &str = "nvd";

/// Builds the `report` of a VulnerabilityReport for one container image.
pub fn to_report_data(
    trivy: &TrivyReport,
    image: &ImageRef,
    scanner: Scanner,
    update_timestamp: jiff::Timestamp,
) -> VulnerabilityReportData {
    let vulnerabilities: Vec<Vulnerability> = trivy
        .results
        .iter()
        .flat_map(|r| {
            r.vulnerabilities
                .iter()
                .map(move |v| convert_vulnerability(r, v))
        })
        .collect();
    let (registry, artifact) = artifact_of(trivy, image);
    VulnerabilityReportData {
        update_timestamp,
        scanner,
        registry: Some(registry),
        artifact,
        os: trivy
            .metadata
            .os
            .as_ref()
            .map(|os| Os {
                family: os.family.clone(),
                name: os.name.clone().filter(|n| !n.is_empty()),
                eosl: os.eosl.filter(|e| *e),
            })
            .unwrap_or_default(),
        summary: VulnerabilitySummary::count(&vulnerabilities),
        vulnerabilities,
    }
}

/// The registry and artifact of a scanned image: from the image reference, the digest
/// falling back to `Metadata.RepoDigests`.
pub(super) fn artifact_of(trivy: &TrivyReport, image: &ImageRef) -> (Registry, Artifact) {
    let digest = image
        .digest()
        .map(str::to_owned)
        .or_else(|| repo_digest(&trivy.metadata, image));
    (
        Registry {
            server: image.registry().to_owned(),
        },
        Artifact {
            repository: image.repository().to_owned(),
            digest,
            tag: image.tag().map(str::to_owned),
            mime_type: None,
            labels: None,
        },
    )
}

/// The digest from `Metadata.RepoDigests`: the entry for the image's own repository if
/// there is one, else the first entry; only well-formed `<algorithm>:<hex>` digests count.
fn repo_digest(metadata: &Metadata, image: &ImageRef) -> Option<String> {
    let entries: Vec<(&str, &str)> = metadata
        .repo_digests
        .iter()
        .filter_map(|rd| rd.rsplit_once('@'))
        .filter(|(_, d)| is_valid_digest(d))
        .collect();
    let same_repo = entries.iter().find(|(repo, _)| {
        ImageRef::parse(repo)
            .is_ok_and(|r| r.registry() == image.registry() && r.repository() == image.repository())
    });
    same_repo.or(entries.first()).map(|(_, d)| (*d).to_owned())
}

/// Upstream's severity rule: the level that the vendor named by `SeveritySource` gives.
pub fn severity_of(v: &DetectedVulnerability) -> Severity {
    v.severity_source
        .as_deref()
        .and_then(|source| v.vendor_severity.get(source))
        .map_or(Severity::Unknown, |level| {
            Severity::from_trivy_level(*level)
        })
}

/// The score and the vendor it came from: a non-NVD vendor's CVSS v3 score when one has
/// one, else NVD's. Several non-NVD vendors are decided deterministically: the
/// `SeveritySource` vendor first, then vendors in name order. A score of 0 counts as
/// absent, as upstream reads it from a Go float whose zero value means "not set".
///
/// (Upstream picks among non-NVD vendors in Go map order, i.e. at random; newer upstream
/// releases prefer NVD instead.)
pub fn score_from_cvss(
    cvss: &BTreeMap<String, TrivyCvss>,
    severity_source: Option<&str>,
) -> Option<(f64, String)> {
    let v3 = |vendor: &str| {
        cvss.get(vendor)
            .and_then(|c| c.v3_score)
            .filter(|s| *s != 0.0)
    };
    let preferred = severity_source.filter(|s| *s != NVD).into_iter();
    let others = cvss.keys().map(String::as_str).filter(|k| *k != NVD);
    preferred
        .chain(others)
        .chain(std::iter::once(NVD))
        .find_map(|vendor| v3(vendor).map(|s| (s, vendor.to_owned())))
}

fn convert_vulnerability(result: &ScanResult, v: &DetectedVulnerability) -> Vulnerability {
    let score = score_from_cvss(&v.cvss, v.severity_source.as_deref());
    Vulnerability {
        vulnerability_id: v.vulnerability_id.clone(),
        resource: v.pkg_name.clone(),
        installed_version: v.installed_version.clone(),
        fixed_version: v.fixed_version.clone().unwrap_or_default(),
        published_date: rfc3339(v.published_date.as_deref()),
        last_modified_date: rfc3339(v.last_modified_date.as_deref()),
        severity: severity_of(v),
        title: v.title.clone().unwrap_or_default(),
        description: non_empty(&v.description),
        cvsssource: score.as_ref().map(|(_, vendor)| vendor.clone()),
        primary_link: non_empty(&v.primary_url),
        links: Some(v.references.clone()),
        score: score.map(|(s, _)| s),
        target: Some(result.target.clone()),
        cvss: (!v.cvss.is_empty()).then(|| {
            v.cvss
                .iter()
                .map(|(vendor, c)| (vendor.clone(), convert_cvss(c)))
                .collect()
        }),
        class: non_empty(&result.class),
        package_type: non_empty(&result.r#type),
        package_path: non_empty(&v.pkg_path),
        package_purl: v.pkg_identifier.as_ref().and_then(|p| non_empty(&p.purl)),
    }
}

fn convert_cvss(c: &TrivyCvss) -> Cvss {
    Cvss {
        v2_score: c.v2_score,
        v2_vector: c.v2_vector.clone(),
        v3_score: c.v3_score,
        v3_vector: c.v3_vector.clone(),
        v40_score: c.v40_score,
        v40_vector: c.v40_vector.clone(),
    }
}

fn non_empty(s: &Option<String>) -> Option<String> {
    s.clone().filter(|s| !s.is_empty())
}

/// `2019-09-10T17:15:00.123+02:00` → `2019-09-10T15:15:00Z`; absent or invalid → "".
fn rfc3339(date: Option<&str>) -> String {
    date.and_then(|d| d.parse::<jiff::Timestamp>().ok())
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

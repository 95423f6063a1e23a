//! The SbomReport of each subscriber of a scan, written beside its VulnerabilityReport from
//! the same Job and under the same name, with the same labels, owner and scan annotations.
//! Pure, except [`write`].

use common::reports::Scanner;
use common::reports::sbom::{Bom, SbomReport, SbomReportData};
use common::reports::vulnerability::VulnerabilityReportData;

use super::ScanSettings;
use super::reports::report_metadata;
use super::trim::{json_len, mark_trimmed};
use crate::task::Subscriber;

/// The SbomReport of `s` named `name` (its VulnerabilityReport's name), with the registry
/// and artifact of its VulnerabilityReport's data `vulnerabilities`.
pub fn sbom_report(
    s: &Subscriber,
    bom: &Bom,
    vulnerabilities: &VulnerabilityReportData,
    (scan_key, scanned_at): (&str, jiff::Timestamp),
    settings: &ScanSettings,
    name: String,
) -> SbomReport {
    let data: SbomReportData = common::trivy::to_sbom_data(
        bom.clone(),
        vulnerabilities.registry.clone(),
        vulnerabilities.artifact.clone(),
        Scanner::trivy(settings.trivy_version.clone()),
        vulnerabilities.update_timestamp,
    );
    SbomReport::new(
        report_metadata(s, scan_key, scanned_at, settings, name),
        data,
    )
}

/// Leaves only the summary: the BOM keeps its format, version and metadata, not its
/// components or dependencies (the reports are over their storage budget).
pub fn summary_only(report: &mut SbomReport) {
    report.report.components.components.clear();
    report.report.components.dependencies = None;
}

/// Trims `report` to at most `limit` bytes of JSON: the components' properties go first,
/// then their hashes and licenses, then the dependency graph, then (if still too large)
/// components from the end. The summary keeps counting the whole BOM; a trimmed report is
/// marked like a trimmed VulnerabilityReport. Returns whether anything was removed.
pub fn trim(report: &mut SbomReport, limit: usize) -> bool {
    if json_len(report) <= limit {
        return false;
    }
    // Marked first: the mark counts towards the size.
    mark_trimmed(&mut report.metadata);
    let bom = &mut report.report.components;
    bom.components.iter_mut().for_each(|c| c.properties.clear());
    if json_len(report) <= limit {
        return true;
    }
    let bom = &mut report.report.components;
    bom.components.iter_mut().for_each(|c| {
        c.hashes.clear();
        c.licenses.clear();
    });
    if json_len(report) <= limit {
        return true;
    }
    report.report.components.dependencies = None;
    while json_len(report) > limit && report.report.components.components.pop().is_some() {}
    true
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use common::reports::sbom::{Component, Dependency, Hash, Property, SbomSummary};

    use super::*;

    fn report(n: usize) -> SbomReport {
        let components: Vec<Component> = (0..n)
            .map(|i| Component {
                bom_ref: format!("pkg:apk/alpine/p{i}@1.0"),
                kind: "library".into(),
                name: format!("p{i}"),
                version: "1.0".into(),
                hashes: vec![Hash {
                    alg: "SHA-1".into(),
                    content: "0".repeat(40),
                }],
                properties: vec![Property {
                    name: "aquasecurity:trivy:PkgID".into(),
                    value: format!("p{i}@1.0"),
                }],
                ..Component::default()
            })
            .collect();
        let bom = Bom {
            bom_format: "CycloneDX".into(),
            spec_version: "1.5".into(),
            dependencies: Some(
                components
                    .iter()
                    .map(|c| Dependency {
                        reference: c.bom_ref.clone(),
                        depends_on: Some(Vec::new()),
                    })
                    .collect(),
            ),
            components,
            ..Bom::default()
        };
        SbomReport::new(
            kube::api::ObjectMeta::default(),
            SbomReportData {
                summary: SbomSummary::of(&bom),
                components: bom,
                ..SbomReportData::default()
            },
        )
    }

    #[test]
    fn detail_goes_before_components_and_the_summary_stays() {
        let mut small = report(3);
        let before = small.clone();
        assert!(!trim(&mut small, 100_000));
        assert_eq!(small, before);

        let mut r = report(200);
        let full = json_len(&r);
        // Without properties it fits: every component stays, with its hashes.
        let limit = full - 200 * 40;
        assert!(trim(&mut r, limit));
        assert_eq!(r.report.components.components.len(), 200);
        assert!(r.report.components.components[0].properties.is_empty());
        assert!(!r.report.components.components[0].hashes.is_empty());
        assert!(json_len(&r) <= limit);

        let mut r = report(200);
        assert!(trim(&mut r, 4_000));
        assert!(json_len(&r) <= 4_000);
        assert!(r.report.components.components.len() < 200);
        assert!(r.report.components.dependencies.is_none());
        assert_eq!(r.report.summary.components_count, 201);
        assert_eq!(r.report.summary.dependencies_count, 200);
        assert_eq!(
            r.metadata.annotations.unwrap()[common::labels::TRIMMED],
            "true"
        );
    }

    #[test]
    fn summary_only_keeps_the_counts() {
        let mut r = report(5);
        summary_only(&mut r);
        assert!(r.report.components.components.is_empty());
        assert_eq!(r.report.summary.components_count, 6);
        assert_eq!(r.report.components.bom_format, "CycloneDX");
    }
}

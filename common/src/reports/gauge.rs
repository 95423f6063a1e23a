//! What the leader's report gauges need, carried in each report's metadata so that the
//! leader's metadata watches keep the gauges up to date without listing whole reports:
//! annotation [`SUMMARY`] (the severity counts) on both kinds and [`IMAGE`] (registry,
//! repository, tag and digest) on VulnerabilityReports. Ours, not upstream's; reports
//! without them (written by another operator) make the leader fall back to listing.

use std::collections::BTreeMap;

use super::config_audit::ConfigAuditReport;
use super::exposed_secret::ExposedSecretReport;
use super::sbom::SbomReport;
use super::vulnerability::{Artifact, Registry, VulnerabilityReport};

/// Annotation with `critical,high,medium,low,unknown` counts (config audits: four counts).
pub const SUMMARY: &str = "trivy-operator-rs.dev/summary";
/// Annotation with `registry|repository|tag|digest` of the scanned image.
pub const IMAGE: &str = "trivy-operator-rs.dev/image";
/// Annotation with the report's size as written (its JSON, in bytes), so the leader can
/// keep the reports' storage within its budget from metadata alone.
pub const BYTES: &str = "trivy-operator-rs.dev/bytes";
/// Annotation `"true"` on a report written with its summary only (the reports were over
/// their storage budget).
pub const SUMMARY_ONLY: &str = "trivy-operator-rs.dev/summary-only";

/// Marks a report written with its summary only.
pub fn mark_summary_only(meta: &mut kube::api::ObjectMeta) {
    annotate(&mut meta.annotations, SUMMARY_ONLY, "true".to_owned());
}

/// The size of a report's JSON with its [`BYTES`] annotation (whose own digits are
/// estimated as at most seven).
fn written_size<T: serde::Serialize>(report: &T) -> usize {
    let json = serde_json::to_vec(report).map_or(0, |v| v.len());
    // `,"trivy-operator-rs.dev/bytes":"1234567"`
    json + BYTES.len() + 7 + 6
}

/// The counts of a report's summary, by severity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub critical: u64,
    pub high: u64,
    pub medium: u64,
    pub low: u64,
    /// `None` for config audits, which have no unknown count.
    pub unknown: Option<u64>,
}

impl Counts {
    /// The annotation value.
    pub fn format(&self) -> String {
        let four = format!(
            "{},{},{},{}",
            self.critical, self.high, self.medium, self.low
        );
        match self.unknown {
            Some(u) => format!("{four},{u}"),
            None => four,
        }
    }

    /// Parses an annotation value (four or five counts).
    pub fn parse(text: &str) -> Option<Self> {
        let n: Vec<u64> = text
            .split(',')
            .map(|p| p.trim().parse().ok())
            .collect::<Option<_>>()?;
        match n.as_slice() {
            [c, h, m, l] => Some(Self {
                critical: *c,
                high: *h,
                medium: *m,
                low: *l,
                unknown: None,
            }),
            [c, h, m, l, u] => Some(Self {
                critical: *c,
                high: *h,
                medium: *m,
                low: *l,
                unknown: Some(*u),
            }),
            _ => None,
        }
    }
}

/// The image labels of `trivy_image_vulnerabilities`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Image {
    pub registry: String,
    pub repository: String,
    pub tag: String,
    pub digest: String,
}

impl Image {
    /// The image labels of a report's registry and artifact.
    pub fn of(registry: Option<&Registry>, artifact: &Artifact) -> Self {
        Self {
            registry: registry.map(|r| r.server.clone()).unwrap_or_default(),
            repository: artifact.repository.clone(),
            tag: artifact.tag.clone().unwrap_or_default(),
            digest: artifact.digest.clone().unwrap_or_default(),
        }
    }

    /// The annotation value (`|` never occurs in image references).
    pub fn format(&self) -> String {
        format!(
            "{}|{}|{}|{}",
            self.registry, self.repository, self.tag, self.digest
        )
    }

    /// Parses an annotation value.
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split('|');
        let image = Self {
            registry: parts.next()?.to_owned(),
            repository: parts.next()?.to_owned(),
            tag: parts.next()?.to_owned(),
            digest: parts.next()?.to_owned(),
        };
        parts.next().is_none().then_some(image)
    }
}

fn annotate(annotations: &mut Option<BTreeMap<String, String>>, key: &str, value: String) {
    annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(key.to_owned(), value);
}

/// Writes the gauge annotations of a VulnerabilityReport from its data (call it on the
/// report as written, after any trimming).
pub fn annotate_vulnerability_report(report: &mut VulnerabilityReport) {
    let s = &report.report.summary;
    let counts = Counts {
        critical: s.critical_count,
        high: s.high_count,
        medium: s.medium_count,
        low: s.low_count,
        unknown: Some(s.unknown_count),
    };
    let image = Image::of(report.report.registry.as_ref(), &report.report.artifact);
    annotate_image_report(report, counts, image);
}

/// Writes the gauge annotations of an ExposedSecretReport from its data (four counts, the
/// image and the size; call it on the report as written).
pub fn annotate_exposed_secret_report(report: &mut ExposedSecretReport) {
    let s = &report.report.summary;
    let counts = Counts {
        critical: s.critical_count,
        high: s.high_count,
        medium: s.medium_count,
        low: s.low_count,
        unknown: None,
    };
    let image = Image::of(report.report.registry.as_ref(), &report.report.artifact);
    annotate_image_report(report, counts, image);
}

/// Writes the counts, the image and (last, as it counts them) the size of a report of an
/// image.
fn annotate_image_report<R>(report: &mut R, counts: Counts, image: Image)
where
    R: serde::Serialize + k8s_openapi::Metadata<Ty = kube::api::ObjectMeta>,
{
    let annotations = &mut report.metadata_mut().annotations;
    annotate(annotations, SUMMARY, counts.format());
    annotate(annotations, IMAGE, image.format());
    let size = written_size(report);
    annotate(
        &mut report.metadata_mut().annotations,
        BYTES,
        size.to_string(),
    );
}

/// Writes the size annotation of an SbomReport (there is no SBOM gauge; its size counts in
/// the storage budget).
pub fn annotate_sbom_report(report: &mut SbomReport) {
    let size = written_size(report);
    annotate(&mut report.metadata.annotations, BYTES, size.to_string());
}

/// Writes the gauge annotation of a ConfigAuditReport from its summary.
pub fn annotate_config_audit_report(report: &mut ConfigAuditReport) {
    let counts = audit_counts(&report.report.summary);
    annotate_audit(report, counts, |r| &mut r.metadata.annotations);
}

/// Writes the gauge annotations of a cluster-scoped object's ClusterConfigAuditReport.
pub fn annotate_cluster_config_audit_report(
    report: &mut super::config_audit::ClusterConfigAuditReport,
) {
    let counts = audit_counts(&report.report.summary);
    annotate_audit(report, counts, |r| &mut r.metadata.annotations);
}

/// The gauge annotations of a report with a config audit's summary: its counts, then its
/// size as written with them.
fn annotate_audit<T: serde::Serialize>(
    report: &mut T,
    counts: Counts,
    annotations: fn(&mut T) -> &mut Option<BTreeMap<String, String>>,
) {
    annotate(annotations(report), SUMMARY, counts.format());
    let size = written_size(report);
    annotate(annotations(report), BYTES, size.to_string());
}

/// The four counts of a config audit's or infra assessment's summary.
fn audit_counts(s: &super::config_audit::ConfigAuditSummary) -> Counts {
    Counts {
        critical: s.critical_count.into(),
        high: s.high_count.into(),
        medium: s.medium_count.into(),
        low: s.low_count.into(),
        unknown: None,
    }
}

/// Writes the gauge annotations of a node's ClusterInfraAssessmentReport (its four counts
/// and its size).
pub fn annotate_infra_assessment_report(
    report: &mut super::infra_assessment::ClusterInfraAssessmentReport,
) {
    let counts = audit_counts(&report.report.summary);
    annotate_audit(report, counts, |r| &mut r.metadata.annotations);
}

/// Writes the gauge annotations of a Role's RbacAssessmentReport (its four counts and size).
pub fn annotate_rbac_assessment_report(report: &mut super::rbac_assessment::RbacAssessmentReport) {
    let counts = audit_counts(&report.report.summary);
    annotate_audit(report, counts, |r| &mut r.metadata.annotations);
}

/// Writes the gauge annotations of a ClusterRole's ClusterRbacAssessmentReport.
pub fn annotate_cluster_rbac_assessment_report(
    report: &mut super::rbac_assessment::ClusterRbacAssessmentReport,
) {
    let counts = audit_counts(&report.report.summary);
    annotate_audit(report, counts, |r| &mut r.metadata.annotations);
}

/// [`annotate_infra_assessment_report`] for a control-plane component's (namespaced)
/// InfraAssessmentReport.
pub fn annotate_namespaced_infra_assessment_report(
    report: &mut super::infra_assessment::InfraAssessmentReport,
) {
    let counts = audit_counts(&report.report.summary);
    annotate_audit(report, counts, |r| &mut r.metadata.annotations);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_bytes_annotation_is_the_size_as_written() {
        let mut report = VulnerabilityReport::default();
        report.report.artifact.repository = "library/alpine".into();
        annotate_vulnerability_report(&mut report);
        let written = serde_json::to_vec(&report).unwrap().len();
        let annotated: usize = report.metadata.annotations.as_ref().unwrap()[BYTES]
            .parse()
            .unwrap();
        assert!(annotated.abs_diff(written) <= 8, "{annotated} vs {written}");
        let mut audit = ConfigAuditReport::default();
        annotate_config_audit_report(&mut audit);
        let written = serde_json::to_vec(&audit).unwrap().len();
        let annotated: usize = audit.metadata.annotations.as_ref().unwrap()[BYTES]
            .parse()
            .unwrap();
        assert!(annotated.abs_diff(written) <= 8, "{annotated} vs {written}");
        let mut infra = super::super::infra_assessment::InfraAssessmentReport::default();
        annotate_namespaced_infra_assessment_report(&mut infra);
        let written = serde_json::to_vec(&infra).unwrap().len();
        let annotated: usize = infra.metadata.annotations.as_ref().unwrap()[BYTES]
            .parse()
            .unwrap();
        assert!(annotated.abs_diff(written) <= 8, "{annotated} vs {written}");
    }

    #[test]
    fn annotations_round_trip_and_refuse_garbage() {
        let five = Counts {
            critical: 1,
            high: 2,
            medium: 3,
            low: 4,
            unknown: Some(5),
        };
        assert_eq!(five.format(), "1,2,3,4,5");
        assert_eq!(Counts::parse(&five.format()), Some(five));
        let four = Counts {
            unknown: None,
            ..five
        };
        assert_eq!(Counts::parse("1,2,3,4"), Some(four));
        for bad in ["", "1,2,3", "1,2,3,4,5,6", "a,2,3,4", "-1,2,3,4"] {
            assert_eq!(Counts::parse(bad), None, "{bad:?}");
        }
        let image = Image {
            registry: "index.docker.io".into(),
            repository: "library/nginx".into(),
            tag: "1.16".into(),
            digest: String::new(),
        };
        assert_eq!(Image::parse(&image.format()), Some(image));
        assert_eq!(Image::parse("a|b|c"), None);
        assert_eq!(Image::parse("a|b|c|d|e"), None);
    }
}

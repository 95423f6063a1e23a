//! The ExposedSecretReport of each subscriber of a scan, written beside its
//! VulnerabilityReport from the same Trivy run and under the same name, with the same labels,
//! owner and scan annotations. Pure, except [`write`].

use common::reports::exposed_secret::{ExposedSecretReport, ExposedSecretReportData};
use common::trivy::ImageRef;

use super::ScanSettings;
use super::reports::{point_at_subscriber, report_metadata};
use super::trim::{json_len, mark_trimmed};
use crate::task::Subscriber;

/// Longest `match` line kept when a report must shrink (minified files can match on lines of
/// megabytes); the cut is marked with `…`.
const MATCH_KEEP: usize = 256;

/// The ExposedSecretReport of `s`, named `name` (its VulnerabilityReport's name).
pub fn secret_report(
    s: &Subscriber,
    base: &ExposedSecretReportData,
    fallback: &ImageRef,
    (scan_key, scanned_at): (&str, jiff::Timestamp),
    settings: &ScanSettings,
    name: String,
) -> ExposedSecretReport {
    let mut data = base.clone();
    point_at_subscriber(&mut data.registry, &mut data.artifact, s, fallback);
    ExposedSecretReport::new(
        report_metadata(s, scan_key, scanned_at, settings, name),
        data,
    )
}

/// Trims `report` to at most `limit` bytes of JSON: long `match` lines are cut first, then
/// the least severe secrets dropped. The summary keeps counting every secret found; a trimmed
/// report is marked like a trimmed VulnerabilityReport. Returns whether anything was removed.
pub fn trim(report: &mut ExposedSecretReport, limit: usize) -> bool {
    if json_len(report) <= limit {
        return false;
    }
    for secret in &mut report.report.secrets {
        if secret.matched.chars().count() > MATCH_KEEP {
            secret.matched = secret.matched.chars().take(MATCH_KEEP).collect();
            secret.matched.push('…');
        }
    }
    // Marked first: the mark counts towards the size.
    mark_trimmed(&mut report.metadata);
    report.report.secrets.sort_by_key(|s| s.severity);
    while json_len(report) > limit && report.report.secrets.pop().is_some() {}
    true
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use common::reports::exposed_secret::{ExposedSecret, ExposedSecretSummary, SecretSeverity};

    use super::*;

    fn secret(i: usize, severity: SecretSeverity, matched: usize) -> ExposedSecret {
        ExposedSecret {
            target: format!("/app/file-{i}"),
            rule_id: "generic".into(),
            title: "Generic".into(),
            category: "General".into(),
            severity,
            matched: "x".repeat(matched),
        }
    }

    fn report(secrets: Vec<ExposedSecret>) -> ExposedSecretReport {
        let summary = ExposedSecretSummary::count(&secrets);
        ExposedSecretReport::new(
            kube::api::ObjectMeta::default(),
            ExposedSecretReportData {
                secrets,
                summary,
                ..ExposedSecretReportData::default()
            },
        )
    }

    #[test]
    fn a_small_report_is_untouched() {
        let mut r = report(vec![secret(0, SecretSeverity::Low, 10)]);
        let before = r.clone();
        assert!(!trim(&mut r, 10_000));
        assert_eq!(r, before);
    }

    #[test]
    fn long_matches_are_cut_before_any_secret_is_dropped() {
        let mut r = report(vec![
            secret(0, SecretSeverity::Low, 100_000),
            secret(1, SecretSeverity::Critical, 100_000),
        ]);
        assert!(trim(&mut r, 10_000));
        assert_eq!(r.report.secrets.len(), 2);
        assert!(
            r.report
                .secrets
                .iter()
                .all(|s| s.matched.chars().count() == MATCH_KEEP + 1)
        );
        assert!(json_len(&r) <= 10_000);
        assert_eq!(
            r.metadata.annotations.unwrap()[common::labels::TRIMMED],
            "true"
        );
    }

    #[test]
    fn the_least_severe_go_first_and_the_summary_keeps_counting() {
        let mut secrets: Vec<_> = (0..200)
            .map(|i| secret(i, SecretSeverity::Low, 200))
            .collect();
        secrets.push(secret(999, SecretSeverity::Critical, 200));
        let mut r = report(secrets);
        assert!(trim(&mut r, 5_000));
        assert!(json_len(&r) <= 5_000);
        assert_eq!(r.report.secrets[0].severity, SecretSeverity::Critical);
        assert!(r.report.secrets.len() < 201);
        assert_eq!(r.report.summary.low_count, 200);
        assert_eq!(r.report.summary.critical_count, 1);
    }
}

//! Keeping a VulnerabilityReport under etcd's object size limit. Pure.
//!
//! A report whose JSON is larger than the limit loses detail in this order until it fits:
//! descriptions, links (`links`, `primaryLink`), CVSS vectors and scores by vendor, titles,
//! then (only if still too large) whole vulnerabilities, least severe first. The summary is
//! computed before trimming and never changes, so its counts stay exact; a trimmed report is
//! marked with the [`TRIMMED_ANNOTATION`] annotation.

use common::reports::vulnerability::{Vulnerability, VulnerabilityReport};

use super::reports::TRIMMED_ANNOTATION;

/// Largest report JSON written (1 MiB; etcd refuses requests over 1.5 MiB).
pub const MAX_REPORT_BYTES: usize = 1024 * 1024;

/// The size of a value's JSON (`usize::MAX` if it does not serialize).
pub(super) fn json_len<T: serde::Serialize>(value: &T) -> usize {
    serde_json::to_vec(value).map_or(usize::MAX, |v| v.len())
}

/// One way of making vulnerabilities smaller, in the order they are tried.
const STEPS: [fn(&mut Vulnerability); 4] = [
    |v| v.description = None,
    |v| {
        v.links = None;
        v.primary_link = None;
    },
    |v| v.cvss = None,
    |v| v.title.clear(),
];

/// Trims `report` to at most `limit` bytes of JSON; returns whether anything was removed.
pub fn trim_report(report: &mut VulnerabilityReport, limit: usize) -> bool {
    if json_len(report) <= limit {
        return false;
    }
    for step in STEPS {
        report.report.vulnerabilities.iter_mut().for_each(step);
        if json_len(report) <= limit {
            mark_trimmed(&mut report.metadata);
            return true;
        }
    }
    // Still too large: keep the most severe vulnerabilities that fit.
    let vulnerabilities = &mut report.report.vulnerabilities;
    vulnerabilities.sort_by_key(|v| v.severity);
    let mut excess = json_len(report).saturating_sub(limit);
    while excess > 0 {
        let Some(last) = report.report.vulnerabilities.pop() else {
            break;
        };
        // The element and its separating comma.
        excess = excess.saturating_sub(json_len(&last) + 1);
    }
    mark_trimmed(&mut report.metadata);
    true
}

/// Marks a report as trimmed ([`TRIMMED_ANNOTATION`]).
pub(super) fn mark_trimmed(metadata: &mut kube::api::ObjectMeta) {
    metadata
        .annotations
        .get_or_insert_default()
        .insert(TRIMMED_ANNOTATION.to_owned(), "true".to_owned());
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use common::reports::vulnerability::{Severity, VulnerabilitySummary};

    use super::*;

    fn vulnerability(i: usize, severity: Severity, text: usize) -> Vulnerability {
        let v = serde_json::json!({
            "vulnerabilityID": format!("CVE-2024-{i:05}"),
            "resource": "pkg",
            "installedVersion": "1.0",
            "fixedVersion": "1.1",
            "publishedDate": "",
            "lastModifiedDate": "",
            "severity": severity.as_str(),
            "title": "t".repeat(text / 4),
            "description": "d".repeat(text),
            "primaryLink": format!("https://example.com/{i}"),
            "links": ["https://example.com/a".repeat(text / 40)],
        });
        serde_json::from_value(v).unwrap()
    }

    fn report(n: usize, text: usize) -> VulnerabilityReport {
        let mut r = VulnerabilityReport::default();
        r.report.vulnerabilities = (0..n)
            .map(|i| vulnerability(i, Severity::ALL[i % 5], text))
            .collect();
        r.report.summary = VulnerabilitySummary::count(&r.report.vulnerabilities);
        r
    }

    #[test]
    fn small_reports_are_untouched() {
        let mut r = report(10, 100);
        let before = r.clone();
        assert!(!trim_report(&mut r, MAX_REPORT_BYTES));
        assert_eq!(r, before);
        assert!(r.metadata.annotations.is_none());
    }

    #[test]
    fn descriptions_go_first_and_counts_stay_exact() {
        // 2,000 vulnerabilities with 1 KB descriptions: about 2.5 MB.
        let mut r = report(2000, 1000);
        let summary = r.report.summary.clone();
        assert!(json_len(&r) > MAX_REPORT_BYTES);
        assert!(trim_report(&mut r, MAX_REPORT_BYTES));
        assert!(json_len(&r) <= MAX_REPORT_BYTES);
        assert_eq!(r.report.vulnerabilities.len(), 2000);
        assert!(
            r.report
                .vulnerabilities
                .iter()
                .all(|v| v.description.is_none())
        );
        assert!(r.report.vulnerabilities.iter().all(|v| !v.title.is_empty()));
        assert_eq!(r.report.summary, summary);
        assert_eq!(r.metadata.annotations.unwrap()[TRIMMED_ANNOTATION], "true");
    }

    #[test]
    fn huge_reports_keep_the_most_severe() {
        let mut r = report(20_000, 200);
        let summary = r.report.summary.clone();
        assert!(trim_report(&mut r, MAX_REPORT_BYTES));
        let len = json_len(&r);
        assert!(len <= MAX_REPORT_BYTES, "{len}");
        assert!(len > MAX_REPORT_BYTES * 9 / 10, "trimmed too much: {len}");
        let kept = &r.report.vulnerabilities;
        assert!(kept.len() < 20_000);
        assert!(kept.iter().all(|v| v.title.is_empty() && v.links.is_none()));
        assert!(kept.windows(2).all(|w| w[0].severity <= w[1].severity));
        assert_eq!(kept[0].severity, Severity::Critical);
        assert_eq!(r.report.summary, summary);
        assert_eq!(r.report.summary.critical_count, 4000);
    }
}

//! Keeping a ConfigAuditReport under etcd's object size limit, as VulnerabilityReports are
//! kept (see `scan::trim`). Pure.
//!
//! A workload with a thousand containers fails the same check once per container: its report
//! can pass 1.5 MB, which the API server refuses, and the write would fail on every retry.
//! A report whose JSON is larger than the limit loses detail in this order until it fits:
//! descriptions and remediations, then messages beyond the first few of each check (the last
//! one kept says how many were left out), then passed checks, then whole failed checks, least
//! severe first. The summary is computed before trimming and never changes, so its counts
//! stay exact; a trimmed report carries the `trivy-operator-rs.dev/trimmed` annotation.

use common::reports::config_audit::{Check, ConfigAuditReport};

/// Largest report JSON written (1 MiB; etcd refuses requests over 1.5 MiB).
pub const MAX_REPORT_BYTES: usize = crate::scan::trim::MAX_REPORT_BYTES;

/// Messages kept per check once messages are trimmed.
const KEPT_MESSAGES: usize = 10;

fn json_len<T: serde::Serialize>(value: &T) -> usize {
    serde_json::to_vec(value).map_or(usize::MAX, |v| v.len())
}

/// One way of making checks smaller, in the order they are tried.
const STEPS: [fn(&mut Vec<Check>); 3] = [
    |checks| {
        for c in checks.iter_mut() {
            c.description.clear();
            c.remediation.clear();
        }
    },
    |checks| {
        for c in checks.iter_mut() {
            if c.messages.len() > KEPT_MESSAGES {
                let left_out = c.messages.len() - (KEPT_MESSAGES - 1);
                c.messages.truncate(KEPT_MESSAGES - 1);
                c.messages.push(format!(
                    "... and {left_out} more (trimmed to fit the report)"
                ));
            }
        }
    },
    |checks| checks.retain(|c| !c.success),
];

/// Severity order for dropping whole checks: least severe first.
fn rank(severity: &str) -> u8 {
    match severity {
        "CRITICAL" => 4,
        "HIGH" => 3,
        "MEDIUM" => 2,
        "LOW" => 1,
        _ => 0,
    }
}

/// Trims `report` to at most `limit` bytes of JSON; returns whether anything was removed.
pub fn trim_config_audit_report(report: &mut ConfigAuditReport, limit: usize) -> bool {
    if json_len(report) <= limit {
        return false;
    }
    mark(report);
    for step in STEPS {
        step(&mut report.report.checks);
        if json_len(report) <= limit {
            return true;
        }
    }
    // Still too large: keep the most severe checks that fit (stable: ID order within a
    // severity).
    report
        .report
        .checks
        .sort_by_key(|c| std::cmp::Reverse(rank(&c.severity)));
    while json_len(report) > limit && report.report.checks.pop().is_some() {}
    true
}

fn mark(report: &mut ConfigAuditReport) {
    report
        .metadata
        .annotations
        .get_or_insert_default()
        .insert(common::labels::TRIMMED.to_owned(), "true".to_owned());
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use common::reports::Scanner;
    use common::reports::config_audit::ConfigAuditReportData;
    use kube::api::ObjectMeta;

    use super::*;

    fn check(id: &str, severity: &str, success: bool, messages: usize) -> Check {
        Check {
            check_id: id.into(),
            title: format!("title of {id}"),
            description: "d".repeat(300),
            severity: severity.into(),
            category: "Kubernetes Security Check".into(),
            messages: (0..messages)
                .map(|i| format!("Container 'container-{i}' of ReplicaSet 'big' should set it"))
                .collect(),
            remediation: "r".repeat(200),
            success,
            scope: None,
        }
    }

    fn report(checks: Vec<Check>) -> ConfigAuditReport {
        ConfigAuditReport::new(
            ObjectMeta {
                name: Some("replicaset-big".into()),
                ..ObjectMeta::default()
            },
            ConfigAuditReportData::from_checks(None, Scanner::trivy("0"), checks),
        )
    }

    #[test]
    fn a_small_report_is_untouched() {
        let mut r = report(vec![check("KSV001", "MEDIUM", false, 3)]);
        let before = r.clone();
        assert!(!trim_config_audit_report(&mut r, MAX_REPORT_BYTES));
        assert_eq!(r, before);
    }

    #[test]
    fn a_thousand_containers_fit_with_an_exact_summary() {
        // 25 failing checks x 1,000 containers, as a huge ReplicaSet produces (~1.7 MB).
        let checks: Vec<Check> = (0..25)
            .map(|i| {
                let severity = ["LOW", "MEDIUM", "HIGH", "CRITICAL"][i % 4];
                check(&format!("KSV{i:03}"), severity, false, 1000)
            })
            .chain(std::iter::once(check("KSV999", "LOW", true, 0)))
            .collect();
        let mut r = report(checks);
        let summary = r.report.summary;
        assert!(json_len(&r) > 1_500_000);
        assert!(trim_config_audit_report(&mut r, MAX_REPORT_BYTES));
        assert!(json_len(&r) <= MAX_REPORT_BYTES);
        assert_eq!(r.report.summary, summary, "the counts stay exact");
        assert_eq!(
            r.report.checks.len(),
            26,
            "every check kept, messages trimmed"
        );
        let first = &r.report.checks[0];
        assert_eq!(first.messages.len(), KEPT_MESSAGES);
        assert!(first.messages.last().unwrap().contains("991 more"));
        let annotations = r.metadata.annotations.as_ref().unwrap();
        assert_eq!(annotations[common::labels::TRIMMED], "true");
    }

    #[test]
    fn when_even_that_is_too_much_the_least_severe_checks_go_first() {
        let checks = vec![
            check("A", "LOW", false, 5),
            check("B", "CRITICAL", false, 5),
            check("C", "MEDIUM", false, 5),
        ];
        let mut r = report(checks);
        let limit = json_len(&r) / 2;
        assert!(trim_config_audit_report(&mut r, limit));
        assert!(json_len(&r) <= limit);
        let ids: Vec<&str> = r
            .report
            .checks
            .iter()
            .map(|c| c.check_id.as_str())
            .collect();
        assert!(ids.first() == Some(&"B"), "{ids:?}");
        assert!(!ids.contains(&"A") || ids.len() == 3, "{ids:?}");
    }
}

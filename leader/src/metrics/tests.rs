//! Every series after some events, and the bounds on label values.

#![allow(clippy::unwrap_used)]

use super::*;
use common::proto;

/// The value of the series whose line starts with `series ` (name and labels).
fn value(text: &str, series: &str) -> f64 {
    let line = text
        .lines()
        .find(|l| l.strip_prefix(series).is_some_and(|r| r.starts_with(' ')))
        .unwrap_or_else(|| panic!("no series {series} in\n{text}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

#[test]
fn events_and_snapshot_are_encoded() {
    let m = LeaderMetrics::new();
    m.task_dispatched("config_audit");
    m.task_dispatched("config_audit");
    m.task_dispatched(kind_label(proto::TaskKind::VulnerabilityScan as i32));
    m.task_completed(
        "config_audit",
        outcome_label(proto::Outcome::Succeeded as i32),
        "",
    );
    m.task_completed("vulnerability_scan", "failed_retryable", "ScanJobFailed");
    m.task_completed(
        "vulnerability_scan",
        "failed_retryable",
        "disk on fire at 10:32",
    );
    m.observe_round(Duration::from_millis(3));
    m.observe_round(Duration::from_millis(30));
    let mut snap = Snapshot {
        queue_depth: 7,
        oldest_pending_seconds: 42,
        tasks_in_flight: 3,
        scan_jobs_in_flight: 2,
        scans_avoided: 5,
        workers: 4,
        is_leader: true,
        epoch: 9,
        auth_refusals: 2,
        policy_config_invalid: true,
        report_bytes: 5000,
        report_storage_budget: 4096,
        report_storage_over_budget: true,
    };
    m.set_snapshot(&snap);
    snap.scans_avoided = 6;
    m.set_snapshot(&snap);
    let text = m.encode();
    let p = "trivy_operator_leader_";
    for (series, want) in [
        ("tasks_dispatched_total{kind=\"config_audit\"}", 2.0),
        ("policy_config_invalid", 1.0),
        ("report_bytes", 5000.0),
        ("report_storage_budget_bytes", 4096.0),
        ("report_storage_over_budget", 1.0),
        ("tasks_dispatched_total{kind=\"vulnerability_scan\"}", 1.0),
        (
            "tasks_completed_total{kind=\"config_audit\",outcome=\"succeeded\",reason=\"None\"}",
            1.0,
        ),
        (
            "tasks_completed_total{kind=\"vulnerability_scan\",outcome=\"failed_retryable\",reason=\"ScanJobFailed\"}",
            1.0,
        ),
        (
            "tasks_completed_total{kind=\"vulnerability_scan\",outcome=\"failed_retryable\",reason=\"Other\"}",
            1.0,
        ),
        ("auth_refusals_total", 2.0),
        ("scans_avoided_total", 6.0),
        ("queue_depth", 7.0),
        ("oldest_pending_seconds", 42.0),
        ("tasks_in_flight", 3.0),
        ("scan_jobs_in_flight", 2.0),
        ("workers", 4.0),
        ("is_leader", 1.0),
        ("epoch", 9.0),
        ("plan_duration_seconds_count", 2.0),
        ("plan_duration_seconds_bucket{le=\"0.004\"}", 1.0),
    ] {
        assert_eq!(value(&text, &format!("{p}{series}")), want, "{series}");
    }
    assert!((value(&text, &format!("{p}plan_duration_seconds_sum")) - 0.033).abs() < 1e-9);
    assert!(text.contains("# TYPE trivy_operator_leader_tasks_completed counter"));
    assert!(text.contains("# TYPE trivy_operator_leader_plan_duration_seconds histogram"));
    assert!(!text.contains("disk on fire"));
    assert!(text.ends_with("# EOF\n"));
}

#[test]
fn counters_never_go_back_and_labels_stay_bounded() {
    let m = LeaderMetrics::new();
    let mut snap = Snapshot {
        auth_refusals: 5,
        ..Snapshot::default()
    };
    m.set_snapshot(&snap);
    snap.auth_refusals = 1;
    m.set_snapshot(&snap);
    m.task_dispatched("some-namespace/some-pod");
    let text = m.encode();
    assert_eq!(
        value(&text, "trivy_operator_leader_auth_refusals_total"),
        5.0
    );
    assert_eq!(value(&text, "trivy_operator_leader_is_leader"), 0.0);
    assert_eq!(
        value(
            &text,
            "trivy_operator_leader_tasks_dispatched_total{kind=\"Other\"}"
        ),
        1.0
    );
    assert!(!text.contains("some-pod"));
    assert_eq!(kind_label(99), "Other");
    assert_eq!(outcome_label(0), "Other");
    assert_eq!(reason_label("ScanJobTimeout"), "ScanJobTimeout");
}

#[test]
fn counts_carry_over_from_one_term_to_the_next() {
    let m = LeaderMetrics::new();
    let first = Snapshot {
        scans_avoided: 4,
        is_leader: true,
        epoch: 1,
        ..Snapshot::default()
    };
    m.end_term(&first, true);
    let text = m.encode();
    assert_eq!(value(&text, "trivy_operator_leader_is_leader"), 0.0);
    assert_eq!(value(&text, "trivy_operator_leader_terms_lost_total"), 1.0);
    // A standby scrape reports nothing new and takes nothing back.
    m.set_snapshot(&Snapshot::default());
    // The next term counts from zero; the series goes on from 4.
    m.set_snapshot(&Snapshot {
        scans_avoided: 3,
        is_leader: true,
        epoch: 2,
        ..Snapshot::default()
    });
    let text = m.encode();
    assert_eq!(
        value(&text, "trivy_operator_leader_scans_avoided_total"),
        7.0
    );
    m.end_term(&Snapshot::default(), false);
    assert_eq!(
        value(&m.encode(), "trivy_operator_leader_terms_lost_total"),
        1.0
    );
}

#[test]
fn extra_families_go_before_eof() {
    let m = LeaderMetrics::new();
    let text = m.encode_with("# TYPE x gauge\nx 1\n");
    assert!(text.ends_with("# TYPE x gauge\nx 1\n# EOF\n"), "{text}");
    assert_eq!(text.matches("# EOF").count(), 1);
}

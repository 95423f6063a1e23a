//! Dispatcher state-machine tests: windows, sharding, worker loss, results and retries.

#![allow(clippy::unwrap_used)]

use std::collections::HashSet;

use super::*;
use crate::plan_scans::runs_job;

fn config() -> DispatchConfig {
    DispatchConfig {
        tasks_per_capacity: 1,
        worker_timeout: Duration::from_secs(30),
        retry_base: Duration::from_secs(5),
        retry_max: Duration::from_secs(60),
        result_grace: Duration::from_secs(60),
        max_concurrent_scans: 2,
    }
}

fn due(ns: &str, id: &str) -> DueTask {
    DueTask {
        namespace: ns.to_string(),
        task: proto::Task {
            task_id: id.to_string(),
            ..Default::default()
        },
    }
}

fn result(id: &str, outcome: proto::Outcome, reason: &str) -> proto::TaskResult {
    proto::TaskResult {
        task_id: id.to_string(),
        outcome: outcome as i32,
        reason: reason.to_string(),
        ..Default::default()
    }
}

fn many(n: usize) -> Vec<DueTask> {
    (0..n)
        .map(|i| due(&format!("ns-{i}"), &format!("t{i}")))
        .collect()
}

#[test]
fn nothing_is_sent_without_workers() {
    let mut d = Dispatcher::new(config());
    let now = Instant::now();
    d.set_desired(many(3), now);
    assert!(d.next_sends(now).is_empty());
}

#[test]
fn windows_are_respected_and_tasks_go_to_namespace_owners() {
    let mut d = Dispatcher::new(config());
    let now = Instant::now();
    d.add_worker("w1", 2, 1, now);
    d.add_worker("w2", 2, 2, now);
    d.set_desired(many(40), now);
    let sends = d.next_sends(now);
    assert_eq!(sends.len(), 4, "two workers with a window of 2 each");
    let assignment = d.assignments(d.tasks().values().map(|t| &t.namespace));
    for (worker, task) in &sends {
        let ns = &d.tasks()[&task.task_id].namespace;
        assert!(
            assignment[worker].contains(ns),
            "{ns} sent to {worker}, not its owner"
        );
    }
    assert!(d.next_sends(now).is_empty(), "windows are full");
    let (w, t) = &sends[0];
    d.on_result(w, &result(&t.task_id, proto::Outcome::Succeeded, ""), now);
    assert_eq!(d.next_sends(now).len(), 1, "a result frees one slot");
}

#[test]
fn a_lost_worker_tasks_go_to_the_new_owner() {
    let mut d = Dispatcher::new(config());
    let now = Instant::now();
    d.add_worker("w1", 100, 1, now);
    d.add_worker("w2", 100, 2, now);
    d.set_desired(many(50), now);
    let first = d.next_sends(now);
    assert_eq!(first.len(), 50);
    let on_w1: HashSet<String> = first
        .iter()
        .filter(|(w, _)| w == "w1")
        .map(|(_, t)| t.task_id.clone())
        .collect();
    assert!(!on_w1.is_empty());
    assert!(
        !d.remove_worker("w1", Some(99)),
        "a stale connection id does not drop w1"
    );
    assert!(d.remove_worker("w1", Some(1)));
    let resent = d.next_sends(now);
    let resent_ids: HashSet<String> = resent.iter().map(|(_, t)| t.task_id.clone()).collect();
    assert_eq!(
        resent_ids, on_w1,
        "exactly the lost worker's tasks are re-sent"
    );
    assert!(resent.iter().all(|(w, _)| w == "w2"));
}

#[test]
fn silent_workers_expire() {
    let mut d = Dispatcher::new(config());
    let start = Instant::now();
    d.add_worker("w1", 1, 1, start);
    d.add_worker("w2", 1, 2, start);
    d.heartbeat("w2", 2, start + Duration::from_secs(20));
    let expired = d.expire_silent(start + Duration::from_secs(31));
    assert_eq!(expired, ["w1"]);
    assert_eq!(d.workers().keys().collect::<Vec<_>>(), ["w2"]);
}

#[test]
fn failures_back_off_and_are_counted() {
    let mut d = Dispatcher::new(config());
    let now = Instant::now();
    d.add_worker("w1", 1, 1, now);
    d.set_desired(vec![due("a", "t")], now);
    assert_eq!(d.next_sends(now).len(), 1);
    d.on_result(
        "w1",
        &result("t", proto::Outcome::FailedRetryable, "ApiError"),
        now,
    );
    assert!(d.next_sends(now + Duration::from_secs(4)).is_empty());
    assert_eq!(d.next_sends(now + Duration::from_secs(5)).len(), 1);
    let later = now + Duration::from_secs(5);
    d.on_result(
        "w1",
        &result("t", proto::Outcome::FailedRetryable, "ApiError"),
        later,
    );
    assert!(
        d.next_sends(later + Duration::from_secs(9)).is_empty(),
        "second delay doubles"
    );
    assert_eq!(d.next_sends(later + Duration::from_secs(10)).len(), 1);
    assert_eq!(d.failures()["ApiError"], 2);
}

#[test]
fn succeeded_tasks_wait_for_their_report_then_are_resent() {
    let mut d = Dispatcher::new(config());
    let now = Instant::now();
    d.add_worker("w1", 1, 1, now);
    d.set_desired(vec![due("a", "t")], now);
    d.next_sends(now);
    d.on_result("w1", &result("t", proto::Outcome::Succeeded, ""), now);
    assert!(d.next_sends(now + Duration::from_secs(59)).is_empty());
    assert_eq!(d.next_sends(now + Duration::from_secs(60)).len(), 1);
    // Once the report is observed, the planner stops wanting it.
    d.set_desired(Vec::new(), now);
    assert!(d.tasks().is_empty());
}

#[test]
fn results_from_a_worker_that_lost_the_task_are_ignored() {
    let mut d = Dispatcher::new(config());
    let now = Instant::now();
    d.add_worker("w1", 1, 1, now);
    d.set_desired(vec![due("a", "t")], now);
    d.next_sends(now);
    d.remove_worker("w1", None);
    d.add_worker("w2", 1, 2, now);
    assert_eq!(d.next_sends(now)[0].0, "w2");
    d.on_result(
        "w1",
        &result("t", proto::Outcome::FailedRetryable, "x"),
        now,
    );
    assert_eq!(d.tasks()["t"].state.worker(), Some("w2"));
}

#[test]
fn backoff_is_capped() {
    let b = Duration::from_secs(5);
    let m = Duration::from_secs(300);
    assert_eq!(tasks::backoff(b, m, 1), b);
    assert_eq!(tasks::backoff(b, m, 3), Duration::from_secs(20));
    assert_eq!(tasks::backoff(b, m, 40), m);
}

fn scan(ns: &str, id: &str) -> DueTask {
    let mut d = due(ns, id);
    d.task.kind = proto::TaskKind::VulnerabilityScan as i32;
    d.task.scan = Some(proto::ScanTarget {
        scan_key: id.to_string(),
        ..Default::default()
    });
    d
}

#[test]
fn scan_jobs_never_exceed_the_global_limit() {
    let mut d = Dispatcher::new(config());
    let now = Instant::now();
    d.add_worker("w1", 10, 1, now);
    d.add_worker("w2", 10, 2, now);
    let mut desired: Vec<DueTask> = (0..6)
        .map(|i| scan(&format!("ns-{i}"), &format!("s{i}")))
        .collect();
    desired.push(due("ns-x", "audit"));
    d.set_desired(desired, now);
    let sent = d.next_sends(now);
    let scans: Vec<_> = sent.iter().filter(|(_, t)| runs_job(t)).collect();
    assert_eq!(scans.len(), 2, "limit of 2 scans; audits are not limited");
    assert_eq!(sent.len(), 3);
    assert_eq!(d.scans_in_flight(), 2);
    assert!(d.next_sends(now).is_empty());

    // A lost worker's scans keep their slots: their Jobs may still run.
    let (lost, _) = scans[0].clone();
    let held_by_lost = scans.iter().filter(|(w, _)| *w == lost).count();
    d.remove_worker(&lost, None);
    assert_eq!(d.scans_in_flight(), 2);
    let resent = d.next_sends(now);
    assert_eq!(
        resent.iter().filter(|(_, t)| runs_job(t)).count(),
        held_by_lost,
        "only re-sends, no new scans"
    );
    assert_eq!(d.scans_in_flight(), 2);

    // A result frees a slot for the next scan.
    let (id, worker) = d
        .tasks()
        .iter()
        .find_map(|(id, t)| {
            Some((id.clone(), t.state.worker()?.to_string())).filter(|_| runs_job(&t.task))
        })
        .unwrap();
    d.on_result(&worker, &result(&id, proto::Outcome::Succeeded, ""), now);
    assert_eq!(d.scans_in_flight(), 1);
    assert_eq!(
        d.next_sends(now)
            .iter()
            .filter(|(_, t)| runs_job(t))
            .count(),
        1
    );
    assert_eq!(d.scans_in_flight(), 2);
}

#[test]
fn copies_do_not_take_scan_slots() {
    let mut d = Dispatcher::new(config());
    let now = Instant::now();
    d.add_worker("w1", 10, 1, now);
    let desired: Vec<DueTask> = (0..5)
        .map(|i| {
            let mut c = scan("a", &format!("c{i}"));
            c.task.scan.as_mut().unwrap().source_report_name = "source".into();
            c
        })
        .collect();
    d.set_desired(desired, now);
    assert_eq!(d.next_sends(now).len(), 5);
    assert_eq!(d.scans_in_flight(), 0);
}

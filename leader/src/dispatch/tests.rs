//! Dispatcher state-machine tests: windows, sharding, worker loss, results and retries.

#![allow(clippy::unwrap_used)]

use std::collections::HashSet;

use super::*;
use crate::plan_scans::runs_job;

pub(crate) fn config() -> DispatchConfig {
    DispatchConfig {
        tasks_per_capacity: 1,
        worker_timeout: Duration::from_secs(30),
        retry_base: Duration::from_secs(5),
        retry_max: Duration::from_secs(60),
        result_grace: Duration::from_secs(60),
        max_concurrent_scans: 2,
        max_scans_per_namespace: 0,
    }
}

fn due(ns: &str, id: &str) -> DueTask {
    DueTask {
        namespace: ns.to_string(),
        task: proto::Task {
            task_id: id.to_string(),
            ..Default::default()
        },
        aliases: Vec::new(),
    }
}

/// Fills one planner slot per task (named after the task).
fn set(d: &mut Dispatcher, tasks: Vec<DueTask>, now: Instant) {
    for t in tasks {
        let slot = t.task.task_id.clone();
        d.upsert(&slot, Some(t), now);
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
    set(&mut d, many(3), now);
    assert!(d.next_sends(now).is_empty());
}

#[test]
fn windows_are_respected_and_tasks_go_to_namespace_owners() {
    let mut d = Dispatcher::new(config());
    let now = Instant::now();
    d.add_worker("w1", 2, 1, now);
    d.add_worker("w2", 2, 2, now);
    set(&mut d, many(40), now);
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
    set(&mut d, many(50), now);
    let first = d.next_sends(now);
    assert_eq!(first.len(), 50);
    let on_w1: HashSet<String> = first
        .iter()
        .filter(|(w, _)| w == "w1")
        .map(|(_, t)| t.task_id.clone())
        .collect();
    assert!(!on_w1.is_empty());
    assert!(
        !d.remove_worker("w1", Some(99), Some(now)),
        "a stale connection id does not drop w1"
    );
    assert!(d.remove_worker("w1", Some(1), Some(now)));
    let resent = d.next_sends(now);
    let resent_ids: HashSet<String> = resent.iter().map(|(_, t)| t.task_id.clone()).collect();
    assert_eq!(
        resent_ids, on_w1,
        "exactly the lost worker's tasks are re-sent"
    );
    assert!(resent.iter().all(|(w, _)| w == "w2"));
}

#[test]
fn a_task_that_keeps_losing_its_worker_backs_off() {
    let mut d = Dispatcher::new(config());
    let mut now = Instant::now();
    set(&mut d, many(1), now);
    // Each worker that takes the task dies with it (a poison image killing workers).
    for round in 1..=3u64 {
        let id = format!("w{round}");
        d.add_worker(&id, 1, round, now);
        let sent = d.next_sends(now);
        assert_eq!(sent.len(), 1, "round {round}: sent at once");
        assert!(d.remove_worker(&id, Some(round), Some(now)));
        d.add_worker("spare", 1, 100 + round, now);
        let resent = d.next_sends(now);
        if round == 1 {
            assert_eq!(resent.len(), 1, "the first loss is no fault of the task");
            assert!(
                d.remove_worker("spare", Some(100 + round), None),
                "replaced, not lost"
            );
        } else {
            assert!(resent.is_empty(), "round {round}: backing off");
            let wait = backoff(config().retry_base, config().retry_max, (round - 1) as u32);
            now += wait;
            d.remove_worker("spare", Some(100 + round), None);
        }
    }
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
    set(&mut d, vec![due("a", "t")], now);
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
fn succeeded_work_is_covered_until_the_grace_ends() {
    let mut d = Dispatcher::new(config());
    let now = Instant::now();
    d.add_worker("w1", 1, 1, now);
    let mut audit = due("a", "audit/u1/s/c");
    audit.task.workload = Some(proto::WorkloadRef {
        uid: "u1".into(),
        ..Default::default()
    });
    set(&mut d, vec![audit], now);
    d.next_sends(now);
    let effect = d.on_result(
        "w1",
        &result("audit/u1/s/c", proto::Outcome::Succeeded, ""),
        now,
    );
    assert!(effect.accepted);
    assert!(
        d.tasks().is_empty(),
        "a succeeded task is no longer tracked"
    );
    assert!(d.covered("audit/u1/s/c"), "its work waits for the report");
    assert!(d.expire_covers(now + Duration::from_secs(59)).is_empty());
    assert_eq!(d.expire_covers(now + Duration::from_secs(60)), ["u1"]);
    assert!(!d.covered("audit/u1/s/c"));
}

#[test]
fn a_freed_slot_is_refilled_without_planning() {
    let mut d = Dispatcher::new(config());
    let now = Instant::now();
    d.add_worker("w1", 1, 1, now);
    set(&mut d, vec![due("a", "t1"), due("a", "t2")], now);
    let first = d.next_sends(now);
    assert_eq!(first.len(), 1);
    d.on_result(
        "w1",
        &result(&first[0].1.task_id, proto::Outcome::Succeeded, ""),
        now,
    );
    let next = d.next_sends(now);
    assert_eq!(next.len(), 1, "the queued task goes at once");
    assert_ne!(next[0].1.task_id, first[0].1.task_id);
}

#[test]
fn audits_and_scans_share_a_window_fairly() {
    let mut cfg = config();
    cfg.max_concurrent_scans = 100;
    let mut d = Dispatcher::new(cfg);
    let now = Instant::now();
    d.add_worker("w1", 4, 1, now);
    let scans: Vec<DueTask> = (0..10).map(|i| scan("a", &format!("s{i}"))).collect();
    // Audits created later still get half the window.
    let later = now + Duration::from_secs(1);
    set(&mut d, scans, now);
    set(
        &mut d,
        (0..10).map(|i| due("a", &format!("a{i}"))).collect(),
        later,
    );
    let sent = d.next_sends(later);
    let jobs = sent.iter().filter(|(_, t)| runs_job(t)).count();
    assert_eq!((sent.len(), jobs), (4, 2), "{sent:?}");
}

#[test]
fn retries_queue_by_their_retry_time() {
    let mut d = Dispatcher::new(config());
    let start = Instant::now();
    d.add_worker("w1", 1, 1, start);
    set(&mut d, vec![due("a", "old")], start);
    d.next_sends(start);
    d.on_result(
        "w1",
        &result("old", proto::Outcome::FailedRetryable, "x"),
        start,
    );
    // A task created before the retry time goes before the retried one.
    set(
        &mut d,
        vec![due("a", "new")],
        start + Duration::from_secs(1),
    );
    let at = start + Duration::from_secs(5);
    let sent = d.next_sends(at);
    assert_eq!(sent[0].1.task_id, "new");
}

#[test]
fn a_result_for_a_task_the_worker_does_not_run_frees_nothing() {
    let mut d = Dispatcher::new(config());
    let now = Instant::now();
    d.add_worker("w1", 10, 1, now);
    d.add_worker("w2", 10, 2, now);
    set(&mut d, vec![scan("a", "s1"), scan("b", "s2")], now);
    let sent = d.next_sends(now);
    assert_eq!(d.scans_in_flight(), 2);
    let (owner, task) = &sent[0];
    let other = if owner == "w1" { "w2" } else { "w1" };
    let effect = d.on_result(
        other,
        &result(&task.task_id, proto::Outcome::Succeeded, ""),
        now,
    );
    assert!(!effect.accepted);
    assert_eq!(d.scans_in_flight(), 2, "no scan slot freed by a stranger");
    assert_eq!(
        d.tasks()[&task.task_id].state.worker(),
        Some(owner.as_str())
    );
}

#[test]
fn results_from_a_worker_that_lost_the_task_are_ignored() {
    let mut d = Dispatcher::new(config());
    let now = Instant::now();
    d.add_worker("w1", 1, 1, now);
    set(&mut d, vec![due("a", "t")], now);
    d.next_sends(now);
    d.remove_worker("w1", None, Some(now));
    d.add_worker("w2", 1, 2, now);
    assert_eq!(d.next_sends(now)[0].0, "w2");
    d.add_worker("w1", 1, 3, now);
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
    assert_eq!(backoff(b, m, 1), b);
    assert_eq!(backoff(b, m, 3), Duration::from_secs(20));
    assert_eq!(backoff(b, m, 40), m);
}

fn scan(ns: &str, id: &str) -> DueTask {
    let mut d = due(ns, id);
    d.task.kind = proto::TaskKind::VulnerabilityScan as i32;
    d.task.scan = Some(Box::new(proto::ScanTarget {
        scan_key: id.to_string(),
        ..Default::default()
    }));
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
    set(&mut d, desired, now);
    let sent = d.next_sends(now);
    let scans: Vec<_> = sent.iter().filter(|(_, t)| runs_job(t)).collect();
    assert_eq!(scans.len(), 2, "limit of 2 scans; audits are not limited");
    assert_eq!(sent.len(), 3);
    assert_eq!(d.scans_in_flight(), 2);
    assert!(d.next_sends(now).is_empty());

    // A lost worker's scans keep their slots: their Jobs may still run.
    let (lost, _) = scans[0].clone();
    let held_by_lost = scans.iter().filter(|(w, _)| *w == lost).count();
    d.remove_worker(&lost, None, Some(now));
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
    set(&mut d, desired, now);
    assert_eq!(d.next_sends(now).len(), 5);
    assert_eq!(d.scans_in_flight(), 0);
}

#[test]
fn a_permanent_failure_parks_the_task_until_its_work_changes() {
    let mut d = Dispatcher::new(config());
    let mut now = Instant::now();
    d.add_worker("w", 4, 1, now);
    set(&mut d, many(1), now);
    let sent = d.next_sends(now);
    assert_eq!(sent.len(), 1);
    let id = sent[0].1.task_id.clone();
    d.on_result(
        "w",
        &result(&id, proto::Outcome::FailedPermanent, "InvalidImage"),
        now,
    );
    assert!(matches!(d.tasks()[&id].state, TaskState::Parked { .. }));
    // Never sent again on its own, however long it waits, and a re-plan of the same work
    // changes nothing.
    now += Duration::from_secs(24 * 3600);
    set(&mut d, many(1), now);
    assert!(d.next_sends(now).is_empty());
    // Changed work (here: another namespace) is tried again.
    let mut changed = many(1).remove(0);
    changed.task.resource_spec_hash = "changed".into();
    set(&mut d, vec![changed], now);
    assert_eq!(d.next_sends(now).len(), 1);
}

#[test]
fn namespaces_share_the_scan_slots_fairly_and_within_their_cap() {
    let mut cfg = config();
    cfg.max_concurrent_scans = 4;
    let mut d = Dispatcher::new(cfg.clone());
    let now = Instant::now();
    d.add_worker("w1", 100, 1, now);
    // One namespace queued 20 (slow) images first; another namespace comes later.
    set(
        &mut d,
        (0..20).map(|i| scan("busy", &format!("b{i:02}"))).collect(),
        now,
    );
    let later = now + Duration::from_secs(1);
    set(
        &mut d,
        (0..3).map(|i| scan("quiet", &format!("q{i}"))).collect(),
        later,
    );
    let sent = d.next_sends(later);
    let by_ns = |sent: &[(String, proto::Task)], ns: &str| {
        sent.iter()
            .filter(|(_, t)| t.task_id.starts_with(&ns[..1]))
            .count()
    };
    assert_eq!(sent.len(), 4);
    assert_eq!(
        (by_ns(&sent, "busy"), by_ns(&sent, "quiet")),
        (2, 2),
        "the later namespace gets its share at once"
    );

    // With a cap of one Job per namespace, the busy namespace never holds more.
    cfg.max_scans_per_namespace = 1;
    let mut d = Dispatcher::new(cfg);
    d.add_worker("w1", 100, 1, now);
    set(
        &mut d,
        (0..20).map(|i| scan("busy", &format!("b{i:02}"))).collect(),
        now,
    );
    let sent = d.next_sends(now);
    assert_eq!(sent.len(), 1, "{sent:?}");
    // A result frees the namespace's one slot for its next image.
    d.on_result(
        "w1",
        &result(&sent[0].1.task_id, proto::Outcome::Succeeded, ""),
        now,
    );
    assert_eq!(d.next_sends(now).len(), 1);
}

#[test]
fn two_keys_of_one_image_never_run_two_jobs_at_once() {
    let mut d = Dispatcher::new(config());
    let now = Instant::now();
    d.add_worker("w1", 10, 1, now);
    // The image's reference and its digest, queued together (Pods reported the digest for
    // some workloads only).
    let mut by_reference = scan("a", "ref");
    by_reference.aliases = vec!["nginx:1".into()];
    let mut by_digest = scan("b", "digest");
    by_digest.aliases = vec!["nginx@sha256:1".into(), "nginx:1".into()];
    set(&mut d, vec![by_reference, by_digest], now);
    let sent = d.next_sends(now);
    assert_eq!(sent.len(), 1, "one Job for the image: {sent:?}");
    assert!(d.next_sends(now).is_empty(), "the other waits");
    let (worker, task) = &sent[0];
    d.on_result(
        worker,
        &result(&task.task_id, proto::Outcome::Succeeded, ""),
        now,
    );
    let released = d.take_released();
    assert!(released.contains(&"nginx:1".to_string()), "{released:?}");
    // Its end lets the other go (the planner re-plans it first, to copy).
    assert_eq!(d.next_sends(now).len(), 1);
}

fn node_task(node: &str) -> DueTask {
    let mut d = due(&format!("Node/{node}"), &format!("node-{node}"));
    d.task.kind = proto::TaskKind::NodeAssessment as i32;
    d
}

#[test]
fn node_assessments_share_one_job_share_and_are_never_parked() {
    let now = Instant::now();
    let mut cfg = config();
    cfg.max_concurrent_scans = 10;
    cfg.max_scans_per_namespace = 1;
    let mut d = Dispatcher::new(cfg);
    d.add_worker("w1", 100, 1, now);
    // Jobs, under the namespaces' cap as one: one node Job at a time beside a scan.
    set(
        &mut d,
        vec![
            node_task("a"),
            node_task("b"),
            node_task("c"),
            scan("app", "s1"),
        ],
        now,
    );
    let sent = d.next_sends(now);
    let nodes = sent
        .iter()
        .filter(|(_, t)| t.kind == proto::TaskKind::NodeAssessment as i32)
        .count();
    assert_eq!((sent.len(), nodes), (2, 1), "{sent:?}");
    // A worker that refuses the kind (an older release): retried, not parked.
    let (worker, task) = sent
        .iter()
        .find(|(_, t)| t.kind == proto::TaskKind::NodeAssessment as i32)
        .unwrap();
    d.on_result(
        worker,
        &result(
            &task.task_id,
            proto::Outcome::FailedPermanent,
            "InvalidTask",
        ),
        now,
    );
    let slot = d
        .tasks()
        .values()
        .find(|t| t.task.task_id == task.task_id)
        .unwrap();
    assert!(
        matches!(slot.state, TaskState::Failed { .. }),
        "{:?}",
        slot.state
    );
}

//! Table-style tests of scan planning: dedupe by image, reuse of fresh reports, waiting for
//! in-flight scans, spec changes and the TTL.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use super::*;
use crate::observed::Container;
use common::workload::WorkloadKind;

const HOUR: Duration = Duration::from_secs(3600);

fn now() -> jiff::Timestamp {
    "2026-11-27T12:00:00Z".parse().unwrap()
}

fn policy() -> ScanPolicy {
    ScanPolicy {
        ttl: Some(24 * HOUR),
        now: now(),
    }
}

fn workload(ns: &str, name: &str, images: &[(&str, &str)]) -> Workload {
    Workload {
        kind: WorkloadKind::ReplicaSet,
        namespace: ns.into(),
        name: name.into(),
        uid: format!("uid-{name}"),
        spec_hash: format!("spec-{name}"),
        containers: images
            .iter()
            .map(|(n, i)| Container {
                name: n.to_string(),
                image: i.to_string(),
            })
            .collect(),
        deployment: None,
    }
}

fn observed(workloads: &[Workload]) -> Observed {
    let mut o = Observed::default();
    for w in workloads {
        o.namespaces
            .entry(w.namespace.clone())
            .or_insert_with(BTreeMap::new);
        o.workloads.insert(w.uid.clone(), w.clone());
    }
    o
}

fn report(w: &Workload, container: &str, key: &str, hours_ago: i64) -> VulnReportMeta {
    VulnReportMeta {
        namespace: w.namespace.clone(),
        name: format!("replicaset-{}-{container}", w.name),
        container: Some(container.into()),
        spec_hash: Some(w.spec_hash.clone()),
        scan_key: Some(key.into()),
        scanned_at: Some(now() - jiff::SignedDuration::from_hours(hours_ago)),
    }
}

fn subscribers(task: &DueTask) -> Vec<String> {
    task.task
        .scan
        .as_ref()
        .unwrap()
        .subscribers
        .iter()
        .map(|s| format!("{}/{}", s.workload.as_ref().unwrap().name, s.container_name))
        .collect()
}

const NGINX: &str = "index.docker.io/library/nginx:1.16";

#[test]
fn one_scan_per_image_for_all_its_workloads() {
    let a = workload(
        "a",
        "web",
        &[("nginx", "nginx:1.16"), ("side", "alpine:3.10")],
    );
    let b = workload("b", "shop", &[("nginx", "docker.io/library/nginx:1.16")]);
    let tasks = due_scans(&observed(&[a, b]), &Scope::default(), policy(), &[]);
    assert_eq!(tasks.len(), 2, "two images: {tasks:#?}");
    let nginx = tasks
        .iter()
        .find(|t| t.task.scan.as_ref().unwrap().scan_key == NGINX)
        .unwrap();
    assert_eq!(
        subscribers(nginx),
        ["web/nginx", "shop/nginx"],
        "sorted by namespace"
    );
    assert!(runs_job(&nginx.task));
    assert_eq!(
        nginx.namespace, "a",
        "sharded by the first subscriber's namespace"
    );
}

#[test]
fn a_known_digest_is_the_key() {
    let a = workload("a", "web", &[("app", "nginx:1.16")]);
    let b = workload("a", "api", &[("app", "nginx:stable")]);
    let mut o = observed(&[a, b]);
    for uid in ["uid-web", "uid-api"] {
        o.image_ids.insert(
            uid.into(),
            [("app".to_string(), "nginx@sha256:abc".to_string())].into(),
        );
    }
    let tasks = due_scans(&o, &Scope::default(), policy(), &[]);
    assert_eq!(tasks.len(), 1, "same digest, different tags: one scan");
    assert_eq!(
        tasks[0].task.scan.as_ref().unwrap().scan_key,
        "nginx@sha256:abc"
    );
}

#[test]
fn fresh_reports_are_copied_instead_of_scanned() {
    let a = workload("a", "web", &[("nginx", "nginx:1.16")]);
    let b = workload("b", "shop", &[("nginx", "nginx:1.16")]);
    let mut o = observed(&[a.clone(), b]);
    o.put_vuln_report(a.uid.clone(), report(&a, "nginx", NGINX, 1));
    let tasks = due_scans(&o, &Scope::default(), policy(), &[]);
    assert_eq!(tasks.len(), 1);
    assert_eq!(subscribers(&tasks[0]), ["shop/nginx"]);
    let scan = tasks[0].task.scan.as_ref().unwrap();
    assert_eq!(
        (
            scan.source_report_namespace.as_str(),
            scan.source_report_name.as_str()
        ),
        ("a", "replicaset-web-nginx")
    );
    assert!(!runs_job(&tasks[0].task));
}

#[test]
fn up_to_date_reports_need_nothing_but_spec_changes_and_age_do() {
    let a = workload("a", "web", &[("nginx", "nginx:1.16")]);
    let mut o = observed(std::slice::from_ref(&a));
    o.put_vuln_report(a.uid.clone(), report(&a, "nginx", NGINX, 1));
    assert!(due_scans(&o, &Scope::default(), policy(), &[]).is_empty());

    // Spec changed, same image, report still fresh: reuse it (copy onto itself).
    o.workloads.get_mut("uid-web").unwrap().spec_hash = "spec-2".into();
    let tasks = due_scans(&o, &Scope::default(), policy(), &[]);
    assert_eq!(tasks.len(), 1);
    assert!(!runs_job(&tasks[0].task));

    // Older than the TTL: a new scan.
    let mut o = observed(std::slice::from_ref(&a));
    o.put_vuln_report(a.uid.clone(), report(&a, "nginx", NGINX, 25));
    let tasks = due_scans(&o, &Scope::default(), policy(), &[]);
    assert_eq!(tasks.len(), 1);
    assert!(runs_job(&tasks[0].task));
    // Without a TTL it stays.
    assert!(
        due_scans(
            &o,
            &Scope::default(),
            ScanPolicy {
                ttl: None,
                now: now()
            },
            &[]
        )
        .is_empty()
    );
}

#[test]
fn containers_wait_for_an_in_flight_scan_of_their_image() {
    let a = workload("a", "web", &[("nginx", "nginx:1.16")]);
    let o = observed(std::slice::from_ref(&a));
    let first = due_scans(&o, &Scope::default(), policy(), &[]);
    let active = [ActiveScan {
        task: first[0].task.clone(),
        in_flight: true,
    }];
    // The running task stays wanted while its subscriber has no report.
    let again = due_scans(&o, &Scope::default(), policy(), &active);
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].task.task_id, first[0].task.task_id);

    // A new workload with the same image waits for that scan: no second task.
    let b = workload("b", "shop", &[("nginx", "nginx:1.16")]);
    let o = observed(&[a, b]);
    let tasks = due_scans(&o, &Scope::default(), policy(), &active);
    assert_eq!(tasks.len(), 1, "{tasks:#?}");
    assert_eq!(tasks[0].task.task_id, first[0].task.task_id);
}

#[test]
fn task_ids_change_with_subscribers_but_not_with_order() {
    let a = workload("a", "web", &[("nginx", "nginx:1.16")]);
    let b = workload("b", "shop", &[("nginx", "nginx:1.16")]);
    let one = due_scans(
        &observed(&[a.clone(), b.clone()]),
        &Scope::default(),
        policy(),
        &[],
    );
    let two = due_scans(&observed(&[b, a.clone()]), &Scope::default(), policy(), &[]);
    assert_eq!(one[0].task.task_id, two[0].task.task_id);
    let alone = due_scans(&observed(&[a]), &Scope::default(), policy(), &[]);
    assert_ne!(alone[0].task.task_id, one[0].task.task_id);
}

#[test]
fn a_digest_seen_for_one_workload_keys_the_others_with_that_reference() {
    let a = workload("a", "web", &[("app", "nginx:1.16")]);
    let b = workload("b", "shop", &[("app", "nginx:1.16")]);
    let mut o = observed(&[a, b]);
    o.image_ids.insert(
        "uid-web".into(),
        [("app".to_string(), "nginx@sha256:abc".to_string())].into(),
    );
    let tasks = due_scans(&o, &Scope::default(), policy(), &[]);
    assert_eq!(tasks.len(), 1, "{tasks:#?}");
    assert_eq!(subscribers(&tasks[0]).len(), 2);
}

#[test]
fn a_scan_planned_by_reference_covers_workloads_known_by_digest() {
    let a = workload("a", "web", &[("app", "nginx:1.16")]);
    let first = due_scans(
        &observed(std::slice::from_ref(&a)),
        &Scope::default(),
        policy(),
        &[],
    );
    assert_eq!(first[0].task.scan.as_ref().unwrap().scan_key, NGINX);
    // Pods then report the digest; a second workload appears while the scan runs.
    let b = workload("b", "shop", &[("app", "nginx:1.16")]);
    let mut o = observed(&[a.clone(), b.clone()]);
    o.image_ids.insert(
        "uid-shop".into(),
        [("app".to_string(), "nginx@sha256:abc".to_string())].into(),
    );
    let active = [ActiveScan {
        task: first[0].task.clone(),
        in_flight: true,
    }];
    let tasks = due_scans(&o, &Scope::default(), policy(), &active);
    assert_eq!(
        tasks.len(),
        1,
        "waits for the scan by reference: {tasks:#?}"
    );
    // Once done, its report (keyed by reference) is copied for the digest-keyed workload.
    o.put_vuln_report(a.uid.clone(), report(&a, "app", NGINX, 0));
    let tasks = due_scans(&o, &Scope::default(), policy(), &[]);
    assert_eq!(tasks.len(), 1);
    assert!(!runs_job(&tasks[0].task), "copied, not scanned again");
    assert_eq!(subscribers(&tasks[0]), ["shop/app"]);
}

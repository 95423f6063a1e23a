//! Table-style tests of the pure scan rules: which containers are due, their keys, the
//! task of a key, and report expiry.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use super::*;
use crate::observed::Container;
use common::workload::WorkloadKind;

const HOUR: Duration = Duration::from_secs(3600);
const NGINX: &str = "index.docker.io/library/nginx:1.16";

pub(crate) fn now() -> jiff::Timestamp {
    "2026-11-27T12:00:00Z".parse().unwrap()
}

pub(crate) fn policy() -> ScanPolicy {
    ScanPolicy {
        ttl: Some(24 * HOUR),
        now: now(),
        companions: Companions::default(),
        sbom_rescans: true,
    }
}

pub(crate) fn workload(ns: &str, name: &str, images: &[(&str, &str)]) -> Workload {
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
        pull_secrets: Vec::new(),
        service_account: None,
    }
}

pub(crate) fn observed(workloads: &[Workload]) -> Observed {
    let mut o = Observed::default();
    for w in workloads {
        o.put_namespace(w.namespace.clone(), BTreeMap::new());
        o.put_workload(w.clone());
    }
    o
}

pub(crate) fn report(w: &Workload, container: &str, hours_ago: i64) -> VulnReportMeta {
    VulnReportMeta {
        gauge: None,
        bytes: 0,
        image_report: None,
        namespace: w.namespace.clone(),
        name: format!("replicaset-{}-{container}", w.name),
        container: Some(container.into()),
        spec_hash: Some(w.spec_hash.clone()),
        scanned_at: Some(now() - jiff::SignedDuration::from_hours(hours_ago)),
        resource_version: Some("1".into()),
    }
}

fn names(due: &[DueContainer]) -> Vec<&str> {
    due.iter().map(|d| d.container.as_str()).collect()
}

#[test]
fn containers_without_a_current_fresh_report_are_due() {
    let w = workload(
        "a",
        "web",
        &[("nginx", "nginx:1.16"), ("side", "alpine:3.10")],
    );
    let mut o = observed(std::slice::from_ref(&w));
    assert_eq!(names(&due_containers(&o, &w, policy())), ["nginx", "side"]);
    o.put_vuln_report(w.uid.clone(), report(&w, "nginx", 1));
    assert_eq!(names(&due_containers(&o, &w, policy())), ["side"]);
    // Older than the TTL: due again; without a TTL it stays.
    o.put_vuln_report(w.uid.clone(), report(&w, "nginx", 25));
    assert_eq!(names(&due_containers(&o, &w, policy())), ["nginx", "side"]);
    let no_ttl = ScanPolicy {
        ttl: None,
        ..policy()
    };
    assert_eq!(names(&due_containers(&o, &w, no_ttl)), ["side"]);
    // A changed spec makes every report stale.
    let mut changed = w.clone();
    changed.spec_hash = "spec-2".into();
    o.put_workload(changed.clone());
    assert_eq!(
        names(&due_containers(&o, &changed, no_ttl)),
        ["nginx", "side"]
    );
}

#[test]
fn a_report_in_another_namespace_is_not_the_workloads() {
    let w = workload("a", "web", &[("nginx", "nginx:1.16")]);
    let mut o = observed(std::slice::from_ref(&w));
    let mut elsewhere = report(&w, "nginx", 1);
    elsewhere.namespace = "evil".into();
    o.put_vuln_report(w.uid.clone(), elsewhere);
    assert_eq!(names(&due_containers(&o, &w, policy())), ["nginx"]);
}

#[test]
fn the_key_is_the_workloads_own_digest_else_the_reference() {
    let a = workload("a", "web", &[("app", "nginx:1.16")]);
    let b = workload("b", "shop", &[("app", "nginx:1.16")]);
    let mut o = observed(&[a.clone(), b.clone()]);
    o.put_image_ids(
        a.uid.clone(),
        [("app".to_string(), "nginx@sha256:abc".to_string())].into(),
    );
    assert_eq!(due_containers(&o, &a, policy())[0].key, "nginx@sha256:abc");
    // Another namespace's digest is never borrowed: its key stays the reference.
    let due_b = &due_containers(&o, &b, policy())[0];
    assert_eq!(
        (due_b.key.as_str(), due_b.reference.as_str()),
        (NGINX, NGINX)
    );
}

#[test]
fn pull_secrets_come_from_the_pod_spec_then_the_service_account() {
    let mut w = workload("a", "web", &[("app", "private.io/app:1")]);
    w.pull_secrets = vec!["own".into()];
    w.service_account = Some("builder".into());
    let mut o = observed(std::slice::from_ref(&w));
    o.put_account(
        "a".into(),
        "builder".into(),
        vec!["sa-cred".into(), "own".into()],
    );
    assert_eq!(
        due_containers(&o, &w, policy())[0].pull_secrets,
        ["own", "sa-cred"]
    );
}

#[test]
fn one_task_per_key_sorted_and_sharded_by_the_first_subscriber() {
    let a = workload("b", "shop", &[("nginx", "docker.io/library/nginx:1.16")]);
    let b = workload("a", "web", &[("nginx", "nginx:1.16")]);
    let o = observed(&[a.clone(), b.clone()]);
    let mut due = due_containers(&o, &a, policy());
    due.extend(due_containers(&o, &b, policy()));
    let members: Vec<&DueContainer> = due.iter().collect();
    let task = scan_task(NGINX, &members, None);
    let scan = task.task.scan.as_ref().unwrap();
    let subs: Vec<&str> = scan
        .subscribers
        .iter()
        .map(|s| s.workload.as_ref().unwrap().name.as_str())
        .collect();
    assert_eq!(subs, ["web", "shop"]);
    assert_eq!(task.namespace, "a");
    assert!(runs_job(&task.task));
    assert_eq!(task.aliases, [NGINX]);
    let reversed: Vec<&DueContainer> = due.iter().rev().collect();
    assert_eq!(
        scan_task(NGINX, &reversed, None),
        task,
        "order does not matter"
    );
    let source = Source {
        namespace: "a".into(),
        name: "replicaset-web-nginx".into(),
        resource_version: "42".into(),
        scanned_at: now(),
        secret: None,
        sbom: None,
    };
    let copy = scan_task(NGINX, &members, Some(&source));
    assert!(!runs_job(&copy.task));
    assert_eq!(copy.task.task_id, task.task.task_id, "one id per key");
    assert_eq!(copy.task.scan.unwrap().source_report_resource_version, "42");
}

#[test]
fn the_first_fresh_report_to_expire_sets_the_rescan_time() {
    let w = workload("a", "web", &[("one", "nginx:1.16"), ("two", "nginx:1.17")]);
    let mut o = observed(std::slice::from_ref(&w));
    assert_eq!(next_expiry(&o, &w, policy()), None);
    o.put_vuln_report(w.uid.clone(), report(&w, "one", 2));
    o.put_vuln_report(w.uid.clone(), report(&w, "two", 5));
    assert_eq!(
        next_expiry(&o, &w, policy()),
        Some(now() + jiff::SignedDuration::from_hours(19))
    );
}

fn with_secrets() -> ScanPolicy {
    ScanPolicy {
        companions: Companions {
            secret: true,
            sbom: false,
        },
        ..policy()
    }
}

fn with_both() -> ScanPolicy {
    ScanPolicy {
        companions: Companions {
            secret: true,
            sbom: true,
        },
        ..policy()
    }
}

#[test]
fn with_secrets_on_a_container_also_needs_a_current_fresh_secret_report() {
    let w = workload("a", "web", &[("nginx", "nginx:1.16")]);
    let mut o = observed(std::slice::from_ref(&w));
    o.put_vuln_report(w.uid.clone(), report(&w, "nginx", 1));
    assert!(due_containers(&o, &w, policy()).is_empty(), "secrets off");
    let due = due_containers(&o, &w, with_secrets());
    assert_eq!(names(&due), ["nginx"], "no secret report yet");
    assert_eq!(due[0].report_name.as_deref(), Some("replicaset-web-nginx"));
    o.put_companion(Companion::Secret, w.uid.clone(), report(&w, "nginx", 2));
    assert!(due_containers(&o, &w, with_secrets()).is_empty());
    // Older than the TTL, or of another spec: due again.
    o.put_companion(Companion::Secret, w.uid.clone(), report(&w, "nginx", 25));
    assert_eq!(names(&due_containers(&o, &w, with_secrets())), ["nginx"]);
    let mut stale = report(&w, "nginx", 1);
    stale.spec_hash = Some("old".into());
    o.put_companion(Companion::Secret, w.uid.clone(), stale);
    assert_eq!(names(&due_containers(&o, &w, with_secrets())), ["nginx"]);
    // Deleted: due again.
    o.put_companion(Companion::Secret, w.uid.clone(), report(&w, "nginx", 1));
    assert!(due_containers(&o, &w, with_secrets()).is_empty());
    o.remove_companion(Companion::Secret, &w.uid, "replicaset-web-nginx");
    assert_eq!(names(&due_containers(&o, &w, with_secrets())), ["nginx"]);
    // A secret report in another namespace naming the uid is not this workload's.
    let mut elsewhere = report(&w, "nginx", 1);
    elsewhere.namespace = "b".into();
    o.put_companion(Companion::Secret, w.uid.clone(), elsewhere);
    assert_eq!(names(&due_containers(&o, &w, with_secrets())), ["nginx"]);
}

#[test]
fn the_secret_report_expiring_first_sets_the_rescan_time() {
    let w = workload("a", "web", &[("one", "nginx:1.16")]);
    let mut o = observed(std::slice::from_ref(&w));
    o.put_vuln_report(w.uid.clone(), report(&w, "one", 2));
    o.put_companion(Companion::Secret, w.uid.clone(), report(&w, "one", 5));
    let ttl = jiff::SignedDuration::from_hours(24);
    let at = |hours: i64| now() - jiff::SignedDuration::from_hours(hours) + ttl;
    assert_eq!(next_expiry(&o, &w, policy()), Some(at(2)));
    assert_eq!(next_expiry(&o, &w, with_secrets()), Some(at(5)));
}

#[test]
fn with_secrets_on_only_sources_with_a_secret_report_are_copied() {
    let mut source = Source {
        namespace: "a".into(),
        name: "replicaset-web-nginx".into(),
        resource_version: "42".into(),
        scanned_at: now(),
        secret: None,
        sbom: None,
    };
    assert!(source_is_fresh(&source, policy()));
    assert!(!source_is_fresh(&source, with_secrets()));
    source.secret = Some(("replicaset-web-nginx".into(), "43".into()));
    assert!(source_is_fresh(&source, with_secrets()));
    let w = workload("b", "shop", &[("nginx", "nginx:1.16")]);
    let o = observed(std::slice::from_ref(&w));
    let due = due_containers(&o, &w, with_secrets());
    let members: Vec<&DueContainer> = due.iter().collect();
    let copy = scan_task(NGINX, &members, Some(&source));
    let scan = copy.task.scan.unwrap();
    assert_eq!(scan.source_secret_report_name, "replicaset-web-nginx");
    assert_eq!(scan.source_secret_report_resource_version, "43");
}

#[test]
fn with_sboms_on_a_container_also_needs_its_sbom_report_and_sources_theirs() {
    let w = workload("a", "web", &[("nginx", "nginx:1.16")]);
    let mut o = observed(std::slice::from_ref(&w));
    o.put_vuln_report(w.uid.clone(), report(&w, "nginx", 1));
    o.put_companion(Companion::Secret, w.uid.clone(), report(&w, "nginx", 1));
    assert!(due_containers(&o, &w, with_secrets()).is_empty());
    assert_eq!(names(&due_containers(&o, &w, with_both())), ["nginx"]);
    o.put_companion(Companion::Sbom, w.uid.clone(), report(&w, "nginx", 1));
    assert!(due_containers(&o, &w, with_both()).is_empty());
    o.remove_companion(Companion::Sbom, &w.uid, "replicaset-web-nginx");
    assert_eq!(names(&due_containers(&o, &w, with_both())), ["nginx"]);

    let mut source = Source {
        namespace: "a".into(),
        name: "replicaset-web-nginx".into(),
        resource_version: "42".into(),
        scanned_at: now(),
        secret: Some(("replicaset-web-nginx".into(), "43".into())),
        sbom: None,
    };
    assert!(!source_is_fresh(&source, with_both()));
    source.sbom = Some(("replicaset-web-nginx".into(), "44".into()));
    assert!(source_is_fresh(&source, with_both()));
    let due = due_containers(&o, &w, with_both());
    let members: Vec<&DueContainer> = due.iter().collect();
    let scan = scan_task(NGINX, &members, Some(&source)).task.scan.unwrap();
    assert_eq!(scan.source_sbom_report_resource_version, "44");
    assert_eq!(scan.source_secret_report_resource_version, "43");
}

#[test]
fn a_stale_digest_with_a_stored_sbom_is_rescanned_from_it() {
    let digest = format!("docker.io/library/nginx@sha256:{}", "a".repeat(64));
    let stale = Source {
        namespace: "a".into(),
        name: "replicaset-web-nginx".into(),
        resource_version: "42".into(),
        scanned_at: now() - 25 * HOUR,
        secret: Some(("replicaset-web-nginx".into(), "43".into())),
        sbom: Some(("replicaset-web-nginx".into(), "44".into())),
    };
    assert!(!source_is_fresh(&stale, with_both()));
    let bom = stored_bom(&digest, Some(&stale), with_both()).unwrap();
    assert_eq!(
        (
            bom.namespace.as_str(),
            bom.sbom_report_name.as_str(),
            bom.sbom_report_resource_version.as_str(),
            bom.secret_report_name.as_str(),
            bom.secret_report_resource_version.as_str()
        ),
        (
            "a",
            "replicaset-web-nginx",
            "44",
            "replicaset-web-nginx",
            "43"
        )
    );
    // A bare image ID is content too; without secrets none is carried over.
    let id = format!("sha256:{}", "b".repeat(64));
    let sbom_only = ScanPolicy {
        companions: Companions {
            secret: false,
            sbom: true,
        },
        ..policy()
    };
    let bom = stored_bom(&id, Some(&stale), sbom_only).unwrap();
    assert!(bom.secret_report_name.is_empty() && bom.secret_report_resource_version.is_empty());
    // Not: a tag (may name another image by now), no source, turned off, no SBOM made.
    assert!(stored_bom(NGINX, Some(&stale), with_both()).is_none());
    assert!(stored_bom(&digest, None, with_both()).is_none());
    let off = ScanPolicy {
        sbom_rescans: false,
        ..with_both()
    };
    assert!(stored_bom(&digest, Some(&stale), off).is_none());
    assert!(stored_bom(&digest, Some(&stale), with_secrets()).is_none());
    // A source without its SBOM, or without the secret report the task wants: a full scan.
    let no_sbom = Source {
        sbom: None,
        ..stale.clone()
    };
    assert!(stored_bom(&digest, Some(&no_sbom), with_both()).is_none());
    let no_secret = Source {
        secret: None,
        ..stale
    };
    assert!(stored_bom(&digest, Some(&no_secret), with_both()).is_none());
    assert!(stored_bom(&digest, Some(&no_secret), sbom_only).is_some());
}

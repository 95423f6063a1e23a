//! The incremental planner: which events dirty which workloads, one scan per image over
//! time, waiting for scans in flight, and the trust rules of scan sharing.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use common::proto;
use common::workload::WorkloadKind;

use super::*;
use crate::dispatch::DispatchConfig;
use crate::observed::{AuditReportMeta, Container, DeploymentLink, VulnReportMeta, Workload};

const NGINX: &str = "index.docker.io/library/nginx:1.16";

struct Harness {
    o: Observed,
    d: Dispatcher,
    p: Planner,
    scope: Scope,
    hashes: ConfigHashes,
    now: Instant,
    wall: jiff::Timestamp,
    /// The reports written beside VulnerabilityReports (none by default).
    companions: crate::observed::Companions,
}

impl Harness {
    fn new() -> Self {
        let d = Dispatcher::new(DispatchConfig {
            tasks_per_capacity: 100,
            worker_timeout: Duration::from_secs(30),
            retry_base: Duration::from_secs(5),
            retry_max: Duration::from_secs(60),
            result_grace: Duration::from_secs(60),
            max_concurrent_scans: 100,
            max_scans_per_namespace: 0,
        });
        Self {
            o: Observed::default(),
            d,
            p: Planner::default(),
            scope: Scope::default(),
            hashes: WorkloadKind::ALL
                .iter()
                .map(|k| (*k, "c1".into()))
                .collect(),
            now: Instant::now(),
            wall: "2026-11-27T12:00:00Z".parse().unwrap(),
            companions: Default::default(),
        }
    }

    fn round(&mut self) -> RoundStats {
        let inputs = Inputs {
            scope: &self.scope,
            hashes: Some(&self.hashes),
            scans: Some(ScanPolicy {
                ttl: Some(Duration::from_secs(24 * 3600)),
                now: self.wall,
                companions: self.companions,
                sbom_rescans: true,
            }),
            now: self.now,
        };
        self.p.round(&mut self.o, &mut self.d, &inputs)
    }

    fn add(&mut self, w: Workload) {
        if !self.o.namespaces.contains_key(&w.namespace) {
            self.o.put_namespace(w.namespace.clone(), BTreeMap::new());
        }
        self.o.put_workload(w);
    }

    /// Scan tasks tracked now: (job or copy, scan key, subscriber names).
    fn scans(&self) -> Vec<(&'static str, String, Vec<String>)> {
        let mut out: Vec<_> = self
            .d
            .tasks()
            .values()
            .filter_map(|t| {
                let scan = t.task.scan.as_ref()?;
                let mode = if crate::plan_scans::runs_job(&t.task) {
                    "job"
                } else {
                    "copy"
                };
                let subs = scan
                    .subscribers
                    .iter()
                    .map(|s| format!("{}/{}", s.workload.as_ref().unwrap().name, s.container_name))
                    .collect();
                Some((mode, scan.scan_key.clone(), subs))
            })
            .collect();
        out.sort();
        out
    }

    fn audits(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .d
            .tasks()
            .values()
            .filter_map(|t| Some(t.task.workload.as_ref()?.name.clone()))
            .collect();
        out.sort();
        out
    }

    /// Sends everything to one worker and answers every scan as succeeded, writing the
    /// reports it served (shareable or not) with resourceVersion "rv-<name>".
    fn run_scans(&mut self, shareable: bool) {
        if self.d.workers().is_empty() {
            self.d.add_worker("w", 100, 1, self.now);
        }
        for (worker, task) in self.d.next_sends(self.now) {
            let Some(scan) = &task.scan else { continue };
            let written: Vec<proto::WrittenReport> = scan
                .subscribers
                .iter()
                .map(|s| {
                    let w = s.workload.as_ref().unwrap();
                    let name = format!("replicaset-{}-{}", w.name, s.container_name);
                    proto::WrittenReport {
                        namespace: w.namespace.clone(),
                        resource_version: format!("rv-{name}"),
                        name: name.clone(),
                        scan_key: scan.scan_key.clone(),
                        shareable,
                        scanned_at_unix: self.wall.as_second(),
                        workload_uid: w.uid.clone(),
                        container_name: s.container_name.clone(),
                        resource_spec_hash: s.resource_spec_hash.clone(),
                        image_reference: crate::plan_scans::normalized(&s.image),
                        sbom_report_name: if self.companions.sbom {
                            name.clone()
                        } else {
                            String::new()
                        },
                        sbom_resource_version: if self.companions.sbom {
                            format!("rv-sbom-{name}")
                        } else {
                            String::new()
                        },
                        ..Default::default()
                    }
                })
                .collect();
            let result = proto::TaskResult {
                task_id: task.task_id.clone(),
                outcome: proto::Outcome::Succeeded as i32,
                written: written.clone(),
                ..Default::default()
            };
            let effect = self.d.on_result(&worker, &result, self.now);
            let keys = self.o.record_sources(&written, self.wall);
            self.p.sources_changed(keys);
            self.p.released(&effect.released);
            // The watch then sees the reports.
            for w in &written {
                self.o.put_vuln_report(
                    w.workload_uid.clone(),
                    VulnReportMeta {
                        gauge: None,
                        bytes: 0,
                        image_report: None,
                        namespace: w.namespace.clone(),
                        name: w.name.clone(),
                        container: Some(w.container_name.clone()),
                        spec_hash: Some(w.resource_spec_hash.clone()),
                        scanned_at: Some(self.wall),
                        resource_version: Some(w.resource_version.clone()),
                    },
                );
            }
        }
    }
}

fn workload(ns: &str, name: &str, image: &str) -> Workload {
    Workload {
        kind: WorkloadKind::ReplicaSet,
        namespace: ns.into(),
        name: name.into(),
        uid: format!("uid-{name}"),
        spec_hash: format!("spec-{name}"),
        containers: vec![Container {
            name: "app".into(),
            image: image.into(),
        }],
        deployment: None,
        pull_secrets: Vec::new(),
        service_account: None,
    }
}

#[test]
fn which_events_dirty_which_workloads() {
    let mut h = Harness::new();
    let mut rs = workload("a", "web", "nginx:1.16");
    rs.deployment = Some(DeploymentLink {
        uid: "d1".into(),
        revision: Some("1".into()),
    });
    h.add(rs.clone());
    h.add(workload("a", "api", "nginx:1.16"));
    h.add(workload("b", "db", "redis:7"));
    h.o.put_deployment_revision("d1".into(), "1".into());
    assert_eq!(h.round().workloads, 3, "first round: everything");
    assert_eq!(h.round().workloads, 0, "nothing changed: nothing planned");

    type Event = fn(&mut Observed);
    let table: [(&str, Event, usize); 9] = [
        (
            "a namespace's labels",
            |o| o.put_namespace("a".into(), BTreeMap::from([("team".into(), "x".into())])),
            2,
        ),
        (
            "the same labels again",
            |o| o.put_namespace("a".into(), BTreeMap::from([("team".into(), "x".into())])),
            0,
        ),
        (
            "a Deployment's revision",
            |o| o.put_deployment_revision("d1".into(), "2".into()),
            1,
        ),
        (
            "a Pod's digest",
            |o| {
                o.put_image_ids(
                    "uid-db".into(),
                    [("app".into(), "redis@sha256:1".into())].into(),
                )
            },
            1,
        ),
        (
            "the same digest again",
            |o| {
                o.put_image_ids(
                    "uid-db".into(),
                    [("app".into(), "redis@sha256:1".into())].into(),
                )
            },
            0,
        ),
        (
            "a config audit report",
            |o| {
                o.put_audit_report(
                    "uid-api".into(),
                    AuditReportMeta {
                        gauge: None,
                        bytes: 0,
                        namespace: "a".into(),
                        name: "replicaset-api".into(),
                        kind: "ReplicaSet".into(),
                        spec_hash: Some("spec-api".into()),
                        config_hash: Some("c1".into()),
                        resource_version: Some("1".into()),
                    },
                )
            },
            1,
        ),
        (
            "a vulnerability report deleted",
            |o| o.remove_vuln_report("uid-db", "replicaset-db-app"),
            1,
        ),
        ("a workload deleted", |o| o.remove_workload("uid-api"), 1),
        ("a full re-plan", |o| o.mark_all_dirty(), 2),
    ];
    for (event, apply, dirty) in table {
        apply(&mut h.o);
        assert_eq!(h.round().workloads, dirty, "{event}");
    }
}

#[test]
fn one_scan_per_image_and_unchanged_keys_are_not_rebuilt() {
    let mut h = Harness::new();
    h.add(workload("a", "web", "nginx:1.16"));
    h.add(workload("b", "shop", "docker.io/library/nginx:1.16"));
    h.add(workload("b", "db", "redis:7"));
    h.round();
    let scans = h.scans();
    assert_eq!(scans.len(), 2, "{scans:?}");
    assert_eq!(scans[0].2, ["web/app", "shop/app"]);
    assert_eq!(h.audits(), ["db", "shop", "web"]);
    // An audit report for one workload does not touch the scan keys.
    h.o.put_audit_report(
        "uid-db".into(),
        AuditReportMeta {
            gauge: None,
            bytes: 0,
            namespace: "b".into(),
            name: "replicaset-db".into(),
            kind: "ReplicaSet".into(),
            spec_hash: Some("spec-db".into()),
            config_hash: Some("c1".into()),
            resource_version: Some("1".into()),
        },
    );
    let stats = h.round();
    assert_eq!((stats.workloads, stats.keys), (1, 0));
    assert_eq!(h.audits(), ["shop", "web"]);
}

#[test]
fn a_new_workload_waits_for_the_scan_in_flight_then_copies_it() {
    let mut h = Harness::new();
    h.add(workload("a", "web", "nginx:1.16"));
    h.round();
    h.d.add_worker("w", 100, 1, h.now);
    let sent = h.d.next_sends(h.now);
    assert_eq!(sent.iter().filter(|(_, t)| t.scan.is_some()).count(), 1);
    // Pods of a new workload report the digest: another key, the same image.
    h.add(workload("b", "shop", "nginx:1.16"));
    h.o.put_image_ids(
        "uid-shop".into(),
        [("app".into(), "nginx@sha256:abc".into())].into(),
    );
    h.round();
    let waiting: Vec<_> = h.scans().into_iter().filter(|s| s.1 != NGINX).collect();
    assert!(
        waiting.is_empty(),
        "waits for the scan by reference: {waiting:?}"
    );
    // The scan finishes: its (shareable) report is copied for the digest-keyed workload.
    let (_, task) = sent.into_iter().find(|(_, t)| t.scan.is_some()).unwrap();
    let scan = task.scan.as_ref().unwrap();
    let written = proto::WrittenReport {
        namespace: "a".into(),
        name: "replicaset-web-app".into(),
        resource_version: "7".into(),
        scan_key: scan.scan_key.clone(),
        shareable: true,
        scanned_at_unix: h.wall.as_second(),
        workload_uid: "uid-web".into(),
        container_name: "app".into(),
        resource_spec_hash: "spec-web".into(),
        image_reference: NGINX.into(),
        ..Default::default()
    };
    let result = proto::TaskResult {
        task_id: task.task_id.clone(),
        outcome: proto::Outcome::Succeeded as i32,
        written: vec![written.clone()],
        ..Default::default()
    };
    let effect = h.d.on_result("w", &result, h.now);
    let keys = h.o.record_sources(&[written], h.wall);
    h.p.sources_changed(keys);
    h.p.released(&effect.released);
    h.round();
    assert_eq!(
        h.scans(),
        [(
            "copy",
            "nginx@sha256:abc".to_string(),
            vec!["shop/app".to_string()]
        )]
    );
    let copy =
        h.d.tasks()
            .values()
            .find_map(|t| t.task.scan.clone())
            .unwrap();
    assert_eq!(
        (
            copy.source_report_name.as_str(),
            copy.source_report_resource_version.as_str()
        ),
        ("replicaset-web-app", "7")
    );
}

#[test]
fn reports_the_operator_did_not_write_are_never_copied() {
    let mut h = Harness::new();
    // A tenant writes a clean-looking report for its own workload, scanned "in the future".
    let mine = workload("evil", "bait", "nginx:1.16");
    h.add(mine.clone());
    h.o.put_vuln_report(
        mine.uid.clone(),
        VulnReportMeta {
            gauge: None,
            bytes: 0,
            image_report: None,
            namespace: "evil".into(),
            name: "replicaset-bait-app".into(),
            container: Some("app".into()),
            spec_hash: Some("spec-bait".into()),
            scanned_at: Some(h.wall + jiff::SignedDuration::from_hours(1000)),
            resource_version: Some("1".into()),
        },
    );
    h.add(workload("victim", "web", "nginx:1.16"));
    h.round();
    assert_eq!(
        h.scans(),
        [("job", NGINX.to_string(), vec!["web/app".to_string()])],
        "the victim is scanned, not handed the tenant's report"
    );
}

#[test]
fn a_source_edited_after_the_scan_is_no_longer_copied() {
    let mut h = Harness::new();
    h.add(workload("a", "web", "nginx:1.16"));
    h.round();
    h.run_scans(true);
    h.round();
    assert!(h.scans().is_empty());
    // Someone edits the report (a new resourceVersion).
    h.o.put_vuln_report(
        "uid-web".into(),
        VulnReportMeta {
            gauge: None,
            bytes: 0,
            image_report: None,
            namespace: "a".into(),
            name: "replicaset-web-app".into(),
            container: Some("app".into()),
            spec_hash: Some("spec-web".into()),
            scanned_at: Some(h.wall),
            resource_version: Some("edited".into()),
        },
    );
    h.add(workload("b", "shop", "nginx:1.16"));
    h.round();
    assert_eq!(h.scans()[0].0, "job");
}

#[test]
fn scans_with_credentials_are_not_shared() {
    let mut h = Harness::new();
    h.add(workload("a", "web", "private.io/app:1"));
    h.round();
    h.run_scans(false);
    h.add(workload("b", "shop", "private.io/app:1"));
    h.round();
    assert_eq!(
        h.scans(),
        [(
            "job",
            "private.io/app:1".to_string(),
            vec!["shop/app".to_string()]
        )]
    );
}

#[test]
fn served_containers_wait_for_their_reports_then_return_if_none_came() {
    let mut h = Harness::new();
    h.add(workload("a", "web", "nginx:1.16"));
    h.round();
    h.d.add_worker("w", 100, 1, h.now);
    let sent = h.d.next_sends(h.now);
    let (_, task) = sent.into_iter().find(|(_, t)| t.scan.is_some()).unwrap();
    let result = proto::TaskResult {
        task_id: task.task_id.clone(),
        outcome: proto::Outcome::Succeeded as i32,
        ..Default::default()
    };
    let effect = h.d.on_result("w", &result, h.now);
    h.p.released(&effect.released);
    h.round();
    assert!(
        h.scans().is_empty(),
        "covered while the report is on its way"
    );
    // No report ever came: after the grace the container is due again.
    h.now += Duration::from_secs(61);
    h.round();
    assert_eq!(h.scans().len(), 1);
}

#[test]
fn reports_ageing_past_the_ttl_are_rescanned_without_other_events() {
    let mut h = Harness::new();
    h.add(workload("a", "web", "nginx:1.16"));
    h.round();
    h.run_scans(true);
    h.round();
    h.now += Duration::from_secs(61);
    h.round();
    assert!(h.scans().is_empty());
    h.wall += jiff::SignedDuration::from_hours(25);
    let stats = h.round();
    assert_eq!(stats.workloads, 1, "the expiry timer re-planned it");
    assert_eq!(h.scans()[0].0, "job", "the only source is stale too");
}

#[test]
fn a_digest_ageing_past_the_ttl_is_rescanned_from_its_stored_sbom() {
    let mut h = Harness::new();
    h.companions = crate::observed::Companions {
        secret: false,
        sbom: true,
    };
    let pinned = format!("nginx@sha256:{}", "c".repeat(64));
    h.add(workload("a", "web", &pinned));
    h.add(workload("a", "tagged", "nginx:1.16"));
    h.round();
    h.run_scans(true);
    // The watch sees the SBOMs too.
    for name in ["web", "tagged"] {
        let w = workload("a", name, "");
        let mut meta = h.o.vuln_reports_of(&w).next().unwrap().clone();
        meta.resource_version = Some(format!("rv-sbom-{}", meta.name));
        h.o.put_companion(crate::observed::Companion::Sbom, w.uid.clone(), meta);
    }
    h.now += Duration::from_secs(61);
    h.round();
    assert!(h.scans().is_empty());
    h.wall += jiff::SignedDuration::from_hours(25);
    h.round();
    let boms: Vec<(String, Option<proto::StoredBom>)> =
        h.d.tasks()
            .values()
            .filter_map(|t| t.task.scan.as_ref())
            .map(|s| (s.scan_key.clone(), s.stored_bom.clone()))
            .collect();
    assert_eq!(boms.len(), 2, "{boms:?}");
    for (key, bom) in boms {
        if key.contains("@sha256:") {
            let bom = bom.expect("the digest's rescan scans its stored SBOM");
            assert_eq!(bom.sbom_report_name, "replicaset-web-app");
            assert_eq!(
                bom.sbom_report_resource_version,
                "rv-sbom-replicaset-web-app"
            );
        } else {
            assert_eq!(bom, None, "a tag's rescan pulls the image: {key}");
        }
    }
}

#[test]
fn what_waited_for_a_lost_workers_scan_is_planned_again() {
    let mut h = Harness::new();
    h.add(workload("a", "web", "nginx:1.16"));
    h.round();
    h.d.add_worker("w", 100, 1, h.now);
    h.d.next_sends(h.now);
    h.add(workload("b", "shop", "nginx:1.16"));
    h.o.put_image_ids(
        "uid-shop".into(),
        [("app".into(), "nginx@sha256:abc".into())].into(),
    );
    h.round();
    assert_eq!(h.scans().len(), 1, "shop waits");
    h.d.remove_worker("w", None, Some(h.now));
    h.round();
    let keys: Vec<String> = h.scans().into_iter().map(|s| s.1).collect();
    assert_eq!(keys, [NGINX.to_string(), "nginx@sha256:abc".to_string()]);
}

/// A stale ConfigAuditReport of a Service (an object the objects round audits) dirties its
/// uid here too: the Service's kept JSON stays for its audit task.
#[test]
fn an_objects_report_leaves_the_object_kept_for_its_audit() {
    let mut h = Harness::new();
    let service = serde_json::json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web", "namespace": "team", "uid": "svc-1"},
        "spec": {"ports": [{"port": 80}]}});
    let record =
        crate::objects::folds::object_record(common::objects::ObjectKind::Service, &service)
            .unwrap();
    h.o.audit_objects
        .put_json("svc-1", &record.spec_hash, service.to_string());
    h.o.objects.put_object(record.clone());
    h.o.put_audit_report(
        "svc-1".into(),
        AuditReportMeta {
            namespace: "team".into(),
            name: "service-web".into(),
            kind: "Service".into(),
            spec_hash: Some("an-older-spec".into()),
            config_hash: Some("c1".into()),
            resource_version: None,
            gauge: None,
            bytes: 0,
        },
    );
    h.round();
    assert!(h.o.audit_objects.get("svc-1", &record.spec_hash).is_some());
    // A workload's uid with no workload (deleted) still drops what was kept for it.
    h.o.audit_objects.put_json("gone-1", "s", "{}".into());
    h.o.mark_dirty("gone-1");
    h.round();
    assert!(h.o.audit_objects.get("gone-1", "s").is_none());
}

//! Which nodes are due, and what the round hands the dispatcher.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::nodes::Taint;
use k8s_openapi::api::core::v1::Toleration;

use super::plan::{NodePolicy, due};
use super::*;
use crate::dispatch::Dispatcher;

fn node(name: &str, spec: &str) -> NodeRecord {
    NodeRecord {
        name: name.into(),
        uid: format!("uid-{name}"),
        spec_hash: spec.into(),
        labels: BTreeMap::from([("kubernetes.io/os".into(), "linux".into())]),
        taints: Vec::new(),
    }
}

fn report(node: &str, spec: &str, config: &str, at: i64) -> NodeReport {
    NodeReport {
        name: format!("node-{node}"),
        node: node.into(),
        owner_uid: Some(format!("uid-{node}")),
        spec_hash: Some(spec.into()),
        config_hash: Some(config.into()),
        assessed_at: Some(jiff::Timestamp::from_second(at).unwrap()),
        counts: None,
    }
}

fn policy(now: i64) -> NodePolicy {
    NodePolicy {
        config_hash: "c1".into(),
        exclude: BTreeMap::new(),
        tolerations: Vec::new(),
        tolerations_json: String::new(),
        ttl: None,
        now: jiff::Timestamp::from_second(now).unwrap(),
    }
}

#[test]
fn a_node_is_due_until_a_report_of_its_spec_and_policy_exists() {
    let n = node("a", "s1");
    let p = policy(1000);
    let task = due(&n, &[], &p).unwrap();
    assert_eq!(task.namespace, "Node/a");
    assert_eq!(
        task.task.kind,
        common::proto::TaskKind::NodeAssessment as i32
    );
    let w = task.task.workload.as_ref().unwrap();
    assert_eq!(
        (w.kind.as_str(), w.name.as_str(), w.namespace.as_str()),
        ("Node", "a", "")
    );
    assert_eq!(task.task.plugin_config_hash, "c1");
    assert!(due(&n, &[&report("a", "s1", "c1", 900)], &p).is_none());
    // Changed node, changed policy, a report of another node (same name, old uid).
    assert!(due(&node("a", "s2"), &[&report("a", "s1", "c1", 900)], &p).is_some());
    assert!(due(&n, &[&report("a", "s1", "c0", 900)], &p).is_some());
    let mut other_uid = report("a", "s1", "c1", 900);
    other_uid.owner_uid = Some("uid-old".into());
    assert!(due(&n, &[&other_uid], &p).is_some());
}

#[test]
fn an_aged_report_is_reassessed_with_a_new_task_id() {
    let n = node("a", "s1");
    let mut p = policy(1000);
    p.ttl = Some(Duration::from_secs(60));
    let fresh = report("a", "s1", "c1", 990);
    assert!(due(&n, &[&fresh], &p).is_none());
    assert_eq!(
        plan::expiry(&n, &[&fresh], &p),
        Some(jiff::Timestamp::from_second(1050).unwrap())
    );
    let old = report("a", "s1", "c1", 900);
    let first = due(&n, &[], &p).unwrap().task.task_id;
    let again = due(&n, &[&old], &p).unwrap().task.task_id;
    assert_ne!(first, again);
}

#[test]
fn excluded_untolerated_and_non_linux_nodes_are_not_assessed() {
    let mut p = policy(0);
    p.exclude = BTreeMap::from([("team".into(), "dev".into())]);
    let mut excluded = node("a", "s");
    excluded.labels.insert("team".into(), "dev".into());
    assert!(due(&excluded, &[], &p).is_none());
    let mut windows = node("w", "s");
    windows
        .labels
        .insert("kubernetes.io/os".into(), "windows".into());
    assert!(due(&windows, &[], &p).is_none());
    let mut tainted = node("t", "s");
    tainted.taints.push(Taint {
        key: "node-role.kubernetes.io/control-plane".into(),
        value: String::new(),
        effect: "NoSchedule".into(),
    });
    assert!(due(&tainted, &[], &p).is_none());
    p.tolerations = vec![Toleration {
        operator: Some("Exists".into()),
        ..Toleration::default()
    }];
    assert!(due(&tainted, &[], &p).is_some());
}

#[test]
fn the_round_plans_dirty_nodes_only_and_drops_deleted_ones() {
    let now = Instant::now();
    let mut d = Dispatcher::new(crate::dispatch::tests::config());
    let mut o = NodeObserved::default();
    o.put_node(node("a", "s1"));
    o.put_node(node("b", "s1"));
    let p = policy(1000);
    assert_eq!(round(&mut o, &mut d, Some(&p), now), 2);
    assert!(d.task_of(&slot("a")).is_some() && d.task_of(&slot("b")).is_some());
    // Nothing changed: nothing re-planned.
    assert_eq!(round(&mut o, &mut d, Some(&p), now), 0);
    // A's report arrives; b is deleted.
    o.put_report(report("a", "s1", "c1", 999));
    o.remove_node("b");
    assert_eq!(round(&mut o, &mut d, Some(&p), now), 2);
    assert!(d.task_of(&slot("a")).is_none() && d.task_of(&slot("b")).is_none());
    // The report is deleted: a is due again.
    o.remove_report("node-a");
    round(&mut o, &mut d, Some(&p), now);
    assert!(d.task_of(&slot("a")).is_some());
    // Without a policy (off, or not known yet) nothing waits.
    o.mark_all_dirty();
    round(&mut o, &mut d, None, now);
    assert!(d.task_of(&slot("a")).is_none());
}

#[test]
fn a_node_record_hashes_what_the_assessment_depends_on() {
    let mut n: k8s_openapi::api::core::v1::Node = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "a", "uid": "u", "labels": {"kubernetes.io/os": "linux"}},
        "spec": {"taints": [{"key": "k", "effect": "NoSchedule"}]},
        "status": {
            "nodeInfo": {"kubeletVersion": "v1.32.0", "containerRuntimeVersion": "containerd://1.7",
                "kernelVersion": "6.1", "osImage": "Debian", "architecture": "amd64",
                "bootID": "", "machineID": "", "operatingSystem": "linux", "systemUUID": "",
                "kubeProxyVersion": ""},
            "conditions": [{"type": "Ready", "status": "True"}]
        }
    }))
    .unwrap();
    let first = folds::node_record(&n).unwrap();
    assert_eq!(first.taints.len(), 1);
    // A heartbeat changes nothing; a kubelet upgrade does.
    n.status.as_mut().unwrap().conditions.as_mut().unwrap()[0].status = "False".into();
    assert_eq!(folds::node_record(&n).unwrap().spec_hash, first.spec_hash);
    n.status
        .as_mut()
        .unwrap()
        .node_info
        .as_mut()
        .unwrap()
        .kubelet_version = "v1.33.0".into();
    assert_ne!(folds::node_record(&n).unwrap().spec_hash, first.spec_hash);
}

#[test]
fn the_indexes_follow_reports_and_nodes() {
    let mut o = NodeObserved::default();
    o.put_node(node("a", "s1"));
    o.put_report(report("a", "s1", "c1", 1));
    let names =
        |o: &NodeObserved, n: &str| o.reports_of(n).map(|r| r.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&o, "a"), ["node-a"]);
    // The same report name now describes another node (a re-created node's name hashed).
    let mut moved = report("b", "s1", "c1", 2);
    moved.name = "node-a".into();
    o.put_report(moved);
    assert!(names(&o, "a").is_empty());
    assert_eq!(names(&o, "b"), ["node-a"]);
    o.remove_report("node-a");
    assert!(names(&o, "b").is_empty());
    // Covers end by uid; a node re-created under its name has a new uid.
    let _ = o.take_due(jiff::Timestamp::now());
    o.cover_ended("uid-a");
    assert!(o.take_due(jiff::Timestamp::now()).contains("a"));
    let mut again = node("a", "s1");
    again.uid = "uid-a2".into();
    o.put_node(again);
    let _ = o.take_due(jiff::Timestamp::now());
    o.cover_ended("uid-a");
    assert!(o.take_due(jiff::Timestamp::now()).is_empty());
    o.cover_ended("uid-a2");
    assert!(o.take_due(jiff::Timestamp::now()).contains("a"));
}

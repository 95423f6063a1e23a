//! Which events make a role's assessment due, and where its work is sharded.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use serde_json::json;

use super::folds::{report_record, role_record};
use super::*;
use crate::args::ScopeArgs;

fn hashes(config: &str) -> BTreeMap<String, String> {
    ["Role", "ClusterRole"]
        .into_iter()
        .map(|k| (k.to_owned(), format!("{config}-{k}")))
        .collect()
}

fn role(kind: RoleKind, namespace: &str, name: &str, verbs: &[&str]) -> RoleRecord {
    let mut object = json!({"kind": kind.as_str(),
        "metadata": {"name": name, "uid": format!("uid-{name}")},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": verbs}]});
    if kind == RoleKind::Role {
        object["metadata"]["namespace"] = json!(namespace);
    }
    role_record(kind, &object).unwrap()
}

fn report(role: &RoleRecord, config: &str) -> (String, RoleReport) {
    let prefix = role.kind.as_str().to_ascii_lowercase();
    let meta: kube::api::ObjectMeta = serde_json::from_value(json!({
        "name": format!("{prefix}-{}", role.name),
        "namespace": (!role.namespace.is_empty()).then_some(&role.namespace),
        "labels": {"resource-spec-hash": role.spec_hash,
                   "plugin-config-hash": format!("{config}-{}", role.kind.as_str())},
        "ownerReferences": [{"apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": role.kind.as_str(), "name": role.name, "uid": role.uid,
            "controller": true}],
    }))
    .unwrap();
    report_record(&meta).unwrap()
}

fn due_names(observed: &mut Observed, scope: &Scope, config: &str) -> Vec<String> {
    let mut dispatcher = Dispatcher::new(crate::dispatch::tests::config());
    let now = std::time::Instant::now();
    observed.roles.mark_all_dirty();
    round(observed, scope, &mut dispatcher, Some(&hashes(config)), now);
    let mut names: Vec<String> = dispatcher
        .tasks()
        .values()
        .map(|t| t.task.workload.as_ref().unwrap().name.clone())
        .collect();
    names.sort();
    names
}

#[test]
fn new_changed_unreported_and_repoliced_roles_are_due() {
    let mut o = Observed::default();
    o.put_namespace("team".into(), BTreeMap::new());
    let reader = role(RoleKind::Role, "team", "reader", &["get"]);
    let admin = role(RoleKind::ClusterRole, "", "admin", &["*"]);
    o.roles.put_role(reader.clone());
    o.roles.put_role(admin.clone());
    let all = Scope::default();
    assert_eq!(due_names(&mut o, &all, "c1"), ["admin", "reader"]);
    for r in [&reader, &admin] {
        let (owner, rec) = report(r, "c1");
        o.roles.put_report(owner, rec);
    }
    assert!(due_names(&mut o, &all, "c1").is_empty());
    // Changed rules.
    let writer = role(RoleKind::Role, "team", "reader", &["get", "create"]);
    o.roles.put_role(writer.clone());
    assert_eq!(due_names(&mut o, &all, "c1"), ["reader"]);
    let (owner, rec) = report(&writer, "c1");
    o.roles.put_report(owner, rec);
    // A deleted report, then a changed policy.
    o.roles.remove_report("uid-admin", "", "clusterrole-admin");
    assert_eq!(due_names(&mut o, &all, "c1"), ["admin"]);
    let (owner, rec) = report(&admin, "c1");
    o.roles.put_report(owner, rec);
    assert_eq!(due_names(&mut o, &all, "c2"), ["admin", "reader"]);
    // A deleted role is no longer due.
    o.roles.remove_role("uid-reader");
    assert_eq!(due_names(&mut o, &all, "c2"), ["admin"]);
}

#[test]
fn roles_follow_their_namespace_scope_and_cluster_roles_are_always_assessed() {
    let mut o = Observed::default();
    o.put_namespace("team".into(), BTreeMap::new());
    o.put_namespace("other".into(), BTreeMap::new());
    o.roles
        .put_role(role(RoleKind::Role, "team", "a", &["get"]));
    o.roles
        .put_role(role(RoleKind::Role, "other", "b", &["get"]));
    o.roles
        .put_role(role(RoleKind::Role, "unknown", "c", &["get"]));
    o.roles
        .put_role(role(RoleKind::ClusterRole, "", "view", &["get"]));
    let only_team = Scope::new(&ScopeArgs {
        namespaces: vec!["team".into()],
        ..Default::default()
    })
    .unwrap();
    assert_eq!(due_names(&mut o, &only_team, "c"), ["a", "view"]);
    assert_eq!(
        due_names(&mut o, &Scope::default(), "c"),
        ["a", "b", "view"]
    );
}

#[test]
fn a_report_in_another_namespace_or_of_another_role_does_not_count() {
    let mut o = Observed::default();
    o.put_namespace("team".into(), BTreeMap::new());
    let a = role(RoleKind::Role, "team", "a", &["get"]);
    o.roles.put_role(a.clone());
    let (owner, mut rec) = report(&a, "c");
    rec.namespace = "elsewhere".into();
    o.roles.put_report(owner, rec);
    assert_eq!(due_names(&mut o, &Scope::default(), "c"), ["a"]);
}

#[test]
fn tasks_carry_the_role_and_are_sharded_by_namespace_or_cluster_role() {
    let a = role(RoleKind::Role, "team", "a", &["get"]);
    let view = role(RoleKind::ClusterRole, "", "view", &["get"]);
    let due = plan::due(&a, &[], &hashes("c")).unwrap();
    assert_eq!(due.namespace, "team");
    assert_eq!(
        due.task.task_id,
        format!("rbac/uid-a/{}/c-Role", a.spec_hash)
    );
    let w = due.task.workload.unwrap();
    assert_eq!(
        (
            w.kind.as_str(),
            w.namespace.as_str(),
            w.api_version.as_str()
        ),
        ("Role", "team", "rbac.authorization.k8s.io/v1")
    );
    let due = plan::due(&view, &[], &hashes("c")).unwrap();
    assert_eq!(due.namespace, "ClusterRole/view");
    assert_eq!(due.task.workload.unwrap().namespace, "");
    assert!(
        plan::due(&view, &[], &BTreeMap::new()).is_none(),
        "no hash: wait"
    );
}

#[test]
fn a_roles_object_is_kept_only_while_it_is_to_be_sent() {
    let mut o = Observed::default();
    o.put_namespace("team".into(), BTreeMap::new());
    let a = role(RoleKind::Role, "team", "a", &["get"]);
    let b = role(RoleKind::Role, "elsewhere", "b", &["get"]);
    for r in [&a, &b] {
        o.audit_objects.put_json(&r.uid, &r.spec_hash, "{}".into());
        o.roles.put_role(r.clone());
    }
    let mut dispatcher = Dispatcher::new(crate::dispatch::tests::config());
    let now = std::time::Instant::now();
    // Policies not known yet: both kept.
    round(&mut o, &Scope::default(), &mut dispatcher, None, now);
    assert!(o.audit_objects.get("uid-a", &a.spec_hash).is_some());
    assert!(o.audit_objects.get("uid-b", &b.spec_hash).is_some());
    // Due: kept to be sent; out of scope (no such namespace): dropped.
    o.roles.mark_all_dirty();
    round(
        &mut o,
        &Scope::default(),
        &mut dispatcher,
        Some(&hashes("c")),
        now,
    );
    assert!(o.audit_objects.get("uid-a", &a.spec_hash).is_some());
    assert!(o.audit_objects.get("uid-b", &b.spec_hash).is_none());
    // Assessed: dropped.
    let (owner, rec) = report(&a, "c");
    o.roles.put_report(owner, rec);
    round(
        &mut o,
        &Scope::default(),
        &mut dispatcher,
        Some(&hashes("c")),
        now,
    );
    assert!(o.audit_objects.get("uid-a", &a.spec_hash).is_none());
}

#[test]
fn report_bytes_are_counted_once_and_forgotten_with_the_report() {
    let mut o = Observed::default();
    let a = role(RoleKind::Role, "team", "a", &["get"]);
    let (owner, mut rec) = report(&a, "c");
    rec.bytes = 1000;
    o.roles.put_report(owner.clone(), rec.clone());
    // Rewritten: replaced, not added.
    rec.bytes = 1200;
    o.roles.put_report(owner.clone(), rec.clone());
    assert_eq!(o.roles.bytes(), 1200);
    assert_eq!(o.report_bytes(), 1200);
    o.roles.remove_report(&owner, &rec.namespace, &rec.name);
    assert_eq!(o.roles.bytes(), 0);
}

//! Which events make an object's audit due, and where its work is sharded.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use serde_json::json;

use super::folds::{object_record, report_record};
use super::*;
use crate::args::ScopeArgs;

fn hashes(config: &str) -> BTreeMap<String, String> {
    ObjectKind::ALL
        .into_iter()
        .map(|k| (k.as_str().to_owned(), format!("{config}-{}", k.as_str())))
        .collect()
}

fn role(kind: ObjectKind, namespace: &str, name: &str, verbs: &[&str]) -> ObjectRecord {
    let mut object = json!({"kind": kind.as_str(),
        "metadata": {"name": name, "uid": format!("uid-{name}")},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": verbs}]});
    if kind == ObjectKind::Role {
        object["metadata"]["namespace"] = json!(namespace);
    }
    object_record(kind, &object).unwrap()
}

fn report(role: &ObjectRecord, config: &str) -> (String, RoleReport) {
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

/// The names of the objects due after a full re-plan.
fn due_names(observed: &mut Observed, scope: &Scope, config: &str) -> Vec<String> {
    observed.objects.mark_all_dirty();
    dirty_due_names(observed, scope, config)
}

/// The names of the objects due after a round of only the dirty ones.
fn dirty_due_names(observed: &mut Observed, scope: &Scope, config: &str) -> Vec<String> {
    let mut dispatcher = Dispatcher::new(crate::dispatch::tests::config());
    let now = std::time::Instant::now();
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
    let reader = role(ObjectKind::Role, "team", "reader", &["get"]);
    let admin = role(ObjectKind::ClusterRole, "", "admin", &["*"]);
    o.objects.put_object(reader.clone());
    o.objects.put_object(admin.clone());
    let all = Scope::default();
    assert_eq!(due_names(&mut o, &all, "c1"), ["admin", "reader"]);
    for r in [&reader, &admin] {
        let (owner, rec) = report(r, "c1");
        o.objects.put_report(owner, rec);
    }
    assert!(due_names(&mut o, &all, "c1").is_empty());
    // Changed rules.
    let writer = role(ObjectKind::Role, "team", "reader", &["get", "create"]);
    o.objects.put_object(writer.clone());
    assert_eq!(due_names(&mut o, &all, "c1"), ["reader"]);
    let (owner, rec) = report(&writer, "c1");
    o.objects.put_report(owner, rec);
    // A deleted report, then a changed policy.
    o.objects
        .remove_report("uid-admin", "", "clusterrole-admin");
    assert_eq!(due_names(&mut o, &all, "c1"), ["admin"]);
    let (owner, rec) = report(&admin, "c1");
    o.objects.put_report(owner, rec);
    assert_eq!(due_names(&mut o, &all, "c2"), ["admin", "reader"]);
    // A deleted role is no longer due.
    o.objects.remove_object("uid-reader");
    assert_eq!(due_names(&mut o, &all, "c2"), ["admin"]);
}

#[test]
fn roles_follow_their_namespace_scope_and_cluster_roles_are_always_assessed() {
    let mut o = Observed::default();
    o.put_namespace("team".into(), BTreeMap::new());
    o.put_namespace("other".into(), BTreeMap::new());
    o.objects
        .put_object(role(ObjectKind::Role, "team", "a", &["get"]));
    o.objects
        .put_object(role(ObjectKind::Role, "other", "b", &["get"]));
    o.objects
        .put_object(role(ObjectKind::Role, "unknown", "c", &["get"]));
    o.objects
        .put_object(role(ObjectKind::ClusterRole, "", "view", &["get"]));
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
    let a = role(ObjectKind::Role, "team", "a", &["get"]);
    o.objects.put_object(a.clone());
    let (owner, mut rec) = report(&a, "c");
    rec.namespace = "elsewhere".into();
    o.objects.put_report(owner, rec);
    assert_eq!(due_names(&mut o, &Scope::default(), "c"), ["a"]);
}

#[test]
fn tasks_carry_the_role_and_are_sharded_by_namespace_or_cluster_role() {
    let a = role(ObjectKind::Role, "team", "a", &["get"]);
    let view = role(ObjectKind::ClusterRole, "", "view", &["get"]);
    let due = plan::due(&a, &[], &hashes("c")).unwrap();
    assert_eq!(due.namespace, "team");
    assert_eq!(
        due.task.task_id,
        format!("object/uid-a/{}/c-Role", a.spec_hash)
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
    let a = role(ObjectKind::Role, "team", "a", &["get"]);
    let b = role(ObjectKind::Role, "elsewhere", "b", &["get"]);
    for r in [&a, &b] {
        o.audit_objects.put_json(&r.uid, &r.spec_hash, "{}".into());
        o.objects.put_object(r.clone());
    }
    let mut dispatcher = Dispatcher::new(crate::dispatch::tests::config());
    let now = std::time::Instant::now();
    // Policies not known yet: both kept.
    round(&mut o, &Scope::default(), &mut dispatcher, None, now);
    assert!(o.audit_objects.get("uid-a", &a.spec_hash).is_some());
    assert!(o.audit_objects.get("uid-b", &b.spec_hash).is_some());
    // Due: kept to be sent; out of scope (no such namespace): dropped.
    o.objects.mark_all_dirty();
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
    o.objects.put_report(owner, rec);
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
    let a = role(ObjectKind::Role, "team", "a", &["get"]);
    let (owner, mut rec) = report(&a, "c");
    rec.bytes = 1000;
    o.objects.put_report(owner.clone(), rec.clone());
    // Rewritten: replaced, not added.
    rec.bytes = 1200;
    o.objects.put_report(owner.clone(), rec.clone());
    assert_eq!(o.objects.bytes(), 1200);
    assert_eq!(o.report_bytes(), 1200);
    o.objects.remove_report(&owner, &rec.namespace, &rec.name);
    assert_eq!(o.objects.bytes(), 0);
}

/// An object of a config-audited kind, e.g. a Service with a spec.
fn resource(
    kind: ObjectKind,
    namespace: &str,
    name: &str,
    content: serde_json::Value,
) -> ObjectRecord {
    let mut object = json!({"apiVersion": kind.api_version(), "kind": kind.as_str(),
        "metadata": {"name": name, "uid": format!("uid-{name}")}});
    if !kind.cluster_scoped() {
        object["metadata"]["namespace"] = json!(namespace);
    }
    for (key, value) in content.as_object().unwrap() {
        object[key] = value.clone();
    }
    object_record(kind, &object).unwrap()
}

/// The ConfigAuditReport (or ClusterConfigAuditReport) of an object, as the report watch
/// folds it.
fn audit_report(
    object: &ObjectRecord,
    namespace: &str,
    config: &str,
) -> (String, crate::observed::AuditReportMeta) {
    let meta: kube::api::ObjectMeta = serde_json::from_value(json!({
        "name": format!("{}-{}", object.kind.as_str().to_ascii_lowercase(), object.name),
        "namespace": (!namespace.is_empty()).then_some(namespace),
        "labels": {"resource-spec-hash": object.spec_hash,
                   "plugin-config-hash": format!("{config}-{}", object.kind.as_str()),
                   "trivy-operator.resource.kind": object.kind.as_str()},
        "ownerReferences": [{"apiVersion": object.kind.api_version(),
            "kind": object.kind.as_str(), "name": object.name, "uid": object.uid,
            "controller": true}],
    }))
    .unwrap();
    crate::observed::audit_report_from_meta(&meta).unwrap()
}

#[test]
fn config_audited_kinds_are_due_until_their_config_audit_report_is_fresh() {
    let mut o = Observed::default();
    o.put_namespace("team".into(), BTreeMap::new());
    let svc = resource(
        ObjectKind::Service,
        "team",
        "web",
        json!({"spec": {"ports": [{"port": 80}]}}),
    );
    let cm = resource(
        ObjectKind::ConfigMap,
        "team",
        "settings",
        json!({"data": {"a": "1"}}),
    );
    let crb = resource(
        ObjectKind::ClusterRoleBinding,
        "",
        "admins",
        json!({"roleRef": {"kind": "ClusterRole", "name": "cluster-admin"}, "subjects": []}),
    );
    for object in [&svc, &cm, &crb] {
        o.objects.put_object(object.clone());
    }
    let all = Scope::default();
    assert_eq!(due_names(&mut o, &all, "c1"), ["admins", "settings", "web"]);
    // Their reports, as the audit report watches fold them, make them fresh (a report in
    // another namespace naming the uid does not count).
    let (owner, stray) = audit_report(&svc, "other", "c1");
    o.put_audit_report(owner, stray);
    for (object, namespace) in [(&svc, "team"), (&cm, "team"), (&crb, "")] {
        let (owner, report) = audit_report(object, namespace, "c1");
        o.put_audit_report(owner, report);
    }
    assert!(due_names(&mut o, &all, "c1").is_empty());
    // Changed content, a deleted report, a changed policy.
    let changed = resource(
        ObjectKind::ConfigMap,
        "team",
        "settings",
        json!({"data": {"a": "2"}}),
    );
    o.objects.put_object(changed);
    assert_eq!(due_names(&mut o, &all, "c1"), ["settings"]);
    o.remove_audit_report("uid-web", "service-web");
    assert_eq!(
        dirty_due_names(&mut o, &all, "c1"),
        ["web"],
        "a removed report dirties its object without a full re-plan"
    );
    assert_eq!(due_names(&mut o, &all, "c2"), ["admins", "settings", "web"]);
}

#[test]
fn config_audit_tasks_name_the_object_and_cluster_scoped_ones_shard_on_their_own_key() {
    let svc = resource(ObjectKind::Service, "team", "web", json!({"spec": {}}));
    let due = plan::due(&svc, &[], &hashes("c")).unwrap();
    assert_eq!(due.namespace, "team");
    assert_eq!(due.task.kind, common::proto::TaskKind::ResourceAudit as i32);
    let w = due.task.workload.unwrap();
    assert_eq!(
        (
            w.kind.as_str(),
            w.api_version.as_str(),
            w.namespace.as_str()
        ),
        ("Service", "v1", "team")
    );
    let crd = resource(
        ObjectKind::CustomResourceDefinition,
        "",
        "widgets.example.com",
        json!({"spec": {}}),
    );
    let due = plan::due(&crd, &[], &hashes("c")).unwrap();
    assert_eq!(
        due.namespace,
        "CustomResourceDefinition/widgets.example.com"
    );
    let w = due.task.workload.unwrap();
    assert_eq!(
        (w.api_version.as_str(), w.namespace.as_str()),
        ("apiextensions.k8s.io/v1", "")
    );
    let role = role(ObjectKind::Role, "team", "a", &["get"]);
    assert_eq!(
        plan::due(&role, &[], &hashes("c")).unwrap().task.kind,
        common::proto::TaskKind::RbacAssessment as i32
    );
    // A kind without a hash (its report CRD missing, or not audited) waits.
    let mut only_roles = hashes("c");
    only_roles.retain(|k, _| k == "Role");
    assert!(plan::due(&svc, &[], &only_roles).is_none());
}

#[test]
fn audited_kinds_follow_the_switches() {
    assert_eq!(
        audited_kinds(true, false),
        [ObjectKind::Role, ObjectKind::ClusterRole]
    );
    assert_eq!(audited_kinds(false, true).len(), 11);
    assert!(audited_kinds(false, true).iter().all(|k| !k.is_role()));
    assert!(audited_kinds(false, false).is_empty());
}

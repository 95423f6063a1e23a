//! The built-in RBAC checks against Roles and ClusterRoles: each check fails for the rules
//! upstream's fails for (and only those), with upstream's message — including upstream's own
//! expected report for a Role that reads secrets — and a read-only role fails none.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use common::audit::{PolicyEngine, audit};
use common::policy_config::PolicyConfig;
use serde_json::{Value, json};

fn engine() -> PolicyEngine {
    PolicyEngine::compile(&PolicyConfig::default(), true).unwrap()
}

/// A role of `kind` named `r` (a Role in namespace `team`) with `rules`.
fn role(kind: &str, rules: Value) -> Value {
    let mut metadata = json!({"name": "r", "uid": "u1"});
    if kind == "Role" {
        metadata["namespace"] = json!("team");
    }
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind,
        "metadata": metadata, "rules": rules})
}

fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> Value {
    json!({"apiGroups": groups, "resources": resources, "verbs": verbs})
}

fn failed(engine: &PolicyEngine, role: &Value) -> BTreeSet<String> {
    let kind = role["kind"].as_str().unwrap();
    audit(engine, kind, role, false)
        .into_iter()
        .map(|c| c.check_id)
        .collect()
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|id| format!("KSV{id}")).collect()
}

#[test]
fn a_read_only_role_passes_every_rbac_check_and_no_workload_check_runs() {
    let engine = engine();
    for kind in ["Role", "ClusterRole"] {
        let reader = role(
            kind,
            json!([rule(
                &[""],
                &["pods", "services", "configmaps"],
                &["get", "list", "watch"]
            )]),
        );
        let checks = audit(&engine, kind, &reader, true);
        assert!(checks.iter().all(|c| c.success), "{kind}: {checks:#?}");
        assert!(checks.iter().all(|c| c.check_id.starts_with("KSV")));
        let ids: BTreeSet<String> = checks.iter().map(|c| c.check_id.clone()).collect();
        // The workload checks do not run on roles.
        assert!(
            !ids.contains("KSV001") && !ids.contains("KSV011"),
            "{ids:?}"
        );
        // 20 checks, two of them for ClusterRoles only and two for Roles only.
        assert_eq!(ids.len(), 18, "{kind}: {ids:?}");
    }
    // And the RBAC checks do not run on workloads.
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "rules": [rule(&["*"], &["*"], &["*"])],
        "spec": {"containers": [{"name": "c", "image": "nginx"}]}});
    assert!(
        audit(&engine, "Pod", &pod, false)
            .iter()
            .all(|c| c.check_id != "KSV044")
    );
}

/// (kind, rules, failed checks)
fn cases() -> Vec<(&'static str, Value, BTreeSet<String>)> {
    let rbac = "rbac.authorization.k8s.io";
    vec![
        // KSV041 for ClusterRoles, KSV113 for Roles: any verb on secrets but `use`.
        (
            "ClusterRole",
            json!([rule(&[""], &["secrets"], &["get"])]),
            set(&["041"]),
        ),
        (
            "Role",
            json!([rule(&[""], &["secrets"], &["watch"])]),
            set(&["113"]),
        ),
        (
            "ClusterRole",
            json!([rule(&[""], &["secrets"], &["use"])]),
            set(&[]),
        ),
        // KSV042.
        (
            "Role",
            json!([rule(&[""], &["pods/log"], &["deletecollection"])]),
            set(&["042"]),
        ),
        (
            "Role",
            json!([rule(&[""], &["pods/log"], &["get"])]),
            set(&[]),
        ),
        // KSV043: only with the `*` API group.
        (
            "Role",
            json!([rule(&["*"], &["groups"], &["impersonate"])]),
            set(&["043"]),
        ),
        (
            "Role",
            json!([rule(&[""], &["groups"], &["impersonate"])]),
            set(&[]),
        ),
        // KSV044 and every check a wildcard resource with a wildcard verb meets.
        (
            "Role",
            json!([rule(&["*"], &["*"], &["*"])]),
            set(&["044", "112"]),
        ),
        (
            "ClusterRole",
            json!([rule(&["*"], &["*"], &["*"])]),
            set(&["044", "046"]),
        ),
        // KSV045: a wildcard verb on a listed resource (pods are also workloads: KSV048).
        (
            "Role",
            json!([rule(&[""], &["pods"], &["*"])]),
            set(&["045", "048"]),
        ),
        (
            "Role",
            json!([rule(&[""], &["users"], &["*"])]),
            set(&["045"]),
        ),
        // KSV046 for ClusterRoles, KSV112 for Roles: the `*` resource with a listed verb.
        (
            "ClusterRole",
            json!([rule(&[""], &["*"], &["list"])]),
            set(&["046"]),
        ),
        (
            "Role",
            json!([rule(&[""], &["*"], &["get"])]),
            set(&["112"]),
        ),
        ("Role", json!([rule(&[""], &["*"], &["watch"])]), set(&[])),
        // KSV047.
        (
            "ClusterRole",
            json!([rule(&[""], &["nodes/proxy"], &["get"])]),
            set(&["047"]),
        ),
        // KSV048, KSV049, KSV050.
        (
            "Role",
            json!([rule(&["apps"], &["deployments"], &["update"])]),
            set(&["048"]),
        ),
        (
            "Role",
            json!([rule(&[""], &["configmaps"], &["create"])]),
            set(&["049"]),
        ),
        (
            "Role",
            json!([rule(&[rbac], &["roles"], &["bind"])]),
            set(&["050"]),
        ),
        // KSV051: creating role bindings, then binding any role — in that order.
        (
            "Role",
            json!([
                rule(&[rbac], &["rolebindings"], &["create"]),
                {"apiGroups": [rbac], "resources": ["clusterroles"], "verbs": ["bind"], "resourceNames": ["*"]}
            ]),
            set(&["051"]),
        ),
        (
            "Role",
            json!([
                {"apiGroups": [rbac], "resources": ["clusterroles"], "verbs": ["bind"], "resourceNames": ["*"]},
                rule(&[rbac], &["rolebindings"], &["create"])
            ]),
            set(&[]),
        ),
        (
            "Role",
            json!([
                rule(&[rbac], &["rolebindings"], &["create"]),
                {"apiGroups": [""], "resources": ["clusterroles"], "verbs": ["bind"], "resourceNames": ["*"]}
            ]),
            set(&[]),
        ),
        // KSV052: the same with cluster role bindings; the second rule's API groups are not
        // read.
        (
            "ClusterRole",
            json!([
                rule(&[rbac], &["clusterrolebindings"], &["create"]),
                {"apiGroups": [""], "resources": ["clusterroles"], "verbs": ["bind"], "resourceNames": ["*"]}
            ]),
            set(&["052"]),
        ),
        // KSV053.
        (
            "Role",
            json!([rule(&[""], &["pods/exec"], &["create"])]),
            set(&["053"]),
        ),
        (
            "Role",
            json!([rule(&[""], &["pods/exec"], &["get"])]),
            set(&[]),
        ),
        // KSV054: attach, then read pods, both in the `*` group.
        (
            "Role",
            json!([
                rule(&["*"], &["pods/attach"], &["create"]),
                rule(&["*"], &["pods"], &["get"])
            ]),
            set(&["054"]),
        ),
        (
            "Role",
            json!([
                rule(&[""], &["pods/attach"], &["create"]),
                rule(&[""], &["pods"], &["get"])
            ]),
            set(&[]),
        ),
        // KSV055: get and patch on role bindings in one rule.
        (
            "Role",
            json!([rule(&["*"], &["rolebindings"], &["get", "patch"])]),
            set(&["055"]),
        ),
        (
            "Role",
            json!([rule(&["*"], &["rolebindings"], &["get"])]),
            set(&[]),
        ),
        // KSV056.
        (
            "Role",
            json!([rule(
                &["networking.k8s.io"],
                &["networkpolicies"],
                &["delete"]
            )]),
            set(&["056"]),
        ),
        // KSV114.
        (
            "ClusterRole",
            json!([rule(
                &["admissionregistration.k8s.io"],
                &["validatingwebhookconfigurations"],
                &["patch"]
            )]),
            set(&["114"]),
        ),
        // KSV115: writing the aws-auth ConfigMap (any ConfigMap write is KSV049 too).
        (
            "Role",
            json!([{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["update"], "resourceNames": ["aws-auth"]}]),
            set(&["049", "115"]),
        ),
    ]
}

#[test]
fn each_check_fails_exactly_for_the_rules_upstream_fails() {
    let engine = engine();
    for (i, (kind, rules, want)) in cases().into_iter().enumerate() {
        let role = role(kind, rules.clone());
        assert_eq!(failed(&engine, &role), want, "case {i}: {kind} {rules}");
    }
}

#[test]
fn messages_are_upstreams() {
    let engine = engine();
    let message = |kind: &str, rules: Value, id: &str| -> String {
        let checks = audit(&engine, kind, &role(kind, rules), false);
        let check = checks.iter().find(|c| c.check_id == id).unwrap();
        assert_eq!(check.messages.len(), 1, "{check:#?}");
        check.messages[0].clone()
    };
    assert_eq!(
        message(
            "ClusterRole",
            json!([rule(&[""], &["secrets"], &["get"])]),
            "KSV041"
        ),
        "ClusterRole 'r' shouldn't have access to manage resource 'secrets'"
    );
    assert_eq!(
        message("Role", json!([rule(&[""], &["*"], &["get"])]), "KSV112"),
        "Role 'r' shouldn't manage all resources at the namespace 'team'"
    );
    assert_eq!(
        message(
            "Role",
            json!([rule(&["apps"], &["deployments"], &["update"])]),
            "KSV048"
        ),
        "Role 'r' should not have access to resources [\"pods\", \"deployments\", \"jobs\", \
         \"cronjobs\", \"statefulsets\", \"daemonsets\", \"replicasets\", \
         \"replicationcontrollers\"] for verbs [\"create\", \"update\", \"patch\", \"delete\", \
         \"deletecollection\", \"impersonate\", \"*\"]"
    );
    assert_eq!(
        message(
            "Role",
            json!([rule(&[""], &["pods/exec"], &["create"])]),
            "KSV053"
        ),
        "Role 'r' should not have access to resource '[\"pods/exec\"]' for verbs [\"create\", \
         \"update\", \"patch\", \"delete\", \"deletecollection\", \"impersonate\", \"*\"]"
    );
    assert_eq!(
        message("Role", json!([rule(&["*"], &["*"], &["*"])]), "KSV044"),
        "Role permits wildcard verb on wildcard resource"
    );
}

/// Upstream's expected RbacAssessmentReport for its test Role `proxy` (reads secrets, no
/// namespace in its manifest: upstream's messages then say `default`).
#[test]
fn upstreams_role_fixture_gives_upstreams_check() {
    let engine = engine();
    let proxy = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": {"name": "proxy"},
        "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "watch"]}]});
    let checks = audit(&engine, "Role", &proxy, false);
    assert_eq!(checks.len(), 1, "{checks:#?}");
    let check = &checks[0];
    assert_eq!(check.check_id, "KSV113");
    assert_eq!(check.title, "Manage namespace secrets");
    assert_eq!(check.severity, "MEDIUM");
    assert_eq!(check.category, "Kubernetes Security Check");
    assert_eq!(
        check.description,
        "Viewing secrets at the namespace scope can lead to escalation if another service \
         account in that namespace has a higher privileged rolebinding or clusterrolebinding \
         bound."
    );
    assert_eq!(
        check.remediation,
        "Manage namespace secrets are not allowed. Remove resource 'secrets' from role"
    );
    assert_eq!(
        check.messages,
        ["Role 'proxy' shouldn't have access to manage secrets in namespace 'default'"]
    );
}

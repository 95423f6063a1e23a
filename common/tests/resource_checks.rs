//! The built-in checks of the audited kinds besides workloads and roles (NetworkPolicy,
//! LimitRange, ResourceQuota, Service, ConfigMap, RoleBinding, ClusterRoleBinding): each
//! fails exactly where upstream's does — upstream's test cases and its quirks included —
//! with upstream's title, severity and message, and each runs only for its own kinds.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};

use common::audit::PolicyEngine;
use common::policy_config::{PolicyConfig, RESOURCE_KINDS, WORKLOAD_KINDS};
use common::reports::config_audit::Check;
use serde_json::{Value, json};

#[path = "resource_checks/bindings.rs"]
mod bindings;
#[path = "resource_checks/config_maps.rs"]
mod config_maps;

fn engine() -> PolicyEngine {
    PolicyEngine::compile(&PolicyConfig::default(), true).unwrap()
}

/// An object of `kind` named `name` (no namespace) with the top-level `fields`.
fn object(kind: &str, name: &str, fields: Value) -> Value {
    let mut object = json!({"apiVersion": "v1", "kind": kind, "metadata": {"name": name}});
    for (key, value) in fields.as_object().unwrap() {
        object[key] = value.clone();
    }
    object
}

/// The check `id` of `object`, which must have been evaluated.
fn check(engine: &PolicyEngine, object: &Value, id: &str) -> Check {
    let kind = object["kind"].as_str().unwrap();
    let checks = engine.evaluate(kind, object);
    let found: Vec<Check> = checks.into_iter().filter(|c| c.check_id == id).collect();
    assert_eq!(found.len(), 1, "{id} of {object}: {found:#?}");
    found.into_iter().next().unwrap()
}

/// A case: what it shows, the object, and the message of the failure (`None`: it passes).
type Case<'a> = (&'static str, Value, Option<&'a str>);

fn assert_cases(engine: &PolicyEngine, id: &str, cases: Vec<Case<'_>>) {
    for (label, object, failure) in cases {
        let check = check(engine, &object, id);
        assert_ne!(check.severity, "UNKNOWN", "{id} {label}: {check:#?}");
        match failure {
            None => assert!(check.success, "{id} {label}: {check:#?}"),
            Some(message) => {
                assert!(!check.success, "{id} {label}");
                assert_eq!(check.messages, vec![message], "{id} {label}");
            }
        }
    }
}

/// The checks of this file: ID, kinds, title, severity.
const CHECKS: [(&str, &[&str], &str, &str); 10] = [
    (
        "KSV038",
        &["NetworkPolicy"],
        "Selector usage in network policies",
        "MEDIUM",
    ),
    ("KSV039", &["LimitRange"], "limit range usage", "LOW"),
    ("KSV040", &["ResourceQuota"], "resource quota usage", "LOW"),
    ("KSV108", &["Service"], "Service with External IP", "HIGH"),
    ("KSV109", &["ConfigMap"], "ConfigMap with secrets", "HIGH"),
    (
        "KSV01010",
        &["ConfigMap"],
        "ConfigMap with sensitive content",
        "MEDIUM",
    ),
    (
        "KSV111",
        &["RoleBinding", "ClusterRoleBinding"],
        "User with admin access",
        "MEDIUM",
    ),
    (
        "KSV01011",
        &["RoleBinding", "ClusterRoleBinding"],
        "system:authenticate group access binding",
        "CRITICAL",
    ),
    (
        "KSV122",
        &["RoleBinding", "ClusterRoleBinding"],
        "Anonymous user access binding",
        "CRITICAL",
    ),
    (
        "KSV123",
        &["RoleBinding", "ClusterRoleBinding"],
        "system:masters group access binding",
        "CRITICAL",
    ),
];

#[test]
fn each_check_runs_for_its_kinds_only_with_upstreams_metadata() {
    let engine = engine();
    let kinds =
        WORKLOAD_KINDS
            .iter()
            .chain(&RESOURCE_KINDS)
            .chain(&["Deployment", "Role", "ClusterRole"]);
    for kind in kinds {
        let checks = engine.evaluate(kind, &object(kind, "x", json!({})));
        if RESOURCE_KINDS.contains(kind) {
            assert!(checks.iter().all(|c| c.check_id != "KSV001"), "{kind}");
        }
        for (id, check_kinds, title, severity) in CHECKS {
            let found: Vec<&Check> = checks.iter().filter(|c| c.check_id == id).collect();
            if !check_kinds.contains(kind) {
                assert!(found.is_empty(), "{id} evaluated for {kind}");
                continue;
            }
            assert_eq!(found.len(), 1, "{id} for {kind}: {checks:#?}");
            assert_eq!(found[0].title, title, "{id}");
            assert_eq!(found[0].severity, severity, "{id}");
            assert_eq!(found[0].category, "Kubernetes Security Check");
            assert!(!found[0].description.is_empty() && !found[0].remediation.is_empty());
        }
    }
    // No workload check runs for these kinds: a Service gets KSV037 and KSV108 only.
    let service = object("Service", "s", json!({"spec": {"type": "ClusterIP"}}));
    let ids: BTreeSet<String> = engine
        .evaluate("Service", &service)
        .into_iter()
        .map(|c| c.check_id)
        .collect();
    assert_eq!(
        ids,
        ["KSV037", "KSV108"].map(str::to_owned).into(),
        "{ids:?}"
    );
}

#[test]
fn ksv038_network_policies_select_pods_or_namespaces() {
    let policy = |spec: Value| object("NetworkPolicy", "access-nginx", json!({"spec": spec}));
    let labels = json!({"matchLabels": {"access": "true"}});
    let msg = "Network policy should uses podSelector and/or the namespaceSelector to restrict \
               ingress and egress traffic within the Pod network";
    let cases: Vec<Case> = vec![
        (
            "pod selector",
            policy(json!({"podSelector": {"matchLabels": {"app": "nginx"}},
                "ingress": [{"from": [{"podSelector": labels}]}]})),
            None,
        ),
        (
            "no selector",
            policy(json!({"ingress": [{"from": [{}]}]})),
            Some(msg),
        ),
        (
            "namespace selector",
            policy(json!({"namespaceSelector": labels})),
            None,
        ),
        (
            "ingress pod selector",
            policy(json!({"ingress": [{"from": [{"podSelector": labels}]}]})),
            None,
        ),
        (
            "ingress namespace selector",
            policy(
                json!({"ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}},
                {"namespaceSelector": labels}]}]}),
            ),
            None,
        ),
        (
            "egress namespace selector",
            policy(json!({"egress": [{"to": [{"namespaceSelector": labels}]}]})),
            None,
        ),
        (
            "egress pod selector",
            policy(json!({"egress": [{"ports": [{"port": 53}]}, {"to": [{"podSelector": {}}]}]})),
            None,
        ),
        (
            "deny all egress",
            policy(json!({"podSelector": {}, "policyType": ["Egress"]})),
            None,
        ),
        // The API server always writes `podSelector`, at least `{}`: such a policy passes.
        (
            "empty pod selector",
            policy(json!({"podSelector": {}})),
            None,
        ),
        (
            "ip blocks only",
            policy(
                json!({"ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}],
                "egress": [{"to": []}]}),
            ),
            Some(msg),
        ),
        ("empty spec", policy(json!({})), Some(msg)),
        (
            "no spec",
            object("NetworkPolicy", "n", json!({})),
            Some(msg),
        ),
    ];
    assert_cases(&engine(), "KSV038", cases);
}

#[test]
fn ksv039_a_limit_range_gives_every_bound_for_one_kind() {
    let range = |limits: Value| object("LimitRange", "l", json!({"spec": {"limits": limits}}));
    let full = json!({"type": "Container", "max": {"cpu": "2"}, "min": {"cpu": "100m"},
        "default": {"cpu": "300m"}, "defaultRequest": {"cpu": "200m"}});
    let without = |field: &str| {
        let mut limit = full.clone();
        limit.as_object_mut().unwrap().remove(field);
        limit
    };
    let msg = "A LimitRange policy with a default requests and limits for each container \
               should be configured";
    let pod = json!({"type": "Pod", "max": {"cpu": "2"}, "min": {"cpu": "200m"}});
    let mut cases: Vec<Case> = vec![
        ("complete", range(json!([pod, full])), None),
        (
            "no limits",
            object("LimitRange", "l", json!({"spec": {}})),
            Some(msg),
        ),
        ("no spec", object("LimitRange", "l", json!({})), Some(msg)),
        ("partial only", range(json!([pod])), Some(msg)),
    ];
    for field in ["type", "max", "min", "default", "defaultRequest"] {
        cases.push((
            "a bound missing",
            range(json!([pod, without(field)])),
            Some(msg),
        ));
    }
    assert_cases(&engine(), "KSV039", cases);
}

#[test]
fn ksv040_a_resource_quota_caps_cpu_and_memory() {
    let all = [
        "requests.cpu",
        "requests.memory",
        "limits.cpu",
        "limits.memory",
    ];
    let quota = |resources: &[&str]| {
        let hard: BTreeMap<&str, &str> = resources.iter().map(|r| (*r, "1")).collect();
        object("ResourceQuota", "q", json!({"spec": {"hard": hard}}))
    };
    let msg = "A resource quota policy with hard memory and CPU limits should be configured \
               per namespace";
    let mut cases: Vec<Case> = vec![
        ("complete", quota(&all), None),
        (
            "no hard",
            object("ResourceQuota", "q", json!({"spec": {}})),
            Some(msg),
        ),
        // `cpu` means `requests.cpu` to the API server, not to upstream.
        (
            "short names",
            quota(&["cpu", "memory", "limits.cpu", "limits.memory"]),
            Some(msg),
        ),
    ];
    for missing in all {
        let rest: Vec<&str> = all.into_iter().filter(|r| *r != missing).collect();
        cases.push(("one missing", quota(&rest), Some(msg)));
    }
    assert_cases(&engine(), "KSV040", cases);
}

#[test]
fn ksv108_services_set_neither_external_ips_nor_an_external_name() {
    let service = |spec: Value| {
        let mut s = object("Service", "svc", json!({"spec": spec}));
        s["metadata"]["namespace"] = json!("apps");
        s
    };
    let msg = "Service 'svc' in 'apps' namespace should not set external IPs or external Name";
    let ports = json!([{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 9376}]);
    let cases: Vec<Case> = vec![
        (
            "external IP",
            service(json!({"ports": ports, "externalIPs": ["192.168.0.106"]})),
            Some(msg),
        ),
        // OPA evaluates upstream's `not allowedNames[spec.externalName]` as undefined, not
        // true, without an externalName: a plain Service passes.
        (
            "plain",
            service(json!({"ports": ports, "selector": {"app": "x"}, "type": "ClusterIP"})),
            None,
        ),
        ("no external IPs", service(json!({"externalIPs": []})), None),
        (
            "external name",
            service(json!({"type": "ExternalName", "externalName": "db.example.com"})),
            Some(msg),
        ),
        (
            "both",
            service(json!({"externalName": "x", "externalIPs": ["10.0.0.1", "10.0.0.2"]})),
            Some(msg),
        ),
        (
            "no namespace",
            object(
                "Service",
                "s",
                json!({"spec": {"externalIPs": ["10.0.0.1"]}}),
            ),
            Some("Service 's' in 'default' namespace should not set external IPs or external Name"),
        ),
    ];
    assert_cases(&engine(), "KSV108", cases);
}

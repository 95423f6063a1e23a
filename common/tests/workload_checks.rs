//! The workload checks added from upstream's library (KSV004, KSV110, KSV116, KSV118,
//! KSV120, KSV-0124, KSV0125), one table each: every case fails exactly where upstream's
//! check does — its test cases and its quirks included (init containers count, ephemeral
//! ones do not; pod-level and container-level settings; controllers' and CronJobs' pod
//! templates) — with upstream's messages, and each check runs for the workload kinds only.

#![allow(clippy::unwrap_used)]

use common::audit::PolicyEngine;
use common::policy_config::{PolicyConfig, RESOURCE_KINDS, WORKLOAD_KINDS};
use common::reports::config_audit::Check;
use serde_json::{Value, json};

#[path = "workload_checks/images.rs"]
mod images;
#[path = "workload_checks/security_context.rs"]
mod security_context;

fn engine() -> PolicyEngine {
    PolicyEngine::compile(&PolicyConfig::default(), true).unwrap()
}

/// A workload of `kind` named `w` in `namespace` (none when `None`) whose pod template
/// (the Pod's own spec for a Pod) is `pod_spec`.
fn workload(kind: &str, namespace: Option<&str>, pod_spec: Value) -> Value {
    let template = json!({"metadata": {"labels": {"app": "w"}}, "spec": pod_spec});
    let spec = match kind {
        "Pod" => pod_spec,
        "CronJob" => {
            json!({"schedule": "* * * * *", "jobTemplate": {"spec": {"template": template}}})
        }
        _ => json!({"template": template}),
    };
    let mut object =
        json!({"apiVersion": "v1", "kind": kind, "metadata": {"name": "w"}, "spec": spec});
    if let Some(namespace) = namespace {
        object["metadata"]["namespace"] = json!(namespace);
    }
    object
}

/// A Pod `w` in namespace `shop` with `pod_spec`.
fn pod(pod_spec: Value) -> Value {
    workload("Pod", Some("shop"), pod_spec)
}

/// The check `id` of `object`, evaluated as its own kind.
fn check(engine: &PolicyEngine, object: &Value, id: &str) -> Check {
    let kind = object["kind"].as_str().unwrap();
    let found: Vec<Check> = engine
        .evaluate(kind, object)
        .into_iter()
        .filter(|c| c.check_id == id)
        .collect();
    assert_eq!(found.len(), 1, "{id} of {object}: {found:#?}");
    found.into_iter().next().unwrap()
}

/// A case: what it shows, the object, and the messages of the failure (none: it passes).
type Case = (&'static str, Value, &'static [&'static str]);

fn assert_cases(engine: &PolicyEngine, id: &str, cases: Vec<Case>) {
    for (label, object, messages) in cases {
        let check = check(engine, &object, id);
        assert_ne!(check.severity, "UNKNOWN", "{id} {label}: {check:#?}");
        assert_eq!(
            check.success,
            messages.is_empty(),
            "{id} {label}: {check:#?}"
        );
        let mut got = check.messages.clone();
        got.sort();
        let mut want: Vec<String> = messages.iter().map(|m| (*m).to_owned()).collect();
        want.sort();
        assert_eq!(got, want, "{id} {label}");
    }
}

/// The checks of these tables: ID, title, severity, remediation (upstream gives KSV-0124
/// none).
const CHECKS: [(&str, &str, &str, &str); 7] = [
    (
        "KSV004",
        "Default capabilities: some containers do not drop any",
        "LOW",
        "Specify at least one unneeded capability in 'containers[].securityContext.capabilities.drop'",
    ),
    (
        "KSV110",
        "Workloads in the default namespace",
        "LOW",
        "Set 'metadata.namespace' to a non-default namespace.",
    ),
    (
        "KSV116",
        "Runs with a root primary or supplementary GID",
        "LOW",
        "Set 'containers[].securityContext.runAsGroup' to a non-zero integer or leave undefined.",
    ),
    (
        "KSV118",
        "Default security context configured",
        "HIGH",
        "To enhance security, it is strongly recommended not to rely on the default security context. Instead, it is advisable to explicitly define the required security parameters (such as runAsNonRoot, capabilities, readOnlyRootFilesystem, etc.) within the security context.",
    ),
    (
        "KSV120",
        "SYS_MODULE capability added",
        "HIGH",
        "To mitigate potential security risks, it is strongly recommended to remove the SYS_MODULE capability from 'containers[].securityContext.capabilities.add'. It is advisable to follow the practice of dropping all capabilities and only adding the necessary ones.",
    ),
    (
        "KSV-0124",
        "Gatekeeper repo reference is ambiguously open-ended",
        "HIGH",
        "",
    ),
    (
        "KSV0125",
        "Restrict container images to trusted registries",
        "MEDIUM",
        "Use images from trusted registries.",
    ),
];

#[test]
fn each_check_runs_for_the_workload_kinds_only_with_upstreams_metadata() {
    let engine = engine();
    let kinds = WORKLOAD_KINDS.iter().chain(&["Deployment"]);
    for kind in kinds {
        let checks = engine.evaluate(kind, &workload(kind, Some("shop"), json!({})));
        for (id, title, severity, remediation) in CHECKS {
            let found: Vec<&Check> = checks.iter().filter(|c| c.check_id == id).collect();
            assert_eq!(found.len(), 1, "{id} for {kind}: {checks:#?}");
            let check = found[0];
            assert_eq!(
                (check.title.as_str(), check.severity.as_str()),
                (title, severity),
                "{id}"
            );
            assert_eq!(check.remediation, remediation, "{id}");
            assert_eq!(check.category, "Kubernetes Security Check", "{id}");
        }
    }
    for kind in RESOURCE_KINDS
        .iter()
        .chain(&["Role", "ClusterRole", "Node"])
    {
        let object = json!({"apiVersion": "v1", "kind": kind, "metadata": {"name": "x"}});
        let checks = engine.evaluate(kind, &object);
        for (id, ..) in CHECKS {
            assert!(
                checks.iter().all(|c| c.check_id != id),
                "{id} evaluated for {kind}"
            );
        }
    }
}
#[test]
fn ksv110_the_default_namespace_fails() {
    let spec = || json!({"containers": [{"name": "app", "image": "a:1"}]});
    let cases: Vec<Case> = vec![
        (
            "in default",
            workload("Pod", Some("default"), spec()),
            &[
                "pod w in default namespace should set metadata.namespace to a non-default namespace",
            ],
        ),
        (
            "no namespace counts as default",
            workload("Pod", None, spec()),
            &[
                "pod w in default namespace should set metadata.namespace to a non-default namespace",
            ],
        ),
        (
            "another namespace",
            workload("Pod", Some("my-system"), spec()),
            &[],
        ),
        (
            "a CronJob",
            workload("CronJob", Some("default"), spec()),
            &[
                "cronjob w in default namespace should set metadata.namespace to a non-default namespace",
            ],
        ),
        (
            "a Deployment",
            workload("Deployment", None, spec()),
            &[
                "deployment w in default namespace should set metadata.namespace to a non-default namespace",
            ],
        ),
        (
            "a StatefulSet elsewhere",
            workload("StatefulSet", Some("db"), spec()),
            &[],
        ),
    ];
    assert_cases(&engine(), "KSV110", cases);
}

/// Odd shapes are "not set", never evaluation errors.
#[test]
fn malformed_input_does_not_fail_evaluation() {
    let engine = engine();
    let cases = [
        json!({"kind": "Pod", "metadata": {"name": "x"}, "spec": "nope"}),
        json!({"kind": "Pod", "metadata": {"name": "x"}, "spec": {"securityContext": "x", "containers": [
            {"name": "a", "image": 3, "securityContext": {"capabilities": {"add": "SYS_MODULE", "drop": "x"}}},
            {"name": "b", "securityContext": null},
        ]}}),
        json!({"kind": "Pod", "metadata": {"name": "x"}, "spec": {"securityContext": {"supplementalGroups": 0, "fsGroup": "0"}}}),
        json!({"kind": "Deployment", "metadata": {"name": "x"}, "spec": {"template": null}}),
        json!({"kind": "CronJob", "metadata": {"name": "x"}, "spec": {"jobTemplate": {"spec": {"template": 1}}}}),
    ];
    for object in cases {
        let kind = object["kind"].as_str().unwrap();
        let checks = engine.evaluate(kind, &object);
        for (id, ..) in CHECKS {
            let check = checks.iter().find(|c| c.check_id == id).unwrap();
            assert_ne!(check.severity, "UNKNOWN", "{object}: {check:#?}");
        }
    }
}

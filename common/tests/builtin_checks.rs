//! The built-in checks against hand-written workloads: a hardened ReplicaSet passes every
//! check, a bad Pod fails exactly the expected ones and every workload kind's containers
//! are found. Single mutations are in `builtin_check_mutations.rs`, the checks added from
//! upstream's library one by one in `workload_checks.rs`, upstream's example reports in
//! `upstream_reports.rs`.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Instant;

use common::audit::{PolicyEngine, audit, builtin_policies};
use common::policy_config::{PolicyConfig, WORKLOAD_KINDS};
use common::reports::config_audit::Check;
use serde_json::{Value, json};

fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/h5")
        .join(name);
    serde_yaml_ng::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The built-in checks that apply to workloads (the node and RBAC checks do not, nor the
/// checks of other kinds; the control-plane checks only to control-plane components).
fn workload_checks() -> usize {
    builtin_engine()
        .policies()
        .iter()
        .filter(|p| p.key.starts_with("builtin/checks/") && p.kinds.iter().any(|k| k == "Pod"))
        .count()
}

fn builtin_engine() -> PolicyEngine {
    PolicyEngine::compile(&PolicyConfig::default(), true).unwrap()
}

/// The built-ins with the hardened fixtures' registry trusted by KSV0125, the way upstream's
/// is configured: `data.ksv0125.trusted_registries`, from a library of the policies
/// ConfigMap.
fn engine_trusting_example_registry() -> PolicyEngine {
    let data = BTreeMap::from([(
        "library.ksv0125.rego".to_owned(),
        "package ksv0125\n\ntrusted_registries := [\"registry.example.com:5000\"]\n".to_owned(),
    )]);
    PolicyEngine::compile(&PolicyConfig::from_data(&data).unwrap(), true).unwrap()
}

fn failed_ids(checks: &[Check]) -> BTreeSet<String> {
    checks
        .iter()
        .filter(|c| !c.success)
        .map(|c| c.check_id.clone())
        .collect()
}

fn ids(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn kind_of(workload: &Value) -> String {
    workload["kind"].as_str().unwrap().to_owned()
}

#[test]
fn every_builtin_compiles_and_reports_once() {
    let engine = builtin_engine();
    assert_eq!(engine.policy_count(), builtin_policies().len());
    let pod = fixture("bad-pod.yaml");
    let checks = audit(&engine, "Pod", &pod, true);
    // One entry per built-in, none failing to evaluate.
    assert_eq!(checks.len(), workload_checks(), "{checks:#?}");
    for check in &checks {
        assert_ne!(check.severity, "UNKNOWN", "{check:#?}");
        assert!(
            !check.title.is_empty() && !check.description.is_empty(),
            "{check:#?}"
        );
        // Upstream's KSV-0124 gives no remediation.
        assert!(
            !check.remediation.is_empty() || check.check_id == "KSV-0124",
            "{check:#?}"
        );
        assert_eq!(check.category, "Kubernetes Security Check");
        assert!(["LOW", "MEDIUM", "HIGH", "CRITICAL"].contains(&check.severity.as_str()));
    }
    let all: BTreeSet<String> = checks.iter().map(|c| c.check_id.clone()).collect();
    assert_eq!(all.len(), checks.len(), "check IDs are unique");
}

/// Everything but KSV0125: upstream trusts only the Azure, ECR and GCR registries unless
/// told otherwise, and the fixture's images come from a private one.
#[test]
fn hardened_replicaset_passes_everything() {
    let rs = fixture("hardened-replicaset.yaml");
    let checks = audit(&builtin_engine(), "ReplicaSet", &rs, true);
    assert_eq!(failed_ids(&checks), ids(&["KSV0125"]), "{checks:#?}");
    let engine = engine_trusting_example_registry();
    let checks = audit(&engine, "ReplicaSet", &rs, true);
    assert_eq!(failed_ids(&checks), BTreeSet::new(), "{checks:#?}");
    assert!(audit(&engine, "ReplicaSet", &rs, false).is_empty());
}

#[test]
fn bad_pod_fails_exactly_the_expected_checks() {
    let engine = builtin_engine();
    let pod = fixture("bad-pod.yaml");
    let checks = audit(&engine, "Pod", &pod, false);
    let want = ids(&[
        "KSV001", // allowPrivilegeEscalation not false
        "KSV003", // capabilities not dropping ALL
        "KSV004", // nor any other
        "KSV011", // no CPU limit
        "KSV012", // runAsNonRoot not true
        "KSV013", // :latest
        "KSV014", // root file system writable
        "KSV017", // privileged
        "KSV018", // no memory limit
        "KSV020", // UID 0
        "KSV021", // no GID
        "KSV023", // hostPath
        "KSV104", // seccomp on the Pod only: upstream's KSV104 reads a Pod's containers
        "KSV105", // runAsUser 0
        "KSV106", // capabilities
        "KSV110", // the default namespace
        "KSV121", // hostPath /etc
    ]);
    assert_eq!(failed_ids(&checks), want, "{checks:#?}");
    let ids_in_order: Vec<&str> = checks.iter().map(|c| c.check_id.as_str()).collect();
    let mut sorted = ids_in_order.clone();
    sorted.sort_unstable();
    assert_eq!(ids_in_order, sorted, "audit sorts by check ID");
    let privileged = checks.iter().find(|c| c.check_id == "KSV017").unwrap();
    assert_eq!(
        privileged.messages,
        vec![
            "Container 'shell' of Pod 'debug-shell' should set 'securityContext.privileged' to false"
        ]
    );
    assert_eq!(privileged.severity, "HIGH");
    let host_path = checks.iter().find(|c| c.check_id == "KSV023").unwrap();
    assert!(
        host_path.messages[0].contains("'host-etc'"),
        "{host_path:?}"
    );
    assert!(host_path.messages[0].contains("'/etc'"), "{host_path:?}");
}

/// A Pod every built-in passes, to mutate one thing at a time.
fn hardened_pod() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {
            "automountServiceAccountToken": false,
            "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}, "runAsGroup": 30000},
            "containers": [{
                "name": "web",
                "image": "nginx:1.27",
                "securityContext": {
                    "allowPrivilegeEscalation": false,
                    "readOnlyRootFilesystem": true,
                    "runAsNonRoot": true,
                    "runAsUser": 30000,
                    "capabilities": {"drop": ["ALL"]},
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "resources": {
                    "requests": {"cpu": "10m", "memory": "32Mi"},
                    "limits": {"cpu": "100m", "memory": "64Mi"},
                },
            }],
        },
    })
}

/// Wraps a pod spec the way `kind` keeps it.
fn workload(kind: &str, name: &str, pod_spec: Value) -> Value {
    let template = json!({"metadata": {"labels": {"app": name}}, "spec": pod_spec});
    let (api_version, spec) = match kind {
        "Pod" => ("v1", pod_spec),
        "ReplicationController" => ("v1", json!({"replicas": 1, "template": template})),
        "Job" => ("batch/v1", json!({"template": template})),
        "CronJob" => (
            "batch/v1",
            json!({"schedule": "* * * * *", "jobTemplate": {"spec": {"template": template}}}),
        ),
        _ => ("apps/v1", json!({"replicas": 1, "template": template})),
    };
    json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": name}, "spec": spec})
}

/// KSV036 as upstream decides it: the setting counts on the object's own `spec` only (a
/// Pod's), so a controller fails only when a container mounts the token path.
#[test]
fn ksv036_fails_only_an_explicitly_mounted_token() {
    let engine = builtin_engine();
    let ksv036 = |kind: &str, spec: Value| {
        let checks = audit(&engine, kind, &workload(kind, "web", spec), false);
        checks
            .into_iter()
            .find(|c| c.check_id == "KSV036" && !c.success)
            .map(|c| c.messages)
    };
    let mut spec = hardened_pod()["spec"].clone();
    spec["automountServiceAccountToken"] = json!(true);
    assert_eq!(
        ksv036("Pod", spec.clone()),
        Some(vec![
            "Container of Pod 'web' should set 'spec.automountServiceAccountToken' to false"
                .to_owned()
        ])
    );
    assert_eq!(
        ksv036("ReplicaSet", spec.clone()),
        None,
        "upstream: the RS spec has no such field"
    );
    spec["containers"][0]["volumeMounts"] = json!([{
        "name": "token", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
    }]);
    assert_eq!(
        ksv036("CronJob", spec.clone()),
        Some(vec![
            "Container of CronJob 'web' should set 'spec.automountServiceAccountToken' to false"
                .to_owned()
        ])
    );
    let mut unset = hardened_pod()["spec"].clone();
    unset
        .as_object_mut()
        .unwrap()
        .remove("automountServiceAccountToken");
    for kind in ["Pod", "Deployment", "Job"] {
        assert_eq!(ksv036(kind, unset.clone()), None, "{kind}: nothing mounted");
    }
}

/// KSV103 reads the object's own `spec.securityContext` (a Pod's) and every container's, as
/// upstream: a controller's pod-level setting alone passes.
#[test]
fn ksv103_reads_the_pod_level_setting_of_pods_only() {
    let engine = builtin_engine();
    let fails = |kind: &str, spec: Value| {
        let checks = audit(&engine, kind, &workload(kind, "w", spec), false);
        failed_ids(&checks).contains("KSV103")
    };
    let mut pod_level = hardened_pod()["spec"].clone();
    pod_level["securityContext"]["windowsOptions"] = json!({"hostProcess": true});
    assert!(fails("Pod", pod_level.clone()));
    assert!(!fails("Deployment", pod_level));
    let mut container_level = hardened_pod()["spec"].clone();
    container_level["containers"][0]["securityContext"]["windowsOptions"] =
        json!({"hostProcess": true});
    assert!(fails("Deployment", container_level));
}

/// The messages of the checks added from upstream's library are upstream's for the same
/// input.
#[test]
fn added_checks_give_upstreams_messages() {
    let engine = builtin_engine();
    let mut spec = hardened_pod()["spec"].clone();
    spec["securityContext"]["seLinuxOptions"] = json!({"type": "spc_t", "user": "u"});
    spec["containers"][0]["securityContext"]["seLinuxOptions"] = json!({"role": "r"});
    spec["containers"][0]["securityContext"]["capabilities"]["add"] = json!(["NET_RAW"]);
    spec["volumes"] = json!([
        {"name": "repo", "gitRepo": {"repository": "x"}},
        {"name": "etc", "hostPath": {"path": "/etc"}},
        {"name": "root", "hostPath": {"path": "/"}},
    ]);
    spec["hostAliases"] = json!([{"ip": "10.0.0.1", "hostnames": ["db"]}]);
    spec["containers"][0]["ports"] = json!([{"containerPort": 80}]);
    spec["containers"][0]["image"] = json!("ghcr.io/helm/tiller:v2.17.0");
    let checks = audit(
        &engine,
        "Deployment",
        &workload("Deployment", "w", spec),
        false,
    );
    let messages = |id: &str| {
        checks
            .iter()
            .find(|c| c.check_id == id)
            .map(|c| c.messages.clone())
            .unwrap_or_else(|| panic!("{id} did not fail: {checks:#?}"))
    };
    let mut selinux = messages("KSV025");
    selinux.sort();
    assert_eq!(
        selinux,
        [
            "Deployment 'w' uses invalid seLinux type 'spc_t'",
            "Deployment 'w' uses restricted properties in seLinuxOptions: ('role', 'user')",
        ]
    );
    assert_eq!(
        messages("KSV028"),
        ["Deployment 'w' should set 'spec.volumes[*]' to an allowed volume type"]
    );
    let mut pod = hardened_pod();
    pod["metadata"]["namespace"] = json!("kube-system");
    pod["spec"]["securityContext"]["sysctls"] = json!([
        {"name": "kernel.msgmax", "value": "1"},
        {"name": "kernel.sem", "value": "1"},
    ]);
    let pod_checks = audit(&engine, "Pod", &pod, false);
    let pod_messages = |id: &str| {
        let check = pod_checks.iter().find(|c| c.check_id == id).unwrap();
        check.messages.clone()
    };
    assert_eq!(
        pod_messages("KSV026"),
        [
            "Pod 'web' has disallowed sysctls: [\"kernel.msgmax\", \"kernel.sem\"] and must only use allowed sysctls."
        ]
    );
    assert_eq!(
        pod_messages("KSV037"),
        ["Pod 'web' should not be set with 'kube-system' namespace"]
    );
    assert_eq!(
        messages("KSV007"),
        ["'deployment' 'w' in 'default' namespace should not set spec.template.spec.hostAliases"]
    );
    assert_eq!(
        messages("KSV102"),
        ["container 'web' of deployment 'w' in 'default' namespace shouldn't have tiller deployed"]
    );
    assert_eq!(
        messages("KSV117"),
        [
            "deployment w in default namespace should not set spec.template.spec.containers.ports.containerPort to less than 1024"
        ]
    );
    assert_eq!(
        messages("KSV121"),
        ["deployment w in default namespace shouldn't have volumes set to {\"/\", \"/etc\"}"]
    );
    assert_eq!(
        messages("KSV119"),
        [
            "container web of deployment w in default namespace should not include 'NET_RAW' in securityContext.capabilities.add"
        ]
    );
}

#[test]
fn every_workload_kind_finds_containers() {
    let engine = builtin_engine();
    let hardened_spec = hardened_pod()["spec"].clone();
    let mut bad_spec = hardened_spec.clone();
    bad_spec["containers"][0]["securityContext"]["privileged"] = json!(true);
    bad_spec["initContainers"] = json!([{
        "name": "setup", "image": "busybox:1.36",
        "securityContext": {"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
                            "runAsNonRoot": true, "runAsUser": 30000, "privileged": true,
                            "capabilities": {"drop": ["ALL"]},
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "resources": {"requests": {"cpu": "1m", "memory": "1Mi"}, "limits": {"cpu": "1m", "memory": "1Mi"}},
    }]);
    bad_spec["hostPID"] = json!(true);
    let mut kinds: Vec<&str> = WORKLOAD_KINDS.to_vec();
    kinds.push("Deployment");
    for kind in kinds {
        let mut good = workload(kind, "w", hardened_spec.clone());
        good["metadata"]["namespace"] = json!("shop");
        let checks = engine.evaluate(kind, &good);
        assert_eq!(failed_ids(&checks), BTreeSet::new(), "{kind}: {checks:#?}");

        let mut bad = workload(kind, "w", bad_spec.clone());
        bad["metadata"]["namespace"] = json!("shop");
        let checks = audit(&engine, kind, &bad, false);
        assert_eq!(
            failed_ids(&checks),
            ids(&["KSV010", "KSV017"]),
            "{kind}: {checks:#?}"
        );
        let privileged = checks.iter().find(|c| c.check_id == "KSV017").unwrap();
        let want: BTreeSet<String> = ["web", "setup"]
            .iter()
            .map(|c| {
                format!(
                    "Container '{c}' of {kind} 'w' should set 'securityContext.privileged' to false"
                )
            })
            .collect();
        let got: BTreeSet<String> = privileged.messages.iter().cloned().collect();
        assert_eq!(got, want, "{kind}");
    }
}

#[test]
fn other_kinds_get_only_the_checks_of_their_kind() {
    let engine = builtin_engine();
    let cm =
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {}});
    let checks = engine.evaluate("ConfigMap", &cm);
    let ids: BTreeSet<&str> = checks.iter().map(|c| c.check_id.as_str()).collect();
    // KSV037 and the two ConfigMap checks (resource_checks.rs), and nothing else.
    assert_eq!(
        ids,
        BTreeSet::from(["KSV01010", "KSV037", "KSV109"]),
        "{ids:?}"
    );
    assert!(checks.iter().all(|c| c.success), "{checks:?}");
    // Kinds the operator does not audit get nothing.
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}});
    assert!(engine.evaluate("Secret", &secret).is_empty());
}

#[test]
fn malformed_workloads_do_not_crash() {
    let engine = builtin_engine();
    let cases = [
        json!({}),
        json!({"kind": "Pod"}),
        json!({"kind": "Pod", "metadata": {"name": 3}, "spec": "nope"}),
        json!({"kind": "Pod", "metadata": {"name": "x"}, "spec": {"containers": "nope"}}),
        json!({"kind": "Pod", "metadata": {"name": "x"}, "spec": {"containers": [1, null, {"name": "a", "securityContext": null}]}}),
        json!({"kind": "CronJob", "metadata": {"name": "x"}, "spec": {"jobTemplate": null}}),
    ];
    for workload in cases {
        let checks = engine.evaluate("Pod", &workload);
        assert_eq!(checks.len(), workload_checks(), "{workload}: {checks:#?}");
        // The built-ins guard their look-ups: odd shapes are "not set", not errors.
        assert!(
            checks.iter().all(|c| c.severity != "UNKNOWN"),
            "{workload}: {checks:#?}"
        );
    }
}

/// Not an assertion on time: prints the per-workload evaluation cost for the record.
#[test]
fn measure_evaluation_time() {
    let engine = engine_trusting_example_registry();
    let rs = fixture("hardened-replicaset.yaml");
    let pod = fixture("bad-pod.yaml");
    let rounds = 50;
    let start = Instant::now();
    for _ in 0..rounds {
        assert!(audit(&engine, &kind_of(&rs), &rs, false).is_empty());
        assert!(!audit(&engine, &kind_of(&pod), &pod, false).is_empty());
    }
    let per_workload = start.elapsed() / (2 * rounds);
    eprintln!(
        "built-in audit ({} checks): {per_workload:?} per workload (debug build)",
        workload_checks()
    );
}

#[test]
fn engine_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<PolicyEngine>();
    let engine = std::sync::Arc::new(builtin_engine());
    let pod = fixture("bad-pod.yaml");
    let want = failed_ids(&audit(&engine, "Pod", &pod, false));
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let engine = engine.clone();
            let pod = pod.clone();
            std::thread::spawn(move || failed_ids(&audit(&engine, "Pod", &pod, false)))
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), want);
    }
}

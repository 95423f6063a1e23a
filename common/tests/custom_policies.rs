//! Custom policies from a plugin ConfigMap in the upstream format: pre-1.0 Rego, libraries
//! imported by package path, any package name, kinds applicability, string and object
//! results, compile errors naming the key, run-time failures as failed checks.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use common::audit::{CompileError, PolicyEngine, audit, builtin_policies};
use common::policy_config::PolicyConfig;
use common::reports::config_audit::Check;
use serde_json::{Value, json};

fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/h5")
        .join(name);
    std::fs::read_to_string(path).unwrap()
}

fn yaml(name: &str) -> Value {
    serde_yaml_ng::from_str(&fixture(name)).unwrap()
}

fn configmap_data() -> BTreeMap<String, String> {
    let cm: Value = yaml("custom-policies-configmap.yaml");
    serde_json::from_value(cm["data"].clone()).unwrap()
}

fn config(data: &[(&str, &str)]) -> PolicyConfig {
    let data: BTreeMap<String, String> = data
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    PolicyConfig::from_data(&data).unwrap()
}

fn compile(data: &[(&str, &str)]) -> Result<PolicyEngine, CompileError> {
    PolicyEngine::compile(&config(data), false)
}

fn find<'a>(checks: &'a [Check], id: &str) -> &'a Check {
    checks
        .iter()
        .find(|c| c.check_id == id)
        .unwrap_or_else(|| panic!("{id} missing from {checks:#?}"))
}

fn all_ids(checks: &[Check]) -> BTreeSet<String> {
    checks.iter().map(|c| c.check_id.clone()).collect()
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

/// (check ID, severity, messages) of one failed check.
type Failed<'a> = (&'a str, &'a str, Vec<&'a str>);

fn pod(name: &str, image: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/name": name}},
        "spec": {"containers": [{"name": "main", "image": image}]},
    })
}

#[test]
fn upstream_format_configmap_compiles_and_evaluates() {
    let config = PolicyConfig::from_data(&configmap_data()).unwrap();
    let engine = PolicyEngine::compile(&config, true).unwrap();
    assert_eq!(engine.policy_count(), builtin_policies().len() + 4);

    let rs = yaml("hardened-replicaset.yaml");
    let checks = audit(&engine, "ReplicaSet", &rs, true);

    // trivyoperator.* package, library import, result.new object results.
    let labels = find(&checks, "CUS001");
    assert!(!labels.success);
    assert_eq!(labels.severity, "LOW", "severity is upper-cased");
    assert_eq!(labels.title, "Recommended labels missing");
    assert_eq!(labels.category, "Custom Kubernetes Check");
    assert_eq!(
        labels.remediation,
        "Add the labels app.kubernetes.io/name and app.kubernetes.io/version."
    );
    assert_eq!(
        labels.messages,
        vec!["ReplicaSet 'api-7c9d8f6b5' should set the label 'app.kubernetes.io/version'"]
    );

    // user.* package, string results: the hardened images come from the approved registry.
    assert!(find(&checks, "CUS002").success);

    // warn rules fail a check too; the replicas policy applies to ReplicaSets.
    assert!(find(&checks, "CUS003").success, "2 replicas");
    let mut single = rs.clone();
    single["spec"]["replicas"] = json!(1);
    let checks_single = audit(&engine, "ReplicaSet", &single, false);
    assert_eq!(
        find(&checks_single, "CUS003").messages,
        vec!["ReplicaSet 'api-7c9d8f6b5' runs 1 replica(s)"]
    );

    // Custom policies add to the built-ins.
    assert!(all_ids(&checks).is_superset(&ids(&["KSV001", "KSV017", "KSV106"])));
}

#[test]
fn kinds_decide_which_policies_apply() {
    let config = PolicyConfig::from_data(&configmap_data()).unwrap();
    let engine = PolicyEngine::compile(&config, false).unwrap();
    let template = yaml("hardened-replicaset.yaml")["spec"]["template"].clone();
    let by_kind = |kind: &str, spec: Value| {
        let w = json!({"apiVersion": "x", "kind": kind, "metadata": {"name": "w"}, "spec": spec});
        all_ids(&engine.evaluate(kind, &w))
    };
    let tpl = json!({"replicas": 3, "template": template});
    let cron = json!({"jobTemplate": {"spec": {"template": template}}});
    // recommended_labels: Workload; registry_allowlist: Pod, ReplicaSet; host_ipc: * but
    // its __rego_input__ selector names pod, replicaset, statefulset, daemonset;
    // replicas: ReplicaSet, StatefulSet.
    let cases = [
        (
            "ReplicaSet",
            tpl.clone(),
            ids(&["CUS001", "CUS002", "CUS008", "CUS003"]),
        ),
        (
            "StatefulSet",
            tpl.clone(),
            ids(&["CUS001", "CUS008", "CUS003"]),
        ),
        ("DaemonSet", tpl.clone(), ids(&["CUS001", "CUS008"])),
        ("ReplicationController", tpl.clone(), ids(&["CUS001"])),
        ("Job", tpl.clone(), ids(&["CUS001"])),
        ("CronJob", cron, ids(&["CUS001"])),
        ("Service", json!({}), ids(&[])),
    ];
    for (kind, spec, want) in cases {
        assert_eq!(by_kind(kind, spec), want, "{kind}");
    }
    let p = pod("p", "docker.io/nginx:1.27");
    assert_eq!(
        all_ids(&engine.evaluate("Pod", &p)),
        ids(&["CUS001", "CUS002", "CUS008"])
    );
}

#[test]
fn custom_policies_add_to_the_builtins_and_cannot_reuse_their_ids() {
    let config = PolicyConfig::from_data(&configmap_data()).unwrap();
    let engine = PolicyEngine::compile(&config, true).unwrap();
    let mut p = pod("ipc", "registry.example.com/app:1");
    p["spec"]["hostIPC"] = json!(true);
    let checks = audit(&engine, "Pod", &p, false);
    let custom = find(&checks, "CUS008");
    assert_eq!(custom.title, "Host IPC namespace shared (custom)");
    assert_eq!(custom.severity, "CRITICAL");
    assert_eq!(
        custom.messages,
        vec!["Pod 'ipc' shares the host IPC namespace"]
    );
    let builtin = find(&checks, "KSV008");
    assert_eq!(builtin.title, "Access to host IPC namespace");
    assert_eq!(builtin.severity, "HIGH");

    // Reusing a built-in's ID would replace it: the ConfigMap is rejected.
    let mut data = configmap_data();
    let rego = data["policy.host_ipc.rego"].replace("CUS008", "KSV008");
    data.insert("policy.host_ipc.rego".into(), rego);
    let err = PolicyEngine::compile(&PolicyConfig::from_data(&data).unwrap(), true).unwrap_err();
    assert_eq!(err.kind(), "metadata");
    assert_eq!(err.key(), "policy.host_ipc.rego");
    assert!(err.to_string().contains("KSV008"), "{err}");
}

#[test]
fn result_shapes() {
    let meta = r#"__rego_metadata__ := {"id": "T1", "title": "Title", "severity": "Medium"}"#;
    // (rules, expected failed (id, severity, messages); none = passed)
    let cases: Vec<(&str, Option<Vec<Failed>>)> = vec![
        ("deny[msg] { false; msg := \"x\" }", None),
        (
            "deny[msg] { msg := \"plain\" }",
            Some(vec![("T1", "MEDIUM", vec!["plain"])]),
        ),
        (
            "deny[res] { res := {\"msg\": \"obj\"} }",
            Some(vec![("T1", "MEDIUM", vec!["obj"])]),
        ),
        (
            "deny[res] { res := {\"msg\": \"o\", \"id\": \"T9\", \"title\": \"Other\", \"severity\": \"critical\"} }",
            Some(vec![("T9", "CRITICAL", vec!["o"])]),
        ),
        (
            "deny { input.kind == \"Pod\" }",
            Some(vec![("T1", "MEDIUM", vec!["Title"])]),
        ),
        (
            "deny = \"complete\" { true }",
            Some(vec![("T1", "MEDIUM", vec!["complete"])]),
        ),
        (
            "deny[m] { m := \"a\" }\nwarn[m] { m := \"b\" }",
            Some(vec![("T1", "MEDIUM", vec!["a", "b"])]),
        ),
        (
            "warn[m] { m := \"only a warning\" }",
            Some(vec![("T1", "MEDIUM", vec!["only a warning"])]),
        ),
        ("violation[m] { m := \"not a result rule\" }", None),
        (
            "import rego.v1\ndeny contains m if { m := \"v1 syntax\" }",
            Some(vec![("T1", "MEDIUM", vec!["v1 syntax"])]),
        ),
        (
            "import future.keywords.in\nimport future.keywords.if\ndeny[m] if { some c in input.spec.containers; m := c.name }",
            Some(vec![("T1", "MEDIUM", vec!["main"])]),
        ),
    ];
    let workload = pod("p", "nginx:1");
    for (rules, want) in cases {
        // Imports come first, as Rego wants them.
        let (imports, rules): (Vec<&str>, Vec<&str>) =
            rules.lines().partition(|l| l.starts_with("import "));
        let (imports, rules) = (imports.join("\n"), rules.join("\n"));
        let rego = format!("package user.t\n{imports}\n{meta}\n{rules}\n");
        let engine = compile(&[("policy.t.rego", &rego), ("policy.t.kinds", "Pod")])
            .unwrap_or_else(|e| panic!("{rules}: {e}"));
        let checks = audit(&engine, "Pod", &workload, true);
        match want {
            None => {
                assert_eq!(checks.len(), 1, "{rules}: {checks:#?}");
                assert!(checks[0].success, "{rules}: {checks:#?}");
                assert_eq!(checks[0].check_id, "T1");
                assert_eq!(checks[0].title, "Title");
            }
            Some(want) => {
                let got: Vec<(&str, &str, Vec<&str>)> = checks
                    .iter()
                    .map(|c| {
                        assert!(!c.success, "{rules}");
                        let m = c.messages.iter().map(String::as_str).collect();
                        (c.check_id.as_str(), c.severity.as_str(), m)
                    })
                    .collect();
                assert_eq!(got, want, "{rules}");
            }
        }
    }
}

#[test]
fn custom_policy_metadata_is_validated() {
    let cases = [
        (
            r#"__rego_metadata__ := {"id": "A1", "avd_id": "AVD-1"}"#,
            Ok("A1"),
        ),
        (r#"__rego_metadata__ := {"avd_id": "AVD-1"}"#, Ok("AVD-1")),
        (
            r#"__rego_metadata__ := {"id": "A2", "severity": "medium"}"#,
            Ok("A2"),
        ),
        (
            r#"__rego_metadata__ := {"title": "no id"}"#,
            Err("has no id"),
        ),
        (r#"__rego_metadata__ := {"id": 7}"#, Err("must be a string")),
        (r#"__rego_metadata__ := {"id": " "}"#, Err("empty id")),
        (
            r#"__rego_metadata__ := {"id": "A3", "severity": "SUPERBAD"}"#,
            Err("SUPERBAD"),
        ),
        (
            r#"__rego_metadata__ := {"id": "A4", "severity": 3}"#,
            Err("severity 3"),
        ),
        (r#"__rego_metadata__ := "A5""#, Err("not an object")),
        ("", Err("missing")),
    ];
    for (meta, want) in cases {
        let rego = format!("package user.m\n{meta}\ndeny[m] {{ m := \"x\" }}\n");
        let compiled = compile(&[("policy.meta.rego", &rego), ("policy.meta.kinds", "*")]);
        match (compiled, want) {
            (Ok(engine), Ok(id)) => {
                let checks = audit(&engine, "Pod", &pod("p", "i:1"), true);
                assert_eq!(checks.len(), 1);
                assert_eq!(checks[0].check_id, id, "{meta}");
            }
            (Err(err), Err(part)) => {
                assert_eq!(err.key(), "policy.meta.rego", "{meta}");
                assert!(err.to_string().contains(part), "{meta}: {err}");
            }
            (got, want) => panic!("{meta}: got {:?}, want {want:?}", got.map(|_| ())),
        }
    }
}

#[test]
fn libraries_are_shared_and_user_lib_result_wins() {
    let lib = "package lib.result\nnew(msg, cause) = {\"msg\": concat(\"\", [\"[mine] \", msg])}\n";
    let policy = "package trivyoperator.x\nimport data.lib.result\n__rego_metadata__ := {\"id\": \"L1\"}\ndeny[r] { r := result.new(\"hello\", input) }\n";
    let engine = compile(&[
        ("library.result.rego", lib),
        ("policy.x.rego", policy),
        ("policy.x.kinds", "Pod"),
    ])
    .unwrap();
    let checks = audit(&engine, "Pod", &pod("p", "i:1"), false);
    assert_eq!(find(&checks, "L1").messages, vec!["[mine] hello"]);

    // Two policies importing one library, with different aliases.
    let lib = "package lib.names\nupper_name = upper(input.metadata.name)\n";
    let a = "package user.a\nimport data.lib.names\n__rego_metadata__ := {\"id\": \"A\"}\ndeny[m] { m := names.upper_name }\n";
    let b = "package user.b\nimport data.lib.names as n\n__rego_metadata__ := {\"id\": \"B\"}\ndeny[m] { m := concat(\"-\", [n.upper_name, \"b\"]) }\n";
    let engine = compile(&[
        ("library.names.rego", lib),
        ("policy.a.rego", a),
        ("policy.a.kinds", "*"),
        ("policy.b.rego", b),
        ("policy.b.kinds", "*"),
    ])
    .unwrap();
    let checks = audit(&engine, "Pod", &pod("web", "i:1"), false);
    assert_eq!(find(&checks, "A").messages, vec!["WEB"]);
    assert_eq!(find(&checks, "B").messages, vec!["WEB-b"]);
}

#[test]
fn without_builtins_only_custom_policies_run() {
    let config = PolicyConfig::from_data(&configmap_data()).unwrap();
    let engine = PolicyEngine::compile(&config, false).unwrap();
    let p = pod("p", "nginx:latest");
    let checks = audit(&engine, "Pod", &p, true);
    assert_eq!(failed_ids(&checks), ids(&["CUS001", "CUS002"]));
    assert_eq!(all_ids(&checks), ids(&["CUS001", "CUS002", "CUS008"]));
}

/// A policy written against upstream's bundled `lib.kubernetes`, with no library of that
/// name in the ConfigMap, finds the stand-in's helpers.
#[test]
fn upstream_style_policy_uses_the_stand_in_lib_kubernetes() {
    let policy = r#"package appshield.kubernetes.KSV900

import data.lib.kubernetes

__rego_metadata__ := {"id": "KSV900", "title": "NET_RAW added", "severity": "MEDIUM"}

deny[res] {
  container := kubernetes.containers[_]
  kubernetes.added_capability(container, "NET_RAW")
  msg := sprintf("Container '%s' of %s '%s' in '%s' adds NET_RAW", [container.name, kubernetes.kind, kubernetes.name, kubernetes.namespace])
  res := {"msg": msg}
}

deny[res] {
  container := kubernetes.containers[_]
  [_, tag] := kubernetes.split_image(container.image)
  tag == "latest"
  res := sprintf("%s uses latest", [container.name])
}

deny[res] {
  kubernetes.host_networks[_] == true
  res := "host network"
}
"#;
    let engine = compile(&[
        ("policy.ksv900.rego", policy),
        ("policy.ksv900.kinds", "Workload"),
    ])
    .unwrap();
    let container = json!({"name": "c", "image": "nginx",
                           "securityContext": {"capabilities": {"add": ["net_raw"]}}});
    let spec = json!({"hostNetwork": true, "initContainers": [container]});
    let cases = [
        (json!({"kind": "Pod", "metadata": {"name": "p", "namespace": "ns"}, "spec": spec})),
        (json!({"kind": "CronJob", "metadata": {"name": "p", "namespace": "ns"},
                "spec": {"jobTemplate": {"spec": {"template": {"spec": spec}}}}})),
        (json!({"kind": "StatefulSet", "metadata": {"name": "p", "namespace": "ns"},
                "spec": {"template": {"spec": spec}}})),
    ];
    for workload in cases {
        let kind = workload["kind"].as_str().unwrap();
        let checks = audit(&engine, kind, &workload, false);
        let check = find(&checks, "KSV900");
        let mut messages = check.messages.clone();
        messages.sort();
        assert_eq!(
            messages,
            vec![
                format!("Container 'c' of {kind} 'p' in 'ns' adds NET_RAW"),
                "c uses latest".to_owned(),
                "host network".to_owned(),
            ],
            "{kind}"
        );
    }
}

//! KSV-0124 and KSV0125: Gatekeeper repository prefixes and the registries images come
//! from.

use std::collections::BTreeMap;

use common::audit::PolicyEngine;
use common::policy_config::PolicyConfig;
use serde_json::{Value, json};

use super::{Case, assert_cases, engine, workload};

/// Only a Gatekeeper K8sAllowedRepos constraint can fail, and the operator audits none:
/// the constraints here are evaluated as if they were Pods, to show upstream's verdicts.
#[test]
fn ksv0124_fails_open_ended_gatekeeper_repos_only() {
    let engine = engine();
    let constraint = |repo: &str| {
        json!({
            "apiVersion": "constraints.gatekeeper.sh/v1beta1",
            "kind": "K8sAllowedRepos",
            "metadata": {"name": "allowedrepos"},
            "spec": {"parameters": {"repos": [repo]}},
        })
    };
    let verdict = |object: &Value| {
        let checks = engine.evaluate("Pod", object);
        let check = checks.iter().find(|c| c.check_id == "KSV-0124").unwrap();
        assert_ne!(check.severity, "UNKNOWN", "{check:#?}");
        (!check.success).then(|| check.messages.clone())
    };
    let open_ended = Some(vec![
        "open-ended repository reference in prefix match".to_owned(),
    ]);
    for repo in ["myregistry.io", "myusername", "ubuntu", "docker.io/ubuntu"] {
        assert_eq!(verdict(&constraint(repo)), open_ended, "{repo}");
    }
    for repo in [
        "myregistry.azurecr.io/",
        "myusername/",
        "myimage:",
        "docker.io/library/ubuntu",
    ] {
        assert_eq!(verdict(&constraint(repo)), None, "{repo}");
    }
    let mut other_kind = constraint("ubuntu");
    other_kind["kind"] = json!("K8sRequiredLabels");
    assert_eq!(verdict(&other_kind), None);
    let workload = workload(
        "Pod",
        Some("shop"),
        json!({"containers": [{"name": "a", "image": "ubuntu"}]}),
    );
    assert_eq!(verdict(&workload), None);
}

#[test]
fn ksv0125_images_from_untrusted_registries_fail() {
    let job = |images: &[&str]| {
        let containers: Vec<Value> = images
            .iter()
            .enumerate()
            .map(|(i, image)| json!({"name": format!("c{i}"), "image": image}))
            .collect();
        workload("Job", Some("test"), json!({"containers": containers}))
    };
    const C0: &str =
        "Container c0 in job w (namespace: test) uses an image from an untrusted registry.";
    let cases: Vec<Case> = vec![
        ("gcr.io", job(&["gcr.io/test:latest"]), &[]),
        ("an untrusted registry", job(&["foo.io/test:latest"]), &[C0]),
        ("no registry", job(&["test:latest"]), &[]),
        ("an Azure registry", job(&["myacr.azurecr.io/app:1"]), &[]),
        (
            "an ECR registry",
            job(&["123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:1"]),
            &[],
        ),
        (
            "Docker Hub named",
            job(&["docker.io/library/nginx:1"]),
            &[C0],
        ),
        (
            "an organisation counts as the registry",
            job(&["library/nginx:1"]),
            &[C0],
        ),
        (
            "quay.io",
            job(&["quay.io/prometheus/node-exporter:v1"]),
            &[C0],
        ),
        (
            "registry.k8s.io",
            job(&["registry.k8s.io/pause:3.10"]),
            &[C0],
        ),
        ("a port", job(&["gcr.io:443/app:1"]), &[C0]),
        ("only the suffix counts", job(&["notgcr.io/app:1"]), &[]),
        (
            "each container",
            job(&["ghcr.io/a:1", "gcr.io/b:1", "ghcr.io/c:1"]),
            &[
                C0,
                "Container c2 in job w (namespace: test) uses an image from an untrusted registry.",
            ],
        ),
        (
            "an init container",
            workload(
                "Pod",
                Some("shop"),
                json!({"containers": [], "initContainers": [{"name": "init", "image": "ghcr.io/i:1"}]}),
            ),
            &[
                "Container init in pod w (namespace: shop) uses an image from an untrusted registry.",
            ],
        ),
        (
            "ephemeral containers are not looked at",
            workload(
                "Pod",
                Some("shop"),
                json!({"containers": [], "ephemeralContainers": [{"name": "d", "image": "ghcr.io/d:1"}]}),
            ),
            &[],
        ),
        (
            "a nameless container passes",
            workload(
                "Pod",
                Some("shop"),
                json!({"containers": [{"image": "ghcr.io/d:1"}]}),
            ),
            &[],
        ),
    ];
    assert_cases(&engine(), "KSV0125", cases);
}

/// Upstream reads the trusted registries from `data.ksv0125.trusted_registries`; a library
/// of the policies ConfigMap declaring that package replaces the default list, and an
/// empty one keeps it.
#[test]
fn ksv0125_trusted_registries_come_from_a_library() {
    let configured = |list: &str| {
        let data = BTreeMap::from([(
            "library.ksv0125.rego".to_owned(),
            format!("package ksv0125\n\ntrusted_registries := {list}\n"),
        )]);
        PolicyEngine::compile(&PolicyConfig::from_data(&data).unwrap(), true).unwrap()
    };
    let job = |image: &str| {
        workload(
            "Job",
            Some("test"),
            json!({"containers": [{"name": "test", "image": image}]}),
        )
    };
    const UNTRUSTED: &str =
        "Container test in job w (namespace: test) uses an image from an untrusted registry.";
    let custom: Vec<Case> = vec![
        ("now trusted", job("foo.io/test:latest"), &[]),
        ("no longer trusted", job("gcr.io/test:latest"), &[UNTRUSTED]),
        ("no registry", job("test:latest"), &[]),
    ];
    assert_cases(&configured(r#"["foo.io"]"#), "KSV0125", custom);
    let empty: Vec<Case> = vec![
        ("default list", job("gcr.io/test:latest"), &[]),
        ("default list", job("foo.io/test:latest"), &[UNTRUSTED]),
    ];
    assert_cases(&configured("[]"), "KSV0125", empty);
}

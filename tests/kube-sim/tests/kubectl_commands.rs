//! The real kubectl (1.32) against kube-sim: generator commands (`kubectl create ...`,
//! `kubectl run`, which send protobuf bodies) and their errors, and bearer tokens.
#![allow(clippy::unwrap_used)]

mod sim_support;

use sim_support::{raw_get, start, start_with};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generator_commands_and_errors() {
    let sim = start().await;
    sim.kubectl(&["create", "ns", "k6"]).await;
    sim.kubectl(&[
        "create",
        "job",
        "hello",
        "-n",
        "k6",
        "--image=busybox",
        "--",
        "sh",
        "-c",
        "echo hi",
    ])
    .await;
    let cmd = sim
        .kubectl(&[
            "get",
            "job",
            "hello",
            "-n",
            "k6",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].command}",
        ])
        .await;
    assert_eq!(cmd, r#"["sh","-c","echo hi"]"#);
    sim.kubectl(&[
        "create",
        "secret",
        "generic",
        "s",
        "-n",
        "k6",
        "--from-literal=k=v4lue",
    ])
    .await;
    let data = sim
        .kubectl(&["get", "secret", "s", "-n", "k6", "-o", "jsonpath={.data.k}"])
        .await;
    assert_eq!(data, "djRsdWU=");
    let dup = sim
        .kubectl_in(&["create", "secret", "generic", "s", "-n", "k6"], None)
        .await;
    assert!(
        !dup.ok && dup.stderr.contains("already exists"),
        "{}",
        dup.stderr
    );
    let bad = sim
        .kubectl_in(&["create", "configmap", "Bad_Name", "-n", "k6"], None)
        .await;
    assert!(!bad.ok && bad.stderr.contains("Invalid"), "{}", bad.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_token_is_required_when_configured() {
    let sim = start_with(|c| c.token = Some("s3cret".into())).await;
    // kube-rs sends the token from the written kubeconfig. (kubectl does not send
    // credentials over plain HTTP at all, so it gets 401 here, as from a real server.)
    let client = sim.client().await;
    let api: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(client);
    let names: Vec<String> = api
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    assert!(names.contains(&"default".to_owned()), "{names:?}");
    let denied = sim.kubectl_in(&["get", "ns"], None).await;
    assert!(
        !denied.ok && denied.stderr.contains("provide credentials"),
        "{}",
        denied.stderr
    );
    let (code, body) = raw_get(sim.handle.addr, "/api/v1/namespaces", &[]).await;
    assert_eq!(code, 401);
    assert!(body.contains("\"reason\":\"Unauthorized\""), "{body}");
    let bearer = [("Authorization", "Bearer s3cret")];
    let (code, _) = raw_get(sim.handle.addr, "/api/v1/namespaces", &bearer).await;
    assert_eq!(code, 200);
}

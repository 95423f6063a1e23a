//! Private registries: a pull secret the leader names for a subscriber (here its
//! ServiceAccount's) that matches the image's registry becomes a Secret owned by the scan
//! Job of that credential identity, passed to Trivy as TRIVY_USERNAME and TRIVY_PASSWORD;
//! an image of another registry is scanned anonymously.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod scan_support;

use std::time::Duration;

use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use kube::api::{Api, DeleteParams, PostParams};
use kube_sim::faults::FaultConfig;
use scan_support::*;
use serde_json::json;
use worker::scan::credentials::{self, secret_name};
use worker::scan::job::job_name;

fn base64(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

async fn setup(sim: &Sim) {
    let docker_config = json!({"auths": {"https://index.docker.io/v1/": {
        "username": "alice", "password": "s3cret"
    }}})
    .to_string();
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": "regcred", "namespace": "apps"},
        "type": "kubernetes.io/dockerconfigjson",
        // `data`, not `stringData`: kube-sim does not fold stringData into data.
        "data": {".dockerconfigjson": base64(&docker_config)},
    }))
    .unwrap();
    let secrets: Api<Secret> = Api::namespaced(sim.client.clone(), "apps");
    secrets
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    let sa: ServiceAccount = serde_json::from_value(json!({
        "metadata": {"name": "builder", "namespace": "apps"},
        "imagePullSecrets": [{"name": "regcred"}],
    }))
    .unwrap();
    let accounts: Api<ServiceAccount> = Api::namespaced(sim.client.clone(), "apps");
    accounts.create(&PostParams::default(), &sa).await.unwrap();
}

/// Runs the scan with Job deletion failing, so the Job and its Secret can be inspected.
async fn scan_keeping_the_job(
    sim: &Sim,
    image: &str,
    credentials_expected: bool,
) -> (serde_json::Value, Option<Secret>) {
    let rs = sim.replicaset("apps", "web", &[("app", image)]).await;
    // The workload's pod template names the ServiceAccount.
    let api: Api<k8s_openapi::api::apps::v1::ReplicaSet> =
        Api::namespaced(sim.client.clone(), "apps");
    let patch = json!({"spec": {"template": {"spec": {"serviceAccountName": "builder"}}}});
    api.patch("web", &Default::default(), &kube::api::Patch::Merge(&patch))
        .await
        .unwrap();
    // The leader names the pull secrets (here: the ServiceAccount's).
    let mut s = subscriber(&rs, "app", image);
    s.pull_secrets = vec!["regcred".into()];
    let t = task(image, vec![s]);
    let identity = credentials_expected.then(|| credentials::identity("apps", "regcred"));
    let key = credentials::job_key(&t.scan_key, identity.as_deref());
    let name = job_name(&key);
    sim.handle.set_faults(FaultConfig {
        error_rate: 1.0,
        path_prefix: Some(format!(
            "/apis/batch/v1/namespaces/{OPERATOR_NS}/jobs/{name}"
        )),
        ..FaultConfig::default()
    });
    let written = run(sim, &settings(Duration::from_secs(120)), &t)
        .await
        .unwrap();
    assert_eq!(written, ["apps/replicaset-web-app"], "the scan ran");
    sim.handle.set_faults(FaultConfig::default());
    let job = serde_json::to_value(sim.jobs().get(&name).await.unwrap()).unwrap();
    let secrets: Api<Secret> = Api::namespaced(sim.client.clone(), OPERATOR_NS);
    let secret = secrets.get_opt(&secret_name(&name)).await.unwrap();
    sim.jobs()
        .delete(&name, &DeleteParams::background())
        .await
        .unwrap();
    (job, secret)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matching_pull_secret_reaches_trivy_through_a_job_owned_secret() {
    let sim = start(&["apps"]).await;
    setup(&sim).await;
    let (job, secret) = scan_keeping_the_job(&sim, "alpine:3.10", true).await;
    let name = job["metadata"]["name"].as_str().unwrap();
    let env = &job["spec"]["template"]["spec"]["containers"][0]["env"];
    assert_eq!(env[0]["name"], "TRIVY_USERNAME");
    assert_eq!(env[1]["name"], "TRIVY_PASSWORD");
    assert_eq!(
        env[0]["valueFrom"]["secretKeyRef"]["name"],
        secret_name(name)
    );
    let secret = secret.expect("the credentials secret");
    let owner = &secret.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!((owner.kind.as_str(), owner.name.as_str()), ("Job", name));
    assert_eq!(owner.uid, job["metadata"]["uid"].as_str().unwrap());
    let data = secret.data.unwrap();
    assert_eq!(data["username"].0, b"alice");
    assert_eq!(data["password"].0, b"s3cret");

    // Garbage collection removes the Secret with its Job.
    let secrets: Api<Secret> = Api::namespaced(sim.client.clone(), OPERATOR_NS);
    let secret_name = secret_name(name);
    eventually("the credentials secret to be collected", || {
        let secrets = secrets.clone();
        let secret_name = secret_name.clone();
        async move {
            secrets
                .get_opt(&secret_name)
                .await
                .unwrap()
                .is_none()
                .then_some(())
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_registries_get_no_credentials() {
    let sim = start(&["apps"]).await;
    setup(&sim).await;
    let image = "ghcr.io/aquasecurity/trivy-test-images:alpine-310";
    let (job, secret) = scan_keeping_the_job(&sim, image, false).await;
    assert!(
        job["spec"]["template"]["spec"]["containers"][0]
            .get("env")
            .is_none()
    );
    assert!(secret.is_none());
}

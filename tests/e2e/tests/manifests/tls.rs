//! The TLS variant of the install (`deploy/tls/`) and `scripts/tls-secret`: the script's
//! Secret holds a CA and a leader certificate that our leader serves and our workers accept
//! under every name the Service has; the overlay mounts the private key in the leader only,
//! points the workers at `https://` with the CA, changes nothing else, and passes a
//! server-side dry run.

use std::process::Command;
use std::time::Duration;

use e2e::workloads::{all_pods_audited, apply_pods};
use e2e::{Cluster, Operator, OperatorOptions, audits_only};
use serde_json::Value;

use super::{NODES_NS, NS, documents, find, render, render_dir, render_overlay};

fn container_env(d: &Value) -> Vec<Value> {
    d["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .unwrap()
        .clone()
}

fn value<'a>(env: &'a [Value], name: &str) -> Option<&'a str> {
    env.iter()
        .find(|e| e["name"] == name)
        .and_then(|e| e["value"].as_str())
}

/// The Secret keys a Deployment's pods can read.
fn secret_keys(d: &Value) -> Vec<String> {
    d["spec"]["template"]["spec"]["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| v["secret"]["secretName"] == "trivy-operator-tls")
        .flat_map(|v| {
            v["secret"]["items"]
                .as_array()
                .expect("mount chosen keys, not the whole Secret")
                .iter()
                .map(|i| i["key"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn the_tls_overlay_changes_only_what_tls_needs() {
    let plain = documents(&render());
    let tls = documents(&render_dir("deploy/tls"));
    let leader = find(&tls, "Deployment", "trivy-operator-leader");
    let worker = find(&tls, "Deployment", "trivy-operator-worker");
    let leader_env = container_env(leader);
    let worker_env = container_env(worker);
    assert!(
        value(&leader_env, "TLS_CERT_FILE")
            .unwrap()
            .ends_with("tls.crt")
    );
    assert!(
        value(&leader_env, "TLS_KEY_FILE")
            .unwrap()
            .ends_with("tls.key")
    );
    assert_eq!(secret_keys(leader), ["tls.crt", "tls.key"]);
    assert_eq!(
        value(&worker_env, "LEADER_ADDR"),
        Some(format!("https://trivy-operator-leader.{NS}.svc:7070").as_str())
    );
    assert!(
        value(&worker_env, "TLS_CA_FILE")
            .unwrap()
            .ends_with("ca.crt")
    );
    assert_eq!(secret_keys(worker), ["ca.crt"], "workers never get the key");
    // Workers still authenticate with their own tokens.
    assert!(value(&worker_env, "WORKER_TOKEN_FILE").is_some());
    // Same images, and every other object identical to the plain install.
    for d in [leader, worker] {
        let name = d["metadata"]["name"].as_str().unwrap();
        let base = find(&plain, "Deployment", name);
        assert_eq!(
            d["spec"]["template"]["spec"]["containers"][0]["image"],
            base["spec"]["template"]["spec"]["containers"][0]["image"]
        );
    }
    for o in plain
        .iter()
        .filter(|o| o["kind"] != "Deployment" && o["kind"] != "CustomResourceDefinition")
    {
        let kind = o["kind"].as_str().unwrap();
        let name = o["metadata"]["name"].as_str().unwrap();
        // The same kind and name can be in two namespaces (the worker's Roles).
        let same = tls
            .iter()
            .find(|t| {
                t["kind"] == o["kind"]
                    && t["metadata"]["name"] == o["metadata"]["name"]
                    && t["metadata"]["namespace"] == o["metadata"]["namespace"]
            })
            .unwrap_or_else(|| panic!("{kind}/{name} missing from the TLS overlay"));
        assert_eq!(same, o, "{kind}/{name} differs");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_script_certificates_carry_the_leader_and_its_workers() {
    assert!(
        Command::new("openssl").arg("version").output().is_ok(),
        "openssl is needed by scripts/tls-secret and this test: install it (scripts/setup checks for it)"
    );
    let cluster = Cluster::start("tls-overlay").await.unwrap();
    let op_ns = cluster.ns("trivy-system");
    let _ = cluster.kubectl(&["create", "namespace", &op_ns]);
    let files = cluster.dir.join("tls");
    let out = Command::new(e2e::repo_root().join("scripts/tls-secret"))
        .args(["--namespace", &op_ns, "--days", "2", "--out"])
        .arg(&files)
        .env("KUBECONFIG", &cluster.kubeconfig)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "scripts/tls-secret failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let secret = cluster
        .get_json(&["secret", "trivy-operator-tls", "-n", &op_ns])
        .unwrap();
    assert_eq!(secret["type"], "kubernetes.io/tls");
    for key in ["tls.crt", "tls.key", "ca.crt"] {
        assert!(secret["data"][key].is_string(), "no {key} in the Secret");
    }
    // The overlay's objects pass a server-side dry run.
    let text = render_dir("deploy/tls");
    let objects = documents(&text);
    for ns in [NS, NODES_NS] {
        let namespace = find(&objects, "Namespace", ns);
        cluster
            .apply(&serde_json::to_string(namespace).unwrap())
            .unwrap();
    }
    cluster
        .kubectl_with_input(&["apply", "--dry-run=server", "-f", "-"], Some(&text))
        .unwrap();

    // The leader serves the script's certificate; workers verify it by the Service's name.
    let ns = cluster.ns("tls-app");
    cluster
        .create_namespaces(std::slice::from_ref(&ns))
        .unwrap();
    let path = |f: &str| files.join(f).to_string_lossy().into_owned();
    let _op = Operator::start(
        &cluster,
        OperatorOptions::new(e2e::binaries!(), &cluster, vec![ns.clone()])
            .operator_namespace(op_ns.clone())
            .leader_args(
                [
                    audits_only(),
                    vec![
                        "--tls-cert-file".into(),
                        path("tls.crt"),
                        "--tls-key-file".into(),
                        path("tls.key"),
                    ],
                ]
                .concat(),
            )
            .worker_args(vec![
                "--tls-ca-file".into(),
                path("ca.crt"),
                "--tls-server-name".into(),
                format!("trivy-operator-leader.{op_ns}.svc"),
            ]),
    )
    .unwrap();
    apply_pods(&cluster, &ns, &["a"], "alpine:3.10").unwrap();
    all_pods_audited(
        &cluster,
        std::slice::from_ref(&ns),
        1,
        Duration::from_secs(240),
    )
    .await
    .unwrap();
}

/// The optional admission policy (`deploy/components/scan-job-policy`, enforced by API
/// servers 1.30+; `scripts/kind-e2e` checks the enforcement) names the accounts `deploy/`
/// uses: it matches Jobs the worker's ServiceAccount creates in the operator's namespace and
/// requires the scan ServiceAccount the worker is configured with.
#[test]
fn the_scan_job_policy_names_the_shipped_accounts() {
    let objects = render_overlay("scan-job-policy", "tls", "scan-job-policy");
    let policy = find(
        &objects,
        "ValidatingAdmissionPolicy",
        "trivy-operator-scan-jobs",
    );
    let binding = find(
        &objects,
        "ValidatingAdmissionPolicyBinding",
        "trivy-operator-scan-jobs",
    );
    assert_eq!(binding["spec"]["policyName"], "trivy-operator-scan-jobs");
    assert_eq!(
        binding["spec"]["validationActions"],
        serde_json::json!(["Deny"])
    );
    assert_eq!(policy["spec"]["failurePolicy"], "Fail");
    let spec = &policy["spec"];
    assert_eq!(
        spec["matchConstraints"]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"],
        NS
    );
    let worker = find(&objects, "Deployment", "trivy-operator-worker");
    let account = worker["spec"]["template"]["spec"]["serviceAccountName"]
        .as_str()
        .unwrap();
    let condition = spec["matchConditions"][0]["expression"].as_str().unwrap();
    assert!(
        condition.contains(&format!("\"system:serviceaccount:{NS}:{account}\"")),
        "{condition}"
    );
    let args = worker["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .unwrap();
    let scan_account = args
        .iter()
        .find_map(|a| a.as_str()?.strip_prefix("--scan-job-service-account="))
        .unwrap();
    let validation = spec["validations"][0]["expression"].as_str().unwrap();
    assert!(
        validation.contains(&format!("== \"{scan_account}\"")),
        "{validation}"
    );
}

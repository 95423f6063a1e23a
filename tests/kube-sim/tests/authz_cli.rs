//! RBAC authorization mode with the real kubectl (the anonymous user: kubectl sends no token
//! over plain HTTP) and the `kube-sim` binary with `--authorization rbac --token-file`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod authz_support;
mod sim_support;

use serde_json::{Value, json};

use authz_support::*;
use sim_support::{DEADLINE, raw_get};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_as_anonymous_is_authorized_by_rbac() {
    // kubectl sends no credentials over plain HTTP, so it is system:anonymous here.
    let sim = rbac_sim(true).await;
    for ns in ["a", "b"] {
        sim.namespace(ns);
    }
    pod(&sim, "a", "p1");
    let out = sim.kubectl_in(&["get", "--raw", "/api"], None).await;
    assert!(!out.ok);
    assert_eq!(
        out.stderr.trim(),
        "Error from server (Forbidden): forbidden: User \"system:anonymous\" cannot get path \"/api\""
    );
    // /version is public, as on a real cluster.
    let version = sim.kubectl(&["get", "--raw", "/version"]).await;
    assert!(version.contains("gitVersion"), "{version}");
    rbac(
        &sim,
        "clusterroles",
        json!({"metadata": {"name": "anon-discovery"}, "rules": [{"nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*"], "verbs": ["get"]}]}),
    );
    rbac(
        &sim,
        "clusterrolebindings",
        json!({"metadata": {"name": "anon-discovery"}, "subjects": [{"kind": "Group", "name": "system:unauthenticated"}],
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "anon-discovery"}}),
    );
    grant(
        &sim,
        "a",
        "pod-reader",
        json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]),
        json!([{"kind": "User", "name": "system:anonymous"}]),
    );
    let listed = sim.kubectl(&["get", "pods", "-n", "a", "-o", "name"]).await;
    assert_eq!(listed.trim(), "pod/p1");
    let out = sim.kubectl_in(&["get", "pods", "-n", "b"], None).await;
    assert!(!out.ok);
    assert_eq!(
        out.stderr.trim(),
        "Error from server (Forbidden): pods is forbidden: User \"system:anonymous\" cannot list resource \"pods\" in API group \"\" in the namespace \"b\""
    );
    let out = sim
        .kubectl_in(&["delete", "pod", "p1", "-n", "a"], None)
        .await;
    assert_eq!(
        out.stderr.trim(),
        "Error from server (Forbidden): pods \"p1\" is forbidden: User \"system:anonymous\" cannot delete resource \"pods\" in API group \"\" in the namespace \"a\""
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_with_token_file() {
    use tokio::io::AsyncBufReadExt;
    let dir = std::env::temp_dir().join(format!("kube-sim-authz-bin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let token_file = dir.join("tokens.csv");
    std::fs::write(
        &token_file,
        format!("{SA_TOKEN},{SA_USER}\n{ADMIN_TOKEN},admin,admin-uid,\"system:masters\"\n"),
    )
    .unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_kube-sim"))
        .args(["--port", "0", "--authorization", "rbac", "--token-file"])
        .arg(&token_file)
        .arg("--kubeconfig-out")
        .arg(dir.join("kubeconfig"))
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(DEADLINE, lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let addr: std::net::SocketAddr = first
        .strip_prefix("listening on http://")
        .unwrap()
        .parse()
        .unwrap();
    let sa = format!("Bearer {SA_TOKEN}");
    let admin = format!("Bearer {ADMIN_TOKEN}");
    let (code, body) = raw_get(addr, "/api/v1/namespaces", &[("Authorization", &sa)]).await;
    assert_eq!(code, 403, "{body}");
    let status: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        status["message"],
        "namespaces is forbidden: User \"system:serviceaccount:ops:scanner\" cannot list resource \"namespaces\" in API group \"\" at the cluster scope"
    );
    let (code, body) = raw_get(addr, "/api/v1/namespaces", &[("Authorization", &admin)]).await;
    assert_eq!(code, 200, "{body}");
    let (code, _) = raw_get(addr, "/api/v1/namespaces", &[("Authorization", "Bearer x")]).await;
    assert_eq!(code, 401);
    child.kill().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

//! Least-privilege identities on kube-sim: the operator's processes authenticate with the
//! tokens of their ServiceAccounts and are authorized by the RBAC objects shipped in
//! `deploy/base`, exactly as in a cluster — so every scenario also proves the RBAC is enough.
//! (kubectl sends no token over plain HTTP; the harness's kubectl is bound to cluster-admin as
//! `system:anonymous`, standing in for the cluster administrator.)

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use kube::api::{Api, DynamicObject, PostParams};
use kube_sim::authz::UserInfo;
use serde_json::{Value, json};

use crate::Cluster;

/// The ServiceAccounts the operator's processes run as.
pub const LEADER_SA: &str = "trivy-operator-leader";
pub const WORKER_SA: &str = "trivy-operator-worker";

/// Tokens for kube-sim: the admin (the harness's kube-rs client) and one per ServiceAccount.
pub struct Identities {
    pub admin_token: String,
    pub leader_token: String,
    pub worker_token: String,
    pub operator_ns: String,
}

impl Identities {
    /// Fresh tokens for ServiceAccounts in `operator_ns`.
    pub fn new(operator_ns: &str, salt: &str) -> Self {
        Self {
            admin_token: format!("admin-{salt}"),
            leader_token: format!("leader-{salt}"),
            worker_token: format!("worker-{salt}"),
            operator_ns: operator_ns.to_string(),
        }
    }

    /// The token → user table kube-sim authenticates with.
    pub fn tokens(&self) -> BTreeMap<String, UserInfo> {
        let sa = |name: &str| format!("system:serviceaccount:{}:{name}", self.operator_ns);
        BTreeMap::from([
            (
                self.admin_token.clone(),
                UserInfo::with_groups("e2e-admin", &["system:masters"]),
            ),
            (self.leader_token.clone(), UserInfo::new(&sa(LEADER_SA))),
            (self.worker_token.clone(), UserInfo::new(&sa(WORKER_SA))),
        ])
    }
}

/// Lets token-less requests (the harness's kubectl) act as cluster-admin.
pub async fn bind_anonymous_to_cluster_admin(admin: &kube::Client) -> anyhow::Result<()> {
    let gvk =
        kube::api::GroupVersionKind::gvk("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding");
    let resource = kube::api::ApiResource::from_gvk(&gvk);
    let api: Api<DynamicObject> = Api::all_with(admin.clone(), &resource);
    let binding: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "e2e-harness-admin"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "system:anonymous"}],
    }))?;
    api.create(&PostParams::default(), &binding)
        .await
        .context("binding the harness to cluster-admin")?;
    Ok(())
}

/// The ServiceAccounts and RBAC objects of `deploy/` (rendered by `kubectl kustomize`),
/// moved from `trivy-system` to `operator_ns`.
pub fn shipped_rbac(cluster: &Cluster, operator_ns: &str) -> anyhow::Result<String> {
    let rendered = cluster.kubectl(&[
        "kustomize",
        &crate::repo_root().join("deploy").to_string_lossy(),
    ])?;
    let mut out = String::new();
    for doc in serde_yaml_ng::Deserializer::from_str(&rendered) {
        let mut object: Value = serde::Deserialize::deserialize(doc)?;
        let kind = object["kind"].as_str().unwrap_or_default();
        if !matches!(
            kind,
            "ServiceAccount" | "ClusterRole" | "ClusterRoleBinding" | "Role" | "RoleBinding"
        ) {
            continue;
        }
        // This test's namespaces: the operator's, and the node-collector's beside it.
        let rename = |ns: &Value| match ns.as_str() {
            Some("trivy-system") => Some(json!(operator_ns)),
            Some("trivy-system-nodes") => Some(json!(nodes_namespace(operator_ns))),
            _ => None,
        };
        if let Some(ns) = rename(&object["metadata"]["namespace"]) {
            object["metadata"]["namespace"] = ns;
        }
        if let Some(subjects) = object["subjects"].as_array_mut() {
            for subject in subjects.iter_mut() {
                if let Some(ns) = rename(&subject["namespace"]) {
                    subject["namespace"] = ns;
                }
            }
        }
        out.push_str(&serde_yaml_ng::to_string(&object)?);
        out.push_str("---\n");
    }
    Ok(out)
}

/// The namespace of the node-collector Jobs of an operator in `operator_ns` (as
/// `trivy-system-nodes` is beside `trivy-system`).
pub fn nodes_namespace(operator_ns: &str) -> String {
    format!("{operator_ns}-nodes")
}

/// Writes a kubeconfig for `url` that authenticates with `token`.
pub fn write_kubeconfig(dir: &Path, name: &str, url: &str, token: &str) -> anyhow::Result<PathBuf> {
    let path = dir.join(format!("kubeconfig-{name}"));
    std::fs::write(&path, kube_sim::kubeconfig_yaml(url, Some(token)))?;
    Ok(path)
}

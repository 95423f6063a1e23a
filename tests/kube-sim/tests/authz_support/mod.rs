//! Helpers of the RBAC tests: a sim in RBAC mode with an admin and a service account token,
//! clients per token, and roles and bindings written to the store.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use kube_sim::authz::{Authorization, UserInfo};
use kube_sim::store::GroupResource;
use serde_json::{Value, json};

use crate::sim_support::{Sim, start_with};

pub const SA_TOKEN: &str = "sa-token-1";
pub const ADMIN_TOKEN: &str = "admin-token-1";
pub const SA_USER: &str = "system:serviceaccount:ops:scanner";

/// An RBAC sim: the kubeconfig token is the admin's, `SA_TOKEN` is ops/scanner.
pub async fn rbac_sim(anonymous: bool) -> Sim {
    start_with(|c| {
        c.authorization = Authorization::Rbac;
        c.token = Some(ADMIN_TOKEN.to_owned());
        c.tokens = BTreeMap::from([(SA_TOKEN.to_owned(), UserInfo::new(SA_USER))]);
        c.anonymous = anonymous;
    })
    .await
}

/// A kube-rs client sending `token`.
pub async fn client_with(sim: &Sim, token: &str) -> kube::Client {
    let yaml = kube_sim::kubeconfig_yaml(&sim.handle.url(), Some(token));
    let kc = kube::config::Kubeconfig::from_yaml(&yaml).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap();
    kube::Client::try_from(config).unwrap()
}

pub fn put(sim: &Sim, group: &str, resource: &str, obj: Value) {
    let gr = GroupResource::new(group, resource);
    sim.handle.store().create(&gr, obj).unwrap();
}

pub fn rbac(sim: &Sim, resource: &str, obj: Value) {
    put(sim, "rbac.authorization.k8s.io", resource, obj);
}

/// A Role in `ns` with `rules`, bound by a RoleBinding of the same name to `subjects`.
pub fn grant(sim: &Sim, ns: &str, name: &str, rules: Value, subjects: Value) {
    rbac(
        sim,
        "roles",
        json!({"metadata": {"name": name, "namespace": ns}, "rules": rules}),
    );
    rbac(
        sim,
        "rolebindings",
        json!({"metadata": {"name": name, "namespace": ns}, "subjects": subjects,
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name}}),
    );
}

pub fn sa_subject() -> Value {
    json!([{"kind": "ServiceAccount", "name": "scanner", "namespace": "ops"}])
}

pub fn pod(sim: &Sim, ns: &str, name: &str) {
    put(
        sim,
        "",
        "pods",
        json!({"metadata": {"name": name, "namespace": ns},
               "spec": {"containers": [{"name": "c", "image": "busybox"}]}}),
    );
}

pub fn api_status<T: std::fmt::Debug>(r: Result<T, kube::Error>) -> kube::core::Status {
    match r {
        Err(kube::Error::Api(s)) => *s,
        other => panic!("expected an API error, got {other:?}"),
    }
}

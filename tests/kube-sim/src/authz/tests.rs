//! Unit tests of RBAC evaluation against a store holding roles and bindings.

#![allow(clippy::unwrap_used)]

use axum::http::Method;
use serde_json::{Value, json};

use super::*;
use crate::store::GroupResource;

const SA: &str = "system:serviceaccount:ops:worker";

fn rbac(store: &Store, resource: &str, obj: Value) {
    if let Some(ns) = obj.pointer("/metadata/namespace") {
        let _ = store.create(
            &GroupResource::new("", "namespaces"),
            json!({"metadata": {"name": ns}}),
        );
    }
    store
        .create(
            &GroupResource::new("rbac.authorization.k8s.io", resource),
            obj,
        )
        .unwrap();
}

fn role(store: &Store, ns: &str, name: &str, rules: Value) {
    rbac(
        store,
        "roles",
        json!({"metadata": {"name": name, "namespace": ns}, "rules": rules}),
    );
}

fn cluster_role(store: &Store, name: &str, rules: Value) {
    rbac(
        store,
        "clusterroles",
        json!({"metadata": {"name": name}, "rules": rules}),
    );
}

fn binding(store: &Store, ns: Option<&str>, name: &str, kind: &str, role: &str, subjects: Value) {
    let role_ref = json!({"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": role});
    match ns {
        Some(ns) => rbac(
            store,
            "rolebindings",
            json!({"metadata": {"name": name, "namespace": ns}, "roleRef": role_ref, "subjects": subjects}),
        ),
        None => rbac(
            store,
            "clusterrolebindings",
            json!({"metadata": {"name": name}, "roleRef": role_ref, "subjects": subjects}),
        ),
    }
}

fn decide(store: &Store, user: &UserInfo, method: Method, uri: &str) -> Decision {
    let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
    let attrs = Attributes::from_request(
        &Subject::from(user),
        &method,
        path,
        &Query::parse(Some(query)),
    );
    authorize(store, &attrs)
}

fn allowed(store: &Store, user: &UserInfo, method: Method, uri: &str) -> bool {
    decide(store, user, method, uri) == Decision::Allow
}

#[test]
fn bindings_grant_by_namespace() {
    let store = Store::new();
    let sa = UserInfo::new(SA);
    role(
        &store,
        "a",
        "pod-reader",
        json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]),
    );
    binding(
        &store,
        Some("a"),
        "sa-reads-pods",
        "Role",
        "pod-reader",
        json!([{"kind": "ServiceAccount", "name": "worker", "namespace": "ops"}]),
    );
    assert!(allowed(
        &store,
        &sa,
        Method::GET,
        "/api/v1/namespaces/a/pods"
    ));
    assert!(allowed(
        &store,
        &sa,
        Method::GET,
        "/api/v1/namespaces/a/pods/p"
    ));
    assert!(!allowed(
        &store,
        &sa,
        Method::GET,
        "/api/v1/namespaces/b/pods"
    ));
    assert!(!allowed(&store, &sa, Method::GET, "/api/v1/pods"));
    assert!(!allowed(
        &store,
        &sa,
        Method::GET,
        "/api/v1/namespaces/a/pods?watch=true"
    ));
    assert!(!allowed(
        &store,
        &sa,
        Method::GET,
        "/api/v1/namespaces/a/secrets"
    ));
    assert!(!allowed(
        &store,
        &sa,
        Method::DELETE,
        "/api/v1/namespaces/a/pods/p"
    ));
    assert!(!allowed(
        &store,
        &UserInfo::new("other"),
        Method::GET,
        "/api/v1/namespaces/a/pods"
    ));

    // A RoleBinding to a ClusterRole grants it in the binding's namespace only.
    cluster_role(
        &store,
        "job-admin",
        json!([{"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["*"]}]),
    );
    binding(
        &store,
        Some("b"),
        "jobs-in-b",
        "ClusterRole",
        "job-admin",
        json!([{"kind": "ServiceAccount", "name": "worker", "namespace": "ops"}]),
    );
    assert!(allowed(
        &store,
        &sa,
        Method::POST,
        "/apis/batch/v1/namespaces/b/jobs"
    ));
    assert!(allowed(
        &store,
        &sa,
        Method::DELETE,
        "/apis/batch/v1/namespaces/b/jobs"
    ));
    assert!(!allowed(
        &store,
        &sa,
        Method::POST,
        "/apis/batch/v1/namespaces/a/jobs"
    ));
    assert!(!allowed(&store, &sa, Method::GET, "/apis/batch/v1/jobs"));

    // A ClusterRoleBinding grants everywhere, cluster scope included.
    cluster_role(
        &store,
        "ns-reader",
        json!([{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "list", "watch"]}]),
    );
    binding(
        &store,
        None,
        "all-read-ns",
        "ClusterRole",
        "ns-reader",
        json!([{"kind": "Group", "name": "system:serviceaccounts:ops"}]),
    );
    assert!(allowed(
        &store,
        &sa,
        Method::GET,
        "/api/v1/namespaces?watch=1"
    ));
    assert!(allowed(&store, &sa, Method::GET, "/api/v1/namespaces/zzz"));
    assert!(!allowed(
        &store,
        &sa,
        Method::DELETE,
        "/api/v1/namespaces/zzz"
    ));
}

#[test]
fn role_binding_in_a_namespace_covers_that_namespace_object() {
    let store = Store::new();
    let user = UserInfo::new("dev");
    role(
        &store,
        "a",
        "ns-get",
        json!([{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get"]}]),
    );
    binding(
        &store,
        Some("a"),
        "b1",
        "Role",
        "ns-get",
        json!([{"kind": "User", "name": "dev"}]),
    );
    assert!(allowed(&store, &user, Method::GET, "/api/v1/namespaces/a"));
    assert!(!allowed(&store, &user, Method::GET, "/api/v1/namespaces/b"));
}

#[test]
fn resource_names_and_field_selectors() {
    let store = Store::new();
    let user = UserInfo::new("dev");
    role(
        &store,
        "a",
        "one-cm",
        json!([{"apiGroups": [""], "resources": ["configmaps"],
        "resourceNames": ["cfg"], "verbs": ["get", "list", "watch", "update", "patch", "delete"]}]),
    );
    binding(
        &store,
        Some("a"),
        "b1",
        "Role",
        "one-cm",
        json!([{"kind": "User", "name": "dev"}]),
    );
    let base = "/api/v1/namespaces/a/configmaps";
    assert!(allowed(&store, &user, Method::GET, &format!("{base}/cfg")));
    assert!(allowed(
        &store,
        &user,
        Method::PATCH,
        &format!("{base}/cfg")
    ));
    assert!(!allowed(
        &store,
        &user,
        Method::GET,
        &format!("{base}/other")
    ));
    assert!(!allowed(&store, &user, Method::GET, base));
    assert!(!allowed(&store, &user, Method::POST, base));
    assert!(allowed(
        &store,
        &user,
        Method::GET,
        &format!("{base}?fieldSelector=metadata.name%3Dcfg")
    ));
    assert!(allowed(
        &store,
        &user,
        Method::GET,
        &format!("{base}?watch=true&fieldSelector=metadata.name%3Dcfg")
    ));
    assert!(!allowed(
        &store,
        &user,
        Method::GET,
        &format!("{base}?watch=true&fieldSelector=metadata.name%3Dx")
    ));
    assert!(!allowed(
        &store,
        &user,
        Method::DELETE,
        &format!("{base}?fieldSelector=metadata.name%3Dcfg")
    ));
}

#[test]
fn built_in_grants() {
    let store = Store::new();
    let admin = UserInfo::with_groups("root", &[MASTERS_GROUP]);
    assert!(allowed(
        &store,
        &admin,
        Method::DELETE,
        "/api/v1/namespaces/a/secrets"
    ));
    assert!(allowed(&store, &admin, Method::POST, "/not/a/thing"));
    let user = UserInfo::new("dev");
    for path in [
        "/api",
        "/api/v1",
        "/apis",
        "/apis/apps/v1",
        "/version",
        "/openapi/v3",
        "/healthz",
    ] {
        assert!(allowed(&store, &user, Method::GET, path), "{path}");
    }
    assert!(!allowed(&store, &user, Method::POST, "/api"));
    assert!(!allowed(&store, &user, Method::GET, "/metrics"));
    let anon = UserInfo::anonymous();
    assert!(allowed(&store, &anon, Method::GET, "/version"));
    assert!(!allowed(&store, &anon, Method::GET, "/api"));
}

#[test]
fn dangling_role_refs_are_the_reason() {
    let store = Store::new();
    let user = UserInfo::new("dev");
    binding(
        &store,
        Some("a"),
        "b1",
        "Role",
        "gone",
        json!([{"kind": "User", "name": "dev"}]),
    );
    binding(
        &store,
        None,
        "c1",
        "ClusterRole",
        "gone-too",
        json!([{"kind": "User", "name": "dev"}]),
    );
    binding(
        &store,
        None,
        "c2",
        "ClusterRole",
        "gone-too",
        json!([{"kind": "User", "name": "dev"}]),
    );
    assert_eq!(
        decide(&store, &user, Method::GET, "/api/v1/namespaces/a/pods"),
        Decision::Deny {
            reason: "RBAC: [clusterrole.rbac.authorization.k8s.io \"gone-too\" not found, \
                     role.rbac.authorization.k8s.io \"gone\" not found]"
                .to_owned()
        }
    );
    assert_eq!(
        decide(&store, &user, Method::GET, "/api/v1/nodes"),
        Decision::Deny {
            reason: "RBAC: clusterrole.rbac.authorization.k8s.io \"gone-too\" not found".to_owned()
        }
    );
    assert_eq!(
        decide(&store, &UserInfo::new("x"), Method::GET, "/api/v1/nodes"),
        Decision::Deny {
            reason: String::new()
        }
    );
}

//! RBAC authorization mode with kube-rs clients: service account and admin tokens, namespaces,
//! verbs (watch), subresources (pods/log), resourceNames, ClusterRoles through RoleBindings,
//! dangling role references, unknown tokens.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod authz_support;
mod sim_support;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Pod, Secret};
use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};
use kube_sim::store::GroupResource;
use serde_json::json;

use authz_support::*;
use sim_support::{DEADLINE, raw_get};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_account_role_in_one_namespace() {
    let sim = rbac_sim(false).await;
    for ns in ["a", "b", "ops"] {
        sim.namespace(ns);
    }
    pod(&sim, "a", "p1");
    pod(&sim, "b", "p2");
    grant(
        &sim,
        "a",
        "pod-reader",
        json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]),
        sa_subject(),
    );
    let sa = client_with(&sim, SA_TOKEN).await;

    let in_a: Api<Pod> = Api::namespaced(sa.clone(), "a");
    let names: Vec<_> = in_a
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|p| p.metadata.name)
        .collect();
    assert_eq!(names, ["p1"]);
    assert_eq!(
        in_a.get("p1").await.unwrap().metadata.name.as_deref(),
        Some("p1")
    );

    let in_b: Api<Pod> = Api::namespaced(sa.clone(), "b");
    let s = api_status(in_b.list(&ListParams::default()).await);
    assert_eq!((s.code, s.reason.as_str()), (403, "Forbidden"));
    assert_eq!(
        s.message,
        "pods is forbidden: User \"system:serviceaccount:ops:scanner\" cannot list resource \"pods\" in API group \"\" in the namespace \"b\""
    );
    let s = api_status(in_b.get("p2").await);
    assert_eq!(
        s.message,
        "pods \"p2\" is forbidden: User \"system:serviceaccount:ops:scanner\" cannot get resource \"pods\" in API group \"\" in the namespace \"b\""
    );
    let details = s.details.unwrap();
    assert_eq!(
        (
            details.name.as_str(),
            details.kind.as_str(),
            details.group.as_str()
        ),
        ("p2", "pods", "")
    );

    let secrets: Api<Secret> = Api::namespaced(sa.clone(), "a");
    let s = api_status(secrets.list(&ListParams::default()).await);
    assert_eq!(
        s.message,
        "secrets is forbidden: User \"system:serviceaccount:ops:scanner\" cannot list resource \"secrets\" in API group \"\" in the namespace \"a\""
    );
    let all: Api<Pod> = Api::all(sa.clone());
    let s = api_status(all.list(&ListParams::default()).await);
    assert_eq!(
        s.message,
        "pods is forbidden: User \"system:serviceaccount:ops:scanner\" cannot list resource \"pods\" in API group \"\" at the cluster scope"
    );
    let s = api_status(in_a.delete("p1", &Default::default()).await);
    assert_eq!(s.code, 403);
    assert!(
        s.message.contains("cannot delete resource \"pods\""),
        "{}",
        s.message
    );
    assert!(
        sim.handle
            .store()
            .get(&GroupResource::new("", "pods"), "a", "p1")
            .is_ok()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_is_authorized_as_watch() {
    let sim = rbac_sim(false).await;
    for ns in ["a", "ops"] {
        sim.namespace(ns);
    }
    grant(
        &sim,
        "a",
        "pod-lister",
        json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}]),
        sa_subject(),
    );
    let pods: Api<Pod> = Api::namespaced(client_with(&sim, SA_TOKEN).await, "a");
    pods.list(&ListParams::default()).await.unwrap();
    // kube-rs hands the refused watch over as the stream's first item.
    let first = match pods.watch(&WatchParams::default(), "0").await {
        Ok(stream) => stream.boxed().next().await.map(|r| r.map(|_| ())),
        Err(e) => Some(Err(e)),
    };
    let s = api_status(first.expect("an error item"));
    assert_eq!(
        s.message,
        "pods is forbidden: User \"system:serviceaccount:ops:scanner\" cannot watch resource \"pods\" in API group \"\" in the namespace \"a\""
    );

    // Adding the verb is enough; the watch then sees a pod created later.
    grant(
        &sim,
        "a",
        "pod-watcher",
        json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["watch"]}]),
        sa_subject(),
    );
    let mut stream = pods
        .watch(&WatchParams::default(), "0")
        .await
        .unwrap()
        .boxed();
    pod(&sim, "a", "later");
    let seen = tokio::time::timeout(DEADLINE, async {
        while let Some(ev) = stream.next().await {
            if let WatchEvent::Added(p) = ev.unwrap() {
                return p.metadata.name;
            }
        }
        None
    })
    .await
    .unwrap();
    assert_eq!(seen.as_deref(), Some("later"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_logs_need_the_subresource_rule() {
    let sim = rbac_sim(false).await;
    for ns in ["a", "ops"] {
        sim.namespace(ns);
    }
    pod(&sim, "a", "p1");
    sim.handle
        .state
        .logs
        .append("a", "p1", "c", b"scan output\n");
    grant(
        &sim,
        "a",
        "pod-reader",
        json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]),
        sa_subject(),
    );
    let pods: Api<Pod> = Api::namespaced(client_with(&sim, SA_TOKEN).await, "a");
    let s = api_status(pods.logs("p1", &Default::default()).await);
    assert_eq!(
        s.message,
        "pods \"p1\" is forbidden: User \"system:serviceaccount:ops:scanner\" cannot get resource \"pods/log\" in API group \"\" in the namespace \"a\""
    );
    grant(
        &sim,
        "a",
        "log-reader",
        json!([{"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]}]),
        sa_subject(),
    );
    assert_eq!(
        pods.logs("p1", &Default::default()).await.unwrap(),
        "scan output\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_role_bindings_resource_names_and_dangling_refs() {
    let sim = rbac_sim(false).await;
    for ns in ["a", "b", "ops"] {
        sim.namespace(ns);
    }
    put(
        &sim,
        "",
        "secrets",
        json!({"metadata": {"name": "token", "namespace": "b"}}),
    );
    put(
        &sim,
        "",
        "secrets",
        json!({"metadata": {"name": "other", "namespace": "b"}}),
    );
    rbac(
        &sim,
        "clusterroles",
        json!({"metadata": {"name": "one-secret"}, "rules": [{"apiGroups": [""],
               "resources": ["secrets"], "resourceNames": ["token"], "verbs": ["get", "list"]}]}),
    );
    // A ClusterRole through a RoleBinding in b: only in b, only the named secret.
    rbac(
        &sim,
        "rolebindings",
        json!({"metadata": {"name": "x", "namespace": "b"}, "subjects": [{"kind": "ServiceAccount", "name": "scanner", "namespace": "ops"}],
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "one-secret"}}),
    );
    let sa = client_with(&sim, SA_TOKEN).await;
    let in_b: Api<Secret> = Api::namespaced(sa.clone(), "b");
    in_b.get("token").await.unwrap();
    assert_eq!(api_status(in_b.get("other").await).code, 403);
    assert_eq!(
        api_status(in_b.list(&ListParams::default()).await).code,
        403
    );
    let named = in_b
        .list(&ListParams::default().fields("metadata.name=token"))
        .await
        .unwrap();
    assert_eq!(named.items.len(), 1);
    let in_a: Api<Secret> = Api::namespaced(sa.clone(), "a");
    assert_eq!(api_status(in_a.get("token").await).code, 403);

    // Cluster-wide through a ClusterRoleBinding to a group; a dangling one is the reason.
    rbac(
        &sim,
        "clusterroles",
        json!({"metadata": {"name": "ns-reader"}, "rules": [{"apiGroups": [""],
               "resources": ["namespaces"], "verbs": ["list"]}]}),
    );
    for (name, role) in [("readers", "ns-reader"), ("broken", "no-such-role")] {
        rbac(
            &sim,
            "clusterrolebindings",
            json!({"metadata": {"name": name}, "subjects": [{"kind": "Group", "name": "system:serviceaccounts:ops"}],
                   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role}}),
        );
    }
    let namespaces: Api<Namespace> = Api::all(sa.clone());
    let names: Vec<_> = namespaces
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    assert!(
        ["a", "b", "ops"]
            .iter()
            .all(|n| names.iter().any(|m| m == n)),
        "{names:?}"
    );
    let s = api_status(
        namespaces
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({"metadata": {"name": "new"}})).unwrap(),
            )
            .await,
    );
    assert_eq!(
        s.message,
        "namespaces is forbidden: User \"system:serviceaccount:ops:scanner\" cannot create resource \"namespaces\" in API group \"\" at the cluster scope: RBAC: clusterrole.rbac.authorization.k8s.io \"no-such-role\" not found"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_token_can_do_everything_and_unknown_tokens_are_unauthorized() {
    let sim = rbac_sim(false).await;
    // The kubeconfig carries the admin token (system:masters): no bindings needed.
    let admin = sim.client().await;
    let namespaces: Api<Namespace> = Api::all(admin.clone());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "z"}})).unwrap(),
        )
        .await
        .unwrap();
    let secrets: Api<Secret> = Api::namespaced(admin.clone(), "z");
    secrets
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "s"}})).unwrap(),
        )
        .await
        .unwrap();
    secrets
        .delete_collection(&Default::default(), &ListParams::default())
        .await
        .unwrap();
    // The seeded cluster-admin ClusterRole exists, as on a real cluster.
    let roles: Api<k8s_openapi::api::rbac::v1::ClusterRole> = Api::all(admin.clone());
    roles.get("cluster-admin").await.unwrap();

    let stranger = client_with(&sim, "not-a-token").await;
    let s = api_status(
        Api::<Namespace>::all(stranger)
            .list(&ListParams::default())
            .await,
    );
    assert_eq!(
        (s.code, s.reason.as_str(), s.message.as_str()),
        (401, "Unauthorized", "Unauthorized")
    );
    let (code, _) = raw_get(sim.handle.addr, "/api/v1/namespaces", &[]).await;
    assert_eq!(code, 401);
    // Discovery is open to any authenticated user, not to unknown ones.
    let bearer = format!("Bearer {SA_TOKEN}");
    let (code, body) = raw_get(sim.handle.addr, "/apis", &[("Authorization", &bearer)]).await;
    assert_eq!(code, 200, "{body}");
    let (code, _) = raw_get(
        sim.handle.addr,
        "/apis",
        &[("Authorization", "Bearer nope")],
    )
    .await;
    assert_eq!(code, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_apply_that_creates_needs_create() {
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::{Patch, PatchParams};
    let sim = rbac_sim(false).await;
    for ns in ["a", "ops"] {
        sim.namespace(ns);
    }
    put(
        &sim,
        "",
        "configmaps",
        json!({"metadata": {"name": "old", "namespace": "a"}}),
    );
    grant(
        &sim,
        "a",
        "cm-patcher",
        json!([{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["patch"]}]),
        sa_subject(),
    );
    let cms: Api<ConfigMap> = Api::namespaced(client_with(&sim, SA_TOKEN).await, "a");
    let pp = PatchParams::apply("authz-test");
    let body = |name: &str| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}});
    let applied = cms
        .patch("old", &pp, &Patch::Apply(body("old")))
        .await
        .unwrap();
    assert_eq!(applied.data.unwrap()["k"], "v");
    let s = api_status(cms.patch("new", &pp, &Patch::Apply(body("new"))).await);
    assert_eq!(
        (s.code, s.message.as_str()),
        (403, "configmaps \"new\" is forbidden: ")
    );
    let gr = GroupResource::new("", "configmaps");
    assert!(sim.handle.store().get(&gr, "a", "new").is_err());
    // A merge patch of a missing object is a plain patch (404), not a create.
    let merge = cms
        .patch(
            "new",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"k": "v"}})),
        )
        .await;
    assert_eq!(api_status(merge).code, 404);
    grant(
        &sim,
        "a",
        "cm-creator",
        json!([{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create"]}]),
        sa_subject(),
    );
    cms.patch("new", &pp, &Patch::Apply(body("new")))
        .await
        .unwrap();
    assert!(sim.handle.store().get(&gr, "a", "new").is_ok());
}

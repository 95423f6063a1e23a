//! The store used directly from Rust: metadata, conflicts, finalizers, watch history.
#![allow(clippy::unwrap_used)]

use kube_sim::store::{
    DeleteOptions, DeleteOutcome, EventType, GroupResource, PropagationPolicy, Store, StoreError,
    WatchFrom,
};
use serde_json::json;

fn cm(name: &str) -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": name, "namespace": "default"}, "data": {"a": "1"}})
}

#[test]
fn create_sets_metadata_and_rejects_duplicates_and_bad_names() {
    let s = Store::new();
    let gr = GroupResource::new("", "configmaps");
    let o = s.create(&gr, cm("a")).unwrap();
    assert!(!o["metadata"]["uid"].as_str().unwrap().is_empty());
    assert!(
        o["metadata"].get("generation").is_none(),
        "configmaps have no generation"
    );
    assert!(matches!(
        s.create(&gr, cm("a")),
        Err(StoreError::AlreadyExists { .. })
    ));
    assert!(matches!(
        s.create(&gr, cm("Bad_Name")),
        Err(StoreError::Invalid(_))
    ));
    let mut in_missing_ns = cm("b");
    in_missing_ns["metadata"]["namespace"] = json!("nope");
    let err = s.create(&gr, in_missing_ns).unwrap_err();
    assert_eq!(err.code(), 404);
    assert_eq!(err.to_string(), "namespaces \"nope\" not found");
    let g = s
        .create(
            &gr,
            json!({"metadata": {"generateName": "x-", "namespace": "default"}}),
        )
        .unwrap();
    assert!(g["metadata"]["name"].as_str().unwrap().starts_with("x-"));
}

#[test]
fn owner_references_are_validated_like_the_api_server() {
    let s = Store::new();
    let gr = GroupResource::new("", "configmaps");
    let owner = |uid: &str, controller: bool| {
        json!({"apiVersion": "v1", "kind": "Pod", "name": format!("p-{uid}"), "uid": uid,
               "controller": controller})
    };
    let mut two = cm("two");
    two["metadata"]["ownerReferences"] = json!([owner("u1", true), owner("u2", true)]);
    let err = s.create(&gr, two).unwrap_err();
    assert_eq!(err.code(), 422);
    assert!(
        err.to_string()
            .contains("Only one reference can have Controller set to true"),
        "{err}"
    );
    let mut one = cm("one");
    one["metadata"]["ownerReferences"] = json!([owner("u1", true), owner("u2", false)]);
    let created = s.create(&gr, one).unwrap();
    // An update cannot add a second controller either.
    let mut update = (*created).clone();
    update["metadata"]["ownerReferences"] = json!([owner("u1", true), owner("u2", true)]);
    assert_eq!(s.update(&gr, update).unwrap_err().code(), 422);
    let mut nameless = cm("nameless");
    nameless["metadata"]["ownerReferences"] =
        json!([{"apiVersion": "v1", "kind": "Pod", "uid": "u"}]);
    assert_eq!(s.create(&gr, nameless).unwrap_err().code(), 422);
}

#[test]
fn stale_update_conflicts_and_noop_keeps_version() {
    let s = Store::new();
    let gr = GroupResource::new("", "configmaps");
    let o = s.create(&gr, cm("a")).unwrap();
    let mut u = (*o).clone();
    u["data"]["a"] = json!("2");
    let o2 = s.update(&gr, u.clone()).unwrap();
    assert_ne!(
        o2["metadata"]["resourceVersion"],
        o["metadata"]["resourceVersion"]
    );
    let err = s.update(&gr, u).unwrap_err();
    assert_eq!(err.code(), 409);
    let same = s.update(&gr, (*o2).clone()).unwrap();
    assert_eq!(
        same["metadata"]["resourceVersion"],
        o2["metadata"]["resourceVersion"]
    );
}

#[test]
fn generation_counts_spec_changes_only() {
    let s = Store::new();
    let gr = GroupResource::new("apps", "deployments");
    let d = json!({"metadata": {"name": "d", "namespace": "default"}, "spec": {"replicas": 1}});
    let o = s.create(&gr, d).unwrap();
    assert_eq!(o["metadata"]["generation"], 1);
    let mut u = (*o).clone();
    u["metadata"]["labels"] = json!({"a": "b"});
    assert_eq!(s.update(&gr, u).unwrap()["metadata"]["generation"], 1);
    let o = s
        .modify(&gr, "default", "d", false, |o| {
            o["spec"]["replicas"] = json!(2)
        })
        .unwrap();
    assert_eq!(o["metadata"]["generation"], 2);
    let o = s
        .modify(&gr, "default", "d", true, |o| {
            o["status"] = json!({"replicas": 2})
        })
        .unwrap();
    assert_eq!(o["metadata"]["generation"], 2);
    assert_eq!(o["status"]["replicas"], 2);
    // A main-resource update cannot change status.
    let o = s
        .modify(&gr, "default", "d", false, |o| o["status"] = json!({}))
        .unwrap();
    assert_eq!(o["status"]["replicas"], 2);
}

#[test]
fn finalizers_hold_deletion_until_removed() {
    let s = Store::new();
    let gr = GroupResource::new("", "configmaps");
    let mut obj = cm("f");
    obj["metadata"]["finalizers"] = json!(["example.com/x"]);
    s.create(&gr, obj).unwrap();
    let out = s
        .delete(&gr, "default", "f", &DeleteOptions::default())
        .unwrap();
    assert!(matches!(out, DeleteOutcome::Pending(_)));
    let got = s.get(&gr, "default", "f").unwrap();
    assert!(got["metadata"]["deletionTimestamp"].is_string());
    s.modify(&gr, "default", "f", false, |o| {
        o["metadata"]["finalizers"] = json!([])
    })
    .unwrap();
    assert!(s.get(&gr, "default", "f").is_err());
    s.create(&gr, cm("g")).unwrap();
    let opts = DeleteOptions {
        propagation_policy: Some(PropagationPolicy::Foreground),
        ..Default::default()
    };
    let out = s.delete(&gr, "default", "g", &opts).unwrap();
    assert_eq!(
        out.object()["metadata"]["finalizers"],
        json!(["foregroundDeletion"])
    );
}

#[tokio::test]
async fn watch_replays_history_and_expires() {
    let s = Store::new();
    s.set_history_limit(3);
    let gr = GroupResource::new("", "configmaps");
    let start = s.resource_version();
    for i in 0..2 {
        s.create(&gr, cm(&format!("w{i}"))).unwrap();
    }
    let mut w = s
        .watch(&gr, Some("default"), WatchFrom::Version(start))
        .unwrap();
    assert_eq!(w.next().await.unwrap().type_, EventType::Added);
    assert_eq!(w.next().await.unwrap().object["metadata"]["name"], "w1");
    s.delete(&gr, "default", "w0", &DeleteOptions::default())
        .unwrap();
    assert_eq!(w.next().await.unwrap().type_, EventType::Deleted);
    for i in 2..6 {
        s.create(&gr, cm(&format!("w{i}"))).unwrap();
    }
    let err = s.watch(&gr, None, WatchFrom::Version(start)).unwrap_err();
    assert_eq!(err.code(), 410);
}

#[test]
fn crd_registers_and_unregisters_its_resource() {
    let s = Store::new();
    let crds = GroupResource::new("apiextensions.k8s.io", "customresourcedefinitions");
    let crd = json!({"metadata": {"name": "widgets.example.com"}, "spec": {
        "group": "example.com", "scope": "Namespaced",
        "names": {"plural": "widgets", "kind": "Widget", "shortNames": ["wd"]},
        "versions": [{"name": "v1", "served": true, "storage": true,
                      "subresources": {"status": {}}}]}});
    let created = s.create(&crds, crd).unwrap();
    assert_eq!(created["status"]["conditions"][1]["type"], "Established");
    let gr = GroupResource::new("example.com", "widgets");
    assert!(s.resource_info(&gr).unwrap().status_subresource);
    s.create(
        &gr,
        json!({"apiVersion": "example.com/v1", "kind": "Widget",
                         "metadata": {"name": "w", "namespace": "default"}}),
    )
    .unwrap();
    s.delete(&crds, "", "widgets.example.com", &DeleteOptions::default())
        .unwrap();
    assert!(s.resource_info(&gr).is_err());
}

#[test]
fn namespace_deletion_terminates_then_removes() {
    let s = Store::new();
    let ns = GroupResource::new("", "namespaces");
    s.create(&ns, json!({"metadata": {"name": "t1"}})).unwrap();
    let gr = GroupResource::new("", "configmaps");
    let mut o = cm("x");
    o["metadata"]["namespace"] = json!("t1");
    s.create(&gr, o).unwrap();
    let out = s.delete(&ns, "", "t1", &DeleteOptions::default()).unwrap();
    assert_eq!(out.object()["status"]["phase"], "Terminating");
    assert_eq!(s.reap_namespaces(), 1);
    assert!(s.get(&ns, "", "t1").is_err());
    assert!(s.list(&gr, Some("t1")).unwrap().items.is_empty());
}

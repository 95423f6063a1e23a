//! kube-rs (the workspace's kube 4) against kube-sim: CRUD, optimistic concurrency, merge /
//! JSON / strategic / server-side apply patches, the status subresource, selectors,
//! pagination, deletecollection, finalizers, and leader election with two contenders
//! (watchers: `kube_rs_watch.rs`).
#![allow(clippy::unwrap_used)]

mod sim_support;

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;
use sim_support::{eventually, start};

fn api_code<T: std::fmt::Debug>(r: Result<T, kube::Error>) -> u16 {
    match r {
        Err(kube::Error::Api(s)) => s.code,
        other => panic!("expected an API error, got {other:?}"),
    }
}

fn cm(name: &str, data: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name}, "data": {"k": data}})).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crud_conflicts_and_patches() {
    let sim = start().await;
    sim.namespace("r1");
    let client = sim.client().await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "r1");
    let created = api
        .create(&PostParams::default(), &cm("a", "1"))
        .await
        .unwrap();
    assert!(created.metadata.uid.is_some() && created.metadata.resource_version.is_some());
    assert_eq!(
        api_code(api.create(&PostParams::default(), &cm("a", "1")).await),
        409
    );
    let mut stale = api.get("a").await.unwrap();
    let mut fresh = stale.clone();
    fresh.data = Some(BTreeMap::from([("k".into(), "2".into())]));
    api.replace("a", &PostParams::default(), &fresh)
        .await
        .unwrap();
    stale.data = Some(BTreeMap::from([("k".into(), "3".into())]));
    assert_eq!(
        api_code(api.replace("a", &PostParams::default(), &stale).await),
        409
    );
    // Merge patch.
    let merged = api
        .patch(
            "a",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"m": "x"}})),
        )
        .await
        .unwrap();
    assert_eq!(merged.data.unwrap().get("m").map(String::as_str), Some("x"));
    // JSON patch (RFC 6902), a failing test op is 422 and changes nothing.
    let json_patch = |ops: serde_json::Value| {
        http::Request::patch("/api/v1/namespaces/r1/configmaps/a")
            .header("Content-Type", "application/json-patch+json")
            .body(serde_json::to_vec(&ops).unwrap())
            .unwrap()
    };
    let failing = json!([{"op": "test", "path": "/data/k", "value": "nope"},
                         {"op": "remove", "path": "/data/k"}]);
    assert_eq!(
        api_code(client.request::<ConfigMap>(json_patch(failing)).await),
        422
    );
    let ok = json!([{"op": "test", "path": "/data/k", "value": "2"},
                    {"op": "add", "path": "/data/j", "value": "y"}]);
    let patched = client.request::<ConfigMap>(json_patch(ok)).await.unwrap();
    assert_eq!(patched.data.unwrap()["j"], "y");
    // Server-side apply: creates, then re-applying without a key removes it.
    let ssa = PatchParams::apply("sim-test").force();
    let body = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "applied", "labels": {"x": "1", "y": "2"}}, "data": {"a": "1"}});
    let applied = api
        .patch("applied", &ssa, &Patch::Apply(&body))
        .await
        .unwrap();
    assert_eq!(applied.metadata.labels.unwrap().len(), 2);
    let managed = applied.metadata.managed_fields.unwrap();
    assert_eq!(managed[0].manager.as_deref(), Some("sim-test"));
    assert_eq!(managed[0].operation.as_deref(), Some("Apply"));
    let body = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "applied", "labels": {"x": "1"}}, "data": {"a": "2"}});
    let applied = api
        .patch("applied", &ssa, &Patch::Apply(&body))
        .await
        .unwrap();
    assert_eq!(
        applied.metadata.labels.unwrap().keys().collect::<Vec<_>>(),
        ["x"]
    );
    assert_eq!(applied.data.unwrap()["a"], "2");
    // Dry run stores nothing (create and patch); a missing namespace is 404.
    let dry = PatchParams {
        dry_run: true,
        ..Default::default()
    };
    let would = api
        .patch("applied", &dry, &Patch::Merge(json!({"data": {"a": "9"}})))
        .await
        .unwrap();
    assert_eq!(would.data.unwrap()["a"], "9");
    assert_eq!(api.get("applied").await.unwrap().data.unwrap()["a"], "2");
    api.create(
        &PostParams {
            dry_run: true,
            ..Default::default()
        },
        &cm("dry", "1"),
    )
    .await
    .unwrap();
    assert_eq!(api_code(api.get("dry").await), 404);
    let elsewhere: Api<ConfigMap> = Api::namespaced(client.clone(), "missing");
    assert_eq!(
        api_code(
            elsewhere
                .create(&PostParams::default(), &cm("b", "1"))
                .await
        ),
        404
    );
    // Delete, then 404.
    api.delete("a", &DeleteParams::default()).await.unwrap();
    assert_eq!(api_code(api.get("a").await), 404);
    assert_eq!(
        api_code(api.delete("a", &DeleteParams::default()).await),
        404
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strategic_merge_and_status_subresource() {
    let sim = start().await;
    sim.namespace("r2");
    let api: Api<Deployment> = Api::namespaced(sim.client().await, "r2");
    let d: Deployment = serde_json::from_value(json!({"metadata": {"name": "d"}, "spec": {
        "selector": {"matchLabels": {"a": "b"}},
        "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [
            {"name": "one", "image": "x:1"}, {"name": "two", "image": "y:1"}]}}}}))
    .unwrap();
    let created = api.create(&PostParams::default(), &d).await.unwrap();
    assert_eq!(created.metadata.generation, Some(1));
    let patch =
        json!({"spec": {"template": {"spec": {"containers": [{"name": "two", "image": "y:2"}]}}}});
    let patched = api
        .patch("d", &PatchParams::default(), &Patch::Strategic(patch))
        .await
        .unwrap();
    let images: Vec<_> = patched
        .spec
        .unwrap()
        .template
        .spec
        .unwrap()
        .containers
        .into_iter()
        .map(|c| c.image.unwrap())
        .collect();
    assert_eq!(images, ["x:1", "y:2"]);
    assert_eq!(patched.metadata.generation, Some(2));
    // Status only through the subresource, and it does not bump the generation.
    let ignored = api
        .patch(
            "d",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"replicas": 5}})),
        )
        .await
        .unwrap();
    assert!(ignored.status.is_none_or(|s| s.replicas.is_none()));
    let status = api
        .patch_status(
            "d",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"replicas": 5}})),
        )
        .await
        .unwrap();
    assert_eq!(status.status.unwrap().replicas, Some(5));
    assert_eq!(status.metadata.generation, Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selectors_and_pagination() {
    let sim = start().await;
    sim.namespace("r3");
    let api: Api<Pod> = Api::namespaced(sim.client().await, "r3");
    for i in 0..25 {
        let tier = if i % 5 == 0 { "a" } else { "b" };
        let pod: Pod = serde_json::from_value(json!({"metadata": {"name": format!("p{i:02}"),
            "labels": {"tier": tier}}, "spec": {"nodeName": format!("n{}", i % 2),
            "containers": [{"name": "c", "image": "busybox"}]}}))
        .unwrap();
        api.create(&PostParams::default(), &pod).await.unwrap();
    }
    let count = |lp: ListParams| {
        let api = api.clone();
        async move { api.list(&lp).await.unwrap().items.len() }
    };
    assert_eq!(count(ListParams::default().labels("tier=a")).await, 5);
    assert_eq!(
        count(ListParams::default().labels("tier notin (a),!missing")).await,
        20
    );
    assert_eq!(
        count(ListParams::default().fields("metadata.name=p03")).await,
        1
    );
    assert_eq!(
        count(ListParams::default().fields("spec.nodeName=n1,status.phase=Pending")).await,
        12
    );
    assert_eq!(
        api_code(
            api.list(&ListParams::default().fields("spec.bogus=1"))
                .await
        ),
        400
    );
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut lp = ListParams::default().limit(7);
        if let Some(t) = &token {
            lp = lp.continue_token(t);
        }
        let page = api.list(&lp).await.unwrap();
        assert!(page.items.len() <= 7);
        names.extend(page.items.into_iter().map(|p| p.metadata.name.unwrap()));
        token = page.metadata.continue_.filter(|c| !c.is_empty());
        if token.is_none() {
            break;
        }
    }
    let expected: Vec<String> = (0..25).map(|i| format!("p{i:02}")).collect();
    assert_eq!(names, expected);
    // deletecollection with a selector.
    let deleted = api
        .delete_collection(
            &DeleteParams::default(),
            &ListParams::default().labels("tier=a"),
        )
        .await
        .unwrap();
    assert_eq!(deleted.left().unwrap().items.len(), 5);
    assert_eq!(count(ListParams::default()).await, 20);
    assert_eq!(count(ListParams::default().labels("tier=a")).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finalizers_and_propagation_policy() {
    let sim = start().await;
    sim.namespace("r4");
    let api: Api<ConfigMap> = Api::namespaced(sim.client().await, "r4");
    let mut obj = cm("f", "1");
    obj.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    api.create(&PostParams::default(), &obj).await.unwrap();
    let pending = api.delete("f", &DeleteParams::default()).await.unwrap();
    let held = pending
        .left()
        .expect("object returned while finalizers remain");
    assert!(held.metadata.deletion_timestamp.is_some());
    assert!(
        api.get("f")
            .await
            .unwrap()
            .metadata
            .deletion_timestamp
            .is_some()
    );
    api.patch(
        "f",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    assert_eq!(api_code(api.get("f").await), 404);
    // Foreground deletion leaves the object with the foregroundDeletion finalizer for the GC.
    api.create(&PostParams::default(), &cm("g", "1"))
        .await
        .unwrap();
    api.delete("g", &DeleteParams::foreground()).await.unwrap();
    let g = api.get("g").await.unwrap();
    assert_eq!(
        g.metadata.finalizers,
        Some(vec!["foregroundDeletion".to_owned()])
    );
    let orphan = DeleteParams::orphan();
    api.create(&PostParams::default(), &cm("h", "1"))
        .await
        .unwrap();
    api.delete("h", &orphan).await.unwrap();
    assert_eq!(
        api.get("h").await.unwrap().metadata.finalizers,
        Some(vec!["orphan".to_owned()])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_election_with_two_contenders() {
    use kube_leader_election::{LeaseLock, LeaseLockParams, LeaseLockResult};
    let sim = start().await;
    sim.namespace("le");
    let client = sim.client().await;
    let lock = |id: &str, lease: &str| {
        LeaseLock::new(
            client.clone(),
            "le",
            LeaseLockParams {
                holder_id: id.into(),
                lease_name: lease.into(),
                lease_ttl: Duration::from_secs(2),
            },
        )
    };
    // Racing for a lease that does not exist yet: creation is atomic, one wins.
    let (a, b) = (lock("a", "race"), lock("b", "race"));
    let (ra, rb) = tokio::join!(a.try_acquire_or_renew(), b.try_acquire_or_renew());
    let acquired = [&ra, &rb]
        .iter()
        .filter(|r| matches!(r, Ok(LeaseLockResult::Acquired(_))))
        .count();
    assert_eq!(acquired, 1, "{ra:?} {rb:?}");

    let (a, b) = (lock("a", "main"), lock("b", "main"));
    let leases: Api<Lease> = Api::namespaced(client.clone(), "le");
    let holder = || {
        let leases = leases.clone();
        async move {
            leases
                .get("main")
                .await
                .unwrap()
                .spec
                .unwrap()
                .holder_identity
                .unwrap()
        }
    };
    assert!(matches!(
        a.try_acquire_or_renew().await.unwrap(),
        LeaseLockResult::Acquired(_)
    ));
    // While a renews, b never gets the lease.
    for _ in 0..8 {
        assert!(matches!(
            a.try_acquire_or_renew().await.unwrap(),
            LeaseLockResult::Acquired(_)
        ));
        assert!(matches!(
            b.try_acquire_or_renew().await.unwrap(),
            LeaseLockResult::NotAcquired(_)
        ));
        assert_eq!(holder().await, "a");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // a stops renewing: b takes over once the lease has expired, and only then.
    let took_over = eventually("b takes over", || async {
        match b.try_acquire_or_renew().await.unwrap() {
            LeaseLockResult::Acquired(l) => Some(l),
            LeaseLockResult::NotAcquired(_) => None,
        }
    })
    .await;
    let spec = took_over.spec.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("b"));
    assert_eq!(spec.lease_transitions, Some(1));
    assert!(matches!(
        a.try_acquire_or_renew().await.unwrap(),
        LeaseLockResult::NotAcquired(_)
    ));
    assert_eq!(holder().await, "b");
}

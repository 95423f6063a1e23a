//! kube-rs watchers against kube-sim: `watcher` on full objects and on `PartialObjectMeta`
//! (metadata only) through dropped connections and 410 Gone without losing an event, and a
//! streaming-list watcher with a label selector.
#![allow(clippy::unwrap_used)]

mod sim_support;

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams};
use kube::core::PartialObjectMeta;
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube_sim::store::{DeleteOptions, GroupResource, Store};
use serde_json::json;
use sim_support::{eventually, start_with};

/// What the store holds in a namespace: name → resourceVersion.
fn expected(store: &Store, ns: &str) -> BTreeMap<String, String> {
    let gr = GroupResource::new("", "configmaps");
    store
        .list(&gr, Some(ns))
        .unwrap()
        .items
        .iter()
        .map(|o| {
            let md = &o["metadata"];
            (
                md["name"].as_str().unwrap().to_owned(),
                md["resourceVersion"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Creates, updates and deletes ConfigMaps directly in the store.
fn churn(store: &Store, ns: &str, round: usize) {
    let gr = GroupResource::new("", "configmaps");
    for i in 0..8 {
        let name = format!("c{round}-{i}");
        store
            .create(
                &gr,
                json!({"metadata": {"name": name, "namespace": ns}, "data": {"v": "0"}}),
            )
            .unwrap();
    }
    for i in 0..4 {
        store
            .modify(&gr, ns, &format!("c{round}-{i}"), false, |o| {
                o["data"]["v"] = json!("1")
            })
            .unwrap();
    }
    store
        .delete(&gr, ns, &format!("c{round}-7"), &DeleteOptions::default())
        .unwrap();
}

/// Drops every watch twice: once with few writes (the watcher resumes from its version), once
/// while requests are slowed down so more writes than the history holds happen before the
/// watcher comes back (it gets 410 Gone and must re-list). `observed` reads the client's cache.
async fn survive_drops_and_gone<F>(sim: &sim_support::Sim, ns: &str, observed: F)
where
    F: Fn() -> BTreeMap<String, String>,
{
    let store = sim.handle.store().clone();
    let converged = |round: &str| {
        let store = store.clone();
        let observed = &observed;
        let round = round.to_owned();
        async move {
            eventually(&format!("watcher cache equals the store ({round})"), || {
                let same = observed() == expected(&store, ns);
                async move { same.then_some(()) }
            })
            .await
        }
    };
    churn(&store, ns, 0);
    converged("initial").await;
    sim.handle.close_watches();
    churn(&store, ns, 1);
    converged("after dropped connection").await;
    let gone_before = sim
        .handle
        .stats()
        .watches_gone
        .load(std::sync::atomic::Ordering::Relaxed);
    sim.handle.set_faults(kube_sim::faults::FaultConfig {
        latency_ms: 700,
        ..Default::default()
    });
    sim.handle.close_watches();
    for round in 2..6 {
        churn(&store, ns, round);
    }
    sim.handle.set_faults(Default::default());
    converged("after 410 Gone").await;
    let gone = sim
        .handle
        .stats()
        .watches_gone
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(gone > gone_before, "the watcher never hit 410 Gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watcher_survives_dropped_connections_and_gone() {
    let sim = start_with(|c| {
        c.history_limit = 4;
        c.bookmark_interval = Duration::from_millis(200);
    })
    .await;
    sim.namespace("w1");
    let api: Api<ConfigMap> = Api::namespaced(sim.client().await, "w1");
    let (reader, writer) = reflector::store();
    let stream = reflector(writer, watcher(api, watcher::Config::default())).default_backoff();
    let task = tokio::spawn(stream.for_each(|_| futures::future::ready(())));
    reader.wait_until_ready().await.unwrap();
    survive_drops_and_gone(&sim, "w1", || {
        reader
            .state()
            .iter()
            .map(|c| {
                (
                    c.metadata.name.clone().unwrap(),
                    c.metadata.resource_version.clone().unwrap(),
                )
            })
            .collect()
    })
    .await;
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_watcher_survives_dropped_connections_and_gone() {
    let sim = start_with(|c| {
        c.history_limit = 4;
        c.bookmark_interval = Duration::from_millis(200);
    })
    .await;
    sim.namespace("w2");
    // Api<PartialObjectMeta<K>> lists and watches with `as=PartialObjectMetadata[List]`.
    let api: Api<PartialObjectMeta<ConfigMap>> = Api::namespaced(sim.client().await, "w2");
    let gr = GroupResource::new("", "configmaps");
    let seed = json!({"metadata": {"name": "seed", "namespace": "w2"}, "data": {"big": "x"}});
    sim.handle.store().create(&gr, seed).unwrap();
    let listed = api.list(&ListParams::default()).await.unwrap();
    assert_eq!(listed.types.kind, "PartialObjectMetadataList");
    assert_eq!(
        listed.items[0].types.as_ref().unwrap().kind,
        "PartialObjectMetadata"
    );
    let (reader, writer) = reflector::store();
    let stream = reflector(writer, watcher(api, watcher::Config::default())).default_backoff();
    let task = tokio::spawn(stream.for_each(|_| futures::future::ready(())));
    reader.wait_until_ready().await.unwrap();
    survive_drops_and_gone(&sim, "w2", || {
        reader
            .state()
            .iter()
            .map(|c| {
                (
                    c.metadata.name.clone().unwrap(),
                    c.metadata.resource_version.clone().unwrap(),
                )
            })
            .collect()
    })
    .await;
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_list_watcher_with_label_selector() {
    let sim = start_with(|c| c.bookmark_interval = Duration::from_millis(200)).await;
    sim.namespace("w3");
    let store = sim.handle.store().clone();
    let gr = GroupResource::new("", "configmaps");
    for i in 0..5 {
        let app = if i < 3 { "x" } else { "y" };
        store
            .create(&gr, json!({"metadata": {"name": format!("s{i}"), "namespace": "w3", "labels": {"app": app}}}))
            .unwrap();
    }
    let api: Api<ConfigMap> = Api::namespaced(sim.client().await, "w3");
    let cfg = watcher::Config::default().streaming_lists().labels("app=x");
    let (reader, writer) = reflector::store();
    let task = tokio::spawn(
        reflector(writer, watcher(api, cfg))
            .default_backoff()
            .for_each(|_| futures::future::ready(())),
    );
    reader.wait_until_ready().await.unwrap();
    let names = |r: &reflector::Store<ConfigMap>| {
        let mut n: Vec<String> = r
            .state()
            .iter()
            .map(|c| c.metadata.name.clone().unwrap())
            .collect();
        n.sort();
        n
    };
    assert_eq!(names(&reader), ["s0", "s1", "s2"]);
    // Relabelling moves objects out of and into the selection.
    store
        .modify(&gr, "w3", "s0", false, |o| {
            o["metadata"]["labels"]["app"] = json!("y")
        })
        .unwrap();
    store
        .modify(&gr, "w3", "s4", false, |o| {
            o["metadata"]["labels"]["app"] = json!("x")
        })
        .unwrap();
    eventually("selection follows labels", || {
        let ok = names(&reader) == ["s1", "s2", "s4"];
        async move { ok.then_some(()) }
    })
    .await;
    task.abort();
}

//! Garbage collection and the Deployment controller, driven with the real kubectl:
//! `kubectl delete --cascade=background|foreground|orphan` of a ReplicaSet, a Deployment
//! cascading to its ReplicaSets and Pods, and a template change making a second ReplicaSet.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod controller_support;

use controller_support::{Sim, eventually, names, start};
use serde_json::Value;

fn replica_set(name: &str, replicas: u32) -> String {
    format!(
        "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata:\n  name: {name}\nspec:\n  replicas: {replicas}\n  \
         selector:\n    matchLabels:\n      app: {name}\n  template:\n    metadata:\n      labels:\n        \
         app: {name}\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.25\n"
    )
}

fn deployment(name: &str, image: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  replicas: 2\n  \
         selector:\n    matchLabels:\n      app: {name}\n  template:\n    metadata:\n      labels:\n        \
         app: {name}\n    spec:\n      containers:\n      - name: web\n        image: {image}\n"
    )
}

/// Waits until `n` pods labelled `app=<app>` are Running and returns them.
async fn running_pods(sim: &Sim, ns: &str, app: &str, n: usize) -> Vec<Value> {
    let selector = format!("app={app}");
    eventually(&format!("{n} running pods of {app}"), || async {
        let pods = sim.items(&["pods", "-n", ns, "-l", &selector]).await;
        let running = pods
            .iter()
            .filter(|p| p["status"]["phase"] == "Running")
            .count();
        (pods.len() == n && running == n).then_some(pods)
    })
    .await
}

async fn pods_gone(sim: &Sim, ns: &str, app: &str) {
    let selector = format!("app={app}");
    eventually(&format!("pods of {app} deleted"), || async {
        sim.items(&["pods", "-n", ns, "-l", &selector])
            .await
            .is_empty()
            .then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_replica_set_cascades_in_background_and_foreground() {
    let sim = start(&[], None).await;
    let ns = sim.namespace("h4-gc-cascade").await;
    for policy in ["background", "foreground"] {
        let name = format!("rs-{policy}");
        sim.apply(&ns, &replica_set(&name, 2)).await;
        let pods = running_pods(&sim, &ns, &name, 2).await;
        let rs = sim.get_json(&["rs", &name, "-n", &ns]).await.unwrap();
        for pod in &pods {
            let owner = &pod["metadata"]["ownerReferences"][0];
            assert_eq!(owner["uid"], rs["metadata"]["uid"]);
            assert_eq!(
                (
                    owner["controller"].clone(),
                    owner["blockOwnerDeletion"].clone()
                ),
                (true.into(), true.into())
            );
            let id = pod["status"]["containerStatuses"][0]["imageID"]
                .as_str()
                .unwrap();
            assert!(id.starts_with("docker.io/library/nginx@sha256:"), "{id}");
        }
        assert_eq!(rs["status"]["readyReplicas"], 2);
        sim.ok(&[
            "delete",
            "rs",
            &name,
            "-n",
            &ns,
            &format!("--cascade={policy}"),
        ])
        .await;
        pods_gone(&sim, &ns, &name).await;
        eventually("the ReplicaSet is gone", || async {
            sim.get_json(&["rs", &name, "-n", &ns])
                .await
                .is_none()
                .then_some(())
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphan_deletion_keeps_the_pods_without_owner_references() {
    let sim = start(&[], None).await;
    let ns = sim.namespace("h4-gc-orphan").await;
    sim.apply(&ns, &replica_set("orph", 2)).await;
    let before = running_pods(&sim, &ns, "orph", 2).await;
    sim.ok(&["delete", "rs", "orph", "-n", &ns, "--cascade=orphan"])
        .await;
    eventually("the ReplicaSet is gone", || async {
        sim.get_json(&["rs", "orph", "-n", &ns])
            .await
            .is_none()
            .then_some(())
    })
    .await;
    let after = eventually("owner references removed", || async {
        let pods = sim.items(&["pods", "-n", &ns, "-l", "app=orph"]).await;
        pods.iter()
            .all(|p| p["metadata"].get("ownerReferences").is_none())
            .then_some(pods)
    })
    .await;
    assert_eq!(names(&before), names(&after));
    // They stay: nothing owns them any more, so nothing collects them.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(
        sim.items(&["pods", "-n", &ns, "-l", "app=orph"])
            .await
            .len(),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployment_revisions_and_cascading_delete() {
    let sim = start(&[], None).await;
    let ns = sim.namespace("h4-deploy").await;
    sim.apply(&ns, &deployment("web", "nginx:1.25")).await;
    running_pods(&sim, &ns, "web", 2).await;
    let first = eventually("one ReplicaSet at revision 1", || async {
        let sets = sim.items(&["rs", "-n", &ns, "-l", "app=web"]).await;
        (sets.len() == 1).then(|| sets[0].clone())
    })
    .await;
    let hash1 = first["metadata"]["labels"]["pod-template-hash"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(first["metadata"]["name"], format!("web-{hash1}"));
    assert_eq!(
        first["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "1"
    );
    assert_eq!(
        first["metadata"]["ownerReferences"][0]["kind"],
        "Deployment"
    );
    eventually("deployment available", || async {
        let d = sim.get_json(&["deploy", "web", "-n", &ns]).await?;
        let available = controller_support::condition(&d, "Available")?["status"] == "True";
        (available && d["status"]["availableReplicas"] == 2).then_some(())
    })
    .await;

    sim.apply(&ns, &deployment("web", "nginx:1.26")).await;
    let second = eventually("a second ReplicaSet at revision 2", || async {
        let sets = sim.items(&["rs", "-n", &ns, "-l", "app=web"]).await;
        sets.into_iter()
            .find(|rs| rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2")
    })
    .await;
    let hash2 = second["metadata"]["labels"]["pod-template-hash"]
        .as_str()
        .unwrap();
    assert_ne!(hash1, hash2);
    eventually(
        "the old ReplicaSet is scaled to 0 and new pods run nginx:1.26",
        || async {
            let old = sim
                .get_json(&["rs", &format!("web-{hash1}"), "-n", &ns])
                .await?;
            let pods = sim.items(&["pods", "-n", &ns, "-l", "app=web"]).await;
            let new = pods
                .iter()
                .all(|p| p["spec"]["containers"][0]["image"] == "nginx:1.26");
            (old["spec"]["replicas"] == 0 && pods.len() == 2 && new).then_some(())
        },
    )
    .await;

    sim.ok(&["delete", "deployment", "web", "-n", &ns]).await;
    eventually(
        "ReplicaSets and Pods of the Deployment are deleted",
        || async {
            let sets = sim.items(&["rs", "-n", &ns]).await;
            let pods = sim.items(&["pods", "-n", &ns]).await;
            (sets.is_empty() && pods.is_empty()).then_some(())
        },
    )
    .await;
}

fn owned_config_map(name: &str, owners: &[(&str, &str)]) -> String {
    let refs: String = owners
        .iter()
        .map(|(n, uid)| {
            format!(
                "  - apiVersion: apps/v1\n    kind: ReplicaSet\n    name: {n}\n    uid: {uid}\n"
            )
        })
        .collect();
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  ownerReferences:\n{refs}data:\n  k: v\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_kind_is_collected_when_all_its_owners_are_gone_but_kept_while_one_lives() {
    let sim = start(&[], None).await;
    let ns = sim.namespace("h4-gc-generic").await;
    sim.apply(&ns, &replica_set("owner-a", 0)).await;
    sim.apply(&ns, &replica_set("owner-b", 0)).await;
    let uid = |rs: Value| rs["metadata"]["uid"].as_str().unwrap().to_string();
    let a = uid(sim.get_json(&["rs", "owner-a", "-n", &ns]).await.unwrap());
    let b = uid(sim.get_json(&["rs", "owner-b", "-n", &ns]).await.unwrap());
    sim.apply(&ns, &owned_config_map("solo", &[("owner-a", &a)]))
        .await;
    sim.apply(
        &ns,
        &owned_config_map("shared", &[("owner-a", &a), ("owner-b", &b)]),
    )
    .await;
    sim.ok(&["delete", "rs", "owner-a", "-n", &ns]).await;
    eventually("solo is collected", || async {
        sim.get_json(&["configmap", "solo", "-n", &ns])
            .await
            .is_none()
            .then_some(())
    })
    .await;
    let shared = eventually("shared keeps only its live owner", || async {
        let cm = sim.get_json(&["configmap", "shared", "-n", &ns]).await?;
        let refs = cm["metadata"]["ownerReferences"].as_array()?.clone();
        (refs.len() == 1).then_some(refs)
    })
    .await;
    assert_eq!(shared[0]["uid"], b.as_str());
    sim.ok(&["delete", "rs", "owner-b", "-n", &ns]).await;
    eventually("shared is collected with its last owner", || async {
        sim.get_json(&["configmap", "shared", "-n", &ns])
            .await
            .is_none()
            .then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreground_deletion_of_a_deployment_waits_for_replica_sets_and_pods() {
    let sim = start(&[], None).await;
    let ns = sim.namespace("h4-deploy-fg").await;
    sim.apply(&ns, &deployment("api", "nginx:1.25")).await;
    running_pods(&sim, &ns, "api", 2).await;
    let out = sim
        .kubectl(&[
            "delete",
            "deployment",
            "api",
            "-n",
            &ns,
            "--cascade=foreground",
            "--wait=true",
            "--timeout=60s",
        ])
        .await;
    assert!(out.ok, "{}", out.stderr);
    eventually("Deployment, ReplicaSets and Pods are all gone", || async {
        let d = sim.get_json(&["deployment", "api", "-n", &ns]).await;
        let sets = sim.items(&["rs", "-n", &ns]).await;
        let pods = sim.items(&["pods", "-n", &ns]).await;
        (d.is_none() && sets.is_empty() && pods.is_empty()).then_some(())
    })
    .await;
}

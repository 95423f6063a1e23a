//! ReplicaSet, ReplicationController, StatefulSet and DaemonSet controllers: create and
//! delete the Pods they control (found by controller owner reference) to match the desired
//! count, then report status. Their Pods have `restartPolicy: Always`, so the kubelet marks
//! them Running without executing anything.
//! - ReplicaSet / ReplicationController: `spec.replicas` pods named `<owner>-<random>`;
//! - StatefulSet: pods `<name>-0` .. `<name>-(n-1)` with the `statefulset.kubernetes.io/pod-name`
//!   and `apps.kubernetes.io/pod-index` labels;
//! - DaemonSet: one pod per fake node, bound to it (`spec.nodeName`).

use serde_json::{Map, Value, json};

use super::cache::ObjRef;
use super::gc::pods;
use super::manager::Ctx;
use super::util::{deleting, int, key_of, pod_from_template, pod_ready, string_map};
use crate::store::{PropagationPolicy, meta};

/// A pod to create: its name (`None`: generated), extra labels, and node.
type Missing = (Option<String>, Map<String, Value>, Option<String>);

/// Reconciles one pod owner.
pub fn reconcile(ctx: &mut Ctx, key: &ObjRef) {
    let Some(owner) = ctx.cache.get(key).cloned() else {
        return;
    };
    if deleting(&owner) {
        return;
    }
    let owner_uid = meta::meta_str(&owner, "uid").to_string();
    let pods_gr = pods();
    let mut live: Vec<std::sync::Arc<Value>> = ctx
        .cache
        .controlled(&owner_uid, &pods_gr)
        .into_iter()
        .filter(|p| !deleting(p))
        .collect();
    live.sort_by(|a, b| meta::name(a).cmp(meta::name(b)));
    let template = owner
        .pointer("/spec/template")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let mut missing: Vec<Missing> = Vec::new();
    let mut extra: Vec<std::sync::Arc<Value>> = Vec::new();
    match key.0.resource.as_str() {
        "statefulsets" => {
            let n = int(&owner, "/spec/replicas", 1).max(0);
            for i in 0..n {
                let name = format!("{}-{i}", key.2);
                if !live.iter().any(|p| meta::name(p) == name) {
                    let mut labels = Map::new();
                    labels.insert("statefulset.kubernetes.io/pod-name".into(), json!(name));
                    labels.insert("apps.kubernetes.io/pod-index".into(), json!(i.to_string()));
                    missing.push((Some(name), labels, None));
                }
            }
            extra.extend(
                live.iter()
                    .filter(|p| !ordinal_below(meta::name(p), &key.2, n))
                    .cloned(),
            );
        }
        "daemonsets" => {
            for node in ctx.nodes.clone() {
                let on_node: Vec<_> = live.iter().filter(|p| node_of(p) == node).collect();
                if on_node.is_empty() {
                    missing.push((None, Map::new(), Some(node.clone())));
                }
                extra.extend(on_node.iter().skip(1).map(|p| (*p).clone()));
            }
            extra.extend(
                live.iter()
                    .filter(|p| !ctx.nodes.iter().any(|n| *n == node_of(p)))
                    .cloned(),
            );
        }
        _ => {
            let n = int(&owner, "/spec/replicas", 1).max(0) as usize;
            for _ in live.len()..n {
                missing.push((None, Map::new(), None));
            }
            extra.extend(live.iter().skip(n).cloned());
        }
    }
    for (name, labels, node) in missing {
        let mut pod = pod_from_template(&owner, &template, name.as_deref(), &labels);
        if let Some(node) = node {
            pod["spec"]["nodeName"] = json!(node);
        }
        if let Some(created) = ctx.create(&pods_gr, pod) {
            live.push(created);
        }
    }
    for pod in &extra {
        let k = key_of(&pods_gr, pod);
        ctx.delete(
            &k,
            PropagationPolicy::Background,
            Some(meta::meta_str(pod, "uid")),
        );
        live.retain(|p| meta::meta_str(p, "uid") != meta::meta_str(pod, "uid"));
    }
    write_status(ctx, key, &owner, &live);
}

fn write_status(ctx: &mut Ctx, key: &ObjRef, owner: &Value, live: &[std::sync::Arc<Value>]) {
    let replicas = live.len();
    let ready = live.iter().filter(|p| pod_ready(p)).count();
    let generation = int(owner, "/metadata/generation", 1);
    let labels = string_map(owner, "/spec/template/metadata/labels");
    let fully_labeled = live
        .iter()
        .filter(|p| {
            labels
                .iter()
                .all(|(k, v)| p.pointer("/metadata/labels").and_then(|l| l.get(k)) == Some(v))
        })
        .count();
    let status = match key.0.resource.as_str() {
        "daemonsets" => json!({
            "currentNumberScheduled": replicas,
            "desiredNumberScheduled": ctx.nodes.len(),
            "numberMisscheduled": 0,
            "numberReady": ready,
            "numberAvailable": ready,
            "updatedNumberScheduled": replicas,
            "observedGeneration": generation,
        }),
        "statefulsets" => json!({
            "replicas": replicas,
            "readyReplicas": ready,
            "currentReplicas": replicas,
            "updatedReplicas": replicas,
            "availableReplicas": ready,
            "observedGeneration": generation,
            "collisionCount": 0,
        }),
        _ => json!({
            "replicas": replicas,
            "fullyLabeledReplicas": fully_labeled,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "observedGeneration": generation,
        }),
    };
    if owner.get("status") != Some(&status) {
        ctx.modify(key, true, |o| o["status"] = status.clone());
    }
}

fn node_of(pod: &Value) -> String {
    pod.pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

fn ordinal_below(pod_name: &str, set: &str, n: i64) -> bool {
    pod_name
        .strip_prefix(set)
        .and_then(|s| s.strip_prefix('-'))
        .and_then(|s| s.parse::<i64>().ok())
        .is_some_and(|i| i < n)
}

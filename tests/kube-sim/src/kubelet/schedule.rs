//! The simulated scheduler's choice of a node for a pod without `spec.nodeName`:
//! - without a `nodeSelector`, one of the fake nodes, by a hash of the pod's name;
//! - with one, one of the Node objects (any, not only the fake nodes) whose labels match it
//!   all, by the same hash; when none does the pod is unschedulable and stays Pending with
//!   the scheduler's `PodScheduled=False` condition until a Node changes.
//!
//! Either way a node with a `NoSchedule` or `NoExecute` taint the pod does not tolerate is
//! left out (kind's control plane). Node affinity and resources are not considered.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::store::meta::now_rfc3339;

/// Where a pod goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// Bind it to this node.
    Node(String),
    /// No node fits: the scheduler's message.
    Unschedulable(String),
}

fn hash(name: &str) -> usize {
    name.bytes()
        .fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(b as usize))
}

/// Whether a pod with `tolerations` (its `spec.tolerations`) may go to `node` (its object):
/// every `NoSchedule` and `NoExecute` taint is tolerated, by Kubernetes' matching rules.
fn tolerated(tolerations: &[Value], node: &Value) -> bool {
    let taints = node.pointer("/spec/taints").and_then(Value::as_array);
    taints.into_iter().flatten().all(|taint| {
        let field = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        let effect = field(taint, "effect");
        effect == "PreferNoSchedule"
            || tolerations.iter().any(|t| {
                let (key, op) = (field(t, "key"), field(t, "operator"));
                let t_effect = field(t, "effect");
                (t_effect.is_empty() || t_effect == effect)
                    && match op.as_str() {
                        "Exists" => key.is_empty() || key == field(taint, "key"),
                        "" | "Equal" => {
                            key == field(taint, "key") && field(t, "value") == field(taint, "value")
                        }
                        _ => false,
                    }
            })
    })
}

/// Chooses a node for the pod `name` with `spec.nodeSelector` `selector` and
/// `spec.tolerations` `tolerations`: among `fake` (the kubelet's nodes, never empty) without a
/// selector, else among the `nodes` objects whose labels match it; never a node whose taints
/// the pod does not tolerate.
pub fn choose(
    name: &str,
    selector: Option<&Map<String, Value>>,
    tolerations: &[Value],
    fake: &[String],
    nodes: &[Arc<Value>],
) -> Placement {
    let allowed = |node: &str| {
        nodes
            .iter()
            .find(|n| n.pointer("/metadata/name").and_then(Value::as_str) == Some(node))
            .is_none_or(|n| tolerated(tolerations, n))
    };
    let selector = selector.filter(|s| !s.is_empty());
    let Some(selector) = selector else {
        let usable: Vec<&String> = fake.iter().filter(|n| allowed(n)).collect();
        return match usable.get(hash(name) % usable.len().max(1)) {
            Some(node) => Placement::Node((*node).clone()),
            None => Placement::Unschedulable(format!(
                "0/{n} nodes are available: {n} node(s) had untolerated taint. preemption: \
                 0/{n} nodes are available: {n} Preemption is not helpful for scheduling.",
                n = fake.len()
            )),
        };
    };
    let mut matching: Vec<&str> = nodes
        .iter()
        .filter(|node| tolerated(tolerations, node))
        .filter(|node| {
            let labels = node.pointer("/metadata/labels");
            selector
                .iter()
                .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
        })
        .filter_map(|node| node.pointer("/metadata/name").and_then(Value::as_str))
        .collect();
    matching.sort_unstable();
    if matching.is_empty() {
        let n = nodes.len();
        if n == 0 {
            return Placement::Unschedulable("no nodes available to schedule pods".into());
        }
        return Placement::Unschedulable(format!(
            "0/{n} nodes are available: {n} node(s) didn't match Pod's node affinity/selector. \
             preemption: 0/{n} nodes are available: {n} Preemption is not helpful for scheduling."
        ));
    }
    Placement::Node(matching[hash(name) % matching.len()].to_owned())
}

/// The status the scheduler writes for an unschedulable pod; `None` when `current` already
/// says so (writing it again would only wake every watcher).
pub fn unschedulable_status(current: Option<&Value>, message: &str) -> Option<Value> {
    let already = current
        .and_then(|s| s.get("conditions"))
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter().any(|c| {
                c["type"] == "PodScheduled"
                    && c["reason"] == "Unschedulable"
                    && c["message"] == message
            })
        });
    (!already).then(|| {
        json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
            "reason": "Unschedulable", "message": message, "lastProbeTime": null,
            "lastTransitionTime": now_rfc3339()}]})
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_tainted_node_takes_only_pods_that_tolerate_it() {
        let fake = vec!["cp".to_string(), "w".to_string()];
        let nodes = vec![
            Arc::new(json!({"metadata": {"name": "cp"}, "spec": {"taints": [
                {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]}})),
            Arc::new(json!({"metadata": {"name": "w"}, "spec": {}})),
        ];
        for pod in ["p1", "p2", "p3", "p4", "p5"] {
            assert_eq!(
                choose(pod, None, &[], &fake, &nodes),
                Placement::Node("w".into())
            );
        }
        let exists =
            [json!({"key": "node-role.kubernetes.io/control-plane", "operator": "Exists"})];
        let on_cp = ["p1", "p2", "p3", "p4", "p5", "p6"]
            .iter()
            .filter(|p| choose(p, None, &exists, &fake, &nodes) == Placement::Node("cp".into()))
            .count();
        assert!(on_cp > 0, "a tolerating pod may go to the control plane");
        let host = json!({"kubernetes.io/hostname": "cp"}).as_object().cloned();
        let nodes_labelled: Vec<Arc<Value>> = vec![Arc::new(json!({"metadata": {"name": "cp",
            "labels": {"kubernetes.io/hostname": "cp"}}, "spec": {"taints": [
            {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]}}))];
        assert!(matches!(
            choose("p", host.as_ref(), &[], &fake, &nodes_labelled),
            Placement::Unschedulable(_)
        ));
    }

    fn node(name: &str, labels: Value) -> Arc<Value> {
        Arc::new(json!({"metadata": {"name": name, "labels": labels}}))
    }

    #[test]
    fn a_selector_picks_among_the_matching_nodes_or_none() {
        let fake = vec!["a".to_string(), "b".to_string()];
        let nodes = vec![
            node("a", json!({"kubernetes.io/hostname": "a"})),
            node("b", json!({"kubernetes.io/hostname": "b", "disk": "ssd"})),
            node("c", json!({"kubernetes.io/hostname": "c", "disk": "ssd"})),
        ];
        let sel = |v: Value| v.as_object().cloned().unwrap();
        for pod in ["p1", "p2", "p3", "p4"] {
            let host = sel(json!({"kubernetes.io/hostname": "b"}));
            assert_eq!(
                choose(pod, Some(&host), &[], &fake, &nodes),
                Placement::Node("b".into())
            );
            let ssd = sel(json!({"disk": "ssd"}));
            assert!(matches!(choose(pod, Some(&ssd), &[], &fake, &nodes),
                Placement::Node(n) if n == "b" || n == "c"));
            // Without a selector only the fake nodes are used, as before selectors counted.
            assert!(matches!(choose(pod, None, &[], &fake, &nodes),
                Placement::Node(n) if n == "a" || n == "b"));
        }
        let none = sel(json!({"kubernetes.io/hostname": "z"}));
        let Placement::Unschedulable(msg) = choose("p", Some(&none), &[], &fake, &nodes) else {
            panic!("scheduled");
        };
        assert!(msg.starts_with("0/3 nodes are available: 3 node(s) didn't match"));
        let status = unschedulable_status(None, &msg).unwrap();
        assert_eq!(status["conditions"][0]["reason"], "Unschedulable");
        assert!(unschedulable_status(Some(&status), &msg).is_none());
    }
}

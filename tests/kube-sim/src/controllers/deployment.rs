//! The Deployment controller: one ReplicaSet per pod template, named
//! `<deployment>-<pod-template-hash>`, labelled and selected by `pod-template-hash`, annotated
//! with `deployment.kubernetes.io/revision` (1, 2, ... for each new template; a template that
//! comes back gets the next revision again). The ReplicaSet of the current template gets
//! `spec.replicas`, older ones are scaled to 0 at once (no surge/unavailability accounting) and
//! pruned beyond `revisionHistoryLimit` (default 10). Status: replicas, updated, ready,
//! available, unavailable, observedGeneration, conditions Available and Progressing.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::cache::ObjRef;
use super::manager::Ctx;
use super::util::{condition, controller_ref, deleting, int, key_of, string_map};
use crate::store::{GroupResource, PropagationPolicy, meta};

const REVISION: &str = "deployment.kubernetes.io/revision";
const HASH_LABEL: &str = "pod-template-hash";

/// The `pod-template-hash` of a template: a 32-bit hash of its canonical JSON, written in
/// decimal and mapped onto the API server's safe alphabet (like the real one, which uses FNV).
pub fn template_hash(template: &Value) -> String {
    const SAFE: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let canonical = serde_json::to_vec(template).unwrap_or_default();
    let d = Sha256::digest(&canonical);
    let n = u32::from_be_bytes([d[0], d[1], d[2], d[3]]);
    n.to_string()
        .bytes()
        .map(|b| SAFE[usize::from(b) % SAFE.len()] as char)
        .collect()
}

fn revision(rs: &Value) -> i64 {
    rs.pointer("/metadata/annotations")
        .and_then(|a| a.get(REVISION))
        .and_then(Value::as_str)
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

/// Reconciles one Deployment.
pub fn reconcile(ctx: &mut Ctx, key: &ObjRef) {
    let Some(deploy) = ctx.cache.get(key).cloned() else {
        return;
    };
    if deleting(&deploy) {
        return;
    }
    let rs_gr = GroupResource::new("apps", "replicasets");
    let uid = meta::meta_str(&deploy, "uid").to_string();
    let mut sets = ctx.cache.controlled(&uid, &rs_gr);
    sets.retain(|rs| !deleting(rs));
    let template = deploy
        .pointer("/spec/template")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let hash = template_hash(&template);
    let replicas = int(&deploy, "/spec/replicas", 1).max(0);
    let max_rev = sets.iter().map(|rs| revision(rs)).max().unwrap_or(0);
    let current = sets
        .iter()
        .find(|rs| meta::label(rs, HASH_LABEL) == Some(&hash))
        .cloned();
    let current = match current {
        Some(rs) => {
            let k = key_of(&rs_gr, &rs);
            let bump = revision(&rs) < max_rev;
            let wrong_size = rs.pointer("/spec/replicas").and_then(Value::as_i64) != Some(replicas);
            if bump || wrong_size {
                ctx.modify(&k, false, |o| {
                    o["spec"]["replicas"] = json!(replicas);
                    if bump {
                        o["metadata"]["annotations"][REVISION] = json!((max_rev + 1).to_string());
                    }
                })
                .unwrap_or(rs)
            } else {
                rs
            }
        }
        None => {
            let Some(rs) = ctx.create(
                &rs_gr,
                new_replica_set(&deploy, &template, &hash, replicas, max_rev + 1),
            ) else {
                return;
            };
            rs
        }
    };
    // Like the real controller, the Deployment carries its current revision too: clients
    // (and the operator) tell the current ReplicaSet by comparing the two annotations.
    let current_revision = revision(&current).to_string();
    if meta::annotation(&deploy, REVISION) != Some(current_revision.as_str()) {
        ctx.modify(key, false, |o| {
            o["metadata"]["annotations"][REVISION] = json!(current_revision.clone())
        });
    }
    let current_uid = meta::meta_str(&current, "uid").to_string();
    let mut old: Vec<_> = sets
        .into_iter()
        .filter(|rs| meta::meta_str(rs, "uid") != current_uid)
        .collect();
    for rs in &old {
        if rs.pointer("/spec/replicas").and_then(Value::as_i64) != Some(0) {
            ctx.modify(&key_of(&rs_gr, rs), false, |o| {
                o["spec"]["replicas"] = json!(0)
            });
        }
    }
    old.sort_by_key(|rs| revision(rs));
    let limit = int(&deploy, "/spec/revisionHistoryLimit", 10).max(0) as usize;
    let excess = old.len().saturating_sub(limit);
    for rs in old.iter().take(excess) {
        let status_replicas = rs
            .pointer("/status/replicas")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if status_replicas == 0 {
            ctx.delete(
                &key_of(&rs_gr, rs),
                PropagationPolicy::Background,
                Some(meta::meta_str(rs, "uid")),
            );
        }
    }
    write_status(ctx, key, &deploy, &current, &old, replicas);
}

fn new_replica_set(
    deploy: &Value,
    template: &Value,
    hash: &str,
    replicas: i64,
    revision: i64,
) -> Value {
    let mut template = template.clone();
    template["metadata"]["labels"][HASH_LABEL] = json!(hash);
    let mut labels = string_map(&template, "/metadata/labels");
    labels.insert(HASH_LABEL.into(), json!(hash));
    let mut selector = deploy
        .pointer("/spec/selector")
        .cloned()
        .unwrap_or_else(|| json!({}));
    selector["matchLabels"][HASH_LABEL] = json!(hash);
    let name = format!("{}-{hash}", meta::name(deploy));
    json!({
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": name,
            "namespace": meta::namespace(deploy),
            "labels": labels,
            "annotations": {
                REVISION: revision.to_string(),
                "deployment.kubernetes.io/desired-replicas": replicas.to_string(),
                "deployment.kubernetes.io/max-replicas": (replicas + 1).to_string(),
            },
            "ownerReferences": [controller_ref(deploy)],
        },
        "spec": {"replicas": replicas, "selector": selector, "template": template,
                 "minReadySeconds": deploy.pointer("/spec/minReadySeconds").cloned().unwrap_or(json!(0))},
    })
}

fn write_status(
    ctx: &mut Ctx,
    key: &ObjRef,
    deploy: &Value,
    current: &Value,
    old: &[std::sync::Arc<Value>],
    desired: i64,
) {
    let field = |rs: &Value, f: &str| {
        rs.pointer(&format!("/status/{f}"))
            .and_then(Value::as_i64)
            .unwrap_or(0)
    };
    let all: Vec<&Value> = std::iter::once(current)
        .chain(old.iter().map(|r| &**r))
        .collect();
    let total: i64 = all.iter().map(|rs| field(rs, "replicas")).sum();
    let ready: i64 = all.iter().map(|rs| field(rs, "readyReplicas")).sum();
    let updated = field(current, "replicas");
    let previous = deploy.get("status");
    let available = ready >= desired;
    let complete = updated == desired && total == desired && available;
    let rs_name = meta::name(current);
    let conditions = json!([
        condition(
            previous,
            "Available",
            available,
            if available {
                "MinimumReplicasAvailable"
            } else {
                "MinimumReplicasUnavailable"
            },
            if available {
                "Deployment has minimum availability."
            } else {
                "Deployment does not have minimum availability."
            },
            true
        ),
        condition(
            previous,
            "Progressing",
            true,
            if complete {
                "NewReplicaSetAvailable"
            } else {
                "ReplicaSetUpdated"
            },
            &if complete {
                format!("ReplicaSet \"{rs_name}\" has successfully progressed.")
            } else {
                format!("ReplicaSet \"{rs_name}\" is progressing.")
            },
            true
        ),
    ]);
    let mut status = json!({
        "observedGeneration": int(deploy, "/metadata/generation", 1),
        "replicas": total,
        "updatedReplicas": updated,
        "readyReplicas": ready,
        "availableReplicas": ready,
        "conditions": conditions,
    });
    if desired - ready > 0 {
        status["unavailableReplicas"] = json!(desired - ready);
    }
    if previous != Some(&status) {
        ctx.modify(key, true, |o| o["status"] = status.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_hash_is_stable_and_template_sensitive() {
        let a = json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"image": "nginx:1.25"}]}});
        let b = json!({"spec": {"containers": [{"image": "nginx:1.25"}]}, "metadata": {"labels": {"app": "web"}}});
        let c = json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"image": "nginx:1.26"}]}});
        assert_eq!(template_hash(&a), template_hash(&b));
        assert_ne!(template_hash(&a), template_hash(&c));
        assert!(
            template_hash(&a)
                .bytes()
                .all(|ch| b"bcdfghjklmnpqrstvwxz2456789".contains(&ch))
        );
    }
}

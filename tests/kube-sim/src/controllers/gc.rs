//! The garbage collector, with the semantics of kube-controller-manager's:
//! - an object whose owner references *all* point to uids that no longer exist is deleted
//!   (Background; cascades, since its own dependents then become orphans in turn); an object
//!   with at least one live owner stays, and its dangling references are removed;
//! - an owner deleted with `propagationPolicy: Foreground` carries the `foregroundDeletion`
//!   finalizer (set by the store's delete): its dependents are deleted (in the foreground
//!   too), and the finalizer is removed once no dependent with `blockOwnerDeletion` is left;
//! - an owner deleted with `Orphan` carries the `orphan` finalizer: its references are removed
//!   from every dependent, then the finalizer is removed.

use serde_json::Value;

use super::cache::{ObjRef, OwnerRef, owner_refs, uid};
use super::manager::Ctx;
use crate::store::{GroupResource, PropagationPolicy, meta};

/// The foreground-deletion finalizer.
pub const FOREGROUND: &str = "foregroundDeletion";
/// The orphan finalizer.
pub const ORPHAN: &str = "orphan";

/// Whether the owner a reference points to exists (checked against the store when the cache
/// does not know the uid, so an owner created moments ago is never mistaken for a dead one).
fn owner_alive(ctx: &Ctx, namespace: &str, r: &OwnerRef) -> bool {
    if ctx.cache.uid_exists(&r.uid) {
        return true;
    }
    let (group, version) = r
        .api_version
        .rsplit_once('/')
        .unwrap_or(("", &r.api_version));
    let gr = ctx
        .store
        .registry()
        .by_kind(group, version, &r.kind)
        .map(|i| i.group_resource());
    let Some(gr) = gr else { return false };
    let ns = match ctx.store.resource_info(&gr) {
        Ok(info) if info.namespaced => namespace,
        _ => "",
    };
    ctx.store
        .get(&gr, ns, &r.name)
        .is_ok_and(|o| uid(&o) == r.uid)
}

/// Deletes `key` if all its owners are gone, or drops its dangling owner references.
pub fn check_dependent(ctx: &mut Ctx, key: &ObjRef) {
    let Ok(obj) = ctx.store.get(&key.0, &key.1, &key.2) else {
        return;
    };
    let refs = owner_refs(&obj);
    if refs.is_empty() {
        return;
    }
    let dead: Vec<&OwnerRef> = refs
        .iter()
        .filter(|r| !owner_alive(ctx, &key.1, r))
        .collect();
    if dead.is_empty() {
        return;
    }
    let my_uid = uid(&obj).to_string();
    if dead.len() == refs.len() {
        if obj.pointer("/metadata/deletionTimestamp").is_none() {
            ctx.delete(key, PropagationPolicy::Background, Some(&my_uid));
        }
        return;
    }
    let dead: Vec<String> = dead.iter().map(|r| r.uid.clone()).collect();
    ctx.modify(key, false, |o| remove_refs(o, &dead));
}

/// Handles an owner being deleted with the foreground or orphan finalizer.
pub fn process_owner(ctx: &mut Ctx, key: &ObjRef) {
    let Ok(owner) = ctx.store.get(&key.0, &key.1, &key.2) else {
        return;
    };
    if owner.pointer("/metadata/deletionTimestamp").is_none() {
        return;
    }
    let finalizers = meta::finalizers(&owner);
    let owner_uid = uid(&owner).to_string();
    if finalizers.iter().any(|f| f == ORPHAN) {
        for dep in ctx.cache.dependents(&owner_uid) {
            let gone = vec![owner_uid.clone()];
            ctx.modify(&dep, false, |o| remove_refs(o, &gone));
        }
        remove_finalizer(ctx, key, ORPHAN);
        return;
    }
    if !finalizers.iter().any(|f| f == FOREGROUND) {
        return;
    }
    let mut blocking = 0;
    for dep in ctx.cache.dependents(&owner_uid) {
        let Ok(obj) = ctx.store.get(&dep.0, &dep.1, &dep.2) else {
            continue;
        };
        let blocks = owner_refs(&obj)
            .iter()
            .any(|r| r.uid == owner_uid && r.block);
        if blocks {
            blocking += 1;
        }
        if obj.pointer("/metadata/deletionTimestamp").is_none() {
            let policy = if blocks {
                PropagationPolicy::Foreground
            } else {
                PropagationPolicy::Background
            };
            ctx.delete(&dep, policy, Some(uid(&obj)));
        }
    }
    // Dependents deleted just now without finalizers are gone already: count what is left.
    let left = ctx
        .cache
        .dependents(&owner_uid)
        .iter()
        .filter_map(|d| ctx.store.get(&d.0, &d.1, &d.2).ok())
        .filter(|o| owner_refs(o).iter().any(|r| r.uid == owner_uid && r.block))
        .count();
    if blocking == 0 || left == 0 {
        remove_finalizer(ctx, key, FOREGROUND);
    }
}

fn remove_finalizer(ctx: &mut Ctx, key: &ObjRef, finalizer: &str) {
    ctx.modify(key, false, |o| {
        let kept: Vec<Value> = meta::finalizers(o)
            .into_iter()
            .filter(|f| f != finalizer)
            .map(Value::from)
            .collect();
        let md = meta::metadata_mut(o);
        if kept.is_empty() {
            md.remove("finalizers");
        } else {
            md.insert("finalizers".into(), Value::Array(kept));
        }
    });
}

fn remove_refs(obj: &mut Value, uids: &[String]) {
    let md = meta::metadata_mut(obj);
    if let Some(Value::Array(refs)) = md.get_mut("ownerReferences") {
        refs.retain(|r| {
            !uids
                .iter()
                .any(|u| r.get("uid").and_then(Value::as_str) == Some(u))
        });
        if refs.is_empty() {
            md.remove("ownerReferences");
        }
    }
}

/// `GroupResource` of pods.
pub fn pods() -> GroupResource {
    GroupResource::new("", "pods")
}

//! Delete with the API server's semantics (preconditions, finalizers, propagation policy)
//! and conflict-free read-modify-write for in-process controllers.

use std::sync::Arc;

use serde_json::{Value, json};

use super::meta::{self, metadata_mut};
use super::{
    DeleteOptions, DeleteOutcome, EventType, GroupResource, Inner, ObjectKey, PropagationPolicy,
    Store, StoreError, WatchEvent, WriteOptions,
};

impl Store {
    /// Removes an object for good (no finalizers left) at resourceVersion `rv`: drops it from
    /// the store, sends DELETED, and unregisters its resource if it is a CRD.
    pub(super) fn remove_final(
        &self,
        inner: &mut Inner,
        gr: &GroupResource,
        key: &ObjectKey,
        obj: &Arc<Value>,
        rv: u64,
    ) {
        if let Some(d) = inner.resources.get_mut(gr) {
            d.objects.remove(key);
        }
        self.publish(
            inner,
            WatchEvent::new(gr.clone(), EventType::Deleted, obj.clone(), rv),
        );
        if super::crd::is_crd(gr) {
            super::crd::on_delete(self, inner, obj);
        }
    }

    /// Stores the changed object `new` (was `old`) at resourceVersion `rv` and sends MODIFIED.
    pub(super) fn store_modified(
        &self,
        inner: &mut Inner,
        gr: &GroupResource,
        key: ObjectKey,
        new: &Arc<Value>,
        old: &Arc<Value>,
        rv: u64,
    ) {
        if let Some(d) = inner.resources.get_mut(gr) {
            d.objects.insert(key, new.clone());
        }
        self.publish(
            inner,
            WatchEvent::new(gr.clone(), EventType::Modified, new.clone(), rv)
                .with_previous(old.clone()),
        );
    }

    pub(crate) fn delete_opts(
        &self,
        gr: &GroupResource,
        namespace: &str,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<DeleteOutcome, StoreError> {
        let info = self.resource_info(gr)?;
        let ns = if info.namespaced {
            namespace.to_owned()
        } else {
            String::new()
        };
        let key = (ns, name.to_owned());
        let mut inner = self.lock();
        let old = inner
            .resources
            .get(gr)
            .and_then(|d| d.objects.get(&key))
            .cloned()
            .ok_or_else(|| StoreError::NotFound {
                gr: gr.clone(),
                name: name.to_owned(),
            })?;
        let conflict = |reason: String| StoreError::Conflict {
            gr: gr.clone(),
            name: name.to_owned(),
            reason,
        };
        if let Some(uid) = &opts.precondition_uid {
            let have = meta::meta_str(&old, "uid");
            if uid != have {
                return Err(conflict(format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {have}"
                )));
            }
        }
        if let Some(rv) = &opts.precondition_resource_version {
            let have = meta::meta_str(&old, "resourceVersion");
            if rv != have {
                return Err(conflict(format!(
                    "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {have}"
                )));
            }
        }
        let is_namespace = gr.group.is_empty() && gr.resource == "namespaces";
        let mut new = (*old).clone();
        let mut finalizers = meta::finalizers(&old);
        let extra = match opts.propagation_policy {
            Some(PropagationPolicy::Foreground) => Some("foregroundDeletion"),
            Some(PropagationPolicy::Orphan) => Some("orphan"),
            _ => None,
        };
        if let Some(f) = extra
            && !finalizers.iter().any(|x| x == f)
            && (old.pointer("/metadata/deletionTimestamp").is_none() || !finalizers.is_empty())
        {
            finalizers.push(f.to_owned());
        }
        if finalizers.is_empty() && !is_namespace {
            if opts.dry_run {
                return Ok(DeleteOutcome::Deleted(old));
            }
            let rv = inner.rv + 1;
            inner.rv = rv;
            metadata_mut(&mut new).insert("resourceVersion".into(), json!(rv.to_string()));
            let new = Arc::new(new);
            self.remove_final(&mut inner, gr, &key, &new, rv);
            return Ok(DeleteOutcome::Deleted(new));
        }
        let md = metadata_mut(&mut new);
        if !md.contains_key("deletionTimestamp") {
            md.insert("deletionTimestamp".into(), json!(meta::now_rfc3339()));
            md.insert("deletionGracePeriodSeconds".into(), json!(0));
        }
        if !finalizers.is_empty() {
            md.insert("finalizers".into(), json!(finalizers));
        }
        if is_namespace {
            new["status"] = json!({"phase": "Terminating"});
        }
        if new == *old || opts.dry_run {
            return Ok(DeleteOutcome::Pending(if new == *old {
                old
            } else {
                Arc::new(new)
            }));
        }
        let rv = inner.rv + 1;
        inner.rv = rv;
        metadata_mut(&mut new).insert("resourceVersion".into(), json!(rv.to_string()));
        let new = Arc::new(new);
        self.store_modified(&mut inner, gr, key, &new, &old, rv);
        Ok(DeleteOutcome::Pending(new))
    }

    /// Read-modify-write of one object: `f` gets a copy of the current object and changes
    /// it; the result is written like [`Store::update`] (or [`Store::update_status`] when
    /// `status_only`) with the read resourceVersion as precondition, and `f` is re-run on the
    /// newer object after a concurrent write, so callers never see a Conflict.
    pub fn modify(
        &self,
        gr: &GroupResource,
        namespace: &str,
        name: &str,
        status_only: bool,
        mut f: impl FnMut(&mut Value),
    ) -> Result<Arc<Value>, StoreError> {
        loop {
            let current = self.get(gr, namespace, name)?;
            let mut obj = (*current).clone();
            f(&mut obj);
            let rv = meta::meta_str(&current, "resourceVersion").to_owned();
            metadata_mut(&mut obj).insert("resourceVersion".into(), json!(rv));
            match self.update_opts(gr, obj, status_only, &WriteOptions::default()) {
                Err(StoreError::Conflict { .. }) => continue,
                other => return other,
            }
        }
    }
}

//! Update of the main resource or the status subresource, with the API server's rules:
//! optimistic concurrency, server-owned metadata kept, `generation` bumped on spec changes,
//! managedFields, and the finalizing update that removes an object.

use std::sync::Arc;

use serde_json::{Value, json};

use super::meta::{self, metadata_mut};
use super::meta_ops::{
    SERVER_META, STALE, managed_entry, record_manager, spec_part, uses_generation,
};
use super::{GroupResource, Store, StoreError, WriteOptions};

impl Store {
    /// Updates the main resource (`status_only = false`) or the status subresource, with
    /// options. The object is found by `metadata.namespace`/`metadata.name` of `obj`.
    pub fn update_opts(
        &self,
        gr: &GroupResource,
        obj: Value,
        status_only: bool,
        opts: &WriteOptions,
    ) -> Result<Arc<Value>, StoreError> {
        let info = self.resource_info(gr)?;
        let ns = if info.namespaced {
            meta::namespace(&obj).to_owned()
        } else {
            String::new()
        };
        let name = meta::name(&obj).to_owned();
        let mut inner = self.lock();
        let old = inner
            .resources
            .get(gr)
            .and_then(|d| d.objects.get(&(ns.clone(), name.clone())))
            .cloned()
            .ok_or_else(|| StoreError::NotFound {
                gr: gr.clone(),
                name: name.clone(),
            })?;
        let given_rv = meta::meta_str(&obj, "resourceVersion");
        if !given_rv.is_empty() && given_rv != meta::meta_str(&old, "resourceVersion") {
            return Err(StoreError::Conflict {
                gr: gr.clone(),
                name,
                reason: STALE.into(),
            });
        }
        let given_uid = meta::meta_str(&obj, "uid");
        let old_uid = meta::meta_str(&old, "uid");
        if !given_uid.is_empty() && given_uid != old_uid {
            return Err(StoreError::Conflict {
                gr: gr.clone(),
                name,
                reason: format!(
                    "Precondition failed: UID in precondition: {given_uid}, UID in object meta: {old_uid}"
                ),
            });
        }
        let mut new = if status_only {
            let mut n = (*old).clone();
            match obj.get("status") {
                Some(s) => n["status"] = s.clone(),
                None => {
                    if let Some(m) = n.as_object_mut() {
                        m.remove("status");
                    }
                }
            }
            n
        } else {
            let mut n = obj;
            if !n.is_object() {
                return Err(StoreError::BadRequest(
                    "the body of the request was not an object".into(),
                ));
            }
            if info.status_subresource {
                match old.get("status") {
                    Some(s) => n["status"] = s.clone(),
                    None => {
                        if let Some(m) = n.as_object_mut() {
                            m.remove("status");
                        }
                    }
                }
            }
            for f in ["kind", "apiVersion"] {
                if n.get(f).and_then(Value::as_str).unwrap_or("").is_empty() {
                    n[f] = old[f].clone();
                }
            }
            let old_md = old.get("metadata").cloned().unwrap_or_default();
            let md = metadata_mut(&mut n);
            for f in SERVER_META
                .iter()
                .chain(["name", "namespace", "generateName"].iter())
            {
                match old_md.get(*f) {
                    Some(v) => md.insert((*f).to_owned(), v.clone()),
                    None => md.remove(*f),
                };
            }
            if !md.contains_key("managedFields")
                && let Some(mf) = old_md.get("managedFields")
            {
                md.insert("managedFields".into(), mf.clone());
            }
            if uses_generation(&info) && spec_part(&n) != spec_part(&old) {
                let generation = old_md
                    .get("generation")
                    .and_then(Value::as_i64)
                    .unwrap_or(0);
                metadata_mut(&mut n).insert("generation".into(), json!(generation + 1));
            }
            n
        };
        if let Some(m) = &opts.field_manager {
            let api_version = new["apiVersion"].as_str().unwrap_or("").to_owned();
            record_manager(
                &mut new,
                managed_entry(m, "Update", &api_version, status_only),
            );
        }
        if let Some(detail) = meta::invalid_owner_references(&new) {
            return Err(super::meta_ops::invalid(
                &info,
                &name,
                "metadata.ownerReferences",
                detail,
            ));
        }
        if super::crd::is_crd(gr) {
            super::crd::validate(&info, &new, &name)?;
        }
        if new == *old || opts.dry_run {
            return Ok(if new == *old { old } else { Arc::new(new) });
        }
        let rv = inner.rv + 1;
        inner.rv = rv;
        metadata_mut(&mut new).insert("resourceVersion".into(), json!(rv.to_string()));
        let finalizing = new.pointer("/metadata/deletionTimestamp").is_some()
            && meta::finalizers(&new).is_empty();
        if super::crd::is_crd(gr) && !finalizing {
            super::crd::on_write(self, &mut new);
        }
        let new = Arc::new(new);
        let key = (ns, name);
        if finalizing {
            self.remove_final(&mut inner, gr, &key, &new, rv);
        } else {
            self.store_modified(&mut inner, gr, key, &new, &old, rv);
        }
        Ok(new)
    }
}

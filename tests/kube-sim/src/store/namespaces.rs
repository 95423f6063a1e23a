//! The namespace lifecycle: a deleted namespace is Terminating until everything in it is gone,
//! then it is removed (what the namespace controller and its `kubernetes` finalizer do).

use std::sync::Arc;

use serde_json::json;

use super::meta::{self, metadata_mut};
use super::{DeleteOptions, EventType, GroupResource, Store, WatchEvent};

impl Store {
    /// One pass of the namespace controller: for each Terminating namespace, deletes the
    /// objects in it (Background propagation; objects with finalizers stay until those are
    /// removed) and removes the namespace once it is empty. Returns how many namespaces were
    /// removed. The server calls this periodically and right after a namespace delete.
    pub fn reap_namespaces(&self) -> usize {
        let nsgr = GroupResource::new("", "namespaces");
        let terminating: Vec<String> = {
            let inner = self.lock();
            inner
                .resources
                .get(&nsgr)
                .map(|d| {
                    d.objects
                        .values()
                        .filter(|o| o.pointer("/metadata/deletionTimestamp").is_some())
                        .map(|o| meta::name(o).to_owned())
                        .collect()
                })
                .unwrap_or_default()
        };
        if terminating.is_empty() {
            return 0;
        }
        let namespaced: Vec<GroupResource> = self
            .registry()
            .all()
            .filter(|r| r.namespaced)
            .map(|r| r.group_resource())
            .collect();
        let mut removed = 0;
        for ns in terminating {
            let mut remaining = 0usize;
            for gr in &namespaced {
                let Ok(page) = self.list(gr, Some(&ns)) else {
                    continue;
                };
                remaining += page.items.len();
                for obj in page.items {
                    if obj.pointer("/metadata/deletionTimestamp").is_none() {
                        let _ = self.delete(gr, &ns, meta::name(&obj), &DeleteOptions::default());
                    }
                }
            }
            if remaining > 0 && self.count_in_namespace(&namespaced, &ns) > 0 {
                continue;
            }
            let mut inner = self.lock();
            let key = (String::new(), ns.clone());
            let Some(obj) = inner
                .resources
                .get_mut(&nsgr)
                .and_then(|d| d.objects.remove(&key))
            else {
                continue;
            };
            inner.rv += 1;
            let rv = inner.rv;
            let mut o = (*obj).clone();
            metadata_mut(&mut o).insert("resourceVersion".into(), json!(rv.to_string()));
            o["spec"] = json!({});
            self.publish(
                &mut inner,
                WatchEvent::new(nsgr.clone(), EventType::Deleted, Arc::new(o), rv),
            );
            removed += 1;
        }
        removed
    }

    fn count_in_namespace(&self, resources: &[GroupResource], ns: &str) -> usize {
        let inner = self.lock();
        resources
            .iter()
            .filter_map(|gr| inner.resources.get(gr))
            .map(|d| {
                d.objects
                    .range((ns.to_owned(), String::new())..)
                    .take_while(|((n, _), _)| n == ns)
                    .count()
            })
            .sum()
    }
}

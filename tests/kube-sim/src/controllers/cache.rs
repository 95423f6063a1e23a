//! The controllers' informer cache: the objects of the kinds the controllers manage (and
//! Pods), plus, for every object of every resource, its uid and owner references (for the
//! garbage collector and for finding an owner's dependents).
//!
//! The cache is fed by the store-wide event stream *and* by the controllers' own writes
//! (read-your-writes, so a controller never creates a Pod twice because the event of its
//! first create has not arrived yet). Per object, a change older than what the cache holds
//! is ignored, and a deletion leaves a tombstone until its event arrives.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use serde_json::Value;

use crate::store::meta;
use crate::store::{EventType, GroupResource};

/// `(resource, namespace, name)`.
pub type ObjRef = (GroupResource, String, String);

/// One owner reference, as far as the GC needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerRef {
    /// `apiVersion` of the owner.
    pub api_version: String,
    /// `kind` of the owner.
    pub kind: String,
    /// `name` of the owner.
    pub name: String,
    /// `uid` of the owner.
    pub uid: String,
    /// `controller: true`.
    pub controller: bool,
    /// `blockOwnerDeletion: true`.
    pub block: bool,
}

/// The owner references of an object.
pub fn owner_refs(obj: &Value) -> Vec<OwnerRef> {
    let s = |r: &Value, k: &str| r.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let b = |r: &Value, k: &str| r.get(k).and_then(Value::as_bool).unwrap_or(false);
    obj.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .map(|refs| {
            refs.iter()
                .map(|r| OwnerRef {
                    api_version: s(r, "apiVersion"),
                    kind: s(r, "kind"),
                    name: s(r, "name"),
                    uid: s(r, "uid"),
                    controller: b(r, "controller"),
                    block: b(r, "blockOwnerDeletion"),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `metadata.uid`.
pub fn uid(obj: &Value) -> &str {
    meta::meta_str(obj, "uid")
}

#[derive(Debug)]
struct Entry {
    uid: String,
    rv: u64,
    owners: Vec<String>,
    object: Option<Arc<Value>>,
}

/// The cache.
#[derive(Debug, Default)]
pub struct Cache {
    tracked: Vec<GroupResource>,
    entries: HashMap<ObjRef, Entry>,
    by_uid: HashMap<String, ObjRef>,
    dependents: HashMap<String, BTreeSet<ObjRef>>,
    tombstones: HashMap<ObjRef, u64>,
}

impl Cache {
    /// A cache keeping whole objects for `tracked` resources (only metadata for the rest).
    pub fn new(tracked: Vec<GroupResource>) -> Cache {
        Cache {
            tracked,
            ..Default::default()
        }
    }

    /// Applies a change; returns false when it was older than what the cache has.
    pub fn apply(&mut self, gr: &GroupResource, type_: EventType, obj: &Arc<Value>) -> bool {
        let key: ObjRef = (
            gr.clone(),
            meta::namespace(obj).to_string(),
            meta::name(obj).to_string(),
        );
        let rv = meta::resource_version(obj).unwrap_or(0);
        if type_ == EventType::Deleted {
            self.tombstones.remove(&key);
            if self.entries.get(&key).is_some_and(|e| e.rv > rv) {
                return false;
            }
            self.remove(&key);
            return true;
        }
        if self.tombstones.get(&key).is_some_and(|t| *t >= rv) {
            return false;
        }
        if let Some(old) = self.entries.get(&key) {
            if old.rv > rv {
                return false;
            }
            if old.uid != uid(obj) {
                self.remove(&key);
            }
        }
        self.remove_links(&key);
        let owners: Vec<String> = owner_refs(obj).into_iter().map(|o| o.uid).collect();
        for o in &owners {
            self.dependents
                .entry(o.clone())
                .or_default()
                .insert(key.clone());
        }
        let uid = uid(obj).to_string();
        self.by_uid.insert(uid.clone(), key.clone());
        let object = self.tracked.contains(gr).then(|| obj.clone());
        self.entries.insert(
            key,
            Entry {
                uid,
                rv,
                owners,
                object,
            },
        );
        true
    }

    /// Records a delete this process made (`rv` = the deletion's resourceVersion).
    pub fn deleted(&mut self, key: &ObjRef, rv: u64) {
        self.remove(key);
        self.tombstones.insert(key.clone(), rv);
    }

    fn remove_links(&mut self, key: &ObjRef) {
        if let Some(old) = self.entries.get(key) {
            for o in &old.owners {
                if let Some(set) = self.dependents.get_mut(o) {
                    set.remove(key);
                    if set.is_empty() {
                        self.dependents.remove(o);
                    }
                }
            }
        }
    }

    fn remove(&mut self, key: &ObjRef) {
        self.remove_links(key);
        if let Some(old) = self.entries.remove(key)
            && self.by_uid.get(&old.uid) == Some(key)
        {
            self.by_uid.remove(&old.uid);
        }
    }

    /// Drops everything (before a re-list).
    pub fn clear(&mut self) {
        let tracked = std::mem::take(&mut self.tracked);
        *self = Cache::new(tracked);
    }

    /// A tracked object.
    pub fn get(&self, key: &ObjRef) -> Option<&Arc<Value>> {
        self.entries.get(key).and_then(|e| e.object.as_ref())
    }

    /// Whether an object with this uid exists.
    pub fn uid_exists(&self, uid: &str) -> bool {
        self.by_uid.contains_key(uid)
    }

    /// The object with this uid.
    pub fn by_uid(&self, uid: &str) -> Option<&ObjRef> {
        self.by_uid.get(uid)
    }

    /// Every object with an owner reference to `owner_uid`.
    pub fn dependents(&self, owner_uid: &str) -> Vec<ObjRef> {
        self.dependents
            .get(owner_uid)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Tracked dependents of `owner_uid` in `gr` whose *controller* reference is that owner.
    pub fn controlled(&self, owner_uid: &str, gr: &GroupResource) -> Vec<Arc<Value>> {
        self.dependents
            .get(owner_uid)
            .into_iter()
            .flatten()
            .filter(|k| &k.0 == gr)
            .filter_map(|k| self.get(k))
            .filter(|o| {
                owner_refs(o)
                    .iter()
                    .any(|r| r.controller && r.uid == owner_uid)
            })
            .cloned()
            .collect()
    }

    /// Every tracked object of a resource.
    pub fn all(&self, gr: &GroupResource) -> Vec<Arc<Value>> {
        self.entries
            .iter()
            .filter(|(k, _)| &k.0 == gr)
            .filter_map(|(_, e)| e.object.clone())
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, uid: &str, rv: u64, owner: Option<&str>) -> Arc<Value> {
        let mut p = json!({"metadata": {"name": name, "namespace": "ns", "uid": uid,
                                         "resourceVersion": rv.to_string()}});
        if let Some(o) = owner {
            p["metadata"]["ownerReferences"] = json!([{"uid": o, "controller": true}]);
        }
        Arc::new(p)
    }

    #[test]
    fn stale_changes_and_tombstones_are_ignored() {
        let gr = GroupResource::new("", "pods");
        let mut cache = Cache::new(vec![gr.clone()]);
        assert!(cache.apply(&gr, EventType::Added, &pod("a", "u1", 5, Some("rs"))));
        // An older event arriving after our own newer write changes nothing.
        assert!(!cache.apply(&gr, EventType::Modified, &pod("a", "u1", 4, None)));
        assert_eq!(cache.controlled("rs", &gr).len(), 1);
        // A delete we made wins over the late ADDED/MODIFIED events of the object.
        let key = (gr.clone(), "ns".to_string(), "a".to_string());
        cache.deleted(&key, 7);
        assert!(!cache.apply(&gr, EventType::Modified, &pod("a", "u1", 6, Some("rs"))));
        assert!(!cache.uid_exists("u1"));
        assert!(cache.dependents("rs").is_empty());
        // A new object with the same name is accepted after the deletion.
        assert!(cache.apply(&gr, EventType::Added, &pod("a", "u2", 8, Some("rs"))));
        assert!(cache.uid_exists("u2"));
    }

    #[test]
    fn untracked_kinds_keep_only_ownership() {
        let gr = GroupResource::new("", "configmaps");
        let mut cache = Cache::new(vec![]);
        cache.apply(&gr, EventType::Added, &pod("c", "u3", 1, Some("owner")));
        let key = (gr, "ns".to_string(), "c".to_string());
        assert!(cache.get(&key).is_none());
        assert_eq!(cache.dependents("owner"), vec![key.clone()]);
        assert_eq!(cache.by_uid("u3"), Some(&key));
    }
}

//! Workload objects the leader keeps for the config audits they may need, within a budget.

use std::collections::HashMap;

use kube::api::DynamicObject;

/// Most bytes of workload objects kept for their audits.
pub const AUDIT_OBJECT_BUDGET: usize = 64 * 1024 * 1024;
/// Largest object kept (a larger one is read by the worker).
pub const AUDIT_OBJECT_MAX: usize = 256 * 1024;

/// The workload objects the watches delivered, as JSON without managedFields, kept (within
/// [`AUDIT_OBJECT_BUDGET`]) until the planner finds their audit done, so that a worker
/// audits what the leader sends instead of reading the workload again.
#[derive(Debug, Default)]
pub struct AuditObjects {
    /// Exact-size strings: the budget counts what the heap holds.
    by_uid: HashMap<Box<str>, (Box<str>, Box<str>)>,
    bytes: usize,
}

impl AuditObjects {
    /// Keeps the object of workload `uid` with spec hash `spec_hash` (replacing an older one);
    /// forgets it when it does not fit.
    pub fn put(&mut self, uid: &str, spec_hash: &str, object: &DynamicObject) {
        self.remove(uid);
        let mut object = object.clone();
        object.metadata.managed_fields = None;
        if let Ok(json) = serde_json::to_string(&object) {
            self.put_json(uid, spec_hash, json);
        }
    }

    /// Keeps an object already serialized (e.g. a role's), as [`Self::put`].
    pub fn put_json(&mut self, uid: &str, spec_hash: &str, json: String) {
        self.remove(uid);
        if json.len() > AUDIT_OBJECT_MAX || self.bytes + json.len() > AUDIT_OBJECT_BUDGET {
            return;
        }
        self.bytes += json.len();
        // `to_string` leaves up to half of its buffer unused: keep only what the JSON needs.
        self.by_uid
            .insert(uid.into(), (spec_hash.into(), json.into_boxed_str()));
    }

    /// The object of `uid`, if the one kept has `spec_hash`.
    pub fn get(&self, uid: &str, spec_hash: &str) -> Option<&str> {
        self.by_uid
            .get(uid)
            .filter(|(hash, _)| &**hash == spec_hash)
            .map(|(_, json)| &**json)
    }

    /// Forgets the object of `uid`.
    pub fn remove(&mut self, uid: &str) {
        if let Some((_, json)) = self.by_uid.remove(uid) {
            self.bytes -= json.len();
        }
    }

    /// Bytes kept now.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn object(name: &str, padding: usize) -> DynamicObject {
        let mut o: DynamicObject = serde_json::from_value(serde_json::json!({
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": name, "managedFields": [{"manager": "m"}]},
            "spec": {"note": "x".repeat(padding)},
        }))
        .unwrap();
        o.metadata.namespace = Some("ns".into());
        o
    }

    #[test]
    fn objects_are_kept_by_spec_hash_within_the_budget() {
        let mut kept = AuditObjects::default();
        kept.put("u1", "h1", &object("a", 10));
        let json = kept.get("u1", "h1").unwrap();
        assert!(!json.contains("managedFields"));
        assert_eq!(kept.bytes(), json.len());
        assert!(kept.get("u1", "h2").is_none(), "another spec");
        // Replacing counts the new object only.
        kept.put("u1", "h2", &object("a", 20));
        assert_eq!(kept.bytes(), kept.get("u1", "h2").unwrap().len());
        // Too large for one object: not kept, and the old one is gone.
        kept.put("u1", "h3", &object("a", AUDIT_OBJECT_MAX));
        assert!(kept.get("u1", "h3").is_none());
        assert_eq!(kept.bytes(), 0);
        kept.put("u2", "h", &object("b", 10));
        kept.remove("u2");
        assert_eq!(kept.bytes(), 0);
    }
}

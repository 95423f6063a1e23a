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
    by_uid: HashMap<String, (String, String)>,
    bytes: usize,
}

impl AuditObjects {
    /// Keeps the object of workload `uid` with spec hash `spec_hash` (replacing an older one);
    /// forgets it when it does not fit.
    pub fn put(&mut self, uid: &str, spec_hash: &str, object: &DynamicObject) {
        self.remove(uid);
        let mut object = object.clone();
        object.metadata.managed_fields = None;
        let Ok(json) = serde_json::to_string(&object) else {
            return;
        };
        if json.len() > AUDIT_OBJECT_MAX || self.bytes + json.len() > AUDIT_OBJECT_BUDGET {
            return;
        }
        self.bytes += json.len();
        self.by_uid
            .insert(uid.to_string(), (spec_hash.to_string(), json));
    }

    /// The object of `uid`, if the one kept has `spec_hash`.
    pub fn get(&self, uid: &str, spec_hash: &str) -> Option<&str> {
        self.by_uid
            .get(uid)
            .filter(|(hash, _)| hash == spec_hash)
            .map(|(_, json)| json.as_str())
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

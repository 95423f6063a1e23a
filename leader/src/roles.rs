//! RBAC assessments: the leader's view of the Roles and ClusterRoles and their
//! RbacAssessmentReports / ClusterRbacAssessmentReports ([`RoleObserved`], kept by the
//! watches of [`folds`]), and the round that plans a role's assessment when it is new, its
//! rules changed, its report is missing or stale, or the policies of its kind changed
//! ([`plan`]).
//!
//! A Role's work is sharded with its namespace. ClusterRoles are cluster-scoped: each one's
//! work is sharded on its own key [`shard_key`] (`ClusterRole/<name>`, which no namespace
//! name can be) by the same rendezvous hashing as namespaces, as nodes are.

pub mod folds;
pub mod plan;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::dispatch::Dispatcher;
use crate::observed::Observed;
use crate::scope::Scope;

/// The watch of Roles.
pub const ROLES_WATCH: &str = "roles";
/// The watch of ClusterRoles.
pub const CLUSTER_ROLES_WATCH: &str = "clusterroles";
/// The watch of RbacAssessmentReports (a report CRD watch).
pub const REPORTS_WATCH: &str = "rbac-reports";
/// The watch of ClusterRbacAssessmentReports (a report CRD watch).
pub const CLUSTER_REPORTS_WATCH: &str = "cluster-rbac-reports";
/// Every watch RBAC assessments need.
pub const WATCHES: [&str; 4] = [
    ROLES_WATCH,
    CLUSTER_ROLES_WATCH,
    REPORTS_WATCH,
    CLUSTER_REPORTS_WATCH,
];

/// A role kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RoleKind {
    Role,
    ClusterRole,
}

impl RoleKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Role => "Role",
            Self::ClusterRole => "ClusterRole",
        }
    }
}

/// The sharding key of a role's work: a Role's namespace, a ClusterRole's own key.
pub fn shard_key(kind: RoleKind, namespace: &str, name: &str) -> String {
    match kind {
        RoleKind::Role => namespace.to_owned(),
        RoleKind::ClusterRole => format!("ClusterRole/{name}"),
    }
}

/// The dispatcher slot of a role's assessment.
pub fn slot(uid: &str) -> String {
    format!("rbac:{uid}")
}

/// What the leader keeps of a Role or ClusterRole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleRecord {
    pub kind: RoleKind,
    /// Empty for a ClusterRole.
    pub namespace: String,
    pub name: String,
    pub uid: String,
    /// Hash of its rules and aggregation rule.
    pub spec_hash: String,
}

/// What the leader keeps of an RbacAssessmentReport or ClusterRbacAssessmentReport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleReport {
    /// Empty for a ClusterRbacAssessmentReport.
    pub namespace: String,
    pub name: String,
    pub spec_hash: Option<String>,
    pub config_hash: Option<String>,
    /// What the report gauges need, when the report carries it.
    pub gauge: Option<Box<crate::observed::gauges::AuditGauge>>,
    /// Its size as written (its `bytes` annotation; 0 when it has none).
    pub bytes: u32,
}

/// Roles, ClusterRoles and their reports, as watched.
#[derive(Debug, Default)]
pub struct RoleObserved {
    /// Roles and ClusterRoles by uid.
    pub roles: HashMap<String, RoleRecord>,
    /// Reports by their controller owner's uid.
    reports: HashMap<String, Vec<RoleReport>>,
    /// Roles whose plan may have changed since the last round.
    dirty: BTreeSet<String>,
    /// Bytes of the reports seen, as written.
    bytes: u64,
    /// The namespaces generation the last round planned with (Roles follow their
    /// namespace's scope).
    namespaces_generation: u64,
}

impl RoleObserved {
    pub fn put_role(&mut self, role: RoleRecord) {
        self.dirty.insert(role.uid.clone());
        self.roles.insert(role.uid.clone(), role);
    }

    pub fn remove_role(&mut self, uid: &str) {
        self.roles.remove(uid);
        self.dirty.insert(uid.to_owned());
    }

    pub fn put_report(&mut self, owner: String, report: RoleReport) {
        self.remove_report(&owner, &report.namespace.clone(), &report.name.clone());
        self.bytes += u64::from(report.bytes);
        self.reports.entry(owner).or_default().push(report);
    }

    pub fn remove_report(&mut self, owner: &str, namespace: &str, name: &str) {
        self.dirty.insert(owner.to_owned());
        if let Some(reports) = self.reports.get_mut(owner) {
            let mut removed = 0;
            reports.retain(|r| {
                let keep = (r.namespace.as_str(), r.name.as_str()) != (namespace, name);
                if !keep {
                    removed += u64::from(r.bytes);
                }
                keep
            });
            self.bytes = self.bytes.saturating_sub(removed);
            if reports.is_empty() {
                self.reports.remove(owner);
            }
        }
    }

    /// Bytes of every report seen, as written.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The reports a role owns (in its namespace, for a Role).
    pub fn reports_of<'a>(&'a self, role: &'a RoleRecord) -> impl Iterator<Item = &'a RoleReport> {
        self.reports
            .get(&role.uid)
            .into_iter()
            .flatten()
            .filter(|r| r.namespace == role.namespace)
    }

    /// Every report seen.
    pub fn all_reports(&self) -> impl Iterator<Item = &RoleReport> {
        self.reports.values().flatten()
    }

    /// Every role is re-planned at the next round.
    pub fn mark_all_dirty(&mut self) {
        self.dirty.extend(self.roles.keys().cloned());
    }

    /// The work served for the role of `uid` is no longer covered: re-plan it.
    pub fn cover_ended(&mut self, uid: &str) {
        if self.roles.contains_key(uid) {
            self.dirty.insert(uid.to_owned());
        }
    }
}

/// Re-plans the dirty roles (every role when the namespaces changed); `hashes` `None`:
/// RBAC assessments wait (the policies are not known yet, or a report CRD is missing) and
/// none is queued.
pub fn round(
    observed: &mut Observed,
    scope: &Scope,
    dispatcher: &mut Dispatcher,
    hashes: Option<&BTreeMap<String, String>>,
    now: std::time::Instant,
) -> usize {
    if observed.roles.namespaces_generation != observed.namespaces_generation {
        observed.roles.namespaces_generation = observed.namespaces_generation;
        observed.roles.mark_all_dirty();
    }
    let due = std::mem::take(&mut observed.roles.dirty);
    for uid in &due {
        let (task, keep_object) = match (hashes, observed.roles.roles.get(uid)) {
            (Some(hashes), Some(role)) if in_scope(observed, scope, role) => {
                let reports: Vec<&RoleReport> = observed.roles.reports_of(role).collect();
                let due = plan::due(role, &reports, hashes);
                // Kept while it is to be sent (or its kind's policies are not known yet).
                let keep = due.is_some() || !hashes.contains_key(role.kind.as_str());
                (due.filter(|d| !dispatcher.covered(&d.task.task_id)), keep)
            }
            // Out of scope: not sent (read by the worker if it comes into scope).
            (Some(_), _) => (None, false),
            // Planning waits (policies unknown, or a report CRD missing).
            (None, _) => (None, true),
        };
        if !keep_object {
            observed.audit_objects.remove(uid);
        }
        dispatcher.upsert(&slot(uid), task, now);
    }
    due.len()
}

/// Whether a role is assessed: a ClusterRole always, a Role when its namespace is known and
/// in scope.
pub fn in_scope(observed: &Observed, scope: &Scope, role: &RoleRecord) -> bool {
    match role.kind {
        RoleKind::ClusterRole => true,
        RoleKind::Role => observed
            .namespaces
            .get(&role.namespace)
            .is_some_and(|labels| scope.contains(&role.namespace, labels)),
    }
}

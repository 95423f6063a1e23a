//! Audits of the objects besides workloads and nodes ([`ObjectKind`]): RBAC assessments of
//! Roles and ClusterRoles, and config audits of upstream's other kinds (Services, ConfigMaps,
//! RoleBindings, NetworkPolicies, Ingresses, ResourceQuotas, LimitRanges, and the
//! cluster-scoped ClusterRoleBindings and CustomResourceDefinitions). The leader's view of the
//! objects ([`ObjectObserved`], kept by the watches of [`folds`]) and of their reports, and the
//! round that plans an object's audit when it is new, its content changed, its report is
//! missing or stale, or the policies of its kind changed ([`plan`]).
//!
//! RBAC assessment reports are kept here; the ConfigAuditReports and ClusterConfigAuditReports
//! of objects are kept with the workloads' ConfigAuditReports
//! ([`Observed::audit_reports`](crate::observed::Observed), by owner uid).
//!
//! A namespaced object's work is sharded with its namespace. A cluster-scoped object's work is
//! sharded on its own key [`shard_key`] (`<Kind>/<name>`, which no namespace name can be) by
//! the same rendezvous hashing as namespaces, as nodes are.

pub mod folds;
pub mod plan;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, HashMap};

pub use common::objects::{ObjectKind, ReportKind};

use crate::dispatch::Dispatcher;
use crate::observed::Observed;
use crate::scope::Scope;

/// The watch of RbacAssessmentReports (a report CRD watch).
pub const REPORTS_WATCH: &str = "rbac-reports";
/// The watch of ClusterRbacAssessmentReports (a report CRD watch).
pub const CLUSTER_REPORTS_WATCH: &str = "cluster-rbac-reports";
/// The watch of ClusterConfigAuditReports (a report CRD watch). Namespaced ConfigAuditReports
/// come with the workloads' watch [`AUDIT_REPORTS`](crate::watch::AUDIT_REPORTS).
pub const CLUSTER_AUDIT_REPORTS_WATCH: &str = "cluster-audit-reports";

/// The watch of a kind's objects: its resource name.
pub fn watch_of(kind: ObjectKind) -> &'static str {
    kind.plural()
}

/// The watch of the reports of a kind's objects.
pub fn report_watch_of(kind: ObjectKind) -> &'static str {
    match kind.report_kind() {
        ReportKind::RbacAssessmentReport => REPORTS_WATCH,
        ReportKind::ClusterRbacAssessmentReport => CLUSTER_REPORTS_WATCH,
        ReportKind::ConfigAuditReport => crate::watch::AUDIT_REPORTS,
        ReportKind::ClusterConfigAuditReport => CLUSTER_AUDIT_REPORTS_WATCH,
    }
}

/// The kinds audited with the given switches: roles with RBAC assessments, the other kinds
/// with resource audits.
pub fn audited_kinds(rbac: bool, resources: bool) -> Vec<ObjectKind> {
    ObjectKind::ALL
        .into_iter()
        .filter(|k| if k.is_role() { rbac } else { resources })
        .collect()
}

/// The sharding key of an object's work: a namespaced object's namespace, a cluster-scoped
/// one's own key.
pub fn shard_key(kind: ObjectKind, namespace: &str, name: &str) -> String {
    if kind.cluster_scoped() {
        format!("{}/{name}", kind.as_str())
    } else {
        namespace.to_owned()
    }
}

/// The dispatcher slot of an object's audit.
pub fn slot(uid: &str) -> String {
    format!("object:{uid}")
}

/// What the leader keeps of an audited object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRecord {
    pub kind: ObjectKind,
    /// Empty for a cluster-scoped object.
    pub namespace: String,
    pub name: String,
    pub uid: String,
    /// Its `resource-spec-hash` ([`ObjectKind::spec_hash`]).
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

/// The audited objects and their RBAC assessment reports, as watched.
#[derive(Debug, Default)]
pub struct ObjectObserved {
    /// Objects by uid.
    pub records: HashMap<String, ObjectRecord>,
    /// RBAC assessment reports by their controller owner's uid.
    reports: HashMap<String, Vec<RoleReport>>,
    /// Objects whose plan may have changed since the last round.
    dirty: BTreeSet<String>,
    /// Bytes of the reports seen, as written.
    bytes: u64,
    /// The namespaces generation the last round planned with (namespaced objects follow
    /// their namespace's scope).
    namespaces_generation: u64,
}

impl ObjectObserved {
    pub fn put_object(&mut self, object: ObjectRecord) {
        self.dirty.insert(object.uid.clone());
        self.records.insert(object.uid.clone(), object);
    }

    pub fn remove_object(&mut self, uid: &str) {
        self.records.remove(uid);
        self.dirty.insert(uid.to_owned());
    }

    pub fn put_report(&mut self, owner: String, report: RoleReport) {
        self.remove_report(&owner, &report.namespace.clone(), &report.name.clone());
        self.bytes += u64::from(report.bytes);
        let reports = self.reports.entry(owner).or_default();
        // One report per role, as a rule: no room for four.
        reports.reserve_exact(1);
        reports.push(report);
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

    /// Every report seen.
    pub fn all_reports(&self) -> impl Iterator<Item = &RoleReport> {
        self.reports.values().flatten()
    }

    /// Every object is re-planned at the next round.
    pub fn mark_all_dirty(&mut self) {
        self.dirty.extend(self.records.keys().cloned());
    }

    /// Something about the object of `uid` changed (a report of it, or the work served for it
    /// is no longer covered): re-plan it.
    pub fn touch(&mut self, uid: &str) {
        if self.records.contains_key(uid) {
            self.dirty.insert(uid.to_owned());
        }
    }
}

/// Re-plans the dirty objects (every object when the namespaces changed); `hashes`: the
/// `plugin-config-hash` of each kind whose audits may be planned now. `None`: planning waits
/// (the policies are not known yet) and none is queued; a kind missing from the map waits
/// the same way (its report CRD is missing, or it is not audited).
pub fn round(
    observed: &mut Observed,
    scope: &Scope,
    dispatcher: &mut Dispatcher,
    hashes: Option<&BTreeMap<String, String>>,
    now: std::time::Instant,
) -> usize {
    if observed.objects.namespaces_generation != observed.namespaces_generation {
        observed.objects.namespaces_generation = observed.namespaces_generation;
        observed.objects.mark_all_dirty();
    }
    let due = std::mem::take(&mut observed.objects.dirty);
    for uid in &due {
        let (task, keep_object) = match (hashes, observed.objects.records.get(uid)) {
            (Some(hashes), Some(object)) if in_scope(observed, scope, object) => {
                let fresh = report_hashes(observed, object);
                let due = plan::due(object, &fresh, hashes);
                // Kept while it is to be sent (or its kind's audits wait).
                let keep = due.is_some() || !hashes.contains_key(object.kind.as_str());
                (due.filter(|d| !dispatcher.covered(&d.task.task_id)), keep)
            }
            // Out of scope: not sent (read by the worker if it comes into scope).
            (Some(_), _) => (None, false),
            // Planning waits (policies unknown).
            (None, _) => (None, true),
        };
        if !keep_object {
            observed.audit_objects.remove(uid);
        }
        dispatcher.upsert(&slot(uid), task, now);
    }
    due.len()
}

/// The (`resource-spec-hash`, `plugin-config-hash`) labels of every report an object owns
/// (of its report kind, in its namespace).
pub fn report_hashes<'a>(
    observed: &'a Observed,
    object: &ObjectRecord,
) -> Vec<(Option<&'a str>, Option<&'a str>)> {
    // (namespace, resource-spec-hash, plugin-config-hash) of every report the uid owns.
    let labels: Vec<(&str, &Option<String>, &Option<String>)> = if object.kind.is_role() {
        let reports = observed
            .objects
            .reports
            .get(&object.uid)
            .into_iter()
            .flatten();
        reports
            .map(|r| (r.namespace.as_str(), &r.spec_hash, &r.config_hash))
            .collect()
    } else {
        let reports = observed
            .audit_reports
            .get(&object.uid)
            .into_iter()
            .flatten();
        reports
            .map(|r| (r.namespace.as_str(), &r.spec_hash, &r.config_hash))
            .collect()
    };
    labels
        .into_iter()
        .filter(|(namespace, _, _)| *namespace == object.namespace)
        .map(|(_, spec, config)| (spec.as_deref(), config.as_deref()))
        .collect()
}

/// Whether an object is audited: a cluster-scoped one always, a namespaced one when its
/// namespace is known and in scope.
pub fn in_scope(observed: &Observed, scope: &Scope, object: &ObjectRecord) -> bool {
    object.kind.cluster_scoped()
        || observed
            .namespaces
            .get(&object.namespace)
            .is_some_and(|labels| scope.contains(&object.namespace, labels))
}

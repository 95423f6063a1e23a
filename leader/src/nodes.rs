//! Node assessments: the leader's view of the Nodes and their
//! ClusterInfraAssessmentReports ([`NodeObserved`], kept by the watches of [`folds`]), and
//! the round that plans a node's assessment when it is new, changed, its report is missing
//! or stale, or the policies for the kind Node changed ([`plan`]).
//!
//! Nodes are cluster-scoped: each node's work is sharded on its own key
//! [`shard_key`] (`Node/<name>`, which no namespace name can be) by the same rendezvous
//! hashing as namespaces, so nodes spread over the workers as evenly and move on a worker's
//! loss the same way.

mod args;
pub mod folds;
pub mod plan;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use common::nodes::Taint;

use crate::dispatch::Dispatcher;

pub use args::NodeArgs;

/// The watch of Nodes.
pub const NODES_WATCH: &str = "nodes";
/// The watch of ClusterInfraAssessmentReports (a report CRD watch).
pub const REPORTS_WATCH: &str = "node-reports";

/// The sharding key of a node's work.
pub fn shard_key(node: &str) -> String {
    format!("Node/{node}")
}

/// The dispatcher slot of a node's assessment.
pub fn slot(node: &str) -> String {
    format!("node:{node}")
}

/// How node assessments are planned (the leader's flags).
#[derive(Debug, Clone, Default)]
pub struct NodeSettings {
    /// Nodes with all of these labels are not assessed.
    pub exclude: BTreeMap<String, String>,
    /// The collector Job's tolerations, parsed and as given (JSON).
    pub tolerations: Vec<k8s_openapi::api::core::v1::Toleration>,
    pub tolerations_json: String,
    /// Reassess after this long; `None`: never by age.
    pub ttl: Option<std::time::Duration>,
}

impl NodeSettings {
    /// The planning policy for the kind Node's `config_hash` at `now`.
    pub fn policy(&self, config_hash: &str, now: jiff::Timestamp) -> plan::NodePolicy {
        plan::NodePolicy {
            config_hash: config_hash.to_owned(),
            exclude: self.exclude.clone(),
            tolerations: self.tolerations.clone(),
            tolerations_json: self.tolerations_json.clone(),
            ttl: self.ttl,
            now,
        }
    }
}

/// What the leader keeps of a Node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRecord {
    pub name: String,
    pub uid: String,
    /// Hash of what the assessment depends on: labels, taints, the kubelet and OS versions.
    pub spec_hash: String,
    pub labels: BTreeMap<String, String>,
    pub taints: Vec<Taint>,
}

/// What the leader keeps of a ClusterInfraAssessmentReport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeReport {
    /// The report's name.
    pub name: String,
    /// The node it describes (its `trivy-operator.resource.name`).
    pub node: String,
    /// Its controller owner's uid.
    pub owner_uid: Option<String>,
    pub spec_hash: Option<String>,
    pub config_hash: Option<String>,
    /// When the node was assessed (the `scanned-at` label, else its creation).
    pub assessed_at: Option<jiff::Timestamp>,
    /// Failed checks by severity (critical, high, medium, low), from the summary
    /// annotation this operator writes; `None` on a report without it.
    pub counts: Option<[u32; 4]>,
}

/// Nodes and their reports, as watched.
#[derive(Debug, Default)]
pub struct NodeObserved {
    pub nodes: BTreeMap<String, NodeRecord>,
    /// Reports by report name.
    pub reports: BTreeMap<String, NodeReport>,
    /// Report names by the node they describe.
    reports_by_node: HashMap<String, BTreeSet<String>>,
    /// Node names by uid.
    by_uid: HashMap<String, String>,
    /// Nodes whose plan may have changed since the last round.
    dirty: BTreeSet<String>,
    /// When each node's report goes stale (report TTL), by node.
    expiries: BTreeSet<(jiff::Timestamp, String)>,
}

impl NodeObserved {
    pub fn put_node(&mut self, node: NodeRecord) {
        self.dirty.insert(node.name.clone());
        self.by_uid.insert(node.uid.clone(), node.name.clone());
        if let Some(old) = self.nodes.insert(node.name.clone(), node)
            && self.nodes.get(&old.name).is_some_and(|n| n.uid != old.uid)
        {
            self.by_uid.remove(&old.uid);
        }
    }

    pub fn remove_node(&mut self, name: &str) {
        if let Some(old) = self.nodes.remove(name) {
            self.by_uid.remove(&old.uid);
        }
        self.dirty.insert(name.to_owned());
    }

    pub fn put_report(&mut self, report: NodeReport) {
        self.dirty.insert(report.node.clone());
        self.reports_by_node
            .entry(report.node.clone())
            .or_default()
            .insert(report.name.clone());
        if let Some(old) = self.reports.insert(report.name.clone(), report) {
            self.forget_report_of(&old);
        }
    }

    pub fn remove_report(&mut self, name: &str) {
        if let Some(old) = self.reports.remove(name) {
            self.forget_report_of(&old);
        }
    }

    /// Drops `old` from the index unless the report of its name now describes the same node;
    /// its node is re-planned.
    fn forget_report_of(&mut self, old: &NodeReport) {
        if self
            .reports
            .get(&old.name)
            .is_none_or(|r| r.node != old.node)
            && let Some(names) = self.reports_by_node.get_mut(&old.node)
        {
            names.remove(&old.name);
            if names.is_empty() {
                self.reports_by_node.remove(&old.node);
            }
        }
        self.dirty.insert(old.node.clone());
    }

    /// The reports that describe `node`.
    pub fn reports_of<'a>(&'a self, node: &str) -> impl Iterator<Item = &'a NodeReport> {
        self.reports_by_node
            .get(node)
            .into_iter()
            .flatten()
            .filter_map(|name| self.reports.get(name))
    }

    /// Every node is re-planned at the next round.
    pub fn mark_all_dirty(&mut self) {
        self.dirty.extend(self.nodes.keys().cloned());
    }

    /// The work served for the node of `uid` is no longer covered: re-plan it.
    pub fn cover_ended(&mut self, uid: &str) {
        if let Some(name) = self.by_uid.get(uid) {
            self.dirty.insert(name.clone());
        }
    }

    /// The dirty nodes, and those whose report went stale by `now`.
    fn take_due(&mut self, now: jiff::Timestamp) -> BTreeSet<String> {
        while let Some((at, _)) = self.expiries.first() {
            if *at > now {
                break;
            }
            if let Some((_, node)) = self.expiries.pop_first() {
                self.dirty.insert(node);
            }
        }
        std::mem::take(&mut self.dirty)
    }
}

/// Re-plans the dirty nodes (and those whose report went stale); `policy` `None`: node
/// assessments wait (the policies are not known yet) or are off, and none is queued.
pub fn round(
    observed: &mut NodeObserved,
    dispatcher: &mut Dispatcher,
    policy: Option<&plan::NodePolicy>,
    now: std::time::Instant,
) -> usize {
    let at = policy.map_or_else(jiff::Timestamp::now, |p| p.now);
    let due = observed.take_due(at);
    for name in &due {
        let (task, expiry) = match (policy, observed.nodes.get(name)) {
            (Some(policy), Some(node)) => {
                let reports: Vec<&NodeReport> = observed.reports_of(name).collect();
                let task = plan::due(node, &reports, policy)
                    .filter(|d| !dispatcher.covered(&d.task.task_id));
                (task, plan::expiry(node, &reports, policy))
            }
            _ => (None, None),
        };
        if let Some(at) = expiry {
            observed.expiries.insert((at, name.clone()));
        }
        dispatcher.upsert(&slot(name), task, now);
    }
    due.len()
}

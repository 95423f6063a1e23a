//! The node assessments due, as a pure function of a node, its reports and the policy.
//!
//! One rule: a node in scope needs an assessment when no report it owns has both its
//! current `resource-spec-hash` and the kind Node's current `plugin-config-hash`, and (with a
//! report TTL) was made within the TTL. A new node, a changed node, a deleted report, a
//! changed policy and an aged report all follow from it. A node is in scope unless the
//! exclusion labels match it, its taints are not tolerated by the collector Job, or it is
//! not a Linux node (as upstream: the collector runs on Linux).

use std::collections::BTreeMap;
use std::time::Duration;

use common::proto;
use k8s_openapi::api::core::v1::Toleration;

use super::{NodeRecord, NodeReport};
use crate::plan::DueTask;

/// The node label upstream requires (`kubernetes.io/os=linux`).
const OS_LABEL: &str = "kubernetes.io/os";

/// How node assessments are planned.
#[derive(Debug, Clone)]
pub struct NodePolicy {
    /// `plugin-config-hash` of the kind Node.
    pub config_hash: String,
    /// Nodes with all of these labels are not assessed.
    pub exclude: BTreeMap<String, String>,
    /// The collector Job's tolerations (and their JSON, sent with each task).
    pub tolerations: Vec<Toleration>,
    pub tolerations_json: String,
    /// Reassess after this long; `None`: never by age.
    pub ttl: Option<Duration>,
    pub now: jiff::Timestamp,
}

/// Whether the node is assessed at all.
pub fn in_scope(node: &NodeRecord, policy: &NodePolicy) -> bool {
    node.labels.get(OS_LABEL).is_none_or(|os| os == "linux")
        && !common::nodes::is_excluded(&node.labels, &policy.exclude)
        && common::nodes::tolerates(&policy.tolerations, &node.taints)
}

/// The report that keeps the node assessed now, if any.
fn current<'a>(
    node: &NodeRecord,
    reports: &[&'a NodeReport],
    policy: &NodePolicy,
) -> Option<&'a NodeReport> {
    reports.iter().copied().find(|r| {
        r.owner_uid.as_deref() == Some(node.uid.as_str())
            && r.spec_hash.as_deref() == Some(node.spec_hash.as_str())
            && r.config_hash.as_deref() == Some(policy.config_hash.as_str())
            && !stale(r, policy)
    })
}

fn stale(report: &NodeReport, policy: &NodePolicy) -> bool {
    match (policy.ttl, report.assessed_at) {
        (None, _) => false,
        (Some(_), None) => true,
        (Some(ttl), Some(at)) => at
            .checked_add(ttl)
            .map_or(true, |until| until <= policy.now),
    }
}

/// The assessment the node needs, if any.
pub fn due(node: &NodeRecord, reports: &[&NodeReport], policy: &NodePolicy) -> Option<DueTask> {
    if !in_scope(node, policy) || current(node, reports, policy).is_some() {
        return None;
    }
    // A reassessment by age differs from the assessment it replaces.
    let round = reports
        .iter()
        .filter(|r| r.owner_uid.as_deref() == Some(node.uid.as_str()))
        .filter_map(|r| r.assessed_at)
        .max()
        .map_or(0, |at| at.as_second());
    let task_id = format!(
        "node/{}/{}/{}/{round}",
        node.uid, node.spec_hash, policy.config_hash
    );
    Some(DueTask {
        namespace: super::shard_key(&node.name),
        task: proto::Task {
            task_id,
            kind: proto::TaskKind::NodeAssessment as i32,
            workload: Some(proto::WorkloadRef {
                kind: common::policy_config::NODE_KIND.to_owned(),
                api_version: "v1".to_owned(),
                namespace: String::new(),
                name: node.name.clone(),
                uid: node.uid.clone(),
            }),
            resource_spec_hash: node.spec_hash.clone(),
            plugin_config_hash: policy.config_hash.clone(),
            node_tolerations_json: policy.tolerations_json.clone(),
            ..proto::Task::default()
        },
        aliases: Vec::new(),
    })
}

/// When the node's current report goes stale (with a TTL).
pub fn expiry(
    node: &NodeRecord,
    reports: &[&NodeReport],
    policy: &NodePolicy,
) -> Option<jiff::Timestamp> {
    let ttl = policy.ttl?;
    current(node, reports, policy)?
        .assessed_at?
        .checked_add(ttl)
        .ok()
}

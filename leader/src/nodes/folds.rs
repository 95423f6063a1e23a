//! How the watches of Nodes and ClusterInfraAssessmentReports fold objects into
//! [`super::NodeObserved`]: a Node becomes a compact [`NodeRecord`] at once (its status,
//! images and conditions are dropped), a report its metadata.

use std::collections::BTreeMap;

use common::labels;
use common::nodes::Taint;
use common::reports::infra_assessment::ClusterInfraAssessmentReport;
use k8s_openapi::api::core::v1::Node;
use kube::core::PartialObjectMeta;

use super::{NodeRecord, NodeReport};
use crate::observed::Observed;
use crate::watch::Fold;

/// The record of a Node, with the hash of what its assessment depends on: its labels,
/// taints, whether it is schedulable, and the kubelet, runtime, kernel and OS versions (not
/// its conditions or heartbeats, which change all the time).
pub fn node_record(node: &Node) -> Option<NodeRecord> {
    let name = node.metadata.name.clone()?;
    let uid = node.metadata.uid.clone()?;
    let labels = node.metadata.labels.clone().unwrap_or_default();
    let spec = node.spec.as_ref();
    let taints: Vec<Taint> = spec
        .and_then(|s| s.taints.as_ref())
        .into_iter()
        .flatten()
        .map(|t| Taint {
            key: t.key.clone(),
            value: t.value.clone().unwrap_or_default(),
            effect: t.effect.clone(),
        })
        .collect();
    let info = node.status.as_ref().and_then(|s| s.node_info.as_ref());
    let versions = info.map(|i| {
        [
            i.kubelet_version.as_str(),
            i.container_runtime_version.as_str(),
            i.kernel_version.as_str(),
            i.os_image.as_str(),
            i.architecture.as_str(),
        ]
        .join("\n")
    });
    let unschedulable = spec.and_then(|s| s.unschedulable).unwrap_or(false);
    let mut parts: Vec<String> = vec!["node/v1".into(), unschedulable.to_string()];
    parts.extend(labels.iter().map(|(k, v)| format!("label {k}={v}")));
    parts.extend(
        taints
            .iter()
            .map(|t| format!("taint {}={}:{}", t.key, t.value, t.effect)),
    );
    parts.extend(versions);
    let spec_hash = common::hash::hash_parts(
        parts.iter().map(String::as_str),
        common::hash::SPEC_HASH_LEN,
    );
    Some(NodeRecord {
        name,
        uid,
        spec_hash,
        labels,
        taints,
    })
}

/// The record of a ClusterInfraAssessmentReport that describes a Node.
pub fn report_record(meta: &kube::api::ObjectMeta) -> Option<NodeReport> {
    let empty = BTreeMap::new();
    let report_labels = meta.labels.as_ref().unwrap_or(&empty);
    if report_labels.get(labels::RESOURCE_KIND).map(String::as_str) != Some("Node") {
        return None;
    }
    let annotations = meta.annotations.as_ref().unwrap_or(&empty);
    let node = labels::workload_name(report_labels, annotations)?.to_owned();
    let owner_uid = meta
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true) && o.kind == "Node")
        .map(|o| o.uid.clone());
    let assessed_at = annotations
        .get(labels::SCANNED_AT)
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .or_else(|| meta.creation_timestamp.as_ref().map(|t| t.0));
    Some(NodeReport {
        name: meta.name.clone()?,
        node,
        owner_uid,
        spec_hash: report_labels.get(labels::RESOURCE_SPEC_HASH).cloned(),
        config_hash: report_labels.get(labels::PLUGIN_CONFIG_HASH).cloned(),
        assessed_at,
        counts: annotations
            .get(common::reports::gauge::SUMMARY)
            .and_then(|text| common::reports::gauge::Counts::parse(text))
            .filter(|c| c.unknown.is_none())
            .map(|c| {
                [c.critical, c.high, c.medium, c.low].map(|n| u32::try_from(n).unwrap_or(u32::MAX))
            }),
    })
}

pub(crate) struct NodeFold;

impl Fold<Node> for NodeFold {
    fn key(&self, object: &Node) -> Option<String> {
        object.metadata.name.clone()
    }
    fn upsert(&self, observed: &mut Observed, object: &Node) -> bool {
        match node_record(object) {
            Some(record) => {
                if observed.nodes.nodes.get(&record.name) != Some(&record) {
                    observed.nodes.put_node(record);
                }
                true
            }
            None => false,
        }
    }
    fn remove(&self, observed: &mut Observed, key: &str) {
        observed.nodes.remove_node(key);
    }
}

pub(crate) struct NodeReportFold;

impl Fold<PartialObjectMeta<ClusterInfraAssessmentReport>> for NodeReportFold {
    fn key(&self, object: &PartialObjectMeta<ClusterInfraAssessmentReport>) -> Option<String> {
        object.metadata.name.clone()
    }
    fn upsert(
        &self,
        observed: &mut Observed,
        object: &PartialObjectMeta<ClusterInfraAssessmentReport>,
    ) -> bool {
        match report_record(&object.metadata) {
            Some(record) => {
                if observed.nodes.reports.get(&record.name) != Some(&record) {
                    observed.nodes.put_report(record);
                }
                true
            }
            None => false,
        }
    }
    fn remove(&self, observed: &mut Observed, key: &str) {
        observed.nodes.remove_report(key);
    }
}

//! A node assessment task from the leader, validated.

use common::proto;

use super::Invalid;

/// A node's assessment.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeTask {
    pub task_id: String,
    /// The Node's name and uid.
    pub node: String,
    pub uid: String,
    /// The node's `resource-spec-hash` as the leader computed it.
    pub spec_hash: String,
    /// The `plugin-config-hash` of the kind Node.
    pub config_hash: String,
    /// The collector Job's tolerations.
    pub tolerations: Vec<k8s_openapi::api::core::v1::Toleration>,
    /// Write the report with its summary only (reports are over their storage budget).
    pub summary_only: bool,
}

impl TryFrom<proto::Task> for NodeTask {
    type Error = Invalid;

    fn try_from(task: proto::Task) -> Result<Self, Invalid> {
        if task.task_id.is_empty() {
            return Err(Invalid::NoId);
        }
        let id = task.task_id;
        let node = task
            .workload
            .ok_or_else(|| Invalid::NoWorkload(id.clone()))?;
        if node.kind != common::policy_config::NODE_KIND {
            return Err(Invalid::UnknownKind(id, node.kind));
        }
        for (field, value) in [("name", &node.name), ("uid", &node.uid)] {
            if value.is_empty() {
                return Err(Invalid::EmptyField(id, field));
            }
        }
        let tolerations = match task.node_tolerations_json.trim() {
            "" => Vec::new(),
            json => serde_json::from_str(json)
                .map_err(|e| Invalid::Tolerations(id.clone(), e.to_string()))?,
        };
        Ok(Self {
            task_id: id,
            node: node.name,
            uid: node.uid,
            spec_hash: task.resource_spec_hash,
            config_hash: task.plugin_config_hash,
            tolerations,
            summary_only: task.summary_only,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::task::WorkerTask;

    #[test]
    fn node_tasks_convert_and_bad_ones_are_refused() {
        let mut t = proto::Task {
            task_id: "t".into(),
            kind: proto::TaskKind::NodeAssessment as i32,
            resource_spec_hash: "s".into(),
            plugin_config_hash: "c".into(),
            ..Default::default()
        };
        t.workload = Some(proto::WorkloadRef {
            kind: "Node".into(),
            api_version: "v1".into(),
            name: "kind-worker".into(),
            uid: "n1".into(),
            ..Default::default()
        });
        t.node_tolerations_json = r#"[{"operator":"Exists"}]"#.into();
        let WorkerTask::Node(node) = WorkerTask::try_from(t.clone()).unwrap() else {
            panic!("not a node task");
        };
        assert_eq!(
            (node.node.as_str(), node.uid.as_str()),
            ("kind-worker", "n1")
        );
        assert_eq!(node.tolerations.len(), 1);
        let mut bad = t.clone();
        bad.node_tolerations_json = "{".into();
        assert!(matches!(
            NodeTask::try_from(bad),
            Err(Invalid::Tolerations(..))
        ));
        let mut pod = t;
        if let Some(w) = pod.workload.as_mut() {
            w.kind = "Pod".into();
        }
        assert!(matches!(
            NodeTask::try_from(pod),
            Err(Invalid::UnknownKind(..))
        ));
    }
}

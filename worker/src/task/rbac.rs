//! A role's RBAC assessment task from the leader, validated.

use common::proto;

use super::Invalid;

/// A Role's or ClusterRole's assessment.
#[derive(Debug, Clone, PartialEq)]
pub struct RbacTask {
    pub task_id: String,
    /// `Role` or `ClusterRole`.
    pub kind: String,
    /// The Role's namespace; empty for a ClusterRole.
    pub namespace: String,
    pub name: String,
    pub uid: String,
    /// The role's `resource-spec-hash` as the leader computed it.
    pub spec_hash: String,
    /// The `plugin-config-hash` of its kind.
    pub config_hash: String,
    /// The role object the leader sent (JSON), if it kept one; else the worker reads it.
    pub object_json: String,
    /// Write the report with its summary only (reports are over their storage budget).
    pub summary_only: bool,
}

impl RbacTask {
    /// Whether it is a ClusterRole's (its report is cluster-scoped).
    pub fn cluster_scoped(&self) -> bool {
        self.kind == "ClusterRole"
    }
}

impl TryFrom<proto::Task> for RbacTask {
    type Error = Invalid;

    fn try_from(task: proto::Task) -> Result<Self, Invalid> {
        if task.task_id.is_empty() {
            return Err(Invalid::NoId);
        }
        let id = task.task_id;
        let role = task
            .workload
            .ok_or_else(|| Invalid::NoWorkload(id.clone()))?;
        if !common::policy_config::RBAC_KINDS.contains(&role.kind.as_str()) {
            return Err(Invalid::UnknownKind(id, role.kind));
        }
        let mut required = vec![("name", &role.name), ("uid", &role.uid)];
        if role.kind == "Role" {
            required.push(("namespace", &role.namespace));
        }
        for (field, value) in required {
            if value.is_empty() {
                return Err(Invalid::EmptyField(id, field));
            }
        }
        let namespace = if role.kind == "Role" {
            role.namespace
        } else {
            String::new()
        };
        Ok(Self {
            task_id: id,
            kind: role.kind,
            namespace,
            name: role.name,
            uid: role.uid,
            spec_hash: task.resource_spec_hash,
            config_hash: task.plugin_config_hash,
            object_json: task.workload_json,
            summary_only: task.summary_only,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::task::WorkerTask;

    fn task(kind: &str, namespace: &str) -> proto::Task {
        proto::Task {
            task_id: "t".into(),
            kind: proto::TaskKind::RbacAssessment as i32,
            resource_spec_hash: "s".into(),
            plugin_config_hash: "c".into(),
            workload: Some(proto::WorkloadRef {
                kind: kind.into(),
                api_version: "rbac.authorization.k8s.io/v1".into(),
                namespace: namespace.into(),
                name: "reader".into(),
                uid: "r1".into(),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn rbac_tasks_convert_and_bad_ones_are_refused() {
        let WorkerTask::Rbac(role) = WorkerTask::try_from(task("Role", "team")).unwrap() else {
            panic!("not an RBAC task");
        };
        assert_eq!(
            (
                role.kind.as_str(),
                role.namespace.as_str(),
                role.cluster_scoped()
            ),
            ("Role", "team", false)
        );
        let WorkerTask::Rbac(cluster) = WorkerTask::try_from(task("ClusterRole", "x")).unwrap()
        else {
            panic!("not an RBAC task");
        };
        assert!(cluster.cluster_scoped());
        assert_eq!(cluster.namespace, "", "a ClusterRole has no namespace");
        assert_eq!(
            WorkerTask::try_from(task("Role", "")).unwrap_err(),
            Invalid::EmptyField("t".into(), "namespace")
        );
        assert_eq!(
            WorkerTask::try_from(task("Pod", "team")).unwrap_err(),
            Invalid::UnknownKind("t".into(), "Pod".into())
        );
        let mut none = task("Role", "team");
        none.workload = None;
        assert_eq!(
            WorkerTask::try_from(none).unwrap_err(),
            Invalid::NoWorkload("t".into())
        );
    }
}

//! An audit of an object besides workloads and nodes from the leader, validated: a role's RBAC
//! assessment (`TASK_KIND_RBAC_ASSESSMENT`) or another kind's config audit
//! (`TASK_KIND_RESOURCE_AUDIT`).

use common::objects::ObjectKind;
use common::proto;

use super::Invalid;

/// An object's audit.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectTask {
    pub task_id: String,
    pub kind: ObjectKind,
    /// The object's namespace; empty for a cluster-scoped one.
    pub namespace: String,
    pub name: String,
    pub uid: String,
    /// The object's `resource-spec-hash` as the leader computed it.
    pub spec_hash: String,
    /// The `plugin-config-hash` of its kind.
    pub config_hash: String,
    /// The object the leader sent (JSON), if it kept one; else the worker reads it.
    pub object_json: String,
    /// Write the report with its summary only (reports are over their storage budget).
    pub summary_only: bool,
}

impl ObjectTask {
    /// Whether the object (and so its report) is cluster-scoped.
    pub fn cluster_scoped(&self) -> bool {
        self.kind.cluster_scoped()
    }
}

impl TryFrom<proto::Task> for ObjectTask {
    type Error = Invalid;

    fn try_from(task: proto::Task) -> Result<Self, Invalid> {
        if task.task_id.is_empty() {
            return Err(Invalid::NoId);
        }
        let id = task.task_id;
        let object = task
            .workload
            .ok_or_else(|| Invalid::NoWorkload(id.clone()))?;
        // An RBAC assessment is of a role; a resource audit of any other kind.
        let rbac = task.kind == proto::TaskKind::RbacAssessment as i32;
        let kind = ObjectKind::parse(&object.kind)
            .filter(|k| k.is_role() == rbac)
            .ok_or_else(|| Invalid::UnknownKind(id.clone(), object.kind.clone()))?;
        let mut required = vec![("name", &object.name), ("uid", &object.uid)];
        if !kind.cluster_scoped() {
            required.push(("namespace", &object.namespace));
        }
        for (field, value) in required {
            if value.is_empty() {
                return Err(Invalid::EmptyField(id, field));
            }
        }
        let namespace = if kind.cluster_scoped() {
            String::new()
        } else {
            object.namespace
        };
        Ok(Self {
            task_id: id,
            kind,
            namespace,
            name: object.name,
            uid: object.uid,
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

    fn task(task_kind: proto::TaskKind, kind: &str, namespace: &str) -> proto::Task {
        proto::Task {
            task_id: "t".into(),
            kind: task_kind as i32,
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

    fn object(task: proto::Task) -> ObjectTask {
        match WorkerTask::try_from(task).unwrap() {
            WorkerTask::Object(object) => object,
            other => panic!("not an object's task: {other:?}"),
        }
    }

    #[test]
    fn object_tasks_convert_and_bad_ones_are_refused() {
        use proto::TaskKind::{RbacAssessment, ResourceAudit};
        let role = object(task(RbacAssessment, "Role", "team"));
        assert_eq!(
            (role.kind, role.namespace.as_str(), role.cluster_scoped()),
            (ObjectKind::Role, "team", false)
        );
        let cluster = object(task(RbacAssessment, "ClusterRole", "x"));
        assert!(cluster.cluster_scoped());
        assert_eq!(cluster.namespace, "", "a ClusterRole has no namespace");
        let svc = object(task(ResourceAudit, "Service", "team"));
        assert_eq!(
            (svc.kind, svc.namespace.as_str()),
            (ObjectKind::Service, "team")
        );
        let crb = object(task(ResourceAudit, "ClusterRoleBinding", "x"));
        assert!(crb.cluster_scoped() && crb.namespace.is_empty());
        assert_eq!(
            WorkerTask::try_from(task(RbacAssessment, "Role", "")).unwrap_err(),
            Invalid::EmptyField("t".into(), "namespace")
        );
        assert_eq!(
            WorkerTask::try_from(task(ResourceAudit, "ConfigMap", "")).unwrap_err(),
            Invalid::EmptyField("t".into(), "namespace")
        );
        for (task_kind, kind) in [
            (RbacAssessment, "Pod"),
            (RbacAssessment, "Service"),
            (ResourceAudit, "Role"),
            (ResourceAudit, "Secret"),
        ] {
            assert_eq!(
                WorkerTask::try_from(task(task_kind, kind, "team")).unwrap_err(),
                Invalid::UnknownKind("t".into(), kind.into()),
                "{task_kind:?} {kind}"
            );
        }
        let mut none = task(RbacAssessment, "Role", "team");
        none.workload = None;
        assert_eq!(
            WorkerTask::try_from(none).unwrap_err(),
            Invalid::NoWorkload("t".into())
        );
    }
}

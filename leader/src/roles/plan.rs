//! The RBAC assessments due, as a pure function of a role, its reports and the policies.
//!
//! One rule: a role in scope needs an assessment when no report it owns has both its
//! current `resource-spec-hash` and its kind's current `plugin-config-hash`. A new role,
//! changed rules, a deleted report and a changed policy all follow from it.

use std::collections::BTreeMap;

use common::proto;

use super::{RoleKind, RoleRecord, RoleReport};
use crate::plan::DueTask;

/// The deterministic id of a role's assessment.
pub fn task_id(role: &RoleRecord, config_hash: &str) -> String {
    format!("rbac/{}/{}/{config_hash}", role.uid, role.spec_hash)
}

/// The assessment the role needs, if any (`hashes`: `plugin-config-hash` by role kind).
pub fn due(
    role: &RoleRecord,
    reports: &[&RoleReport],
    hashes: &BTreeMap<String, String>,
) -> Option<DueTask> {
    let config_hash = hashes.get(role.kind.as_str())?;
    let fresh = reports.iter().any(|r| {
        r.spec_hash.as_deref() == Some(role.spec_hash.as_str())
            && r.config_hash.as_deref() == Some(config_hash.as_str())
    });
    if fresh {
        return None;
    }
    Some(DueTask {
        namespace: super::shard_key(role.kind, &role.namespace, &role.name),
        task: proto::Task {
            task_id: task_id(role, config_hash),
            kind: proto::TaskKind::RbacAssessment as i32,
            workload: Some(proto::WorkloadRef {
                kind: role.kind.as_str().to_owned(),
                api_version: common::objects::RBAC_API_VERSION.to_owned(),
                namespace: match role.kind {
                    RoleKind::Role => role.namespace.clone(),
                    RoleKind::ClusterRole => String::new(),
                },
                name: role.name.clone(),
                uid: role.uid.clone(),
            }),
            resource_spec_hash: role.spec_hash.clone(),
            plugin_config_hash: config_hash.clone(),
            ..proto::Task::default()
        },
        aliases: Vec::new(),
    })
}

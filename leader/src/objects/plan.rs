//! The audits of objects due, as a pure function of an object, its reports and the policies.
//!
//! One rule: an object in scope needs an audit when no report it owns has both its current
//! `resource-spec-hash` and its kind's current `plugin-config-hash`. A new object, changed
//! content, a deleted report and a changed policy all follow from it.

use std::collections::BTreeMap;

use common::proto;

use super::ObjectRecord;
use crate::plan::DueTask;

/// The deterministic id of an object's audit.
pub fn task_id(object: &ObjectRecord, config_hash: &str) -> String {
    format!("object/{}/{}/{config_hash}", object.uid, object.spec_hash)
}

/// The audit the object needs, if any (`reports`: the `resource-spec-hash` and
/// `plugin-config-hash` labels of the reports it owns; `hashes`: `plugin-config-hash` by kind,
/// a kind without one waits).
pub fn due(
    object: &ObjectRecord,
    reports: &[(Option<&str>, Option<&str>)],
    hashes: &BTreeMap<String, String>,
) -> Option<DueTask> {
    let config_hash = hashes.get(object.kind.as_str())?;
    let fresh = reports.iter().any(|(spec, config)| {
        *spec == Some(object.spec_hash.as_str()) && *config == Some(config_hash.as_str())
    });
    if fresh {
        return None;
    }
    let kind = if object.kind.is_role() {
        proto::TaskKind::RbacAssessment
    } else {
        proto::TaskKind::ResourceAudit
    };
    Some(DueTask {
        namespace: super::shard_key(object.kind, &object.namespace, &object.name),
        task: proto::Task {
            task_id: task_id(object, config_hash),
            kind: kind as i32,
            workload: Some(proto::WorkloadRef {
                kind: object.kind.as_str().to_owned(),
                api_version: object.kind.api_version().to_owned(),
                namespace: object.namespace.clone(),
                name: object.name.clone(),
                uid: object.uid.clone(),
            }),
            resource_spec_hash: object.spec_hash.clone(),
            plugin_config_hash: config_hash.clone(),
            ..proto::Task::default()
        },
        aliases: Vec::new(),
    })
}

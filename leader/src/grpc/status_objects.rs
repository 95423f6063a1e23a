//! The status of an object's audit (a Role's or ClusterRole's RBAC assessment, a Service's
//! config audit, ...): why it has no report yet, and which worker its work goes to (a
//! namespaced object's with its namespace, a cluster-scoped one's on its own shard key).

use common::proto::{self, WorkloadState};

use super::status_service::{explain, where_work_goes, worst};
use crate::objects::ObjectRecord;
use crate::state::{LeaderState, Shared};

/// The object of `kind` named `namespace/name` (cluster-scoped: any namespace given is
/// ignored).
pub(super) fn find<'a>(
    st: &'a LeaderState,
    kind: &str,
    namespace: &str,
    name: &str,
) -> Option<&'a ObjectRecord> {
    st.observed.objects.records.values().find(|r| {
        r.kind.as_str() == kind
            && r.name == name
            && (r.kind.cluster_scoped() || r.namespace == namespace)
    })
}

/// An object's status from its tasks (from the snapshot) and its reports (now).
pub(super) fn object_status(
    shared: &Shared,
    st: &LeaderState,
    object: &ObjectRecord,
    tasks: Vec<proto::TaskState>,
) -> proto::WorkloadStatus {
    let state = worst(&tasks);
    let (state, explanation) = match &st.policy.object_hashes {
        _ if !shared.object_kinds.contains(&object.kind) => (
            WorkloadState::NotScanned as i32,
            if object.kind.is_role() {
                "not assessed: RBAC assessments are off (--rbac-assessments)".to_owned()
            } else {
                "not audited: audits of this kind are off (--resource-audits)".to_owned()
            },
        ),
        None => (
            WorkloadState::Pending as i32,
            "pending: waiting for the plugin ConfigMap to be read".to_owned(),
        ),
        Some(_) if !crate::objects::in_scope(&st.observed, &shared.scope, object) => (
            WorkloadState::NotScanned as i32,
            "not assessed: its namespace is out of scope".to_owned(),
        ),
        Some(hashes) => {
            let reports = crate::objects::report_hashes(&st.observed, object);
            let missing = crate::objects::plan::due(object, &reports, hashes).is_some();
            if state == WorkloadState::UpToDate as i32 && missing {
                let report = object.kind.report_kind().as_str();
                let content = if object.kind.is_role() {
                    "rules"
                } else {
                    "content"
                };
                (
                    WorkloadState::Pending as i32,
                    format!(
                        "pending: no {report} for its current {content} and policies (planned \
                         at the next round, or its report is on its way)"
                    ),
                )
            } else {
                (state, explain(&tasks, state))
            }
        }
    };
    let key = crate::objects::shard_key(object.kind, &object.namespace, &object.name);
    let explanation = where_work_goes(st, &key, explanation);
    proto::WorkloadStatus {
        workload: Some(proto::WorkloadRef {
            kind: object.kind.as_str().into(),
            api_version: object.kind.api_version().into(),
            namespace: object.namespace.clone(),
            name: object.name.clone(),
            uid: object.uid.clone(),
        }),
        state,
        tasks,
        explanation,
    }
}

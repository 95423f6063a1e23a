//! The status of a Role's or ClusterRole's RBAC assessment: why it has no report yet, and
//! which worker its work goes to (a Role's with its namespace, a ClusterRole's on its own
//! shard key).

use common::proto::{self, WorkloadState};

use super::status_service::{explain, where_work_goes, worst};
use crate::roles::{RoleKind, RoleRecord, RoleReport};
use crate::state::{LeaderState, Shared};

/// The role of `kind` named `namespace/name` (a ClusterRole: any namespace given is ignored).
pub(super) fn find<'a>(
    st: &'a LeaderState,
    kind: &str,
    namespace: &str,
    name: &str,
) -> Option<&'a RoleRecord> {
    st.observed.roles.roles.values().find(|r| {
        r.kind.as_str() == kind
            && r.name == name
            && (r.kind == RoleKind::ClusterRole || r.namespace == namespace)
    })
}

/// A role's status from its tasks (from the snapshot) and its reports (now).
pub(super) fn role_status(
    shared: &Shared,
    st: &LeaderState,
    role: &RoleRecord,
    tasks: Vec<proto::TaskState>,
) -> proto::WorkloadStatus {
    let state = worst(&tasks);
    let (state, explanation) = match &st.policy.role_hashes {
        _ if !shared.rbac => (
            WorkloadState::NotScanned as i32,
            "not assessed: RBAC assessments are off (--rbac-assessments)".to_owned(),
        ),
        None => (
            WorkloadState::Pending as i32,
            "pending: waiting for the plugin ConfigMap to be read".to_owned(),
        ),
        Some(_) if !crate::roles::in_scope(&st.observed, &shared.scope, role) => (
            WorkloadState::NotScanned as i32,
            "not assessed: its namespace is out of scope".to_owned(),
        ),
        Some(hashes) => {
            let reports: Vec<&RoleReport> = st.observed.roles.reports_of(role).collect();
            let missing = crate::roles::plan::due(role, &reports, hashes).is_some();
            if state == WorkloadState::UpToDate as i32 && missing {
                let report = match role.kind {
                    RoleKind::Role => "RbacAssessmentReport",
                    RoleKind::ClusterRole => "ClusterRbacAssessmentReport",
                };
                (
                    WorkloadState::Pending as i32,
                    format!(
                        "pending: no {report} for its current rules and policies (planned at \
                         the next round, or its report is on its way)"
                    ),
                )
            } else {
                (state, explain(&tasks, state))
            }
        }
    };
    let key = crate::roles::shard_key(role.kind, &role.namespace, &role.name);
    let explanation = where_work_goes(st, &key, explanation);
    proto::WorkloadStatus {
        workload: Some(proto::WorkloadRef {
            kind: role.kind.as_str().into(),
            api_version: common::objects::RBAC_API_VERSION.into(),
            namespace: role.namespace.clone(),
            name: role.name.clone(),
            uid: role.uid.clone(),
        }),
        state,
        tasks,
        explanation,
    }
}

//! `StatusService`: read-only answers about workers, namespaces and workloads, from a
//! [`Snapshot`] of the leader's state at most a second old (so queries never hold the
//! control loop up); a workload's reports are looked up at the time of the query.

use common::proto::{self, WorkloadState};
use tonic::{Request, Response, Status};

use crate::grpc::LeaderSlot;
use crate::grpc::status_snapshot::Snapshots;
use crate::state::{LeaderState, Shared};

/// The `StatusService` implementation.
#[derive(Debug, Clone)]
pub struct StatusSvc {
    slot: LeaderSlot,
    snapshots: Snapshots,
}

impl StatusSvc {
    pub fn new(slot: LeaderSlot) -> Self {
        Self {
            slot,
            snapshots: Snapshots::default(),
        }
    }
}

#[tonic::async_trait]
impl proto::status_service_server::StatusService for StatusSvc {
    async fn get_cluster(
        &self,
        _request: Request<proto::GetClusterRequest>,
    ) -> Result<Response<proto::ClusterStatus>, Status> {
        let shared = self.slot.get()?;
        let snapshot = self.snapshots.get(&shared).await;
        Ok(Response::new(snapshot.cluster.clone()))
    }

    async fn get_namespace(
        &self,
        request: Request<proto::GetNamespaceRequest>,
    ) -> Result<Response<proto::NamespaceStatus>, Status> {
        let namespace = request.into_inner().namespace;
        if namespace.is_empty() {
            return Err(Status::invalid_argument("namespace is empty"));
        }
        within("namespace", &namespace, MAX_NAMESPACE)?;
        let shared = self.slot.get()?;
        let snapshot = self.snapshots.get(&shared).await;
        snapshot
            .namespaces
            .get(&namespace)
            .cloned()
            .map(Response::new)
            .ok_or_else(|| Status::not_found(format!("namespace {namespace} is not observed")))
    }

    async fn get_workload(
        &self,
        request: Request<proto::GetWorkloadRequest>,
    ) -> Result<Response<proto::WorkloadStatus>, Status> {
        let req = request.into_inner();
        within("namespace", &req.namespace, MAX_NAMESPACE)?;
        within("kind", &req.kind, MAX_KIND)?;
        within("name", &req.name, MAX_NAME)?;
        let shared = self.slot.get()?;
        let snapshot = self.snapshots.get(&shared).await;
        if req.kind == common::policy_config::NODE_KIND && req.namespace.is_empty() {
            let st = shared.lock();
            let node = st.observed.nodes.nodes.get(&req.name).ok_or_else(|| {
                Status::not_found(format!(
                    "node {} is not known (not watched, or gone)",
                    req.name
                ))
            })?;
            let tasks = snapshot.tasks.get(&node.uid).cloned().unwrap_or_default();
            return Ok(Response::new(node_status(&shared, &st, node, tasks)));
        }
        if common::objects::ObjectKind::parse(&req.kind).is_some() {
            let st = shared.lock();
            let object = super::status_objects::find(&st, &req.kind, &req.namespace, &req.name)
                .ok_or_else(|| {
                    Status::not_found(format!(
                        "{} {}/{} is not known (not watched, or gone)",
                        req.kind, req.namespace, req.name
                    ))
                })?;
            let tasks = snapshot.tasks.get(&object.uid).cloned().unwrap_or_default();
            return Ok(Response::new(super::status_objects::object_status(
                &shared, &st, object, tasks,
            )));
        }
        let not_found = || {
            Status::not_found(format!(
                "{} {}/{} is not a scanned workload (unknown, out of scope, or covered by its controller)",
                req.kind, req.namespace, req.name
            ))
        };
        let uid = snapshot
            .uid_of(&req.namespace, &req.kind, &req.name)
            .ok_or_else(not_found)?;
        let tasks = snapshot.tasks.get(uid).cloned().unwrap_or_default();
        // Lookups by uid only: the lock is held for a handful of map reads.
        let st = shared.lock();
        let workload = st.observed.workloads.get(uid).ok_or_else(not_found)?;
        Ok(Response::new(workload_status(
            &shared, &st, workload, tasks,
        )))
    }
}

/// A node's status from its tasks (from the snapshot) and its reports (now).
fn node_status(
    shared: &Shared,
    st: &LeaderState,
    node: &crate::nodes::NodeRecord,
    tasks: Vec<proto::TaskState>,
) -> proto::WorkloadStatus {
    let policy = shared
        .nodes
        .as_ref()
        .zip(st.policy.node_hash.as_ref())
        .map(|(settings, hash)| settings.policy(hash, jiff::Timestamp::now()));
    let state = worst(&tasks);
    let (state, explanation) = match &policy {
        None if shared.nodes.is_none() => (
            WorkloadState::NotScanned as i32,
            "not assessed: node assessments are off (--node-collector)".to_owned(),
        ),
        None => (
            WorkloadState::Pending as i32,
            "pending: waiting for the plugin ConfigMap to be read".to_owned(),
        ),
        Some(p) if !crate::nodes::plan::in_scope(node, p) => (
            WorkloadState::NotScanned as i32,
            "not assessed: excluded by --node-collector-exclude-nodes, a taint the collector \
             does not tolerate, or not a Linux node"
                .to_owned(),
        ),
        Some(p) => {
            let reports: Vec<&crate::nodes::NodeReport> =
                st.observed.nodes.reports_of(&node.name).collect();
            let missing = crate::nodes::plan::due(node, &reports, p).is_some();
            if state == WorkloadState::UpToDate as i32 && missing {
                (
                    WorkloadState::Pending as i32,
                    "pending: no ClusterInfraAssessmentReport for its current spec and \
                     policies (planned at the next round, or its report is on its way)"
                        .to_owned(),
                )
            } else {
                (state, explain(&tasks, state))
            }
        }
    };
    let explanation = where_work_goes(st, &crate::nodes::shard_key(&node.name), explanation);
    proto::WorkloadStatus {
        workload: Some(proto::WorkloadRef {
            kind: common::policy_config::NODE_KIND.into(),
            api_version: "v1".into(),
            namespace: String::new(),
            name: node.name.clone(),
            uid: node.uid.clone(),
        }),
        state,
        tasks,
        explanation,
    }
}

/// `explanation`, and where the work of shard key `key` goes: the worker it belongs to now.
pub(super) fn where_work_goes(st: &LeaderState, key: &str, explanation: String) -> String {
    let key = key.to_owned();
    let owner = st
        .dispatcher
        .assignments(std::iter::once(&key))
        .into_iter()
        .find(|(_, keys)| !keys.is_empty())
        .map(|(worker, _)| worker);
    match owner {
        Some(worker) => format!("{explanation}; its work goes to worker {worker}"),
        None => format!("{explanation}; no worker is connected to take its work"),
    }
}

/// The most pressing state among a workload's tasks (none: up to date).
pub(super) fn worst(tasks: &[proto::TaskState]) -> i32 {
    tasks
        .iter()
        .map(|t| t.state)
        .max_by_key(|s| match WorkloadState::try_from(*s) {
            Ok(WorkloadState::Failed) => 3,
            Ok(WorkloadState::InFlight) => 2,
            Ok(WorkloadState::Pending) => 1,
            _ => 0,
        })
        .unwrap_or(WorkloadState::UpToDate as i32)
}

/// A workload's status from its tasks (from the snapshot) and its reports (now).
fn workload_status(
    shared: &Shared,
    st: &LeaderState,
    workload: &crate::observed::Workload,
    tasks: Vec<proto::TaskState>,
) -> proto::WorkloadStatus {
    let state = worst(&tasks);
    let missing = missing_reports(shared, st, workload);
    let scanned = crate::plan::is_scanned(&st.observed, &shared.scope, workload);
    // Derived from what exists: without its reports a workload is never "up to date".
    let (state, explanation) = if !scanned {
        (
            WorkloadState::NotScanned as i32,
            format!("not scanned: {}", missing.join("; ")),
        )
    } else if state == WorkloadState::UpToDate as i32 && !missing.is_empty() {
        (
            WorkloadState::Pending as i32,
            format!(
                "pending: {} (planned at the next round, waiting for a scan of its image, or its report is on its way)",
                missing.join("; ")
            ),
        )
    } else {
        (state, explain(&tasks, state))
    };
    proto::WorkloadStatus {
        workload: Some(proto::WorkloadRef {
            kind: workload.kind.as_str().into(),
            api_version: workload.kind.api_version().into(),
            namespace: workload.namespace.clone(),
            name: workload.name.clone(),
            uid: workload.uid.clone(),
        }),
        state,
        tasks,
        explanation,
    }
}

/// What the workload lacks now, from the observed reports (empty: nothing).
fn missing_reports(
    shared: &Shared,
    st: &LeaderState,
    workload: &crate::observed::Workload,
) -> Vec<String> {
    let observed = &st.observed;
    if !crate::plan::is_scanned(observed, &shared.scope, workload) {
        return vec![
            "not scanned now (out of scope, or not its Deployment's current ReplicaSet)".into(),
        ];
    }
    let mut missing = Vec::new();
    match &st.policy.hashes {
        None => missing.push("its config audit waits for the plugin ConfigMap to be read".into()),
        Some(hashes) => {
            if crate::plan::due_audit(observed, workload, hashes).is_some() {
                missing.push(if crate::plan::needs_infra_report(observed, workload) {
                    "no ConfigAuditReport and InfraAssessmentReport (a control-plane \
                     component has both) for its current spec and policies"
                        .into()
                } else {
                    "no ConfigAuditReport for its current spec and policies".into()
                });
            }
        }
    }
    if let Some(scans) = &shared.scans {
        let policy = crate::plan_scans::ScanPolicy {
            ttl: scans.ttl,
            now: jiff::Timestamp::now(),
            companions: scans.companions,
            sbom_rescans: scans.sbom_rescans,
        };
        for due in crate::plan_scans::due_containers(observed, workload, policy) {
            let waiting = if st.dispatcher.alias_running(&due.key)
                || st.dispatcher.alias_running(&due.reference)
            {
                " (its image is being scanned)"
            } else {
                ""
            };
            missing.push(format!(
                "container {} has no current VulnerabilityReport{waiting}",
                due.container
            ));
        }
    }
    missing
}

pub(super) fn explain(tasks: &[proto::TaskState], state: i32) -> String {
    let first = |s: WorkloadState| tasks.iter().find(|t| t.state == s as i32);
    match WorkloadState::try_from(state) {
        Ok(WorkloadState::Failed) => first(WorkloadState::Failed).map_or_else(String::new, |t| {
            format!(
                "failed with {}: {}; next retry at unix {}",
                t.failure_reason, t.failure_message, t.next_retry_unix
            )
        }),
        Ok(WorkloadState::InFlight) => {
            first(WorkloadState::InFlight).map_or_else(String::new, |t| {
                format!(
                    "in flight on worker {} since unix {}",
                    t.worker_id, t.since_unix
                )
            })
        }
        Ok(WorkloadState::Pending) => {
            "pending: waiting for a worker with room for its namespace".to_string()
        }
        _ => "up to date: its reports match its spec and the current policies".to_string(),
    }
}

/// Longest namespace, kind and object name Kubernetes allows: longer values are refused
/// without being echoed (an error message must stay small).
const MAX_NAMESPACE: usize = 63;
const MAX_KIND: usize = 63;
const MAX_NAME: usize = 253;

fn within(field: &str, value: &str, max: usize) -> Result<(), Status> {
    if value.len() > max {
        return Err(Status::invalid_argument(format!(
            "{field} is longer than {max} characters"
        )));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::BTreeMap;

    use common::workload::WorkloadKind;

    use super::*;
    use crate::observed::{AuditReportMeta, Container, VulnReportMeta, Workload};

    fn shared() -> Shared {
        Shared::for_tests(
            1,
            Some(crate::state::ScanSettings {
                ttl: None,
                per_image: false,
                companions: Default::default(),
                sbom_rescans: true,
            }),
        )
    }

    fn web() -> Workload {
        Workload {
            kind: WorkloadKind::ReplicaSet,
            namespace: "a".into(),
            name: "web".into(),
            uid: "u1".into(),
            spec_hash: "s1".into(),
            containers: vec![Container {
                name: "app".into(),
                image: "nginx:1.16".into(),
            }],
            deployment: None,
            pull_secrets: Vec::new(),
            service_account: None,
        }
    }

    #[test]
    fn overlong_names_are_refused_without_being_echoed() {
        let long = "x".repeat(20_000);
        let err = within("name", &long, MAX_NAME).unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        assert!(err.message().len() < 100, "{}", err.message());
        assert!(within("name", "web", MAX_NAME).is_ok());
    }

    #[test]
    fn a_workload_without_its_reports_is_never_up_to_date() {
        let shared = shared();
        let w = web();
        shared.update(|st| {
            st.observed.put_namespace("a".into(), BTreeMap::new());
            st.observed.put_workload(w.clone());
            st.policy.hashes = Some(
                WorkloadKind::ALL
                    .iter()
                    .map(|k| (*k, "c1".into()))
                    .collect(),
            );
        });
        // No task tracked (nothing planned yet), no report: pending, naming what is missing.
        let status = workload_status(&shared, &shared.lock(), &w, Vec::new());
        assert_eq!(status.state, WorkloadState::Pending as i32);
        assert!(
            status.explanation.contains("no ConfigAuditReport"),
            "{}",
            status.explanation
        );
        assert!(
            status
                .explanation
                .contains("container app has no current VulnerabilityReport"),
            "{}",
            status.explanation
        );
        shared.update(|st| {
            st.observed.put_audit_report(
                "u1".into(),
                AuditReportMeta {
                    gauge: None,
                    bytes: 0,
                    namespace: "a".into(),
                    name: "replicaset-web".into(),
                    kind: "ReplicaSet".into(),
                    spec_hash: Some("s1".into()),
                    config_hash: Some("c1".into()),
                    resource_version: Some("1".into()),
                },
            );
            st.observed.put_vuln_report(
                "u1".into(),
                VulnReportMeta {
                    gauge: None,
                    bytes: 0,
                    image_report: None,
                    namespace: "a".into(),
                    name: "replicaset-web-app".into(),
                    container: Some("app".into()),
                    spec_hash: Some("s1".into()),
                    scanned_at: Some(jiff::Timestamp::now()),
                    resource_version: Some("1".into()),
                },
            );
        });
        let status = workload_status(&shared, &shared.lock(), &w, Vec::new());
        assert_eq!(
            status.state,
            WorkloadState::UpToDate as i32,
            "{}",
            status.explanation
        );
        // Out of scope: said so, not "up to date".
        shared.update(|st| st.observed.remove_namespace("a"));
        let status = workload_status(&shared, &shared.lock(), &w, Vec::new());
        assert_eq!(status.state, WorkloadState::NotScanned as i32);
        assert!(
            status.explanation.contains("out of scope"),
            "{}",
            status.explanation
        );
    }
}

//! What status queries read instead of the leader's state: a snapshot taken under the
//! state's lock in one pass over workers, tasks and workloads, at most once a second
//! however many queries come, and shared by all of them. The control loop never waits for
//! more than that one pass; a query never scans the state under the lock.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::proto::{self, WorkloadState};

use crate::dispatch::{TaskState, TrackedTask};
use crate::state::{LeaderState, Shared};

/// How old a snapshot may be when it answers a query.
pub const MAX_AGE: Duration = Duration::from_secs(1);

/// Status of the leader's state at one moment.
#[derive(Debug)]
pub struct Snapshot {
    epoch: u64,
    taken: Instant,
    pub cluster: proto::ClusterStatus,
    pub namespaces: HashMap<String, proto::NamespaceStatus>,
    /// `namespace/kind/name` → uid of every observed workload.
    workloads: HashMap<String, String>,
    /// The tasks about each workload (by uid): its audit and the scans it subscribes to.
    pub tasks: HashMap<String, Vec<proto::TaskState>>,
}

fn workload_key(namespace: &str, kind: &str, name: &str) -> String {
    format!("{namespace}/{kind}/{name}")
}

impl Snapshot {
    /// The uid of a workload, if it was observed.
    pub fn uid_of(&self, namespace: &str, kind: &str, name: &str) -> Option<&str> {
        self.workloads
            .get(&workload_key(namespace, kind, name))
            .map(String::as_str)
    }

    /// Takes a snapshot of `st` (one pass; the caller holds the lock).
    pub fn take(shared: &Shared, st: &LeaderState, now: Instant) -> Self {
        let mut namespaces: HashMap<String, proto::NamespaceStatus> = st
            .observed
            .namespaces
            .keys()
            .map(|ns| {
                let status = proto::NamespaceStatus {
                    namespace: ns.clone(),
                    ..Default::default()
                };
                (ns.clone(), status)
            })
            .collect();
        for (worker, assigned) in &st.sent_assignments {
            for ns in assigned {
                if let Some(status) = namespaces.get_mut(ns) {
                    status.owner_worker_id = worker.clone();
                }
            }
        }
        let mut workloads = HashMap::with_capacity(st.observed.workloads.len());
        for w in st.observed.workloads.values() {
            if let Some(status) = namespaces.get_mut(&w.namespace) {
                status.workloads += 1;
            }
            workloads.insert(
                workload_key(&w.namespace, w.kind.as_str(), &w.name),
                w.uid.clone(),
            );
        }
        let mut tasks: HashMap<String, Vec<proto::TaskState>> = HashMap::new();
        let (mut queue_depth, mut oldest_pending) = (0u64, 0u64);
        for t in st.dispatcher.tasks().values() {
            if let Some(status) = namespaces.get_mut(&t.namespace) {
                match t.state {
                    TaskState::InFlight { .. } => status.in_flight += 1,
                    TaskState::Failed { .. } | TaskState::Parked { .. } => status.failed += 1,
                    TaskState::Pending => status.pending += 1,
                }
            }
            if !matches!(
                t.state,
                TaskState::InFlight { .. } | TaskState::Parked { .. }
            ) {
                queue_depth += 1;
                oldest_pending =
                    oldest_pending.max(now.saturating_duration_since(t.created).as_secs());
            }
            let state = task_state(t, now);
            for uid in concerned(&t.task) {
                tasks.entry(uid.to_owned()).or_default().push(state.clone());
            }
        }
        let workers = st
            .dispatcher
            .workers()
            .iter()
            .map(|(id, w)| proto::WorkerStatus {
                worker_id: id.clone(),
                capacity: w.capacity,
                namespaces: st.sent_assignments.get(id).cloned().unwrap_or_default(),
                in_flight: w.in_flight.len() as u32,
                last_heartbeat_unix: unix(w.last_seen, now),
            })
            .collect();
        let cluster = proto::ClusterStatus {
            leader_id: shared.identity.clone(),
            epoch: shared.epoch,
            workers,
            queue_depth,
            oldest_pending_seconds: oldest_pending,
            scans_in_flight: st.dispatcher.scans_in_flight() as u64,
            scans_avoided: st.dispatcher.scans_avoided(),
            failures: st
                .dispatcher
                .failures()
                .iter()
                .map(|(reason, count)| proto::FailureCount {
                    reason: reason.clone(),
                    count: *count,
                })
                .collect(),
            policy_config_error: st.policy.error.clone().unwrap_or_default(),
            watch_errors: st
                .observed
                .watch_errors
                .iter()
                .map(|(watch, error)| format!("{watch}: {error}"))
                .collect(),
            report_bytes: st.storage.usage().0,
            report_storage_budget: st.storage.usage().1,
            report_storage_over_budget: st.storage.over(),
        };
        Self {
            epoch: shared.epoch,
            taken: now,
            cluster,
            namespaces,
            workloads,
            tasks,
        }
    }
}

/// The current snapshot, retaken when older than [`MAX_AGE`] or of another term. Queries
/// arriving while one is taken wait for it instead of taking their own.
#[derive(Debug, Default, Clone)]
pub struct Snapshots(Arc<tokio::sync::Mutex<Option<Arc<Snapshot>>>>);

impl Snapshots {
    /// A snapshot of `shared` at most [`MAX_AGE`] old.
    pub async fn get(&self, shared: &Shared) -> Arc<Snapshot> {
        self.get_within(shared, MAX_AGE).await
    }

    /// A snapshot of `shared` at most `max_age` old.
    async fn get_within(&self, shared: &Shared, max_age: Duration) -> Arc<Snapshot> {
        let mut current = self.0.lock().await;
        let now = Instant::now();
        match &*current {
            Some(s) if s.epoch == shared.epoch && now.duration_since(s.taken) < max_age => {
                s.clone()
            }
            _ => {
                let taken = Arc::new(Snapshot::take(shared, &shared.lock(), now));
                *current = Some(taken.clone());
                taken
            }
        }
    }
}

/// Converts a monotonic instant into Unix seconds.
pub fn unix(at: Instant, now: Instant) -> i64 {
    let wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    wall - now.saturating_duration_since(at).as_secs() as i64
}

/// How a task looks in status.
fn task_state(t: &TrackedTask, now: Instant) -> proto::TaskState {
    let mut out = proto::TaskState {
        kind: t.task.kind,
        ..Default::default()
    };
    match &t.state {
        TaskState::Pending => {
            out.state = WorkloadState::Pending as i32;
            out.since_unix = unix(t.created, now);
        }
        TaskState::InFlight { worker, since } => {
            out.state = WorkloadState::InFlight as i32;
            out.worker_id = worker.clone();
            out.since_unix = unix(*since, now);
        }
        TaskState::Failed {
            reason,
            message,
            retry_at,
        } => {
            out.state = WorkloadState::Failed as i32;
            out.failure_reason = reason.clone();
            out.failure_message = message.clone();
            out.next_retry_unix =
                unix(now, now) + retry_at.saturating_duration_since(now).as_secs() as i64;
        }
        TaskState::Parked { reason, message } => {
            out.state = WorkloadState::Failed as i32;
            out.failure_reason = reason.clone();
            out.failure_message =
                format!("{message} (permanent: tried again when the workload changes)");
        }
    }
    out
}

/// The workloads a task is about: the audited one, or a scan's subscribers.
fn concerned(task: &proto::Task) -> Vec<&str> {
    let mut uids: Vec<&str> = task
        .workload
        .iter()
        .map(|w| w.uid.as_str())
        .chain(task.scan.iter().flat_map(|scan| {
            scan.subscribers
                .iter()
                .filter_map(|s| s.workload.as_ref().map(|w| w.uid.as_str()))
        }))
        .collect();
    uids.sort_unstable();
    uids.dedup();
    uids
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::BTreeMap;

    use common::workload::WorkloadKind;

    use super::*;
    use crate::observed::Workload;

    fn shared() -> Arc<Shared> {
        Arc::new(Shared::for_tests(7, None))
    }

    /// A StatefulSet with one container and the given uid.
    fn workload(namespace: &str, name: &str, uid: &str) -> Workload {
        Workload {
            kind: WorkloadKind::StatefulSet,
            uid: uid.into(),
            ..crate::plan_scans::tests::workload(namespace, name, &[("app", "nginx:1.16")])
        }
    }

    #[test]
    fn a_snapshot_counts_per_namespace_and_finds_workloads() {
        let shared = shared();
        shared.update(|st| {
            for ns in ["a", "b"] {
                st.observed.put_namespace(ns.into(), BTreeMap::new());
            }
            st.observed.put_workload(workload("a", "db", "u1"));
            st.observed.put_workload(workload("a", "web", "u2"));
            st.observed.put_workload(workload("b", "db", "u3"));
            st.sent_assignments.insert("w-0".into(), vec!["b".into()]);
        });
        let s = Snapshot::take(&shared, &shared.lock(), Instant::now());
        assert_eq!(s.namespaces["a"].workloads, 2);
        assert_eq!(s.namespaces["b"].workloads, 1);
        assert_eq!(s.namespaces["b"].owner_worker_id, "w-0");
        assert_eq!(s.namespaces["a"].owner_worker_id, "");
        assert_eq!(s.uid_of("b", "StatefulSet", "db"), Some("u3"));
        assert_eq!(s.uid_of("b", "ReplicaSet", "db"), None);
        assert_eq!(s.cluster.epoch, 7);
        assert_eq!(s.cluster.leader_id, "leader");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_queries_share_one_snapshot_and_it_ages_out() {
        // A long age for the sharing part: a loaded machine cannot make it flaky.
        let long = Duration::from_secs(600);
        let shared = shared();
        let snapshots = Snapshots::default();
        let calls = (0..50).map(|_| {
            let (snapshots, shared) = (snapshots.clone(), shared.clone());
            tokio::spawn(async move { snapshots.get_within(&shared, long).await })
        });
        let taken = futures::future::join_all(calls).await;
        let first = taken[0].as_ref().unwrap().clone();
        assert!(
            taken
                .iter()
                .all(|s| Arc::ptr_eq(s.as_ref().unwrap(), &first))
        );
        shared.update(|st| st.observed.put_namespace("late".into(), BTreeMap::new()));
        let cached = snapshots.get_within(&shared, long).await;
        assert!(!cached.namespaces.contains_key("late"));
        tokio::time::sleep(Duration::from_millis(20)).await;
        let fresh = snapshots
            .get_within(&shared, Duration::from_millis(10))
            .await;
        assert!(fresh.namespaces.contains_key("late"));
    }
}

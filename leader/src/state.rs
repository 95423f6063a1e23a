//! The leader's shared state: what is observed, the dispatcher, the policy status and the
//! open worker streams, behind one lock; plus the round that turns them into messages.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use common::proto::{self, leader_message::Body};
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

use crate::dispatch::{DispatchConfig, Dispatcher, TaskState};
use crate::metrics::{LeaderMetrics, Snapshot, kind_label};
use crate::observed::Observed;
use crate::plan::ConfigHashes;
use crate::plan_scans::ScanPolicy;
use crate::planner::{Inputs, Planner, RoundStats};
use crate::scope::Scope;

/// How often every workload is re-planned, as a safety net under the incremental rounds.
pub const FULL_REPLAN_EVERY: std::time::Duration = std::time::Duration::from_secs(600);

/// A message on its way to a worker's stream.
pub type StreamItem = Result<proto::LeaderMessage, tonic::Status>;

/// The policy config as the leader knows it.
#[derive(Debug, Default)]
pub struct PolicyStatus {
    /// Hash per kind of the last config that compiled; `None` until the ConfigMap was read.
    pub hashes: Option<ConfigHashes>,
    /// Hash of the kind Node, from the same config as `hashes`.
    pub node_hash: Option<String>,
    /// Hashes of the other audited object kinds (roles, Services, ...), from the same config.
    pub object_hashes: Option<BTreeMap<String, String>>,
    /// Why the current ConfigMap is not used, if it is broken.
    pub error: Option<String>,
    /// Bumped on every change of `hashes`.
    pub generation: u64,
}

/// How vulnerability scans are planned.
#[derive(Debug, Clone)]
pub struct ScanSettings {
    /// Rescan interval; `None`: never by age.
    pub ttl: Option<std::time::Duration>,
    /// Per-image storage mode (each image's list once, in its ImageVulnerabilityReport).
    pub per_image: bool,
    /// The reports written beside each VulnerabilityReport from the same scan
    /// (ExposedSecretReport, SbomReport).
    pub companions: crate::observed::Companions,
    /// Rescans of stored SBOMs instead of images (`--sbom-rescans`).
    pub sbom_rescans: bool,
}

/// Everything behind the lock.
#[derive(Debug)]
pub struct LeaderState {
    pub observed: Observed,
    pub dispatcher: Dispatcher,
    pub policy: PolicyStatus,
    /// Open worker streams by worker id, with their connection id.
    pub streams: HashMap<String, (u64, mpsc::Sender<StreamItem>)>,
    /// The last assignment sent to each worker.
    pub sent_assignments: BTreeMap<String, Vec<String>>,
    /// The incremental planner.
    pub planner: Planner,
    /// When every workload was last re-planned.
    pub full_plan_at: Option<Instant>,
    /// (audits, scans) paused because their report CRD is missing, as last planned.
    pub paused: (bool, bool),
    /// The policy generation the planner last saw.
    pub planned_policy: u64,
    /// What the sent assignments were computed from: (namespaces generation, workers).
    pub assigned_from: Option<(u64, Vec<(String, u32)>)>,
    /// What the last round planned.
    pub last_round: RoundStats,
    /// The reports' storage budget.
    pub storage: crate::storage_guard::StorageGuard,
    /// Node assessments paused because their report CRD is missing, as last planned.
    pub nodes_paused: bool,
    /// The object kinds whose audits are paused (their report CRD is missing).
    pub objects_paused: Vec<crate::objects::ObjectKind>,
}

impl LeaderState {
    /// Tasks waiting (not in flight, not parked after a permanent failure) and the age in
    /// seconds of the oldest of them.
    pub fn queue_stats(&self, now: Instant) -> (u64, u64) {
        let waiting = self.dispatcher.tasks().values().filter(|t| {
            !matches!(
                t.state,
                TaskState::InFlight { .. } | TaskState::Parked { .. }
            )
        });
        let (mut count, mut oldest) = (0, 0);
        for task in waiting {
            count += 1;
            oldest = oldest.max(now.saturating_duration_since(task.created).as_secs());
        }
        (count, oldest)
    }
}

/// State shared by the watchers, the gRPC services and the control loop.
#[derive(Debug)]
pub struct Shared {
    state: Mutex<LeaderState>,
    /// Wakes the control loop after a change.
    pub wake: Notify,
    /// This leader's term, sent with every message.
    pub epoch: u64,
    /// This replica's identity.
    pub identity: String,
    pub scope: Scope,
    /// How vulnerability scans are planned; `None`: not at all.
    pub scans: Option<ScanSettings>,
    /// How node assessments are planned; `None`: not at all.
    pub nodes: Option<crate::nodes::NodeSettings>,
    /// The kinds of objects besides workloads and nodes that are audited.
    pub object_kinds: Vec<crate::objects::ObjectKind>,
    /// gRPC calls refused for a missing or wrong token.
    pub auth_refusals: Arc<AtomicU64>,
    pub metrics: Arc<LeaderMetrics>,
    /// Cancelled when the term ends: worker streams of the term close with it.
    pub term: CancellationToken,
    /// The operator's API request budget (it outlives terms).
    pub budget: Arc<crate::budget::Budget>,
    next_conn: AtomicU64,
}

impl Shared {
    pub fn new(
        identity: String,
        epoch: u64,
        scope: Scope,
        dispatch: DispatchConfig,
        scans: Option<ScanSettings>,
        metrics: Arc<LeaderMetrics>,
        auth_refusals: Arc<AtomicU64>,
    ) -> Self {
        Self {
            state: Mutex::new(LeaderState {
                observed: Observed::default(),
                dispatcher: Dispatcher::new(dispatch),
                policy: PolicyStatus::default(),
                streams: HashMap::new(),
                sent_assignments: BTreeMap::new(),
                planner: Planner::default(),
                full_plan_at: None,
                paused: (false, false),
                planned_policy: 0,
                assigned_from: None,
                last_round: RoundStats::default(),
                storage: crate::storage_guard::StorageGuard::default(),
                nodes_paused: false,
                objects_paused: Vec::new(),
            }),
            wake: Notify::new(),
            epoch,
            identity,
            scope,
            scans,
            nodes: None,
            object_kinds: Vec::new(),
            auth_refusals,
            metrics,
            term: CancellationToken::new(),
            budget: Arc::new(crate::budget::Budget::new(None)),
            next_conn: AtomicU64::new(1),
        }
    }

    /// The same state, belonging to the term that ends when `term` is cancelled.
    pub fn with_term(mut self, term: CancellationToken) -> Self {
        self.term = term;
        self
    }

    /// Keeps the reports within `bytes` of storage (0: no budget).
    pub fn with_storage_budget(mut self, bytes: u64) -> Self {
        let st = self.state.get_mut().unwrap_or_else(|p| p.into_inner());
        st.storage = crate::storage_guard::StorageGuard::new(Some(bytes));
        self
    }

    /// Plans the audits of these object kinds besides workloads and nodes (default: none).
    pub fn with_object_kinds(mut self, kinds: Vec<crate::objects::ObjectKind>) -> Self {
        self.object_kinds = kinds;
        self
    }

    /// Plans node assessments with `settings` (default: none).
    pub fn with_nodes(mut self, settings: crate::nodes::NodeSettings) -> Self {
        self.nodes = Some(settings);
        self
    }

    /// Uses the process's API request budget (default: none).
    pub fn with_budget(mut self, budget: Arc<crate::budget::Budget>) -> Self {
        self.budget = budget;
        self
    }

    /// Locks the state. A panic while holding the lock cannot leave it half-updated in a way
    /// that matters (every round recomputes from scratch), so poisoning is ignored.
    pub fn lock(&self) -> MutexGuard<'_, LeaderState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A fresh connection id.
    pub fn next_conn(&self) -> u64 {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    /// Changes the state and wakes the control loop.
    pub fn update<R>(&self, change: impl FnOnce(&mut LeaderState) -> R) -> R {
        let mut st = self.lock();
        let out = change(&mut st);
        drop(st);
        self.wake.notify_one();
        out
    }

    /// One control round: drop silent workers, re-plan what changed (everything every
    /// [`FULL_REPLAN_EVERY`]), send changed assignments and the tasks that fit the windows.
    /// Plans what changed and sends what fits; returns a change of the storage guard, if the
    /// reports crossed their budget.
    pub fn round(&self, now: Instant) -> Option<crate::storage_guard::Change> {
        let mut st = self.lock();
        let st = &mut *st;
        for gone in st.dispatcher.expire_silent(now) {
            tracing::warn!(worker = %gone, "worker silent for too long, its namespaces move");
            st.streams.remove(&gone);
        }
        // The reports written beside VulnerabilityReports must be known too: else every
        // container would look as if it lacked one, and every image would be rescanned.
        let companions = self
            .scans
            .as_ref()
            .map(|s| s.companions)
            .unwrap_or_default();
        let companions_known = companions
            .enabled()
            .all(|c| st.observed.synced.contains(c.watch()));
        let synced = companions_known
            && crate::watch::required_syncs()
                .iter()
                .all(|s| st.observed.synced.contains(s));
        if synced {
            let full = st
                .full_plan_at
                .is_none_or(|at| now.saturating_duration_since(at) >= FULL_REPLAN_EVERY);
            if full {
                st.full_plan_at = Some(now);
                st.planner.mark_all_dirty(&mut st.observed);
            }
            let policy_changed = st.planned_policy != st.policy.generation;
            if !full && policy_changed {
                // A policy change touches the audits of every workload of the changed kinds;
                // re-planning all workloads is as cheap as finding them.
                st.observed.mark_all_dirty();
            }
            st.planned_policy = st.policy.generation;
            let paused = (
                st.observed
                    .missing_crds
                    .contains(crate::watch::AUDIT_REPORTS),
                st.observed.missing_crds.contains("vuln-reports")
                    || st
                        .observed
                        .missing_crds
                        .contains(crate::watch::IMAGE_REPORTS)
                    || companions
                        .enabled()
                        .any(|c| st.observed.missing_crds.contains(c.watch())),
            );
            if paused != st.paused {
                // Pausing drops the tasks of that kind; resuming plans them again.
                st.paused = paused;
                st.planner.mark_all_dirty(&mut st.observed);
            }
            let inputs = Inputs {
                scope: &self.scope,
                hashes: st.policy.hashes.as_ref().filter(|_| !paused.0),
                scans: self
                    .scans
                    .as_ref()
                    .filter(|_| !paused.1)
                    .map(|s| ScanPolicy {
                        ttl: s.ttl,
                        now: jiff::Timestamp::now(),
                        companions: s.companions,
                        sbom_rescans: s.sbom_rescans,
                    }),
                now,
            };
            st.last_round = st
                .planner
                .round(&mut st.observed, &mut st.dispatcher, &inputs);
            if full || policy_changed {
                st.observed.nodes.mark_all_dirty();
                st.observed.objects.mark_all_dirty();
            }
            self.plan_nodes(st, now);
            self.plan_objects(st, now);
        }
        let change = st.storage.update(st.observed.report_bytes());
        self.send_assignments(st);
        self.dispatch(st, now);
        change
    }

    /// Re-plans the node assessments that may have changed (nodes: off, or their watches
    /// not listed yet: none).
    fn plan_nodes(&self, st: &mut LeaderState, now: Instant) {
        let Some(settings) = &self.nodes else {
            return;
        };
        let observed = &st.observed;
        if !observed.synced.contains(crate::nodes::NODES_WATCH)
            || !observed.synced.contains(crate::nodes::REPORTS_WATCH)
        {
            return;
        }
        let paused = observed.missing_crds.contains(crate::nodes::REPORTS_WATCH);
        if paused != st.nodes_paused {
            st.nodes_paused = paused;
            st.observed.nodes.mark_all_dirty();
        }
        let policy = st
            .policy
            .node_hash
            .as_ref()
            .filter(|_| !paused)
            .map(|hash| settings.policy(hash, jiff::Timestamp::now()));
        crate::nodes::round(
            &mut st.observed.nodes,
            &mut st.dispatcher,
            policy.as_ref(),
            now,
        );
    }

    /// Re-plans the audits of objects that may have changed: none before every watch they
    /// need has listed; a kind whose report CRD is missing is paused.
    fn plan_objects(&self, st: &mut LeaderState, now: Instant) {
        use crate::objects::{report_watch_of, watch_of};
        let kinds = &self.object_kinds;
        let observed = &st.observed;
        let listed = |w: &str| observed.synced.contains(w);
        if kinds.is_empty()
            || !kinds
                .iter()
                .all(|k| listed(watch_of(*k)) && listed(report_watch_of(*k)))
        {
            return;
        }
        let paused: Vec<crate::objects::ObjectKind> = kinds
            .iter()
            .copied()
            .filter(|k| observed.missing_crds.contains(report_watch_of(*k)))
            .collect();
        if paused != st.objects_paused {
            st.objects_paused = paused;
            st.observed.objects.mark_all_dirty();
        }
        let hashes = st.policy.object_hashes.clone().map(|mut hashes| {
            hashes.retain(|kind, _| {
                kinds
                    .iter()
                    .any(|k| k.as_str() == kind && !st.objects_paused.contains(k))
            });
            hashes
        });
        crate::objects::round(
            &mut st.observed,
            &self.scope,
            &mut st.dispatcher,
            hashes.as_ref(),
            now,
        );
    }

    /// Sends every task that fits a window now. Called by the round and at once when a
    /// result frees a slot.
    pub fn dispatch(&self, st: &mut LeaderState, now: Instant) {
        let summary_only = st.storage.over();
        let per_image = self.scans.as_ref().is_some_and(|s| s.per_image);
        let companions = self
            .scans
            .as_ref()
            .map(|s| s.companions)
            .unwrap_or_default();
        for (worker, mut task) in st.dispatcher.next_sends(now) {
            attach_workload(&st.observed, &mut task);
            task.summary_only = summary_only;
            if let Some(scan) = &mut task.scan {
                scan.per_image = per_image;
                scan.secrets = companions.secret;
                scan.sbom = companions.sbom;
            }
            let task_id = task.task_id.clone();
            let kind = kind_label(task.kind);
            let message = self.message(Body::Task(task));
            let delivered = st
                .streams
                .get(&worker)
                .is_some_and(|(_, tx)| tx.try_send(Ok(message)).is_ok());
            if delivered {
                self.metrics.task_dispatched(kind);
            } else {
                st.dispatcher.undeliverable(&worker, &task_id);
            }
        }
    }

    fn send_assignments(&self, st: &mut LeaderState) {
        let from = (
            st.observed.namespaces_generation,
            st.dispatcher
                .workers()
                .iter()
                .map(|(id, w)| (id.clone(), w.capacity))
                .collect::<Vec<_>>(),
        );
        let unsent = st
            .dispatcher
            .workers()
            .keys()
            .any(|w| !st.sent_assignments.contains_key(w));
        if !unsent && st.assigned_from.as_ref() == Some(&from) {
            return;
        }
        st.assigned_from = Some(from);
        let in_scope: Vec<String> = st
            .observed
            .namespaces
            .iter()
            .filter(|(ns, labels)| self.scope.contains(ns, labels))
            .map(|(ns, _)| ns.clone())
            .collect();
        let assignments = st.dispatcher.assignments(in_scope.iter());
        for (worker, namespaces) in &assignments {
            if st.sent_assignments.get(worker) == Some(namespaces) {
                continue;
            }
            let message = self.message(Body::Assignment(proto::Assignment {
                namespaces: namespaces.clone(),
                api_budget: self.budget.is_limited(),
            }));
            if let Some((_, tx)) = st.streams.get(worker)
                && tx.try_send(Ok(message)).is_ok()
            {
                st.sent_assignments
                    .insert(worker.clone(), namespaces.clone());
            }
        }
        st.sent_assignments
            .retain(|worker, _| assignments.contains_key(worker));
    }

    /// The numbers the metrics report, from the state now.
    pub fn snapshot(&self, now: Instant) -> Snapshot {
        let st = self.lock();
        let (queue_depth, oldest_pending_seconds) = st.queue_stats(now);
        Snapshot {
            queue_depth,
            oldest_pending_seconds,
            tasks_in_flight: st
                .dispatcher
                .workers()
                .values()
                .map(|w| w.in_flight.len() as u64)
                .sum(),
            scan_jobs_in_flight: st.dispatcher.scans_in_flight() as u64,
            scans_avoided: st.dispatcher.scans_avoided(),
            workers: st.dispatcher.workers().len() as u64,
            is_leader: true,
            epoch: self.epoch,
            auth_refusals: self.auth_refusals.load(Ordering::Relaxed),
            policy_config_invalid: st.policy.error.is_some(),
            report_bytes: st.storage.usage().0,
            report_storage_budget: st.storage.usage().1,
            report_storage_over_budget: st.storage.over(),
        }
    }

    /// A message stamped with this leader's epoch.
    pub fn message(&self, body: Body) -> proto::LeaderMessage {
        proto::LeaderMessage {
            epoch: self.epoch,
            body: Some(body),
        }
    }
}

/// Puts the workload (or other object) the leader kept into a config audit (or RBAC
/// assessment, or object's audit) task, so the worker does not read it again.
fn attach_workload(observed: &Observed, task: &mut proto::Task) {
    if task.kind != proto::TaskKind::ConfigAudit as i32
        && task.kind != proto::TaskKind::RbacAssessment as i32
        && task.kind != proto::TaskKind::ResourceAudit as i32
    {
        return;
    }
    if let Some(json) = task
        .workload
        .as_ref()
        .and_then(|w| observed.audit_objects.get(&w.uid, &task.resource_spec_hash))
    {
        task.workload_json = json.to_string();
    }
}

#[cfg(test)]
impl Shared {
    /// A term's state for unit tests: leader `leader` at `epoch`, default limits.
    pub(crate) fn for_tests(epoch: u64, scans: Option<ScanSettings>) -> Self {
        use std::time::Duration;
        Self::new(
            "leader".into(),
            epoch,
            crate::scope::Scope::default(),
            crate::dispatch::DispatchConfig {
                tasks_per_capacity: 2,
                worker_timeout: Duration::from_secs(30),
                retry_base: Duration::from_secs(5),
                retry_max: Duration::from_secs(60),
                result_grace: Duration::from_secs(60),
                max_concurrent_scans: 10,
                max_scans_per_namespace: 0,
            },
            scans,
            Arc::new(crate::metrics::LeaderMetrics::new()),
            Arc::new(std::sync::atomic::AtomicU64::new(0)),
        )
    }
}

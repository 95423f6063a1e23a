//! Hands due tasks to workers: namespaces are sharded by rendezvous hashing over the
//! connected workers, each worker has a bounded in-flight window, and a task stays tracked
//! until the planner no longer wants it (its report was observed). Pure state machine: the
//! caller passes the time and delivers the messages it returns.

mod tasks;
mod workers;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use common::proto;
use common::sharding::{self, WorkerSlot};

pub use tasks::{TaskState, TrackedTask};
pub use workers::WorkerEntry;

use crate::plan::DueTask;
use crate::plan_scans::{ActiveScan, runs_job};

/// Tunables of dispatch.
#[derive(Debug, Clone)]
pub struct DispatchConfig {
    /// Most tasks in flight per unit of worker capacity.
    pub tasks_per_capacity: u32,
    /// A worker silent for this long is dropped.
    pub worker_timeout: Duration,
    /// First retry delay; doubles per failure up to `retry_max`.
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// How long a succeeded task waits for its report before it is sent again.
    pub result_grace: Duration,
    /// Most scan Jobs at once across all workers.
    pub max_concurrent_scans: usize,
}

/// The dispatcher's whole state.
#[derive(Debug)]
pub struct Dispatcher {
    config: DispatchConfig,
    workers: BTreeMap<String, WorkerEntry>,
    tasks: HashMap<String, TrackedTask>,
    /// Failures since start, by reason.
    failures: BTreeMap<String, u64>,
    /// Scan tasks that may have a Job: sent, and not yet answered. A task whose worker was
    /// lost keeps its slot (its Job may still run) until it is answered after a re-send.
    scan_slots: HashSet<String>,
    /// Workload containers that got a report without a scan Job of their own.
    scans_avoided: u64,
}

/// What the caller must deliver: a message to a worker.
pub type Outgoing = (String, proto::LeaderMessage);

impl Dispatcher {
    pub fn new(config: DispatchConfig) -> Self {
        Self {
            config,
            workers: BTreeMap::new(),
            tasks: HashMap::new(),
            failures: BTreeMap::new(),
            scan_slots: HashSet::new(),
            scans_avoided: 0,
        }
    }

    /// Replaces the set of wanted tasks: new ones become pending, ones no longer wanted are
    /// forgotten (a running one still frees its worker's slot when its result arrives).
    pub fn set_desired(&mut self, desired: Vec<DueTask>, now: Instant) {
        let mut next = HashMap::with_capacity(desired.len());
        for due in desired {
            let id = due.task.task_id.clone();
            let tracked = self
                .tasks
                .remove(&id)
                .unwrap_or_else(|| TrackedTask::new(due, now));
            next.insert(id, tracked);
        }
        // A dropped task that is not running anywhere cannot have a Job: free its slot.
        for (id, task) in &self.tasks {
            if !next.contains_key(id) && !matches!(task.state, TaskState::InFlight { .. }) {
                self.scan_slots.remove(id);
            }
        }
        self.tasks = next;
    }

    /// Registers a worker connection; replaces an older connection with the same id.
    pub fn add_worker(&mut self, id: &str, capacity: u32, conn: u64, now: Instant) {
        self.remove_worker(id, None);
        self.workers
            .insert(id.to_string(), WorkerEntry::new(capacity, conn, now));
    }

    /// Drops a worker (only if `conn` matches its current connection, when given); its
    /// running tasks go back to pending so their namespaces' new owners get them.
    pub fn remove_worker(&mut self, id: &str, conn: Option<u64>) -> bool {
        match self.workers.get(id) {
            Some(w) if conn.is_none_or(|c| c == w.conn) => {}
            _ => return false,
        }
        if let Some(worker) = self.workers.remove(id) {
            // Tasks no longer wanted will not be re-sent: nobody will answer for their slot.
            for task_id in worker
                .in_flight
                .iter()
                .filter(|t| !self.tasks.contains_key(*t))
            {
                self.scan_slots.remove(task_id);
            }
        }
        for task in self.tasks.values_mut() {
            if task.state.worker() == Some(id) {
                task.state = TaskState::Pending;
            }
        }
        true
    }

    /// Notes a sign of life from a worker.
    pub fn heartbeat(&mut self, id: &str, conn: u64, now: Instant) {
        if let Some(w) = self.workers.get_mut(id).filter(|w| w.conn == conn) {
            w.last_seen = now;
        }
    }

    /// Drops workers silent for longer than the timeout; returns their ids.
    pub fn expire_silent(&mut self, now: Instant) -> Vec<String> {
        let timeout = self.config.worker_timeout;
        let silent: Vec<String> = self
            .workers
            .iter()
            .filter(|(_, w)| now.duration_since(w.last_seen) > timeout)
            .map(|(id, _)| id.clone())
            .collect();
        for id in &silent {
            self.remove_worker(id, None);
        }
        silent
    }

    /// Records a task's result from a worker.
    pub fn on_result(&mut self, worker: &str, result: &proto::TaskResult, now: Instant) {
        if let Some(w) = self.workers.get_mut(worker) {
            w.in_flight.remove(&result.task_id);
            w.last_seen = now;
        }
        // The worker deletes a scan's Job before it answers.
        self.scan_slots.remove(&result.task_id);
        let Some(task) = self.tasks.get_mut(&result.task_id) else {
            return;
        };
        if task.state.worker() != Some(worker) {
            return; // a stale result from a worker the task was taken from
        }
        match proto::Outcome::try_from(result.outcome) {
            Ok(proto::Outcome::Succeeded) => {
                task.state = TaskState::Done { at: now };
                if let Some(scan) = &task.task.scan {
                    let served = scan.subscribers.len() as u64;
                    let jobs = u64::from(runs_job(&task.task));
                    self.scans_avoided += served.saturating_sub(jobs);
                }
            }
            outcome => {
                let permanent = outcome == Ok(proto::Outcome::FailedPermanent);
                task.fail(
                    &result.reason,
                    &result.message,
                    now,
                    permanent,
                    &self.config,
                );
                let reason = if result.reason.is_empty() {
                    "Unknown"
                } else {
                    &result.reason
                };
                *self.failures.entry(reason.to_string()).or_default() += 1;
            }
        }
    }

    /// The namespaces each connected worker owns, by rendezvous hashing.
    pub fn assignments<'a>(
        &self,
        namespaces: impl IntoIterator<Item = &'a String>,
    ) -> BTreeMap<String, Vec<String>> {
        let slots = self.slots();
        let mut out: BTreeMap<String, Vec<String>> = self
            .workers
            .keys()
            .map(|id| (id.clone(), Vec::new()))
            .collect();
        for ns in namespaces {
            if let Some(owner) = sharding::owner_of(ns, &slots) {
                out.entry(owner.id.clone()).or_default().push(ns.clone());
            }
        }
        out.values_mut().for_each(|v| v.sort());
        out
    }

    /// Picks the tasks to send now, oldest first, within each owner's window, and marks
    /// them in flight.
    pub fn next_sends(&mut self, now: Instant) -> Vec<(String, proto::Task)> {
        let slots = self.slots();
        if slots.is_empty() {
            return Vec::new();
        }
        let mut ready: Vec<(&String, &TrackedTask)> = self
            .tasks
            .iter()
            .filter(|(_, t)| t.ready(now, &self.config))
            .collect();
        ready.sort_by(|a, b| (a.1.created, a.0).cmp(&(b.1.created, b.0)));
        let ready: Vec<String> = ready.into_iter().map(|(id, _)| id.clone()).collect();
        let mut sends = Vec::new();
        for id in ready {
            let Some(task) = self.tasks.get_mut(&id) else {
                continue;
            };
            let Some(owner) = sharding::owner_of(&task.namespace, &slots) else {
                continue;
            };
            let Some(worker) = self.workers.get_mut(&owner.id) else {
                continue;
            };
            if !worker.has_room(self.config.tasks_per_capacity) {
                continue;
            }
            let job = runs_job(&task.task);
            if job
                && !self.scan_slots.contains(&id)
                && self.scan_slots.len() >= self.config.max_concurrent_scans
            {
                continue;
            }
            if job {
                self.scan_slots.insert(id.clone());
            }
            worker.in_flight.insert(id.clone());
            task.state = TaskState::InFlight {
                worker: owner.id.clone(),
                since: now,
            };
            sends.push((owner.id.clone(), task.task.clone()));
        }
        sends
    }

    /// Gives a task back when its message could not be delivered.
    pub fn undeliverable(&mut self, worker: &str, task_id: &str) {
        if let Some(w) = self.workers.get_mut(worker) {
            w.in_flight.remove(task_id);
        }
        if let Some(t) = self
            .tasks
            .get_mut(task_id)
            .filter(|t| t.state.worker() == Some(worker))
        {
            t.state = TaskState::Pending;
        }
    }

    fn slots(&self) -> Vec<WorkerSlot> {
        self.workers
            .iter()
            .map(|(id, w)| WorkerSlot {
                id: id.clone(),
                capacity: w.capacity,
            })
            .collect()
    }

    /// Scan tasks running or just succeeded, for the planner.
    pub fn active_scans(&self) -> Vec<ActiveScan> {
        self.tasks
            .values()
            .filter(|t| t.task.kind == proto::TaskKind::VulnerabilityScan as i32)
            .filter_map(|t| match t.state {
                TaskState::InFlight { .. } => Some(ActiveScan {
                    task: t.task.clone(),
                    in_flight: true,
                }),
                TaskState::Done { .. } => Some(ActiveScan {
                    task: t.task.clone(),
                    in_flight: false,
                }),
                _ => None,
            })
            .collect()
    }

    /// Workload containers served by another container's scan (dedupe savings).
    pub fn scans_avoided(&self) -> u64 {
        self.scans_avoided
    }

    /// How many scan Jobs may exist now, by this dispatcher's own bookkeeping.
    pub fn scans_in_flight(&self) -> usize {
        self.scan_slots.len()
    }

    pub fn workers(&self) -> &BTreeMap<String, WorkerEntry> {
        &self.workers
    }

    pub fn tasks(&self) -> &HashMap<String, TrackedTask> {
        &self.tasks
    }

    pub fn failures(&self) -> &BTreeMap<String, u64> {
        &self.failures
    }
}

#[cfg(test)]
mod tests;

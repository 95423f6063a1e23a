//! Hands due tasks to workers: namespaces are sharded by rendezvous hashing over the
//! connected workers, each worker has a bounded in-flight window shared fairly between
//! config audits, report copies and scan Jobs, and a slot freed by a result is refilled at
//! once from the ready queues, without a planning round. Pure state machine: the caller
//! passes the time and delivers the messages it returns.
//!
//! The planner fills one *slot* per piece of work (a workload's audit, a scan key) with
//! [`Dispatcher::upsert`]; the dispatcher tracks the task until it succeeds (then what it
//! served is *covered* for `result_grace`, while its reports reach the planner) or until
//! the planner no longer wants it.

mod queues;
mod send;
mod tasks;
mod workers;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::{Duration, Instant};

use common::proto;
use common::sharding::{self, WorkerSlot};

pub use tasks::{Class, TaskState, TrackedTask, backoff};
pub use workers::WorkerEntry;

use crate::plan::DueTask;
use crate::plan_scans::runs_job;
use queues::Queues;

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
    /// How long what a succeeded task served stays covered while its report is on its way.
    pub result_grace: Duration,
    /// Most scan Jobs at once across all workers.
    pub max_concurrent_scans: usize,
    /// Most scan Jobs at once for one namespace (0: no cap beyond the fair share).
    pub max_scans_per_namespace: usize,
}

/// What a result changed, for the planner.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ResultEffect {
    /// Aliases of a scan that is no longer in flight: scans waiting for it may go.
    pub released: Vec<String>,
    /// Whether the result was for a task the worker was running.
    pub accepted: bool,
}

/// The dispatcher's whole state.
#[derive(Debug)]
pub struct Dispatcher {
    config: DispatchConfig,
    workers: BTreeMap<String, WorkerEntry>,
    /// The workers as sharding sees them, rebuilt when they change.
    slots: Vec<WorkerSlot>,
    /// Owner of each namespace a task was queued for, for the current `slots`.
    owners: HashMap<String, Option<String>>,
    /// Boxed: a task is a few hundred bytes, and the table holds tens of thousands; growing
    /// it then moves pointers, and its free buckets cost a pointer each, not a task.
    tasks: HashMap<String, Box<TrackedTask>>,
    /// The task filling each planner slot.
    by_slot: HashMap<String, String>,
    queues: Queues,
    /// Work served by a succeeded task, until its report is expected: key → (until, uid).
    covers: HashMap<String, Instant>,
    cover_timers: BTreeSet<(Instant, String, String)>,
    /// Aliases of the scans in flight (by task id), and how many in-flight scans hold each.
    in_flight_aliases: HashMap<String, Vec<String>>,
    running_aliases: HashMap<String, usize>,
    /// Aliases released since the planner last looked (results, lost workers, undelivered
    /// tasks): scans waiting on them may go.
    released: Vec<String>,
    /// Failures since start, by reason.
    failures: BTreeMap<String, u64>,
    /// Scan tasks that may have a Job: sent, and not yet answered. A task whose worker was
    /// lost keeps its slot (its Job may still run) until it is answered after a re-send.
    scan_slots: HashSet<String>,
    /// Workload containers that got a report without a scan Job of their own.
    scans_avoided: u64,
    /// Where the next fill starts among the workers (fair scan slots).
    turn: usize,
}

/// Where a waiting task is kept: a ready queue (owner, class, queue key) or the timers.
enum Place {
    Ready(Option<String>, Class, (bool, Instant)),
    Timer(Instant),
}

/// What the caller must deliver: a message to a worker.
pub type Outgoing = (String, proto::LeaderMessage);

impl Dispatcher {
    pub fn new(config: DispatchConfig) -> Self {
        Self {
            config,
            workers: BTreeMap::new(),
            slots: Vec::new(),
            owners: HashMap::new(),
            tasks: HashMap::new(),
            by_slot: HashMap::new(),
            queues: Queues::default(),
            covers: HashMap::new(),
            cover_timers: BTreeSet::new(),
            in_flight_aliases: HashMap::new(),
            running_aliases: HashMap::new(),
            released: Vec::new(),
            failures: BTreeMap::new(),
            scan_slots: HashSet::new(),
            scans_avoided: 0,
            turn: 0,
        }
    }

    /// Sets the task of a planner slot: `None` drops it (a running one still frees its
    /// worker's window when its result arrives). The same task id keeps its state and
    /// history, with its content updated unless it is in flight; another id replaces it.
    pub fn upsert(&mut self, slot: &str, desired: Option<DueTask>, now: Instant) {
        let existing = self.by_slot.get(slot).cloned();
        match (existing, desired) {
            (None, None) => {}
            (Some(id), None) => self.remove_task(&id),
            (None, Some(due)) => self.insert_task(slot, due, now),
            (Some(id), Some(due)) if id == due.task.task_id => {
                let in_flight = self
                    .tasks
                    .get(&id)
                    .is_some_and(|t| matches!(t.state, TaskState::InFlight { .. }));
                if !in_flight {
                    self.dequeue(&id);
                    if let Some(task) = self.tasks.get_mut(&id) {
                        // A parked task whose work changed (e.g. another subscriber) is
                        // tried again.
                        if matches!(task.state, TaskState::Parked { .. }) && task.task != due.task {
                            task.state = TaskState::Pending;
                            task.ready_at = now;
                        }
                        task.namespace = due.namespace;
                        task.task = due.task;
                        task.aliases = due.aliases;
                    }
                    self.enqueue(&id);
                }
            }
            (Some(id), Some(due)) => {
                self.remove_task(&id);
                self.insert_task(slot, due, now);
            }
        }
    }

    fn insert_task(&mut self, slot: &str, due: DueTask, now: Instant) {
        let id = due.task.task_id.clone();
        if self.tasks.contains_key(&id) {
            // The same work under another slot: keep the one tracked.
            return;
        }
        self.by_slot.insert(slot.to_string(), id.clone());
        self.tasks.insert(
            id.clone(),
            Box::new(TrackedTask::new(slot.to_string(), due, now)),
        );
        self.enqueue(&id);
    }

    fn remove_task(&mut self, id: &str) {
        self.dequeue(id);
        let Some(task) = self.tasks.remove(id) else {
            return;
        };
        if self.by_slot.get(&task.slot).is_some_and(|t| t == id) {
            self.by_slot.remove(&task.slot);
        }
        // A dropped task that is not running anywhere cannot have a Job: free its slot.
        if !matches!(task.state, TaskState::InFlight { .. }) {
            self.scan_slots.remove(id);
        }
    }

    /// Puts a tracked task where its state says it waits.
    fn enqueue(&mut self, id: &str) {
        match self.place(id) {
            Some(Place::Ready(owner, class, key)) => {
                self.queues.push_ready(owner.as_deref(), class, key, id);
            }
            Some(Place::Timer(at)) => self.queues.push_timer(at, id),
            None => {}
        }
    }

    /// Takes a tracked task out of the queue or timer it waits in.
    fn dequeue(&mut self, id: &str) {
        match self.place(id) {
            Some(Place::Ready(owner, class, key)) => {
                self.queues.remove_ready(owner.as_deref(), class, key, id);
            }
            Some(Place::Timer(at)) => self.queues.remove_timer(at, id),
            None => {}
        }
    }

    /// Where a tracked task waits, by its state (`None`: in flight, or unknown).
    fn place(&mut self, id: &str) -> Option<Place> {
        let task = self.tasks.get(id)?;
        match &task.state {
            TaskState::Pending => {
                let (namespace, class, key) =
                    (task.namespace.clone(), task.class(), task.queue_key());
                Some(Place::Ready(self.owner(&namespace), class, key))
            }
            TaskState::Failed { retry_at, .. } => Some(Place::Timer(*retry_at)),
            TaskState::InFlight { .. } | TaskState::Parked { .. } => None,
        }
    }

    /// The worker owning a namespace now (cached until the workers change).
    fn owner(&mut self, namespace: &str) -> Option<String> {
        if let Some(owner) = self.owners.get(namespace) {
            return owner.clone();
        }
        let owner = sharding::owner_of(namespace, &self.slots).map(|s| s.id.clone());
        self.owners.insert(namespace.to_string(), owner.clone());
        owner
    }

    /// After the workers changed: new sharding, every ready task queued for its new owner.
    fn workers_changed(&mut self) {
        self.slots = self
            .workers
            .iter()
            .map(|(id, w)| WorkerSlot {
                id: id.clone(),
                capacity: w.capacity,
            })
            .collect();
        let ready = self.queues.drain_ready();
        self.owners.clear();
        for id in ready {
            self.enqueue(&id);
        }
    }

    /// Registers a worker connection; replaces an older connection with the same id.
    pub fn add_worker(&mut self, id: &str, capacity: u32, conn: u64, now: Instant) {
        self.remove_worker(id, None, None);
        self.workers
            .insert(id.to_string(), WorkerEntry::new(capacity, conn, now));
        self.workers_changed();
    }

    /// Drops a worker (only if `conn` matches its current connection, when given); its
    /// running tasks go back to pending so their namespaces' new owners get them. When the
    /// worker was lost (`lost_at`, not replaced by a new connection), each of its tasks counts
    /// a failure: the first loss re-sends at once (a drained node is no fault of the task),
    /// a task that keeps losing its workers waits with back-off, so one poison task cannot
    /// walk from worker to worker.
    pub fn remove_worker(&mut self, id: &str, conn: Option<u64>, lost_at: Option<Instant>) -> bool {
        match self.workers.get(id) {
            Some(w) if conn.is_none_or(|c| c == w.conn) => {}
            _ => return false,
        }
        let Some(worker) = self.workers.remove(id) else {
            return false;
        };
        for task_id in worker.in_flight.keys() {
            self.release_aliases(task_id);
            match self.tasks.get_mut(task_id) {
                Some(task) if task.state.worker() == Some(id) => {
                    // Back to the front of the queue: it was sent before anything pending,
                    // and a scan's Job may still run (it keeps its slot).
                    task.state = TaskState::Pending;
                    task.ready_at = task.created;
                    task.urgent = self.scan_slots.contains(task_id);
                    if let Some(now) = lost_at {
                        task.worker_lost(id, now, &self.config);
                    }
                }
                // Not wanted any more: nobody will answer for its scan slot.
                _ => {
                    self.scan_slots.remove(task_id);
                }
            }
        }
        self.workers_changed();
        for task_id in worker.in_flight.keys() {
            if self.tasks.contains_key(task_id) {
                self.enqueue(task_id);
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
            self.remove_worker(id, None, Some(now));
        }
        silent
    }

    /// Records a task's result from a worker. A result for a task the worker is not
    /// running is ignored entirely (it frees nothing).
    pub fn on_result(
        &mut self,
        worker: &str,
        result: &proto::TaskResult,
        now: Instant,
    ) -> ResultEffect {
        let id = &result.task_id;
        let Some(w) = self.workers.get_mut(worker) else {
            return ResultEffect::default();
        };
        w.last_seen = now;
        if w.in_flight.remove(id).is_none() {
            return ResultEffect::default();
        }
        // The worker deletes a scan's Job before it answers.
        self.scan_slots.remove(id);
        let released = self.release_aliases(id);
        let effect = ResultEffect {
            released,
            accepted: true,
        };
        for written in &result.written {
            let key = subscriber_cover_key(
                &written.workload_uid,
                &written.container_name,
                &written.resource_spec_hash,
            );
            self.cover(key, &written.workload_uid, now);
        }
        let Some(task) = self.tasks.get_mut(id) else {
            return effect;
        };
        if task.state.worker() != Some(worker) {
            return effect;
        }
        match proto::Outcome::try_from(result.outcome) {
            Ok(proto::Outcome::Succeeded) => {
                let task = task.task.clone();
                self.served(&task, now);
                self.remove_task(id);
            }
            outcome => {
                // A node's or object's assessment is never parked: nothing about it changes
                // when a worker cannot run it (e.g. one of an older release, which refuses
                // the kind as invalid), so it is retried with backoff instead. (A role that
                // is gone is deleted from the plan by its watch.)
                let permanent = outcome == Ok(proto::Outcome::FailedPermanent)
                    && task.task.kind != proto::TaskKind::NodeAssessment as i32
                    && task.task.kind != proto::TaskKind::RbacAssessment as i32
                    && task.task.kind != proto::TaskKind::ResourceAudit as i32;
                task.fail(
                    &result.reason,
                    &result.message,
                    now,
                    permanent,
                    &self.config,
                );
                self.enqueue(id);
                let reason = if result.reason.is_empty() {
                    "Unknown"
                } else {
                    &result.reason
                };
                *self.failures.entry(reason.to_string()).or_default() += 1;
            }
        }
        effect
    }

    /// Covers what a succeeded task served, so it is not planned again before its report
    /// is observed.
    fn served(&mut self, task: &proto::Task, now: Instant) {
        match &task.scan {
            Some(scan) => {
                let served = scan.subscribers.len() as u64;
                self.scans_avoided += served.saturating_sub(u64::from(runs_job(task)));
                for s in &scan.subscribers {
                    let uid = s.workload.as_ref().map_or("", |w| w.uid.as_str());
                    let key = subscriber_cover_key(uid, &s.container_name, &s.resource_spec_hash);
                    self.cover(key, uid, now);
                }
            }
            None => {
                let uid = task.workload.as_ref().map_or("", |w| w.uid.as_str());
                self.cover(task.task_id.clone(), uid, now);
            }
        }
    }

    fn cover(&mut self, key: String, uid: &str, now: Instant) {
        let until = now + self.config.result_grace;
        self.cover_timers
            .insert((until, key.clone(), uid.to_string()));
        self.covers.insert(key, until);
    }

    /// Whether work with this cover key (an audit task id, or a
    /// [`subscriber_cover_key`]) was just served.
    pub fn covered(&self, key: &str) -> bool {
        self.covers.contains_key(key)
    }

    /// Ends the covers whose grace is over; returns the workloads to re-plan.
    pub fn expire_covers(&mut self, now: Instant) -> Vec<String> {
        let mut uids = Vec::new();
        while let Some(first) = self.cover_timers.first() {
            if first.0 > now {
                break;
            }
            let Some((until, key, uid)) = self.cover_timers.pop_first() else {
                break;
            };
            if self.covers.get(&key) == Some(&until) {
                self.covers.remove(&key);
                uids.push(uid);
            }
        }
        uids
    }

    /// Whether a scan known by this alias is in flight.
    pub fn alias_running(&self, alias: &str) -> bool {
        self.running_aliases.contains_key(alias)
    }

    /// Takes the aliases released since the last call.
    pub fn take_released(&mut self) -> Vec<String> {
        std::mem::take(&mut self.released)
    }

    fn release_aliases(&mut self, task_id: &str) -> Vec<String> {
        let aliases = self.in_flight_aliases.remove(task_id).unwrap_or_default();
        self.released.extend(aliases.iter().cloned());
        for alias in &aliases {
            if let Some(n) = self.running_aliases.get_mut(alias) {
                *n -= 1;
                if *n == 0 {
                    self.running_aliases.remove(alias);
                }
            }
        }
        aliases
    }

    /// The namespaces each connected worker owns, by rendezvous hashing.
    pub fn assignments<'a>(
        &self,
        namespaces: impl IntoIterator<Item = &'a String>,
    ) -> BTreeMap<String, Vec<String>> {
        let mut out: BTreeMap<String, Vec<String>> = self
            .workers
            .keys()
            .map(|id| (id.clone(), Vec::new()))
            .collect();
        for ns in namespaces {
            if let Some(owner) = sharding::owner_of(ns, &self.slots) {
                out.entry(owner.id.clone()).or_default().push(ns.clone());
            }
        }
        out.values_mut().for_each(|v| v.sort());
        out
    }

    /// Gives a task back when its message could not be delivered.
    pub fn undeliverable(&mut self, worker: &str, task_id: &str) {
        if let Some(w) = self.workers.get_mut(worker) {
            w.in_flight.remove(task_id);
        }
        self.release_aliases(task_id);
        if let Some(t) = self
            .tasks
            .get_mut(task_id)
            .filter(|t| t.state.worker() == Some(worker))
        {
            t.state = TaskState::Pending;
            if t.class() == Class::Job {
                self.scan_slots.remove(task_id);
            }
            self.enqueue(task_id);
        }
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

    pub fn tasks(&self) -> &HashMap<String, Box<TrackedTask>> {
        &self.tasks
    }

    /// The task filling a planner slot.
    pub fn task_of(&self, slot: &str) -> Option<&TrackedTask> {
        self.by_slot
            .get(slot)
            .and_then(|id| self.tasks.get(id).map(|t| &**t))
    }

    pub fn failures(&self) -> &BTreeMap<String, u64> {
        &self.failures
    }

    /// Tasks ready to be sent now.
    pub fn ready_len(&self) -> usize {
        self.queues.ready_len()
    }
}

/// The cover key of one workload container's scan.
pub fn subscriber_cover_key(uid: &str, container: &str, spec_hash: &str) -> String {
    format!("sub/{uid}/{container}/{spec_hash}")
}

#[cfg(test)]
pub(crate) mod tests;

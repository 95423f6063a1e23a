//! The life of one tracked task: pending, in flight on a worker, or failed and waiting for
//! its retry time. A succeeded task is no longer tracked: what it served is covered for a
//! grace period (see [`super::Dispatcher::covered`]).

use std::time::{Duration, Instant};

use common::proto;

use super::DispatchConfig;
use crate::plan::DueTask;
use crate::plan_scans::runs_job;

/// Where a task stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskState {
    /// Waiting for a worker with room.
    Pending,
    /// Sent to `worker` at `since`.
    InFlight { worker: String, since: Instant },
    /// Failed; sent again at `retry_at`.
    Failed {
        reason: String,
        message: String,
        retry_at: Instant,
    },
    /// Failed for good (an invalid image, an output over the limit): not sent again until
    /// the work changes (a new task), not counted as waiting, kept for status.
    Parked { reason: String, message: String },
}

impl TaskState {
    /// The worker running the task, if it is in flight.
    pub fn worker(&self) -> Option<&str> {
        match self {
            Self::InFlight { worker, .. } => Some(worker),
            _ => None,
        }
    }
}

/// What a task costs, for the fair share of a worker's window: config audits and copies of
/// a scan are quick; scan Jobs are slow and limited cluster-wide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    Audit,
    Copy,
    Job,
}

impl Class {
    pub const ALL: [Class; 3] = [Class::Audit, Class::Copy, Class::Job];

    pub fn of(task: &proto::Task) -> Self {
        // A node assessment runs a Job too, under the same cluster-wide limit.
        if task.kind == proto::TaskKind::NodeAssessment as i32 {
            Self::Job
        } else if task.kind != proto::TaskKind::VulnerabilityScan as i32 {
            Self::Audit
        } else if runs_job(task) {
            Self::Job
        } else {
            Self::Copy
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// A task the planner wants, with its dispatch history.
#[derive(Debug, Clone)]
pub struct TrackedTask {
    /// The planner's slot this task fills (one task per workload audit / per scan key).
    pub slot: String,
    pub namespace: String,
    pub task: proto::Task,
    /// Aliases of a scan (its key and the normalized images it scans): while it is in
    /// flight, scans under these names wait for it.
    pub aliases: Vec<String>,
    pub state: TaskState,
    /// Consecutive failures, for the backoff.
    pub failures: u32,
    pub created: Instant,
    /// Its place in the ready queues: when it became ready (created, or its retry time).
    pub ready_at: Instant,
    /// Re-sent ahead of everything else: a scan whose worker was lost while its Job may
    /// still run (it keeps its scan slot).
    pub urgent: bool,
}

impl TrackedTask {
    pub(super) fn new(slot: String, due: DueTask, now: Instant) -> Self {
        Self {
            slot,
            namespace: due.namespace,
            task: due.task,
            aliases: due.aliases,
            state: TaskState::Pending,
            failures: 0,
            created: now,
            ready_at: now,
            urgent: false,
        }
    }

    pub fn class(&self) -> Class {
        Class::of(&self.task)
    }

    /// Whose share of the Job slots it takes: its namespace's; all node assessments share
    /// one (`Node`, which no namespace can be named), so that the nodes together take a
    /// namespace's share, and `--max-scans-per-namespace` caps their Jobs as one.
    pub fn fairness_key(&self) -> &str {
        if self.task.kind == proto::TaskKind::NodeAssessment as i32 {
            "Node"
        } else {
            &self.namespace
        }
    }

    /// Its key in the ready queues.
    pub fn queue_key(&self) -> (bool, Instant) {
        (self.urgent, self.ready_at)
    }

    /// Records a failure and schedules the retry with exponential backoff; a permanent
    /// failure parks the task (its task id, or its members, change when the workload
    /// changes).
    pub(super) fn fail(
        &mut self,
        reason: &str,
        message: &str,
        now: Instant,
        permanent: bool,
        config: &DispatchConfig,
    ) {
        self.failures += 1;
        if permanent {
            self.state = TaskState::Parked {
                reason: reason.to_string(),
                message: message.to_string(),
            };
            return;
        }
        let delay = backoff(config.retry_base, config.retry_max, self.failures);
        self.state = TaskState::Failed {
            reason: reason.to_string(),
            message: message.to_string(),
            retry_at: now + delay,
        };
    }
}

impl TrackedTask {
    /// The worker running this task was lost: a failure; after the first, a retry with
    /// back-off instead of an immediate re-send.
    pub(super) fn worker_lost(&mut self, worker: &str, now: Instant, config: &DispatchConfig) {
        self.failures += 1;
        if self.failures > 1 {
            let delay = backoff(config.retry_base, config.retry_max, self.failures - 1);
            self.state = TaskState::Failed {
                reason: WORKER_LOST.to_string(),
                message: format!("worker {worker} was lost while running it"),
                retry_at: now + delay,
            };
        }
    }
}

/// The failure reason of a task whose worker was lost while running it.
pub const WORKER_LOST: &str = "WorkerLost";

/// `base * 2^(failures-1)`, capped at `max`.
pub fn backoff(base: Duration, max: Duration, failures: u32) -> Duration {
    let factor = 1u32
        .checked_shl(failures.saturating_sub(1))
        .unwrap_or(u32::MAX);
    base.checked_mul(factor).map_or(max, |d| d.min(max))
}

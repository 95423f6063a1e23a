//! The life of one tracked task: pending, in flight on a worker, done (waiting for its report
//! to be observed), or failed and waiting for its retry time.

use std::time::{Duration, Instant};

use common::proto;

use super::DispatchConfig;
use crate::plan::DueTask;

/// Where a task stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskState {
    /// Waiting for a worker with room.
    Pending,
    /// Sent to `worker` at `since`.
    InFlight { worker: String, since: Instant },
    /// The worker reported success at `at`; waiting for the report to be observed.
    Done { at: Instant },
    /// Failed; sent again at `retry_at`.
    Failed {
        reason: String,
        message: String,
        retry_at: Instant,
    },
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

/// A task the planner wants, with its dispatch history.
#[derive(Debug, Clone)]
pub struct TrackedTask {
    pub namespace: String,
    pub task: proto::Task,
    pub state: TaskState,
    /// Consecutive failures, for the backoff.
    pub failures: u32,
    pub created: Instant,
}

impl TrackedTask {
    pub(super) fn new(due: DueTask, now: Instant) -> Self {
        Self {
            namespace: due.namespace,
            task: due.task,
            state: TaskState::Pending,
            failures: 0,
            created: now,
        }
    }

    /// Whether the task should be sent now.
    pub(super) fn ready(&self, now: Instant, config: &DispatchConfig) -> bool {
        match &self.state {
            TaskState::Pending => true,
            TaskState::InFlight { .. } => false,
            TaskState::Done { at } => now.duration_since(*at) >= config.result_grace,
            TaskState::Failed { retry_at, .. } => now >= *retry_at,
        }
    }

    /// Records a failure and schedules the retry with exponential backoff; a permanent
    /// failure waits the longest delay (its task id changes when the workload changes).
    pub(super) fn fail(
        &mut self,
        reason: &str,
        message: &str,
        now: Instant,
        permanent: bool,
        config: &DispatchConfig,
    ) {
        self.failures += 1;
        let delay = if permanent {
            config.retry_max
        } else {
            backoff(config.retry_base, config.retry_max, self.failures)
        };
        self.state = TaskState::Failed {
            reason: reason.to_string(),
            message: message.to_string(),
            retry_at: now + delay,
        };
    }
}

/// `base * 2^(failures-1)`, capped at `max`.
pub fn backoff(base: Duration, max: Duration, failures: u32) -> Duration {
    let factor = 1u32
        .checked_shl(failures.saturating_sub(1))
        .unwrap_or(u32::MAX);
    base.checked_mul(factor).map_or(max, |d| d.min(max))
}

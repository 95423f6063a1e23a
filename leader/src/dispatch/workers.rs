//! A connected worker as the dispatcher sees it: its weight, its in-flight window (by task
//! class, for the fair share) and when it was last heard from.

use std::collections::HashMap;
use std::time::Instant;

use super::tasks::Class;

/// One connected worker.
#[derive(Debug, Clone)]
pub struct WorkerEntry {
    /// Tasks it runs at once; also its sharding weight.
    pub capacity: u32,
    /// Connection id, so a stale stream's end does not drop a newer connection.
    pub conn: u64,
    /// Tasks sent and not yet answered, with their class.
    pub in_flight: HashMap<String, Class>,
    pub last_seen: Instant,
}

impl WorkerEntry {
    pub(super) fn new(capacity: u32, conn: u64, now: Instant) -> Self {
        Self {
            capacity: capacity.max(1),
            conn,
            in_flight: HashMap::new(),
            last_seen: now,
        }
    }

    /// Whether the window allows one more task.
    pub(super) fn has_room(&self, tasks_per_capacity: u32) -> bool {
        let window = self.capacity.saturating_mul(tasks_per_capacity.max(1)) as usize;
        self.in_flight.len() < window
    }

    /// Tasks of `class` in flight on this worker.
    pub(super) fn running(&self, class: Class) -> usize {
        self.in_flight.values().filter(|c| **c == class).count()
    }
}

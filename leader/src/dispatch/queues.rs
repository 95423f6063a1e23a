//! Where tracked tasks wait: ready tasks in one queue per owning worker and task class
//! (urgent ones first — re-sends of scans whose Job may still run — then by when they
//! became ready, then id), failed tasks on a timer until their retry
//! time, and ready tasks of namespaces nobody owns (no worker connected) aside.

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use super::tasks::Class;

type Entry = (Instant, String);
/// A ready task: not urgent sorts after urgent.
type Ready = (bool, Instant, String);

/// The ready queues and the retry timers.
#[derive(Debug, Default)]
pub struct Queues {
    by_worker: HashMap<String, [BTreeSet<Ready>; 3]>,
    unowned: BTreeSet<(bool, Instant, String, Class)>,
    timers: BTreeSet<Entry>,
}

impl Queues {
    /// Queues a ready task for `owner` (or aside, without one).
    pub fn push_ready(
        &mut self,
        owner: Option<&str>,
        class: Class,
        key: (bool, Instant),
        id: &str,
    ) {
        let (urgent, at) = key;
        match owner {
            Some(owner) => {
                self.by_worker.entry(owner.to_string()).or_default()[class.index()].insert((
                    !urgent,
                    at,
                    id.to_string(),
                ));
            }
            None => {
                self.unowned.insert((!urgent, at, id.to_string(), class));
            }
        }
    }

    /// Removes a ready task from where [`Queues::push_ready`] put it.
    pub fn remove_ready(
        &mut self,
        owner: Option<&str>,
        class: Class,
        key: (bool, Instant),
        id: &str,
    ) {
        let (urgent, at) = key;
        match owner {
            Some(owner) => {
                if let Some(queues) = self.by_worker.get_mut(owner) {
                    queues[class.index()].remove(&(!urgent, at, id.to_string()));
                }
            }
            None => {
                self.unowned.remove(&(!urgent, at, id.to_string(), class));
            }
        }
    }

    /// Puts a failed task on the timer.
    pub fn push_timer(&mut self, at: Instant, id: &str) {
        self.timers.insert((at, id.to_string()));
    }

    pub fn remove_timer(&mut self, at: Instant, id: &str) {
        self.timers.remove(&(at, id.to_string()));
    }

    /// Takes the timers due at `now`.
    pub fn due_timers(&mut self, now: Instant) -> Vec<Entry> {
        let mut due = Vec::new();
        while let Some(first) = self.timers.first() {
            if first.0 > now {
                break;
            }
            if let Some(entry) = self.timers.pop_first() {
                due.push(entry);
            }
        }
        due
    }

    /// The first ready task of `class` for `owner`.
    pub fn peek(&self, owner: &str, class: Class) -> Option<&str> {
        self.by_worker.get(owner)?[class.index()]
            .first()
            .map(|(_, _, id)| id.as_str())
    }

    /// The ready task of `class` for `owner` with the lowest `score` (`None`: not eligible),
    /// the earliest in queue order among equals; stops at the first score of 0.
    pub fn first_by_score(
        &self,
        owner: &str,
        class: Class,
        score: impl Fn(&str) -> Option<usize>,
    ) -> Option<&str> {
        let mut best: Option<(usize, &str)> = None;
        for (_, _, id) in self.by_worker.get(owner)?[class.index()].iter() {
            let Some(s) = score(id) else { continue };
            if best.is_none_or(|(b, _)| s < b) {
                best = Some((s, id.as_str()));
                if s == 0 {
                    break;
                }
            }
        }
        best.map(|(_, id)| id)
    }

    /// Empties every ready queue (after the set of workers changed) and returns what was in
    /// them, to be queued again under the new owners. Timers stay.
    pub fn drain_ready(&mut self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .unowned
            .iter()
            .map(|(_, _, id, _)| id.clone())
            .collect();
        self.unowned.clear();
        for (_, queues) in self.by_worker.drain() {
            for queue in queues {
                ids.extend(queue.into_iter().map(|(_, _, id)| id));
            }
        }
        ids
    }

    /// How many tasks are ready (queued) in all.
    pub fn ready_len(&self) -> usize {
        self.unowned.len()
            + self
                .by_worker
                .values()
                .map(|q| q.iter().map(BTreeSet::len).sum::<usize>())
                .sum::<usize>()
    }
}

//! Handing tasks out: the workers take turns, a worker takes the class it runs fewest of,
//! and scan Jobs go to the namespace with the fewest running, within the cluster-wide limit.

use std::collections::HashMap;
use std::time::Instant;

use common::proto;

use super::Dispatcher;
use super::tasks::{Class, TaskState};

impl Dispatcher {
    /// Picks the tasks to send now and marks them in flight: the workers take turns, one
    /// task each, until no window has room or nothing fits; a worker takes the class it
    /// runs fewest of (scan Jobs only while the cluster-wide limit allows), oldest first.
    pub fn next_sends(&mut self, now: Instant) -> Vec<(String, proto::Task)> {
        for (at, id) in self.queues.due_timers(now) {
            if let Some(task) = self.tasks.get_mut(&id)
                && matches!(task.state, TaskState::Failed { .. })
            {
                task.state = TaskState::Pending;
                task.ready_at = at;
                self.enqueue(&id);
            }
        }
        let ids: Vec<String> = self.workers.keys().cloned().collect();
        if ids.is_empty() {
            return Vec::new();
        }
        let mut sends = Vec::new();
        let mut progress = true;
        while progress {
            progress = false;
            for i in 0..ids.len() {
                let worker = &ids[(self.turn + i) % ids.len()];
                if let Some(task) = self.take_one(worker, now) {
                    sends.push((worker.clone(), task));
                    progress = true;
                }
            }
            self.turn = self.turn.wrapping_add(1);
        }
        sends
    }

    /// The next task for one worker, if its window has room and a task fits.
    fn take_one(&mut self, worker_id: &str, now: Instant) -> Option<proto::Task> {
        let worker = self.workers.get(worker_id)?;
        if !worker.has_room(self.config.tasks_per_capacity) {
            return None;
        }
        let jobs_full = self.scan_slots.len() >= self.config.max_concurrent_scans;
        let jobs_by_namespace = self.jobs_by_namespace();
        let (_, id) = Class::ALL
            .iter()
            .rev()
            .filter_map(|class| {
                let id = if *class == Class::Job {
                    self.fair_job(worker_id, jobs_full, &jobs_by_namespace)?
                } else {
                    self.queues.peek(worker_id, *class)?
                };
                Some((worker.running(*class), id.to_string()))
            })
            .min_by_key(|(running, _)| *running)?;
        let task = self.tasks.get_mut(&id)?;
        let (class, key) = (task.class(), task.queue_key());
        self.queues.remove_ready(Some(worker_id), class, key, &id);
        task.urgent = false;
        task.state = TaskState::InFlight {
            worker: worker_id.to_string(),
            since: now,
        };
        if class == Class::Job {
            self.scan_slots.insert(id.clone());
        }
        if !task.aliases.is_empty() {
            for alias in &task.aliases {
                *self.running_aliases.entry(alias.clone()).or_default() += 1;
            }
            self.in_flight_aliases
                .insert(id.clone(), task.aliases.clone());
        }
        let proto = task.task.clone();
        if let Some(w) = self.workers.get_mut(worker_id) {
            w.in_flight.insert(id, class);
        }
        Some(proto)
    }

    /// Scan Jobs running now, by the namespace of their task.
    fn jobs_by_namespace(&self) -> HashMap<&str, usize> {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for id in &self.scan_slots {
            if let Some(task) = self.tasks.get(id) {
                *counts.entry(task.fairness_key()).or_default() += 1;
            }
        }
        counts
    }

    /// The scan Job `worker_id` runs next: a re-send that still holds its slot first, else —
    /// while the cluster-wide limit allows — the oldest ready task of the namespace with the
    /// fewest Jobs running (so one namespace's slow images cannot hold every slot), never
    /// one of a namespace at its cap, and never one of an image being scanned now under
    /// another key (one queued for the image's reference while its digest's went out in the
    /// same fill): it waits, and is planned again — to copy — when that scan ends.
    fn fair_job(
        &self,
        worker_id: &str,
        jobs_full: bool,
        running: &HashMap<&str, usize>,
    ) -> Option<&str> {
        let cap = self.config.max_scans_per_namespace;
        self.queues.first_by_score(worker_id, Class::Job, |id| {
            if self.scan_slots.contains(id) {
                return Some(0);
            }
            if jobs_full {
                return None;
            }
            let task = self.tasks.get(id)?;
            if task
                .aliases
                .iter()
                .any(|a| self.running_aliases.contains_key(a))
            {
                return None;
            }
            let n = running.get(task.fairness_key()).copied().unwrap_or(0);
            (cap == 0 || n < cap).then_some(n)
        })
    }
}

//! Incremental planning: a round re-plans only what changed. Watch events mark workloads
//! dirty ([`Observed`]); a round applies the pure rules of [`crate::plan`] and
//! [`crate::plan_scans`] to those workloads, files their due containers by scan key, and
//! rebuilds the scan task of each key whose members changed. Reports ageing past the TTL,
//! covers ending, scans leaving flight and trusted sources appearing or vanishing mark their
//! workloads or keys dirty too. A round costs O(what changed); a full re-plan (every
//! workload dirty) is only a periodic safety net.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Instant;

use crate::dispatch::{Dispatcher, TaskState, subscriber_cover_key};
use crate::observed::{Observed, Source};
use crate::plan::{self, ConfigHashes};
use crate::plan_scans::{self, DueContainer, ScanPolicy, SubscriberKey};
use crate::scope::Scope;

/// What one round looks at.
pub struct Inputs<'a> {
    pub scope: &'a Scope,
    /// Config hashes of the last policy config that compiled; `None`: audits wait.
    pub hashes: Option<&'a ConfigHashes>,
    /// Scan planning; `None`: vulnerability scans are off.
    pub scans: Option<ScanPolicy>,
    pub now: Instant,
}

/// What one round did, for metrics and benchmarks.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RoundStats {
    pub workloads: usize,
    pub keys: usize,
}

/// The planner's own state: due containers filed by scan key, what waits for what.
#[derive(Debug, Default)]
pub struct Planner {
    /// Due containers by scan key.
    book: HashMap<String, BTreeMap<SubscriberKey, DueContainer>>,
    /// Where each workload's due containers are filed.
    filed: HashMap<String, Vec<(String, SubscriberKey)>>,
    /// Scan keys whose task must be rebuilt.
    dirty_keys: HashSet<String>,
    /// Keys waiting for a scan in flight, by the alias they wait on.
    waiting: HashMap<String, HashSet<String>>,
    /// When each workload's first fresh report goes stale.
    expiries: BTreeSet<(jiff::Timestamp, String)>,
    expiry_of: HashMap<String, jiff::Timestamp>,
}

impl Planner {
    /// Re-plans the dirty workloads and keys; returns how many were planned.
    pub fn round(
        &mut self,
        observed: &mut Observed,
        dispatcher: &mut Dispatcher,
        inputs: &Inputs,
    ) -> RoundStats {
        let mut uids = observed.take_dirty();
        self.dirty_keys.extend(observed.lost_sources.drain(..));
        let released = dispatcher.take_released();
        self.released(&released);
        for uid in dispatcher.expire_covers(inputs.now) {
            observed.nodes.cover_ended(&uid);
            observed.objects.touch(&uid);
            // Its filed containers may be unchanged, but their keys must look again.
            for (key, _) in self.filed.get(&uid).into_iter().flatten() {
                self.dirty_keys.insert(key.clone());
            }
            uids.insert(uid);
        }
        if let Some(policy) = inputs.scans {
            while let Some((at, _)) = self.expiries.first() {
                if *at > policy.now {
                    break;
                }
                if let Some((_, uid)) = self.expiries.pop_first() {
                    self.expiry_of.remove(&uid);
                    uids.insert(uid);
                }
            }
        }
        let workloads = uids.len();
        for uid in &uids {
            self.plan_workload(observed, dispatcher, inputs, uid);
        }
        let keys: Vec<String> = self.dirty_keys.drain().collect();
        for key in &keys {
            self.plan_key(observed, dispatcher, inputs, key);
        }
        RoundStats {
            workloads,
            keys: keys.len(),
        }
    }

    /// Every workload and key is re-planned at the next round.
    pub fn mark_all_dirty(&mut self, observed: &mut Observed) {
        observed.mark_all_dirty();
        self.dirty_keys.extend(self.book.keys().cloned());
    }

    /// A scan known by these aliases left flight: what waited for it is re-planned.
    pub fn released(&mut self, aliases: &[String]) {
        for alias in aliases {
            if let Some(keys) = self.waiting.remove(alias) {
                self.dirty_keys.extend(keys);
            }
            self.dirty_keys.insert(alias.clone());
        }
    }

    /// These keys gained or lost a trusted source.
    pub fn sources_changed(&mut self, keys: impl IntoIterator<Item = String>) {
        self.dirty_keys.extend(keys);
    }

    /// Scan keys with due containers now.
    pub fn keys_len(&self) -> usize {
        self.book.len()
    }

    fn plan_workload(
        &mut self,
        observed: &mut Observed,
        dispatcher: &mut Dispatcher,
        inputs: &Inputs,
        uid: &str,
    ) {
        let workload = observed
            .workloads
            .get(uid)
            .filter(|w| plan::is_scanned(observed, inputs.scope, w));
        let audit = workload
            .zip(inputs.hashes)
            .and_then(|(w, hashes)| plan::due_audit(observed, w, hashes))
            .filter(|due| !dispatcher.covered(&due.task.task_id));
        // (A ConfigAuditReport of a Service or another audited object dirties its owner's uid
        // here too: that object's kept JSON is the objects round's to drop.)
        if audit.is_none()
            && (inputs.hashes.is_some() || workload.is_none())
            && !observed.objects.records.contains_key(uid)
        {
            // Audited (or not to be): the object kept for its audit is not needed.
            observed.audit_objects.remove(uid);
        }
        dispatcher.upsert(&plan::audit_slot(uid), audit, inputs.now);
        let observed = &*observed;
        let due: Vec<DueContainer> = match (workload, inputs.scans) {
            (Some(w), Some(policy)) => {
                self.set_expiry(uid, plan_scans::next_expiry(observed, w, policy));
                plan_scans::due_containers(observed, w, policy)
                    .into_iter()
                    .filter(|d| {
                        !dispatcher.covered(&subscriber_cover_key(
                            &d.workload.uid,
                            &d.container,
                            &d.spec_hash,
                        ))
                    })
                    .collect()
            }
            _ => {
                self.set_expiry(uid, None);
                Vec::new()
            }
        };
        self.file(uid, due);
    }

    /// Files a workload's due containers under their keys, marking the keys whose members
    /// changed.
    fn file(&mut self, uid: &str, due: Vec<DueContainer>) {
        let old = self.filed.remove(uid).unwrap_or_default();
        let mut new = Vec::with_capacity(due.len());
        for d in due {
            let (key, sub) = (d.key.clone(), d.subscriber_key());
            let members = self.book.entry(key.clone()).or_default();
            if members.get(&sub) != Some(&d) {
                members.insert(sub.clone(), d);
                self.dirty_keys.insert(key.clone());
            }
            new.push((key, sub));
        }
        for entry in old {
            if new.contains(&entry) {
                continue;
            }
            let (key, sub) = entry;
            if let Some(members) = self.book.get_mut(&key) {
                members.remove(&sub);
                if members.is_empty() {
                    self.book.remove(&key);
                }
            }
            self.dirty_keys.insert(key);
        }
        if !new.is_empty() {
            self.filed.insert(uid.to_string(), new);
        }
    }

    fn set_expiry(&mut self, uid: &str, at: Option<jiff::Timestamp>) {
        if self.expiry_of.get(uid) == at.as_ref() {
            return;
        }
        if let Some(old) = self.expiry_of.remove(uid) {
            self.expiries.remove(&(old, uid.to_string()));
        }
        if let Some(at) = at {
            self.expiries.insert((at, uid.to_string()));
            self.expiry_of.insert(uid.to_string(), at);
        }
    }

    /// Rebuilds the task of one scan key from its members.
    fn plan_key(
        &mut self,
        observed: &Observed,
        dispatcher: &mut Dispatcher,
        inputs: &Inputs,
        key: &str,
    ) {
        let slot = plan_scans::scan_slot(key);
        let (Some(members), Some(policy)) = (self.book.get(key), inputs.scans) else {
            dispatcher.upsert(&slot, None, inputs.now);
            return;
        };
        // Members a scan just served wait for their report, not for another scan.
        let members: Vec<&DueContainer> = members
            .values()
            .filter(|d| {
                !dispatcher.covered(&subscriber_cover_key(
                    &d.workload.uid,
                    &d.container,
                    &d.spec_hash,
                ))
            })
            .collect();
        if members.is_empty() {
            if !dispatcher
                .task_of(&slot)
                .is_some_and(|t| matches!(t.state, TaskState::InFlight { .. }))
            {
                dispatcher.upsert(&slot, None, inputs.now);
            }
            return;
        }
        let own_in_flight = dispatcher
            .task_of(&slot)
            .is_some_and(|t| matches!(t.state, TaskState::InFlight { .. }));
        let aliases = plan_scans::aliases(key, members.iter().copied());
        if own_in_flight {
            // Its result re-plans this key (the dispatcher keeps the task as it is).
            self.waiting
                .entry(key.to_string())
                .or_default()
                .insert(key.to_string());
            return;
        }
        if let Some(busy) = aliases.iter().find(|a| dispatcher.alias_running(a)) {
            // The same image is being scanned under another key: wait, then copy it.
            self.waiting
                .entry(busy.clone())
                .or_default()
                .insert(key.to_string());
            dispatcher.upsert(&slot, None, inputs.now);
            return;
        }
        let source: Option<&Source> = aliases
            .iter()
            .filter_map(|a| observed.ledger.get(a))
            .find(|s| plan_scans::source_is_fresh(s, policy));
        let mut task = plan_scans::scan_task(key, &members, source);
        if source.is_none()
            && let Some(scan) = task.task.scan.as_mut()
        {
            scan.stored_bom = plan_scans::stored_bom(key, observed.ledger.get(key), policy);
        }
        if source.is_none() {
            // Another key's scan of the same image may go out first (the dispatcher then
            // holds this one back): its end re-plans this key, which then copies it.
            for alias in aliases.iter().filter(|a| a.as_str() != key) {
                self.waiting
                    .entry(alias.clone())
                    .or_default()
                    .insert(key.to_string());
            }
        }
        dispatcher.upsert(&slot, Some(task), inputs.now);
    }
}

#[cfg(test)]
mod tests;

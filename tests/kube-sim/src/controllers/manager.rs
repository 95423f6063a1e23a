//! The controller manager: one task that feeds the [`Cache`] from the store-wide event
//! stream, turns events into work items (reconcile an object, garbage-collect a dependent,
//! finish a foreground/orphan deletion) and runs them, plus a 1 s tick for what depends on
//! time (Job deadlines and TTLs, CronJob schedules). One worker, like a controller with
//! `--concurrent-*-syncs=1`.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::broadcast::error::TryRecvError;

use super::cache::{Cache, ObjRef, owner_refs};
use super::{cronjob, deployment, gc, job, pods_owner};
use crate::SimState;
use crate::store::{
    DeleteOptions, DeleteOutcome, EventType, GroupResource, PropagationPolicy, Store, StoreError,
    WatchEvent, WriteOptions, meta,
};

/// A unit of work.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Work {
    /// Run the controller of this object's kind.
    Reconcile(ObjRef),
    /// Delete this object if all its owners are gone; drop dangling owner references.
    GcDependent(ObjRef),
    /// This object is being deleted with `foregroundDeletion` or `orphan`: handle dependents.
    GcOwner(ObjRef),
}

/// The controllers' view of the world and their way to change it.
pub struct Ctx {
    /// The store.
    pub store: Arc<Store>,
    /// The informer cache.
    pub cache: Cache,
    /// Fake node names (DaemonSets).
    pub nodes: Vec<String>,
    /// Job bookkeeping that real Jobs keep with pod finalizers.
    pub jobs: job::Memory,
    queue: VecDeque<Work>,
    queued: HashSet<Work>,
}

/// Kinds whose objects the cache keeps whole.
pub fn tracked() -> Vec<GroupResource> {
    vec![
        GroupResource::new("apps", "deployments"),
        GroupResource::new("apps", "replicasets"),
        GroupResource::new("apps", "statefulsets"),
        GroupResource::new("apps", "daemonsets"),
        GroupResource::new("", "replicationcontrollers"),
        GroupResource::new("batch", "jobs"),
        GroupResource::new("batch", "cronjobs"),
        GroupResource::new("", "pods"),
    ]
}

fn is_controller_kind(gr: &GroupResource) -> bool {
    gr.resource != "pods" && tracked().contains(gr)
}

impl Ctx {
    /// A context over a store.
    pub fn new(store: Arc<Store>, nodes: Vec<String>) -> Ctx {
        Ctx {
            store,
            cache: Cache::new(tracked()),
            nodes,
            jobs: job::Memory::default(),
            queue: VecDeque::new(),
            queued: HashSet::new(),
        }
    }

    /// Queues work (once).
    pub fn enqueue(&mut self, work: Work) {
        if self.queued.insert(work.clone()) {
            self.queue.push_back(work);
        }
    }

    /// Creates an object (its status kept as given) and records it in the cache.
    pub fn create(&mut self, gr: &GroupResource, obj: Value) -> Option<Arc<Value>> {
        let opts = WriteOptions {
            keep_status: true,
            ..Default::default()
        };
        match self.store.create_opts(gr, obj, &opts) {
            Ok(created) => {
                self.cache.apply(gr, EventType::Added, &created);
                Some(created)
            }
            Err(e) => {
                tracing::debug!(%gr, error = %e, "controller create failed");
                None
            }
        }
    }

    /// Read-modify-write of an object (or of its status) through the store, cached.
    pub fn modify(
        &mut self,
        key: &ObjRef,
        status_only: bool,
        f: impl FnMut(&mut Value),
    ) -> Option<Arc<Value>> {
        match self.store.modify(&key.0, &key.1, &key.2, status_only, f) {
            Ok(obj) => {
                self.cache.apply(&key.0, EventType::Modified, &obj);
                Some(obj)
            }
            Err(e) => {
                tracing::debug!(gr = %key.0, name = %key.2, error = %e, "controller update failed");
                None
            }
        }
    }

    /// Deletes an object (precondition: `uid`, when given), cached.
    pub fn delete(&mut self, key: &ObjRef, policy: PropagationPolicy, uid: Option<&str>) {
        let opts = DeleteOptions {
            propagation_policy: Some(policy),
            precondition_uid: uid.map(str::to_string),
            ..Default::default()
        };
        match self.store.delete(&key.0, &key.1, &key.2, &opts) {
            Ok(DeleteOutcome::Deleted(obj)) => {
                self.cache
                    .deleted(key, meta::resource_version(&obj).unwrap_or(0));
            }
            Ok(DeleteOutcome::Pending(obj)) => {
                self.cache.apply(&key.0, EventType::Modified, &obj);
            }
            Err(StoreError::NotFound { .. }) => {}
            Err(e) => {
                tracing::debug!(gr = %key.0, name = %key.2, error = %e, "controller delete failed")
            }
        }
    }

    fn on_event(&mut self, ev: &WatchEvent) {
        self.on_change(&ev.gr, ev.type_, &ev.object);
    }

    fn on_change(&mut self, gr: &GroupResource, type_: EventType, obj: &Arc<Value>) {
        if !self.cache.apply(gr, type_, obj) {
            return;
        }
        let key: ObjRef = (
            gr.clone(),
            meta::namespace(obj).to_string(),
            meta::name(obj).to_string(),
        );
        if is_controller_kind(gr) {
            self.enqueue(Work::Reconcile(key.clone()));
        }
        let refs = owner_refs(obj);
        for r in &refs {
            if let Some(owner) = self.cache.by_uid(&r.uid).cloned() {
                if is_controller_kind(&owner.0) {
                    self.enqueue(Work::Reconcile(owner.clone()));
                }
                if type_ == EventType::Deleted {
                    self.enqueue(Work::GcOwner(owner));
                }
            }
        }
        if type_ == EventType::Deleted {
            for dep in self.cache.dependents(super::cache::uid(obj)) {
                self.enqueue(Work::GcDependent(dep));
            }
            return;
        }
        if !refs.is_empty() {
            self.enqueue(Work::GcDependent(key.clone()));
        }
        if obj.pointer("/metadata/deletionTimestamp").is_some() {
            let f = meta::finalizers(obj);
            if f.iter().any(|f| f == gc::FOREGROUND || f == gc::ORPHAN) {
                self.enqueue(Work::GcOwner(key));
            }
        }
    }

    /// Re-lists everything into a fresh cache and queues a full check.
    fn resync(&mut self) {
        self.cache.clear();
        let grs: Vec<GroupResource> = self
            .store
            .registry()
            .all()
            .map(|info| info.group_resource())
            .collect();
        for gr in grs {
            let Ok(page) = self.store.list(&gr, None) else {
                continue;
            };
            for obj in &page.items {
                self.on_change(&gr, EventType::Added, obj);
            }
        }
    }

    fn tick(&mut self) {
        for gr in [
            GroupResource::new("batch", "jobs"),
            GroupResource::new("batch", "cronjobs"),
        ] {
            for obj in self.cache.all(&gr) {
                let key = (
                    gr.clone(),
                    meta::namespace(&obj).to_string(),
                    meta::name(&obj).to_string(),
                );
                self.enqueue(Work::Reconcile(key));
            }
        }
    }

    /// Runs up to `budget` queued work items.
    fn work(&mut self, budget: usize) {
        for _ in 0..budget {
            let Some(work) = self.queue.pop_front() else {
                return;
            };
            self.queued.remove(&work);
            match &work {
                Work::Reconcile(key) => match key.0.resource.as_str() {
                    "deployments" => deployment::reconcile(self, key),
                    "jobs" => job::reconcile(self, key),
                    "cronjobs" => cronjob::reconcile(self, key),
                    _ => pods_owner::reconcile(self, key),
                },
                Work::GcDependent(key) => gc::check_dependent(self, key),
                Work::GcOwner(key) => gc::process_owner(self, key),
            }
        }
    }
}

/// Runs the manager until the store closes.
pub async fn run(state: Arc<SimState>, nodes: Vec<String>) {
    let mut rx = state.store.watch_all();
    let mut ctx = Ctx::new(state.store.clone(), nodes);
    ctx.resync();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            ev = rx.recv() => match ev {
                Ok(ev) => ctx.on_event(&ev),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    rx = state.store.watch_all();
                    ctx.resync();
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            },
            _ = tick.tick() => ctx.tick(),
            () = std::future::ready(()), if !ctx.queue.is_empty() => {}
        }
        loop {
            match rx.try_recv() {
                Ok(ev) => ctx.on_event(&ev),
                Err(TryRecvError::Lagged(_)) => {
                    rx = state.store.watch_all();
                    ctx.resync();
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Closed) => return,
            }
        }
        ctx.work(256);
        tokio::task::yield_now().await;
    }
}

//! The in-memory object store behind kube-sim, usable directly from Rust.
//!
//! Objects are `serde_json::Value`s keyed by [`GroupResource`] (group + plural, independent
//! of the version), namespace (`""` for cluster-scoped) and name. Every write takes the next
//! value of one global, monotonically increasing resourceVersion and is published as a
//! [`WatchEvent`] to the resource's subscribers ([`Store::watch`]) and to the store-wide
//! stream ([`Store::watch_all`]). A bounded history of events per resource lets a watch start
//! from an older resourceVersion; a version older than the history gives
//! [`StoreError::Gone`] (410 Expired).
//!
//! The semantics are those of the real API server:
//! - create sets uid, creationTimestamp, resourceVersion, generation 1, handles
//!   `generateName`, requires the namespace to exist and not be terminating, and (for kinds with
//!   a status subresource) resets `.status` unless [`WriteOptions::keep_status`];
//! - update checks the resourceVersion precondition (stale → Conflict; absent → unconditional),
//!   keeps `.status` (main resource) or changes only `.status` ([`Store::update_status`]),
//!   bumps `generation` when anything outside metadata/status changes, and is a no-op (same
//!   resourceVersion, no event) when nothing changes;
//! - delete of an object with finalizers (or with Foreground/Orphan propagation, which add the
//!   `foregroundDeletion`/`orphan` finalizer) only sets `deletionTimestamp`; the object goes
//!   away when an update removes its last finalizer. Dependents are the garbage collector's job.
//! - deleting a Namespace marks it Terminating; [`Store::reap_namespaces`] (called periodically
//!   by the server) deletes its contents and then the namespace.
//! - creating a CustomResourceDefinition registers its resource (see [`Store::registry`]);
//!   deleting it unregisters the resource and deletes its objects.
//!
//! Never call store methods from inside a [`Store::modify`] closure (the store lock is held).

mod builtins;
mod crd;
mod delete;
pub mod meta;
mod meta_ops;
mod namespaces;
pub mod registry;
pub mod storage;
mod types;
mod update;
mod watch;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard};

use serde_json::Value;
use tokio::sync::broadcast;

pub use registry::{GroupResource, PrinterColumn, Registry, ResourceInfo};
pub use types::{
    DeleteOptions, DeleteOutcome, EventType, Invalid, PropagationPolicy, StoreError, WatchEvent,
    WriteOptions,
};
pub use watch::{Watch, WatchError, WatchFrom};

/// Default number of events kept per resource for watches from an older resourceVersion.
pub const DEFAULT_HISTORY: usize = 10_000;
const CHANNEL_CAPACITY: usize = 16_384;

/// `(namespace, name)`; namespace is `""` for cluster-scoped objects.
pub type ObjectKey = (String, String);

/// One page of a list.
#[derive(Debug, Clone)]
pub struct ListPage {
    /// Matching objects, ordered by namespace then name.
    pub items: Vec<Arc<Value>>,
    /// The store's resourceVersion when the page was read.
    pub resource_version: u64,
    /// Key of the last item returned when more matching items remain (for `continue`).
    pub next: Option<ObjectKey>,
}

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    /// Only this namespace (`None`: all namespaces).
    pub namespace: Option<String>,
    /// Start strictly after this key (pagination).
    pub after: Option<ObjectKey>,
    /// At most this many items (`None`: all).
    pub limit: Option<usize>,
}

pub(crate) struct ResourceData {
    pub(crate) objects: BTreeMap<ObjectKey, Arc<Value>>,
    pub(crate) history: VecDeque<Arc<WatchEvent>>,
    /// Every event of this resource with a resourceVersion above this is in `history`.
    pub(crate) history_floor: u64,
    pub(crate) tx: broadcast::Sender<Arc<WatchEvent>>,
}

impl ResourceData {
    /// Empty data for a resource that has had no events yet (so no event was ever dropped).
    pub(crate) fn new() -> Self {
        Self {
            objects: BTreeMap::new(),
            history: VecDeque::new(),
            history_floor: 0,
            tx: broadcast::channel(CHANNEL_CAPACITY).0,
        }
    }
}

pub(crate) struct Inner {
    pub(crate) rv: u64,
    pub(crate) resources: HashMap<GroupResource, ResourceData>,
}

/// The store. Cheap to share as `Arc<Store>`; all methods take `&self`.
pub struct Store {
    inner: Mutex<Inner>,
    registry: RwLock<Registry>,
    all_tx: broadcast::Sender<Arc<WatchEvent>>,
    history_limit: AtomicUsize,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("resource_version", &self.resource_version())
            .finish()
    }
}

impl Default for Store {
    fn default() -> Self {
        Self::new()
    }
}

impl Store {
    /// An empty store with the built-in kinds registered and the `default`, `kube-system`,
    /// `kube-public` and `kube-node-lease` namespaces created.
    pub fn new() -> Self {
        let store = Self {
            inner: Mutex::new(Inner {
                rv: 0,
                resources: HashMap::new(),
            }),
            registry: RwLock::new(Registry::with_builtins()),
            all_tx: broadcast::channel(CHANNEL_CAPACITY).0,
            history_limit: AtomicUsize::new(DEFAULT_HISTORY),
        };
        let ns = GroupResource::new("", "namespaces");
        for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            let obj = serde_json::json!({"apiVersion": "v1", "kind": "Namespace",
                                         "metadata": {"name": name}});
            // Cannot fail on an empty store with valid names.
            let _ = store.create(&ns, obj);
        }
        store
    }

    /// Sets how many events per resource are kept for watches from an older version
    /// (tests use a tiny history to force 410 Gone).
    pub fn set_history_limit(&self, n: usize) {
        self.history_limit.store(n.max(1), Ordering::Relaxed);
    }

    /// The current (latest) resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.lock().rv
    }

    /// Read access to the registry of served resource types.
    pub fn registry(&self) -> RwLockReadGuard<'_, Registry> {
        self.registry.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The registered info for a resource, or [`StoreError::UnknownResource`].
    pub fn resource_info(&self, gr: &GroupResource) -> Result<ResourceInfo, StoreError> {
        self.registry()
            .get(gr)
            .cloned()
            .ok_or_else(|| StoreError::UnknownResource(gr.clone()))
    }

    pub(crate) fn registry_mut(&self) -> std::sync::RwLockWriteGuard<'_, Registry> {
        self.registry.write().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Gets one object; `namespace` is `""` for cluster-scoped resources.
    pub fn get(
        &self,
        gr: &GroupResource,
        namespace: &str,
        name: &str,
    ) -> Result<Arc<Value>, StoreError> {
        self.resource_info(gr)?;
        let inner = self.lock();
        inner
            .resources
            .get(gr)
            .and_then(|r| r.objects.get(&(namespace.to_owned(), name.to_owned())))
            .cloned()
            .ok_or_else(|| StoreError::NotFound {
                gr: gr.clone(),
                name: name.to_owned(),
            })
    }

    /// Lists all objects of a resource, in one namespace (`Some`) or all (`None`).
    pub fn list(
        &self,
        gr: &GroupResource,
        namespace: Option<&str>,
    ) -> Result<ListPage, StoreError> {
        let opts = ListOptions {
            namespace: namespace.map(str::to_owned),
            ..Default::default()
        };
        self.list_where(gr, &opts, |_| true)
    }

    /// Lists objects matching `pred` (evaluated under the store lock: keep it cheap and do
    /// not call the store from it), with pagination.
    pub fn list_where(
        &self,
        gr: &GroupResource,
        opts: &ListOptions,
        pred: impl Fn(&Value) -> bool,
    ) -> Result<ListPage, StoreError> {
        self.resource_info(gr)?;
        let inner = self.lock();
        let mut page = ListPage {
            items: Vec::new(),
            resource_version: inner.rv,
            next: None,
        };
        let Some(data) = inner.resources.get(gr) else {
            return Ok(page);
        };
        let limit = opts.limit.filter(|l| *l > 0).unwrap_or(usize::MAX);
        let start = match (&opts.after, &opts.namespace) {
            (Some(after), _) => std::ops::Bound::Excluded(after.clone()),
            (None, Some(ns)) => std::ops::Bound::Included((ns.clone(), String::new())),
            (None, None) => std::ops::Bound::Unbounded,
        };
        for (key, obj) in data.objects.range((start, std::ops::Bound::Unbounded)) {
            if let Some(ns) = &opts.namespace
                && key.0 != *ns
            {
                if key.0 > *ns {
                    break;
                }
                continue;
            }
            if !pred(obj) {
                continue;
            }
            if page.items.len() == limit {
                page.next = page
                    .items
                    .last()
                    .map(|o| (meta::namespace(o).to_owned(), meta::name(o).to_owned()));
                break;
            }
            page.items.push(obj.clone());
        }
        Ok(page)
    }

    /// Creates an object (namespace from `metadata.namespace`).
    pub fn create(&self, gr: &GroupResource, obj: Value) -> Result<Arc<Value>, StoreError> {
        self.create_opts(gr, obj, &WriteOptions::default())
    }

    /// Replaces an object (main resource: `.status` is kept for kinds with a status
    /// subresource). A `metadata.resourceVersion` in `obj` is a precondition.
    pub fn update(&self, gr: &GroupResource, obj: Value) -> Result<Arc<Value>, StoreError> {
        self.update_opts(gr, obj, false, &WriteOptions::default())
    }

    /// Replaces only `.status` of an object (the `status` subresource).
    pub fn update_status(&self, gr: &GroupResource, obj: Value) -> Result<Arc<Value>, StoreError> {
        self.update_opts(gr, obj, true, &WriteOptions::default())
    }

    /// Deletes an object with the given options (see [`DeleteOutcome`]).
    pub fn delete(
        &self,
        gr: &GroupResource,
        namespace: &str,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<DeleteOutcome, StoreError> {
        self.delete_opts(gr, namespace, name, opts)
    }

    /// Appends an event to a resource's history and publishes it. Called with the lock held.
    pub(crate) fn publish(&self, inner: &mut Inner, ev: WatchEvent) {
        let limit = self.history_limit.load(Ordering::Relaxed);
        let data = inner
            .resources
            .entry(ev.gr.clone())
            .or_insert_with(ResourceData::new);
        let ev = Arc::new(ev);
        data.history.push_back(ev.clone());
        while data.history.len() > limit {
            if let Some(old) = data.history.pop_front() {
                data.history_floor = old.resource_version;
            }
        }
        let _ = data.tx.send(ev.clone());
        let _ = self.all_tx.send(ev);
    }
}

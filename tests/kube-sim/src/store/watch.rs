//! Subscriptions to changes: per-resource watches that can start from a resourceVersion (with
//! replay from the bounded history) or from a snapshot, and the store-wide event stream.

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::broadcast;

use super::{EventType, GroupResource, ResourceData, Store, StoreError, WatchEvent};

/// Where a watch starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchFrom {
    /// Only changes after now.
    Now,
    /// Changes after this resourceVersion (replayed from history), or
    /// [`StoreError::Gone`] if the history no longer reaches back that far.
    Version(u64),
    /// A synthetic ADDED event for every current object, then changes after now
    /// (what `watch` with `resourceVersion` "0" or absent does).
    Snapshot,
}

/// Why [`Watch::next`] returned no event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WatchError {
    /// The subscriber fell too far behind and missed events: restart from the last version
    /// seen (or re-list if that is too old).
    #[error("watcher fell behind and missed events")]
    Lagged,
    /// The store is gone.
    #[error("store closed")]
    Closed,
}

/// A subscription to one resource's changes, optionally in one namespace.
#[derive(Debug)]
pub struct Watch {
    initial: VecDeque<Arc<WatchEvent>>,
    rx: broadcast::Receiver<Arc<WatchEvent>>,
    namespace: Option<String>,
    /// The store's resourceVersion when the watch started: every event after it is delivered.
    pub start_resource_version: u64,
}

impl Watch {
    /// The next event (replayed or synthetic ones first, then live ones), in order.
    pub async fn next(&mut self) -> Result<Arc<WatchEvent>, WatchError> {
        if let Some(ev) = self.initial.pop_front() {
            return Ok(ev);
        }
        loop {
            match self.rx.recv().await {
                Ok(ev) => {
                    if self
                        .namespace
                        .as_deref()
                        .is_none_or(|ns| ev.namespace() == ns)
                    {
                        return Ok(ev);
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => return Err(WatchError::Lagged),
                Err(broadcast::error::RecvError::Closed) => return Err(WatchError::Closed),
            }
        }
    }

    /// The next event if one is ready now, without waiting.
    pub fn try_next(&mut self) -> Option<Result<Arc<WatchEvent>, WatchError>> {
        if let Some(ev) = self.initial.pop_front() {
            return Some(Ok(ev));
        }
        loop {
            match self.rx.try_recv() {
                Ok(ev) => {
                    if self
                        .namespace
                        .as_deref()
                        .is_none_or(|ns| ev.namespace() == ns)
                    {
                        return Some(Ok(ev));
                    }
                }
                Err(broadcast::error::TryRecvError::Empty) => return None,
                Err(broadcast::error::TryRecvError::Lagged(_)) => {
                    return Some(Err(WatchError::Lagged));
                }
                Err(broadcast::error::TryRecvError::Closed) => {
                    return Some(Err(WatchError::Closed));
                }
            }
        }
    }

    /// Events already queued (replayed/synthetic) and not yet returned by [`Watch::next`].
    pub fn pending_initial(&self) -> usize {
        self.initial.len()
    }
}

impl Store {
    /// Subscribes to a resource's changes, in one namespace (`Some`) or all (`None`).
    /// Nothing is lost or duplicated between the replayed/synthetic events and live ones.
    pub fn watch(
        &self,
        gr: &GroupResource,
        namespace: Option<&str>,
        from: WatchFrom,
    ) -> Result<Watch, StoreError> {
        self.resource_info(gr)?;
        let mut inner = self.lock();
        let rv = inner.rv;
        let data = inner
            .resources
            .entry(gr.clone())
            .or_insert_with(ResourceData::new);
        let in_ns = |ns: &str| namespace.is_none_or(|want| want == ns);
        let initial: VecDeque<Arc<WatchEvent>> = match from {
            WatchFrom::Now => VecDeque::new(),
            WatchFrom::Version(since) => {
                if since < data.history_floor {
                    return Err(StoreError::Gone {
                        requested: since,
                        oldest: data.history_floor,
                    });
                }
                data.history
                    .iter()
                    .filter(|e| e.resource_version > since && in_ns(e.namespace()))
                    .cloned()
                    .collect()
            }
            WatchFrom::Snapshot => data
                .objects
                .iter()
                .filter(|((ns, _), _)| in_ns(ns))
                .map(|(_, obj)| {
                    let orv = super::meta::resource_version(obj).unwrap_or(rv);
                    Arc::new(WatchEvent::new(
                        gr.clone(),
                        EventType::Added,
                        obj.clone(),
                        orv,
                    ))
                })
                .collect(),
        };
        Ok(Watch {
            initial,
            rx: data.tx.subscribe(),
            namespace: namespace.map(str::to_owned),
            start_resource_version: rv,
        })
    }

    /// Every change to every resource from now on (no history). On
    /// `RecvError::Lagged` the subscriber missed events and should re-list what it tracks.
    pub fn watch_all(&self) -> broadcast::Receiver<Arc<WatchEvent>> {
        self.all_tx.subscribe()
    }
}

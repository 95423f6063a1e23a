//! Namespace sharding by weighted rendezvous (highest-random-weight) hashing.
//!
//! Every (namespace, worker) pair gets a pseudo-random `u` in (0, 1) from SHA-256 of the
//! pair, and the score `-capacity / ln(u)`; the namespace belongs to the worker with the
//! highest score. Each worker then owns a share of namespaces proportional to its capacity,
//! and a worker joining or leaving only moves namespaces to or from itself: the scores of
//! the other pairs do not change. The hash is fixed (not std's per-process randomized
//! hasher), so the leader and any replacement leader compute the same assignment.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

/// A worker that can own namespaces, with its relative capacity.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WorkerSlot {
    /// Unique worker id.
    pub id: String,
    /// Relative capacity; a worker with capacity 0 owns nothing.
    pub capacity: u32,
}

impl WorkerSlot {
    /// A worker slot.
    pub fn new(id: impl Into<String>, capacity: u32) -> Self {
        Self {
            id: id.into(),
            capacity,
        }
    }
}

/// The pair's hash as a uniform number in the open interval (0, 1).
fn unit_hash(namespace: &str, worker_id: &str) -> f64 {
    let mut h = Sha256::new();
    // Length prefix, so ("ab", "c") and ("a", "bc") hash differently.
    h.update((namespace.len() as u64).to_le_bytes());
    h.update(namespace.as_bytes());
    h.update(worker_id.as_bytes());
    let digest = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    // 53 random bits, shifted by half a step so that neither 0 nor 1 can occur.
    let bits = u64::from_le_bytes(first) >> 11;
    (bits as f64 + 0.5) / (1u64 << 53) as f64
}

/// The weighted rendezvous score of a worker for a namespace; higher wins.
pub fn score(namespace: &str, worker: &WorkerSlot) -> f64 {
    -f64::from(worker.capacity) / unit_hash(namespace, &worker.id).ln()
}

/// The worker that owns `namespace`: the highest score, ties going to the smallest id.
/// `None` when no worker has a capacity above 0.
pub fn owner_of<'a>(namespace: &str, workers: &'a [WorkerSlot]) -> Option<&'a WorkerSlot> {
    workers
        .iter()
        .filter(|w| w.capacity > 0)
        .map(|w| (score(namespace, w), w))
        .max_by(|(sa, a), (sb, b)| sa.total_cmp(sb).then_with(|| b.id.cmp(&a.id)))
        .map(|(_, w)| w)
}

/// The namespaces of each worker, keyed by worker id. Every worker has an entry (possibly
/// empty); each list is sorted. Namespaces are dropped when no worker can own them.
pub fn assign<S: AsRef<str>>(
    namespaces: impl IntoIterator<Item = S>,
    workers: &[WorkerSlot],
) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> =
        workers.iter().map(|w| (w.id.clone(), Vec::new())).collect();
    for ns in namespaces {
        let ns = ns.as_ref();
        if let Some(owner) = owner_of(ns, workers)
            && let Some(list) = out.get_mut(&owner.id)
        {
            list.push(ns.to_owned());
        }
    }
    for list in out.values_mut() {
        list.sort();
        list.dedup();
    }
    out
}

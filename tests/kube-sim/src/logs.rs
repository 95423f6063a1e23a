//! Pod logs: what the simulated kubelet captured from each container, served by `pods/log`.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

/// `(namespace, pod, container)`.
type Key = (String, String, String);

/// Captured container output, per namespace/pod/container. Written by the kubelet, read by
/// the `pods/log` endpoint. Cheap to share as part of [`crate::SimState`].
#[derive(Debug, Default)]
pub struct LogStore {
    logs: Mutex<HashMap<Key, Vec<u8>>>,
}

impl LogStore {
    fn lock(&self) -> MutexGuard<'_, HashMap<Key, Vec<u8>>> {
        self.logs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends output of a container (stdout and stderr interleaved as they arrive).
    pub fn append(&self, namespace: &str, pod: &str, container: &str, bytes: &[u8]) {
        self.lock()
            .entry((namespace.to_owned(), pod.to_owned(), container.to_owned()))
            .or_default()
            .extend_from_slice(bytes);
    }

    /// Marks a container as started (an empty log exists from now on).
    pub fn start(&self, namespace: &str, pod: &str, container: &str) {
        self.append(namespace, pod, container, b"");
    }

    /// The whole log of a container, or `None` if it never started.
    pub fn get(&self, namespace: &str, pod: &str, container: &str) -> Option<Vec<u8>> {
        self.lock()
            .get(&(namespace.to_owned(), pod.to_owned(), container.to_owned()))
            .cloned()
    }

    /// Forgets the logs of a pod (when the pod is deleted).
    pub fn remove_pod(&self, namespace: &str, pod: &str) {
        self.lock()
            .retain(|(ns, p, _), _| !(ns == namespace && p == pod));
    }
}

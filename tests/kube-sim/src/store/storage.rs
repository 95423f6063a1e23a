//! What the store holds, in bytes: each object as its JSON, which is how etcd stores custom
//! resources (built-in kinds are stored as protobuf, somewhat smaller). For benchmarks and
//! tests that measure what reports cost the cluster's storage.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;

use serde_json::Value;

use super::Store;

/// Objects and bytes of one resource.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Usage {
    pub objects: u64,
    pub bytes: u64,
}

/// Counts what is written to it.
struct Counter(u64);

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The size of an object's compact JSON.
pub fn json_size(object: &Value) -> u64 {
    let mut counter = Counter(0);
    // Writing a Value into a counter cannot fail.
    let _ = serde_json::to_writer(&mut counter, object);
    counter.0
}

impl Store {
    /// Objects and bytes per resource (`group/resource`, or `resource` for the core group),
    /// for every resource that holds objects. The objects are taken under the lock and sized
    /// after it.
    pub fn storage(&self) -> BTreeMap<String, Usage> {
        let snapshot: Vec<(String, Vec<Arc<Value>>)> = {
            let inner = self.lock();
            inner
                .resources
                .iter()
                .filter(|(_, data)| !data.objects.is_empty())
                .map(|(gr, data)| {
                    let name = if gr.group.is_empty() {
                        gr.resource.clone()
                    } else {
                        format!("{}/{}", gr.group, gr.resource)
                    };
                    (name, data.objects.values().cloned().collect())
                })
                .collect()
        };
        snapshot
            .into_iter()
            .map(|(name, objects)| {
                let usage = Usage {
                    objects: objects.len() as u64,
                    bytes: objects.iter().map(|o| json_size(o)).sum(),
                };
                (name, usage)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::store::GroupResource;

    #[test]
    fn storage_counts_each_object_as_its_json() {
        let store = Store::new();
        let cm = GroupResource::new("", "configmaps");
        let before = store.storage();
        assert_eq!(before["namespaces"].objects, 4);
        assert!(!before.contains_key("configmaps"));
        let created = store
            .create(
                &cm,
                json!({"apiVersion": "v1", "kind": "ConfigMap",
                       "metadata": {"name": "a", "namespace": "default"},
                       "data": {"k": "x".repeat(1000)}}),
            )
            .unwrap_or_else(|e| panic!("{e}"));
        let usage = store.storage()["configmaps"];
        assert_eq!(usage.objects, 1);
        assert_eq!(
            usage.bytes,
            serde_json::to_vec(&*created).map_or(0, |v| v.len() as u64)
        );
        assert!(usage.bytes > 1000);
    }
}

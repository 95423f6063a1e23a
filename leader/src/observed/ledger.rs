//! The copy sources the leader trusts: reports this operator wrote from scans it ran without
//! credentials, pinned to the resourceVersion their write returned.

use std::collections::HashMap;

/// A VulnerabilityReport this operator wrote from a scan it ran without registry
/// credentials: the only kind of report copied to other workloads (and namespaces). Built
/// from workers' results, never from annotations on reports in the cluster, and dropped as
/// soon as the report changes (any other resourceVersion) or disappears, so a report edited
/// by someone else is never copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub namespace: String,
    pub name: String,
    pub resource_version: String,
    pub scanned_at: jiff::Timestamp,
}

/// Trusted copy sources by scan key (and by the normalized image reference scanned).
#[derive(Debug, Default)]
pub struct Ledger {
    by_key: HashMap<String, Source>,
    /// The keys each report is a source for, by (namespace, name).
    keys_of: HashMap<(String, String), Vec<String>>,
}

impl Ledger {
    /// Records `source` under every key in `keys` (replacing older sources).
    pub fn record(&mut self, keys: &[String], source: Source) {
        let report = (source.namespace.clone(), source.name.clone());
        for key in keys {
            if let Some(old) = self.by_key.insert(key.clone(), source.clone()) {
                let old = (old.namespace, old.name);
                if old != report
                    && let Some(list) = self.keys_of.get_mut(&old)
                {
                    list.retain(|k| k != key);
                }
            }
        }
        let list = self.keys_of.entry(report).or_default();
        for key in keys {
            if !list.contains(key) {
                list.push(key.clone());
            }
        }
    }

    /// The source recorded for `key`.
    pub fn get(&self, key: &str) -> Option<&Source> {
        self.by_key.get(key)
    }

    /// Drops the report `(namespace, name)` unless it still has `resource_version`;
    /// returns the keys that lost their source.
    pub fn observe(
        &mut self,
        namespace: &str,
        name: &str,
        resource_version: Option<&str>,
    ) -> Vec<String> {
        let report = (namespace.to_string(), name.to_string());
        let Some(keys) = self.keys_of.get(&report) else {
            return Vec::new();
        };
        let unchanged = keys
            .first()
            .and_then(|k| self.by_key.get(k))
            .is_some_and(|s| resource_version.is_some_and(|rv| rv == s.resource_version));
        if unchanged {
            return Vec::new();
        }
        let keys = self.keys_of.remove(&report).unwrap_or_default();
        for key in &keys {
            if self
                .by_key
                .get(key)
                .is_some_and(|s| s.namespace == report.0 && s.name == report.1)
            {
                self.by_key.remove(key);
            }
        }
        keys
    }

    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }
}

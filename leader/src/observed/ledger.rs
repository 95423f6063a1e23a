//! The copy sources the leader trusts: reports this operator wrote from scans it ran without
//! credentials, pinned to the resourceVersion their write returned.

use std::collections::HashMap;

use super::Companion;

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
    /// The ExposedSecretReport written beside it from the same scan (same namespace), and
    /// the resourceVersion of that write; `None` when none was written.
    pub secret: Option<(String, String)>,
    /// The SbomReport written beside it, likewise.
    pub sbom: Option<(String, String)>,
}

impl Source {
    /// The report of `kind` written beside it, with the resourceVersion of that write.
    pub fn companion(&self, kind: Companion) -> Option<&(String, String)> {
        match kind {
            Companion::Secret => self.secret.as_ref(),
            Companion::Sbom => self.sbom.as_ref(),
        }
    }
}

/// Trusted copy sources by scan key (and by the normalized image reference scanned).
#[derive(Debug, Default)]
pub struct Ledger {
    by_key: HashMap<String, Source>,
    /// The keys each report is a source for, by (namespace, name).
    keys_of: HashMap<(String, String), Vec<String>>,
    /// The source report each companion report belongs to, by the companion's kind,
    /// namespace and name.
    companion_of: HashMap<(Companion, String, String), (String, String)>,
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
        for kind in Companion::ALL {
            if let Some((name, _)) = source.companion(kind) {
                self.companion_of.insert(
                    (kind, source.namespace.clone(), name.clone()),
                    report.clone(),
                );
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

    /// Drops the source whose companion report of `kind` is `(namespace, name)` unless that
    /// report still has `resource_version`; returns the keys that lost their source.
    pub fn observe_companion(
        &mut self,
        kind: Companion,
        namespace: &str,
        name: &str,
        resource_version: Option<&str>,
    ) -> Vec<String> {
        let companion = (kind, namespace.to_string(), name.to_string());
        let Some(report) = self.companion_of.get(&companion).cloned() else {
            return Vec::new();
        };
        let recorded = self
            .keys_of
            .get(&report)
            .and_then(|keys| keys.first())
            .and_then(|k| self.by_key.get(k))
            .and_then(|s| s.companion(kind));
        let recorded = match recorded {
            Some((n, rv)) if n == name => rv.clone(),
            // The source now has another report of this kind, or is gone: this one is not its.
            _ => {
                self.companion_of.remove(&companion);
                return Vec::new();
            }
        };
        if resource_version == Some(recorded.as_str()) {
            return Vec::new();
        }
        self.companion_of.remove(&companion);
        self.observe(&report.0, &report.1, None)
    }

    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn source(name: &str, rv: &str, secret: Option<(&str, &str)>) -> Source {
        Source {
            namespace: "a".into(),
            name: name.into(),
            resource_version: rv.into(),
            scanned_at: jiff::Timestamp::UNIX_EPOCH,
            secret: secret.map(|(n, v)| (n.into(), v.into())),
            sbom: Some(("s".into(), "9".into())),
        }
    }

    #[test]
    fn a_changed_or_deleted_secret_report_drops_its_source() {
        let keys = vec!["sha256:1".to_string(), "nginx:1".to_string()];
        let mut ledger = Ledger::default();
        ledger.record(&keys, source("r", "1", Some(("r", "2"))));
        // Its own write seen again: kept.
        assert!(
            ledger
                .observe_companion(Companion::Secret, "a", "r", Some("2"))
                .is_empty()
        );
        // A secret report of that name in another namespace is not its.
        assert!(
            ledger
                .observe_companion(Companion::Secret, "b", "r", None)
                .is_empty()
        );
        assert!(ledger.get("sha256:1").is_some());
        // Edited: every key loses the source.
        assert_eq!(
            ledger.observe_companion(Companion::Secret, "a", "r", Some("3")),
            keys
        );
        assert!(ledger.get("sha256:1").is_none() && ledger.get("nginx:1").is_none());

        ledger.record(&keys, source("r", "5", Some(("r", "6"))));
        assert_eq!(
            ledger.observe_companion(Companion::Secret, "a", "r", None),
            keys,
            "deleted"
        );
        assert!(ledger.is_empty());
    }

    #[test]
    fn a_source_rewritten_under_another_secret_report_ignores_the_old_one() {
        let keys = vec!["k".to_string()];
        let mut ledger = Ledger::default();
        ledger.record(&keys, source("r", "1", Some(("r", "2"))));
        ledger.record(&keys, source("r", "3", Some(("r-fallback", "4"))));
        assert!(
            ledger
                .observe_companion(Companion::Secret, "a", "r", None)
                .is_empty()
        );
        assert_eq!(ledger.get("k").unwrap().resource_version, "3");
        ledger.record(&keys, source("r", "5", None));
        assert!(
            ledger
                .observe_companion(Companion::Secret, "a", "r-fallback", None)
                .is_empty()
        );
        assert!(ledger.get("k").is_some());
        // Its SbomReport changed: the source goes.
        assert!(
            ledger
                .observe_companion(Companion::Sbom, "a", "s", Some("9"))
                .is_empty()
        );
        assert_eq!(
            ledger.observe_companion(Companion::Sbom, "a", "s", Some("10")),
            keys
        );
    }
}

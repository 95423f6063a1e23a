//! Trusted copy sources from workers' results: the shareable reports they wrote, with the
//! reports written beside them, pinned to the resourceVersions their writes returned.

use super::{Observed, Source};

impl Observed {
    /// Records the shareable reports a worker wrote as trusted copy sources, under their
    /// scan key and the image reference scanned; returns the keys that gained one.
    pub fn record_sources(
        &mut self,
        written: &[common::proto::WrittenReport],
        now: jiff::Timestamp,
    ) -> Vec<String> {
        let mut keys = Vec::new();
        for w in written.iter().filter(|w| w.shareable) {
            if w.resource_version.is_empty() || w.scan_key.is_empty() {
                continue;
            }
            let Ok(scanned_at) = jiff::Timestamp::from_second(w.scanned_at_unix) else {
                continue;
            };
            let mut names = vec![w.scan_key.clone()];
            if !w.image_reference.is_empty() && w.image_reference != w.scan_key {
                names.push(w.image_reference.clone());
            }
            self.ledger.record(
                &names,
                Source {
                    namespace: w.namespace.clone(),
                    name: w.name.clone(),
                    resource_version: w.resource_version.clone(),
                    // Never later than now, whatever the worker's clock says.
                    scanned_at: scanned_at.min(now),
                    secret: pinned(&w.secret_report_name, &w.secret_resource_version),
                    sbom: pinned(&w.sbom_report_name, &w.sbom_resource_version),
                },
            );
            keys.extend(names);
        }
        keys
    }
}

/// A report written beside another, with the resourceVersion its write returned; `None`
/// when none was written.
fn pinned(name: &str, resource_version: &str) -> Option<(String, String)> {
    (!name.is_empty() && !resource_version.is_empty())
        .then(|| (name.to_owned(), resource_version.to_owned()))
}

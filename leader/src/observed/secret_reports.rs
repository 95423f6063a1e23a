//! ExposedSecretReports in the observed state: kept by owner uid like VulnerabilityReports
//! (the same metadata: container, spec hash, scan key and time, gauge counts and image), so
//! planning can tell which containers' secret reports are missing or stale, and a secret
//! report edited or deleted stops its scan being a copy source.

use super::{Observed, VulnReportMeta, Workload, upsert_named};

impl Observed {
    /// Records or replaces an ExposedSecretReport; a trusted source it belongs to stops
    /// being one unless it is unchanged.
    pub fn put_secret_report(&mut self, owner_uid: String, mut report: VulnReportMeta) {
        self.mark_dirty(&owner_uid);
        if let Some(gauge) = &mut report.gauge {
            gauge.image = self.images.intern(&gauge.image);
        }
        let lost = self.ledger.observe_secret(
            &report.namespace,
            &report.name,
            report.resource_version.as_deref(),
        );
        self.lost_sources.extend(lost);
        self.secret_bytes += u64::from(report.bytes);
        let old = upsert_named(
            self.secret_reports.entry(owner_uid).or_default(),
            report,
            |r| &r.name,
        );
        self.secret_bytes = self
            .secret_bytes
            .saturating_sub(old.map_or(0, |o| u64::from(o.bytes)));
    }

    /// Forgets an ExposedSecretReport (and the trusted source it belonged to).
    pub fn remove_secret_report(&mut self, owner_uid: &str, name: &str) {
        self.mark_dirty(owner_uid);
        if let Some(reports) = self.secret_reports.get_mut(owner_uid) {
            if let Some(at) = reports.iter().position(|r| r.name == name) {
                let report = reports.swap_remove(at);
                self.secret_bytes = self.secret_bytes.saturating_sub(u64::from(report.bytes));
                let lost = self.ledger.observe_secret(&report.namespace, name, None);
                self.lost_sources.extend(lost);
            }
            if reports.is_empty() {
                self.secret_reports.remove(owner_uid);
            }
        }
    }

    /// The ExposedSecretReports of a workload, owned by its uid and in its namespace.
    pub fn secret_reports_of<'a>(
        &'a self,
        workload: &'a Workload,
    ) -> impl Iterator<Item = &'a VulnReportMeta> + 'a {
        self.secret_reports
            .get(&workload.uid)
            .into_iter()
            .flatten()
            .filter(|r| r.namespace == workload.namespace)
    }
}

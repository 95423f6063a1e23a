//! The reports written beside each VulnerabilityReport from the same scan — ExposedSecretReports
//! and SbomReports, its "companions" — in the observed state: kept by owner uid like
//! VulnerabilityReports (the same metadata: container, spec hash, scan time, gauge counts
//! and image), so planning can tell which containers' companions are missing or
//! stale, and a companion edited or deleted stops its scan being a copy source.

use std::collections::HashMap;

use super::{Observed, VulnReportMeta, Workload, put_stored, remove_stored};

/// A report kind written beside the VulnerabilityReport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Companion {
    /// ExposedSecretReport.
    Secret,
    /// SbomReport.
    Sbom,
}

impl Companion {
    pub const ALL: [Companion; 2] = [Companion::Secret, Companion::Sbom];

    /// The name of its watch.
    pub fn watch(self) -> &'static str {
        match self {
            Companion::Secret => "secret-reports",
            Companion::Sbom => "sbom-reports",
        }
    }

    fn index(self) -> usize {
        match self {
            Companion::Secret => 0,
            Companion::Sbom => 1,
        }
    }
}

/// Which companions are written (and so expected of every scanned container).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Companions {
    pub secret: bool,
    pub sbom: bool,
}

impl Companions {
    /// The companions written.
    pub fn enabled(self) -> impl Iterator<Item = Companion> {
        Companion::ALL.into_iter().filter(move |c| match c {
            Companion::Secret => self.secret,
            Companion::Sbom => self.sbom,
        })
    }
}

/// The companion reports seen, by kind, by owner uid; and their bytes as written.
#[derive(Debug, Default)]
pub struct CompanionReports {
    by_kind: [HashMap<String, Vec<VulnReportMeta>>; 2],
    bytes: [u64; 2],
}

impl CompanionReports {
    /// Every report of a kind.
    pub fn all(&self, kind: Companion) -> impl Iterator<Item = &VulnReportMeta> {
        self.by_kind[kind.index()].values().flatten()
    }

    /// Bytes of every companion report, as written.
    pub fn bytes(&self) -> u64 {
        self.bytes.iter().sum()
    }
}

impl Observed {
    /// Records or replaces a companion report; a trusted source it belongs to stops being
    /// one unless it is unchanged.
    pub fn put_companion(
        &mut self,
        kind: Companion,
        owner_uid: String,
        mut report: VulnReportMeta,
    ) {
        self.mark_dirty(&owner_uid);
        self.share_image(&mut report);
        let lost = self.ledger.observe_companion(
            kind,
            &report.namespace,
            &report.name,
            report.resource_version.as_deref(),
        );
        self.lost_sources.extend(lost);
        let c = &mut self.companions;
        let i = kind.index();
        put_stored(&mut c.by_kind[i], owner_uid, report, &mut c.bytes[i]);
    }

    /// Forgets a companion report (and the trusted source it belonged to).
    pub fn remove_companion(&mut self, kind: Companion, owner_uid: &str, name: &str) {
        self.mark_dirty(owner_uid);
        let c = &mut self.companions;
        let i = kind.index();
        if let Some(report) = remove_stored(&mut c.by_kind[i], owner_uid, name, &mut c.bytes[i]) {
            let lost = self
                .ledger
                .observe_companion(kind, &report.namespace, name, None);
            self.lost_sources.extend(lost);
        }
    }

    /// The companion reports of a kind of a workload, owned by its uid and in its namespace.
    pub fn companions_of<'a>(
        &'a self,
        kind: Companion,
        workload: &'a Workload,
    ) -> impl Iterator<Item = &'a VulnReportMeta> + 'a {
        self.companions.by_kind[kind.index()]
            .get(&workload.uid)
            .into_iter()
            .flatten()
            .filter(|r| r.namespace == workload.namespace)
    }
}

//! The ImageVulnerabilityReports of the per-image storage mode, as the leader knows them:
//! their names, sizes and versions (from a metadata watch), which of them a workload's
//! VulnerabilityReport still names, and which were deleted while named (their workloads'
//! reports are rescanned, as a deleted report is).

use std::collections::{HashMap, HashSet};

use kube::api::ObjectMeta;

use super::{Observed, VulnReportMeta, annotation, report_bytes};

/// What the leader keeps of an ImageVulnerabilityReport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageReportMeta {
    pub resource_version: Option<String>,
    /// Its size as written (its `bytes` annotation; 0 when it has none).
    pub bytes: u32,
    /// When its scan ran (its `scanned-at` annotation, else its creation).
    pub scanned_at: Option<jiff::Timestamp>,
}

/// Reduces an ImageVulnerabilityReport's metadata; `None` without a name.
pub fn image_report_from_meta(meta: &ObjectMeta) -> Option<(String, ImageReportMeta)> {
    let scanned_at = annotation(meta, common::labels::SCANNED_AT)
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .or_else(|| {
            meta.creation_timestamp
                .as_ref()
                .and_then(|t| jiff::Timestamp::from_second(t.0.as_second()).ok())
        });
    Some((
        meta.name.clone()?,
        ImageReportMeta {
            resource_version: meta.resource_version.clone(),
            bytes: report_bytes(meta),
            scanned_at,
        },
    ))
}

/// The image reports seen, and those deleted while a workload's report named them.
#[derive(Debug, Default)]
pub struct ImageReports {
    pub reports: HashMap<String, ImageReportMeta>,
    /// Deleted while named: the reports naming them are stale until it is written again.
    lost: HashSet<String>,
    /// Bytes of the image reports, as written.
    bytes: u64,
    /// How many VulnerabilityReports name each image report (kept by every put and removal
    /// of a VulnerabilityReport, so that no question about references walks them all).
    named: HashMap<Box<str>, u32>,
}

impl ImageReports {
    /// Counts a VulnerabilityReport naming `image_report`.
    pub(super) fn name(&mut self, image_report: Option<&str>) {
        if let Some(name) = image_report {
            *self.named.entry(name.into()).or_default() += 1;
        }
    }

    /// Uncounts a VulnerabilityReport naming `image_report`.
    pub(super) fn unname(&mut self, image_report: Option<&str>) {
        if let Some(name) = image_report
            && let Some(count) = self.named.get_mut(name)
        {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.named.remove(name);
            }
        }
    }

    /// Whether any VulnerabilityReport names `image_report`.
    pub fn is_named(&self, image_report: &str) -> bool {
        self.named.contains_key(image_report)
    }

    /// Bytes of the image reports, as written.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Whether `report` names an image report that was deleted since.
    pub fn lost_for(&self, report: &VulnReportMeta) -> bool {
        report
            .image_report
            .as_deref()
            .is_some_and(|name| self.lost.contains(name))
    }
}

impl Observed {
    /// Records or replaces an image report (one written again is no longer lost).
    pub fn put_image_report(&mut self, name: String, report: ImageReportMeta) {
        let images = &mut self.image_reports;
        images.lost.remove(&name);
        images.bytes += u64::from(report.bytes);
        if let Some(old) = images.reports.insert(name, report) {
            images.bytes = images.bytes.saturating_sub(u64::from(old.bytes));
        }
    }

    /// Forgets an image report; the workloads whose reports name it are re-planned (and
    /// rescanned: their reports refer to a list that is gone, so none of them is a copy
    /// source any more).
    pub fn remove_image_report(&mut self, name: &str) {
        let images = &mut self.image_reports;
        if let Some(old) = images.reports.remove(name) {
            images.bytes = images.bytes.saturating_sub(u64::from(old.bytes));
        }
        if !images.is_named(name) {
            return;
        }
        let naming: Vec<(String, String, String)> = self
            .vuln_reports
            .iter()
            .flat_map(|(owner, reports)| {
                reports
                    .iter()
                    .filter(|r| r.image_report.as_deref() == Some(name))
                    .map(|r| (owner.clone(), r.namespace.clone(), r.name.clone()))
            })
            .collect();
        if naming.is_empty() {
            return;
        }
        self.image_reports.lost.insert(name.to_owned());
        for (owner, namespace, report) in &naming {
            self.mark_dirty(owner);
            let lost = self.ledger.observe(namespace, report, None);
            self.lost_sources.extend(lost);
        }
    }

    /// Treats as deleted the image reports that VulnerabilityReports scanned before
    /// `before` name but that do not exist (deleted while no leader watched); returns how
    /// many. Younger reports are left alone: their image report may still be on its way
    /// through the watch.
    pub fn mark_absent_image_reports(&mut self, before: jiff::Timestamp) -> usize {
        let images = &self.image_reports;
        let missing = images
            .named
            .keys()
            .any(|name| !images.reports.contains_key(&**name) && !images.lost.contains(&**name));
        if !missing {
            return 0;
        }
        let absent: HashSet<String> = self
            .vuln_reports
            .values()
            .flatten()
            .filter(|r| r.scanned_at.is_some_and(|at| at < before))
            .filter_map(|r| r.image_report.as_deref())
            .filter(|name| {
                !self.image_reports.reports.contains_key(*name)
                    && !self.image_reports.lost.contains(*name)
            })
            .map(str::to_owned)
            .collect();
        for name in &absent {
            self.remove_image_report(name);
        }
        absent.len()
    }

    /// The image reports no VulnerabilityReport names, with what is known of them.
    pub fn unreferenced_image_reports(&self) -> Vec<(&str, &ImageReportMeta)> {
        let images = &self.image_reports;
        let mut out: Vec<(&str, &ImageReportMeta)> = images
            .reports
            .iter()
            .filter(|(name, _)| !images.is_named(name))
            .map(|(name, meta)| (name.as_str(), meta))
            .collect();
        out.sort_by_key(|(name, _)| *name);
        out
    }
}

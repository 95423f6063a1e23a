//! The per-owner report records (VulnerabilityReports, ConfigAuditReports, the companion
//! kinds) share one put and one remove that keep their byte totals.

use std::collections::HashMap;

use super::{AuditReportMeta, VulnReportMeta};

/// A report's record, kept by owner uid in a small vector and counted in a bytes total.
pub(super) trait Stored {
    fn name(&self) -> &str;
    fn bytes(&self) -> u32;
}

impl Stored for VulnReportMeta {
    fn name(&self) -> &str {
        &self.name
    }
    fn bytes(&self) -> u32 {
        self.bytes
    }
}

impl Stored for AuditReportMeta {
    fn name(&self) -> &str {
        &self.name
    }
    fn bytes(&self) -> u32 {
        self.bytes
    }
}

/// Records `item` under `owner`, replacing the one of its name (a small vector: a map would
/// allocate a node for eleven), and keeps `total` the bytes of everything recorded; returns
/// the item replaced.
pub(super) fn put_stored<T: Stored>(
    reports: &mut HashMap<String, Vec<T>>,
    owner: String,
    item: T,
    total: &mut u64,
) -> Option<T> {
    *total += u64::from(item.bytes());
    let items = reports.entry(owner).or_default();
    let old = match items.iter().position(|i| i.name() == item.name()) {
        Some(at) => Some(std::mem::replace(&mut items[at], item)),
        None => {
            // Most owners keep one item (a report per workload or container): grow by one, not
            // to the four a first push would make room for.
            items.reserve_exact(1);
            items.push(item);
            None
        }
    };
    *total = total.saturating_sub(old.as_ref().map_or(0, |o| u64::from(o.bytes())));
    old
}

/// Forgets the item `name` of `owner` (and the owner, once it has none), keeping `total`;
/// returns it.
pub(super) fn remove_stored<T: Stored>(
    reports: &mut HashMap<String, Vec<T>>,
    owner: &str,
    name: &str,
    total: &mut u64,
) -> Option<T> {
    let items = reports.get_mut(owner)?;
    let removed = items
        .iter()
        .position(|r| r.name() == name)
        .map(|at| items.swap_remove(at));
    if let Some(r) = &removed {
        *total = total.saturating_sub(u64::from(r.bytes()));
    }
    if items.is_empty() {
        reports.remove(owner);
    }
    removed
}

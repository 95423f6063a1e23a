//! Per-image storage mode: deletes the ImageVulnerabilityReports that no VulnerabilityReport
//! names any more (the last workload running the image is gone, and GC took its reports;
//! or a rescan gave the workloads a new digest), once their scan is older than the grace
//! that lets a scan's workload reports follow its image report. Each delete is conditional
//! on the resourceVersion seen, so an image report written again meanwhile stays.
//!
//! The same pass finds image reports that reports name but that are gone (deleted while no
//! leader watched), so their workloads are rescanned as after a deletion seen live.

use std::sync::Arc;
use std::time::Duration;

use common::reports::image_vulnerability::ImageVulnerabilityReport;
use kube::{Api, Client};
use tokio_util::sync::CancellationToken;

use crate::observed::Observed;
use crate::state::Shared;

/// An image report to delete: its name and the resourceVersion it had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collectable {
    pub name: String,
    pub resource_version: Option<String>,
}

/// The image reports no VulnerabilityReport names whose scan ran before `before`. Pure.
pub fn collectable(observed: &Observed, before: jiff::Timestamp) -> Vec<Collectable> {
    observed
        .unreferenced_image_reports()
        .into_iter()
        .filter(|(_, meta)| meta.scanned_at.is_some_and(|at| at < before))
        .map(|(name, meta)| Collectable {
            name: name.to_owned(),
            resource_version: meta.resource_version.clone(),
        })
        .collect()
}

/// How often the collector looks: a fraction of the grace, between 1 s and 60 s.
pub fn interval(grace: Duration) -> Duration {
    (grace / 4).clamp(Duration::from_secs(1), Duration::from_secs(60))
}

/// Runs the collector until `shutdown` (the end of the leader's term).
pub fn spawn(client: Client, shared: Arc<Shared>, grace: Duration, shutdown: CancellationToken) {
    let Ok(signed_grace) = jiff::SignedDuration::try_from(grace) else {
        return;
    };
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                () = tokio::time::sleep(interval(grace)) => {}
            }
            let before = jiff::Timestamp::now()
                .checked_sub(signed_grace)
                .unwrap_or(jiff::Timestamp::MIN);
            let batch = shared.update(|st| {
                let observed = &mut st.observed;
                let synced = ["vuln-reports", crate::watch::IMAGE_REPORTS]
                    .iter()
                    .all(|w| observed.synced.contains(*w) && !observed.missing_crds.contains(*w));
                if !synced {
                    return Vec::new();
                }
                let absent = observed.mark_absent_image_reports(before);
                if absent > 0 {
                    tracing::warn!(
                        count = absent,
                        "image reports named by VulnerabilityReports are gone: rescanning their images"
                    );
                }
                collectable(observed, before)
            });
            if !batch.is_empty() {
                tracing::info!(
                    count = batch.len(),
                    "deleting image reports no workload uses any more"
                );
            }
            for report in &batch {
                delete(&client, report).await;
            }
        }
    });
}

async fn delete(client: &Client, report: &Collectable) {
    let api: Api<ImageVulnerabilityReport> = Api::all(client.clone());
    crate::cleanup::delete_unchanged(&api, &report.name, report.resource_version.clone()).await;
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;

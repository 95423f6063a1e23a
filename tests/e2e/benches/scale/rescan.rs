//! The rescan round (`BENCH_RESCAN_TTL_SECS`): after full coverage, the operator runs with
//! that report TTL, and the benchmark waits until every VulnerabilityReport has been written
//! again, then prints how long the round took, the scan Jobs it ran by what they scanned
//! (the stored SBOM or the image) and the API requests it cost.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use kube::Api;
use kube::core::PartialObjectMeta;
use kube::runtime::{WatchStreamExt, watcher};

/// What a running round is judged by: every VulnerabilityReport's latest resourceVersion
/// and every scan Job's scanners annotation.
pub struct Watch {
    reports: Arc<Mutex<HashMap<String, (String, Instant)>>>,
    jobs: Arc<Mutex<HashMap<String, String>>>,
}

/// The state at the end of coverage.
pub struct Snapshot {
    reports: HashMap<String, String>,
    jobs: HashSet<String>,
}

/// What the round did.
pub struct Round {
    pub rewritten: usize,
    pub of: usize,
    /// From the first report rewritten to the last.
    pub took: Option<Duration>,
    /// Scan Jobs by their scanners annotation.
    pub jobs: BTreeMap<String, usize>,
}

fn locked<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Watch {
    /// Starts watching the VulnerabilityReports of the cluster and the Jobs of `namespace`.
    pub fn start(client: &kube::Client, namespace: &str) -> Self {
        let reports: Arc<Mutex<HashMap<String, (String, Instant)>>> = Arc::default();
        let jobs: Arc<Mutex<HashMap<String, String>>> = Arc::default();
        let api: Api<PartialObjectMeta<common::reports::vulnerability::VulnerabilityReport>> =
            Api::all(client.clone());
        let seen = reports.clone();
        tokio::spawn(async move {
            let mut stream =
                std::pin::pin!(watcher(api, watcher::Config::default()).default_backoff());
            while let Some(event) = stream.next().await {
                if let Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o)) = event {
                    let key = format!(
                        "{}/{}",
                        o.metadata.namespace.unwrap_or_default(),
                        o.metadata.name.unwrap_or_default()
                    );
                    let version = o.metadata.resource_version.unwrap_or_default();
                    locked(&seen).insert(key, (version, Instant::now()));
                }
            }
        });
        let api: Api<PartialObjectMeta<Job>> = Api::namespaced(client.clone(), namespace);
        let seen = jobs.clone();
        tokio::spawn(async move {
            let mut stream =
                std::pin::pin!(watcher(api, watcher::Config::default()).default_backoff());
            while let Some(event) = stream.next().await {
                if let Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o)) = event {
                    let scanners = o
                        .metadata
                        .annotations
                        .unwrap_or_default()
                        .remove("trivy-operator-rs.dev/scanners")
                        .unwrap_or_default();
                    locked(&seen).insert(o.metadata.uid.unwrap_or_default(), scanners);
                }
            }
        });
        Self { reports, jobs }
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            reports: locked(&self.reports)
                .iter()
                .map(|(k, (v, _))| (k.clone(), v.clone()))
                .collect(),
            jobs: locked(&self.jobs).keys().cloned().collect(),
        }
    }

    /// Waits until every report of `since` was written again (or `deadline`).
    pub async fn round(&self, since: &Snapshot, deadline: Instant) -> Round {
        loop {
            let (rewritten, first, last) = {
                let now = locked(&self.reports);
                let times: Vec<Instant> = since
                    .reports
                    .iter()
                    .filter_map(|(k, v)| now.get(k).filter(|(nv, _)| nv != v).map(|(_, at)| *at))
                    .collect();
                (
                    times.len(),
                    times.iter().min().copied(),
                    times.iter().max().copied(),
                )
            };
            if rewritten == since.reports.len() || Instant::now() >= deadline {
                let mut jobs = BTreeMap::new();
                for (uid, scanners) in locked(&self.jobs).iter() {
                    if !since.jobs.contains(uid) {
                        *jobs.entry(scanners.clone()).or_insert(0) += 1;
                    }
                }
                return Round {
                    rewritten,
                    of: since.reports.len(),
                    took: first.zip(last).map(|(f, l)| l.duration_since(f)),
                    jobs,
                };
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

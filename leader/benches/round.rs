//! Benchmark (not a test) of one leader control round — plan config audits and scans,
//! assign namespaces, pick the tasks to send — at cluster sizes our users run, in two
//! states: steady (every workload has fresh reports: the round finds nothing to do) and
//! cold (no report yet: every workload is due, grouped into one scan per image).
//!
//! `cargo bench -p leader --bench round` (release) or `--profile dev`. Prints, per size, the
//! median and worst round after a change (a full plan) and a round when nothing changed
//! (planning skipped). Sizes: `ROUND_SIZES=1000,10000,50000`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use common::workload::WorkloadKind;
use leader::dispatch::DispatchConfig;
use leader::metrics::LeaderMetrics;
use leader::observed::{AuditReportMeta, Container, Observed, VulnReportMeta, Workload};
use leader::scope::Scope;
use leader::state::{ScanSettings, Shared};

const WORKLOADS_PER_NAMESPACE: usize = 10;
const IMAGES: usize = 500;
const ROUNDS: usize = 7;

fn observed(workloads: usize, with_reports: bool) -> Observed {
    let mut o = Observed::default();
    let now = jiff::Timestamp::now();
    for i in 0..workloads {
        let namespace = format!("ns-{}", i / WORKLOADS_PER_NAMESPACE);
        o.namespaces.entry(namespace.clone()).or_default();
        let uid = format!("uid-{i}");
        let name = format!("app-{i}-5d9c7b6f4");
        let w = Workload {
            kind: WorkloadKind::ReplicaSet,
            namespace: namespace.clone(),
            name: name.clone(),
            uid: uid.clone(),
            spec_hash: format!("spec{}", i % 97),
            containers: vec![Container {
                name: "app".into(),
                image: format!("registry.example/team/app-{}:1.{}", i % IMAGES, i % 3),
            }],
            deployment: None,
        };
        if with_reports {
            let audit = AuditReportMeta {
                namespace: namespace.clone(),
                name: format!("replicaset-{name}"),
                kind: "ReplicaSet".into(),
                spec_hash: Some(w.spec_hash.clone()),
                config_hash: Some("cfg".into()),
                resource_version: Some("1".into()),
            };
            let vuln = VulnReportMeta {
                namespace,
                name: format!("replicaset-{name}-app"),
                container: Some("app".into()),
                spec_hash: Some(w.spec_hash.clone()),
                scan_key: Some(w.containers[0].image.clone()),
                scanned_at: Some(now),
            };
            o.audit_reports
                .insert(uid.clone(), BTreeMap::from([(audit.name.clone(), audit)]));
            o.vuln_reports
                .insert(uid.clone(), BTreeMap::from([(vuln.name.clone(), vuln)]));
        }
        o.workloads.insert(uid, w);
    }
    o.synced = leader::watch::required_syncs().iter().cloned().collect();
    o
}

fn shared(observed: Observed) -> Shared {
    let dispatch = DispatchConfig {
        tasks_per_capacity: 2,
        worker_timeout: Duration::from_secs(30),
        retry_base: Duration::from_secs(5),
        retry_max: Duration::from_secs(300),
        result_grace: Duration::from_secs(30),
        max_concurrent_scans: 10,
    };
    let shared = Shared::new(
        "bench".into(),
        1,
        Scope::default(),
        dispatch,
        Some(ScanSettings {
            ttl: Some(Duration::from_secs(24 * 3600)),
        }),
        Arc::new(LeaderMetrics::new()),
        Arc::new(AtomicU64::new(0)),
    );
    shared.update(|st| {
        st.observed = observed;
        st.policy.hashes = Some(
            WorkloadKind::ALL
                .iter()
                .map(|k| (*k, "cfg".into()))
                .collect(),
        );
    });
    shared
}

/// Rounds after a change (a full plan: median, worst), a round with nothing changed, and
/// the tasks queued.
fn measure(workloads: usize, with_reports: bool) -> (Duration, Duration, Duration, usize) {
    let shared = shared(observed(workloads, with_reports));
    let mut took = Vec::new();
    for _ in 0..ROUNDS {
        shared.update(|_| ()); // as a watch event does
        let started = Instant::now();
        shared.round(started);
        took.push(started.elapsed());
    }
    took.sort();
    let started = Instant::now();
    shared.round(started);
    let idle = started.elapsed();
    let queued = shared.snapshot(Instant::now()).queue_depth as usize;
    (took[ROUNDS / 2], took[ROUNDS - 1], idle, queued)
}

fn main() {
    let sizes: Vec<usize> = std::env::var("ROUND_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1_000, 10_000, 50_000]);
    println!("leader control round, {ROUNDS} rounds each, {IMAGES} images, no workers attached");
    println!(
        "{:>10} {:>8} {:>12} {:>12} {:>12} {:>10}",
        "workloads", "state", "plan median", "plan worst", "unchanged", "queued"
    );
    for &n in &sizes {
        for (state, with_reports) in [("steady", true), ("cold", false)] {
            let (median, worst, idle, queued) = measure(n, with_reports);
            println!(
                "{n:>10} {state:>8} {median:>12.2?} {worst:>12.2?} {idle:>12.2?} {queued:>10}"
            );
        }
    }
}

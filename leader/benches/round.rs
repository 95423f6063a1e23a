//! Benchmark (not a test) of the leader's control rounds — plan config audits and scans,
//! assign namespaces, pick the tasks to send — at cluster sizes our users run, in two
//! states: steady (every workload has fresh reports: the round finds nothing to do) and
//! cold (no report yet: every workload is due, grouped into one scan per image).
//!
//! `cargo bench -p leader --bench round` (release) or `--profile dev`. Prints, per size, the
//! first round (every workload planned), the periodic full re-plan (the safety net; median
//! and worst), a round after one workload changed (median), and a round when nothing
//! changed. Sizes: `ROUND_SIZES=1000,10000,50000`.

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
        o.put_namespace(namespace.clone(), BTreeMap::new());
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
            pull_secrets: Vec::new(),
            service_account: None,
        };
        if with_reports {
            let audit = AuditReportMeta {
                gauge: None,
                bytes: 0,
                namespace: namespace.clone(),
                name: format!("replicaset-{name}"),
                kind: "ReplicaSet".into(),
                spec_hash: Some(w.spec_hash.clone()),
                config_hash: Some("cfg".into()),
                resource_version: Some("1".into()),
            };
            let vuln = VulnReportMeta {
                gauge: None,
                bytes: 0,
                image_report: None,
                namespace,
                name: format!("replicaset-{name}-app"),
                container: Some("app".into()),
                spec_hash: Some(w.spec_hash.clone()),
                scanned_at: Some(now),
                resource_version: Some("1".into()),
            };
            o.put_audit_report(uid.clone(), audit);
            o.put_vuln_report(uid.clone(), vuln);
        }
        o.put_workload(w);
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
        max_scans_per_namespace: 0,
    };
    let shared = Shared::new(
        "bench".into(),
        1,
        Scope::default(),
        dispatch,
        Some(ScanSettings {
            ttl: Some(Duration::from_secs(24 * 3600)),
            per_image: false,
            companions: Default::default(),
            sbom_rescans: true,
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

/// What one size and state measured.
struct Measured {
    first: Duration,
    full_median: Duration,
    full_worst: Duration,
    one_change: Duration,
    unchanged: Duration,
    queued: usize,
    /// Resident memory with the state built and planned.
    rss: f64,
}

fn timed(shared: &Shared) -> Duration {
    let started = Instant::now();
    shared.round(started);
    started.elapsed()
}

fn measure(workloads: usize, with_reports: bool) -> Measured {
    let shared = shared(observed(workloads, with_reports));
    let first = timed(&shared);
    let mut full = Vec::new();
    for _ in 0..ROUNDS {
        shared.update(|st| st.planner.mark_all_dirty(&mut st.observed));
        full.push(timed(&shared));
    }
    full.sort();
    let mut one = Vec::new();
    for i in 0..ROUNDS {
        shared.update(|st| {
            let uid = format!("uid-{}", i % workloads);
            if let Some(mut w) = st.observed.workloads.get(&uid).cloned() {
                w.spec_hash = format!("changed-{i}");
                st.observed.put_workload(w);
            }
        });
        one.push(timed(&shared));
    }
    one.sort();
    let unchanged = timed(&shared);
    let queued = shared.snapshot(Instant::now()).queue_depth as usize;
    let rss = rss_mib();
    Measured {
        rss,
        first,
        full_median: full[ROUNDS / 2],
        full_worst: full[ROUNDS - 1],
        one_change: one[ROUNDS / 2],
        unchanged,
        queued,
    }
}

/// Resident memory of this process now, in MiB (VmRSS).
fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

fn main() {
    let sizes: Vec<usize> = std::env::var("ROUND_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1_000, 10_000, 50_000]);
    println!("leader control round, {ROUNDS} rounds each, {IMAGES} images, no workers attached");
    println!(
        "{:>10} {:>7} {:>11} {:>11} {:>11} {:>11} {:>11} {:>8}",
        "workloads",
        "state",
        "first",
        "full med",
        "full worst",
        "one change",
        "unchanged",
        "queued"
    );
    for &n in &sizes {
        for (state, with_reports) in [("steady", true), ("cold", false)] {
            let before = rss_mib();
            let m = measure(n, with_reports);
            println!(
                "{n:>10} {state:>7} {:>11.2?} {:>11.2?} {:>11.2?} {:>11.2?} {:>11.2?} {:>8} {:>7.0} MiB",
                m.first,
                m.full_median,
                m.full_worst,
                m.one_change,
                m.unchanged,
                m.queued,
                m.rss - before
            );
        }
    }
}

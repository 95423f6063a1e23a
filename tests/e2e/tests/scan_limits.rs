//! Vulnerability scans under pressure: an exact global limit of scan Jobs, scheduled
//! rescans (TTL) without a gap or a duplicate, and a worker killed while its scan Job runs.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::time::Duration;

use e2e::reports::{label, name};
use e2e::workloads::deployment;
use e2e::{Cluster, Operator, OperatorOptions, eventually};
use serde_json::Value;

const LONG: Duration = Duration::from_secs(300);

fn options(cluster: &Cluster, ns: &str, workers: usize, leader_args: &[&str]) -> OperatorOptions {
    OperatorOptions::new(e2e::binaries!(), cluster, vec![ns.to_string()])
        .workers(workers, 4)
        .leader_args(leader_args.iter().map(|s| s.to_string()).collect())
}

async fn reports(cluster: &Cluster, ns: &str) -> Result<Vec<Value>, String> {
    cluster
        .list(&["vulnerabilityreports", "-n", ns])
        .map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_more_scan_jobs_than_the_limit() {
    // 30 distinct images, each scan taking a second, so Jobs would pile up without a limit
    // (the Trivy double's naming convention: no image map, so it runs on a real cluster).
    let image = |i: usize| format!("trivy-double.test/sleep-1/alpine-310/app{i}:1.0");
    let cluster = Cluster::start("scan-limit").await.unwrap();
    let ns = cluster.ns("limit");
    cluster
        .create_namespaces(std::slice::from_ref(&ns))
        .unwrap();
    let opts = options(&cluster, &ns, 3, &["--max-concurrent-scans", "3"]);
    let jobs = e2e::jobs::watch_jobs(&cluster, &opts.operator_namespace)
        .await
        .unwrap();
    let _op = Operator::start(&cluster, opts).unwrap();
    let manifest: String = (0..30)
        .map(|i| deployment(&ns, &format!("app{i}"), "main", &image(i)))
        .collect();
    cluster.apply(&manifest).unwrap();
    eventually("30 VulnerabilityReports", LONG, || async {
        let n = reports(&cluster, &ns).await?.len();
        if n == 30 {
            Ok(())
        } else {
            Err(format!("{n} reports"))
        }
    })
    .await
    .unwrap();
    let jobs = jobs.lock().unwrap();
    assert_eq!(jobs.seen.len(), 30, "one Job per image");
    assert!(
        jobs.max_live <= 3,
        "at most 3 scan Jobs at once, saw {}",
        jobs.max_live
    );
    assert!(
        jobs.max_live >= 2,
        "the limit was reached in parallel ({}), not serialised",
        jobs.max_live
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_are_refreshed_after_their_ttl_without_a_gap() {
    let cluster = Cluster::start("scan-ttl").await.unwrap();
    let ns = cluster.ns("ttl");
    cluster
        .create_namespaces(std::slice::from_ref(&ns))
        .unwrap();
    let _op =
        Operator::start(&cluster, options(&cluster, &ns, 1, &["--report-ttl", "5s"])).unwrap();
    cluster
        .apply(&deployment(&ns, "web", "main", "alpine:3.10"))
        .unwrap();
    // Poll often: at every observation the workload has exactly one report.
    let mut stamps = BTreeSet::new();
    let mut first_name = None;
    let deadline = std::time::Instant::now() + LONG;
    while stamps.len() < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "no third scan; seen {stamps:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        let found = reports(&cluster, &ns).await.unwrap();
        match found.as_slice() {
            [] if first_name.is_none() => continue, // not scanned yet
            [one] => {
                let first = first_name.get_or_insert_with(|| name(one).to_string());
                assert_eq!(name(one), first.as_str(), "the same report is refreshed");
                stamps.insert(
                    one["report"]["updateTimestamp"]
                        .as_str()
                        .unwrap()
                        .to_string(),
                );
            }
            other => panic!(
                "a workload must always have exactly one report, saw {}",
                other.len()
            ),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_scan_job_is_adopted_not_duplicated() {
    let cluster = Cluster::start("scan-adopt").await.unwrap();
    let ns = cluster.ns("adopt");
    cluster
        .create_namespaces(std::slice::from_ref(&ns))
        .unwrap();
    let opts = options(&cluster, &ns, 2, &[]);
    let jobs = e2e::jobs::watch_jobs(&cluster, &opts.operator_namespace)
        .await
        .unwrap();
    let mut op = Operator::start(&cluster, opts).unwrap();
    cluster
        .apply(&deployment(
            &ns,
            "slow",
            "main",
            "trivy-double.test/sleep-6/alpine-310/slow:1.0",
        ))
        .unwrap();
    // The worker that created the Job is killed while the Job runs.
    let owner = eventually("a worker to create the scan Job", LONG, || async {
        op.worker_ids()
            .into_iter()
            .find(|w| op.log(w).contains("scan job created"))
            .ok_or_else(|| format!("jobs seen: {}", jobs.lock().unwrap().seen.len()))
    })
    .await
    .unwrap();
    op.kill_worker(&owner).unwrap();
    let report = eventually("the report", LONG, || async {
        let found = reports(&cluster, &ns).await?;
        found.into_iter().next().ok_or_else(|| "none".to_string())
    })
    .await
    .unwrap();
    assert_eq!(
        label(&report, "trivy-operator.container.name"),
        Some("main")
    );
    let survivor = op.worker_ids().pop().unwrap();
    assert!(
        op.log(&survivor).contains("adopting it"),
        "the other worker adopted the Job"
    );
    assert_eq!(
        jobs.lock().unwrap().seen.len(),
        1,
        "exactly one Job ever existed for the scan"
    );
}

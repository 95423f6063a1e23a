//! The operator's API request budget, measured at kube-sim: with `--kube-api-qps R` the
//! requests of the leader and all its workers together never exceed `10 × R` in any 10 s
//! window, however many workers share it; and 429 answers (API Priority and Fairness) slow
//! the operator down without failing any task. kube-sim only: a real API server keeps no
//! timeline of a client's requests and cannot be made to answer 429 on demand.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use e2e::operator::http_get;
use e2e::workloads::deployment;
use e2e::{Cluster, Operator, OperatorOptions, eventually};
use kube_sim::faults::FaultConfig;
use serde_json::{Value, json};

const LONG: Duration = Duration::from_secs(300);
const WINDOW: Duration = Duration::from_secs(10);

fn count(cluster: &Cluster, resource: &str, namespaces: &[String]) -> Result<usize, String> {
    let mut n = 0;
    for ns in namespaces {
        n += cluster
            .kubectl(&["get", resource, "-n", ns, "--no-headers", "-o", "name"])
            .map_err(|e| e.to_string())?
            .lines()
            .count();
    }
    Ok(n)
}

/// A cluster with `per_namespace` Deployments in each of `namespaces` namespaces over a few
/// images the Trivy double knows; returns it, the namespaces and the workload count once
/// every ReplicaSet exists.
async fn cluster_with_workloads(
    test: &str,
    namespaces: usize,
    per_namespace: usize,
) -> (Cluster, Vec<String>, usize) {
    if std::env::var("E2E_REAL_CLUSTER").is_ok_and(|v| v == "1") {
        panic!(
            "measures requests at kube-sim; against a real cluster run the scenarios with --profile real-cluster, which reports this one as skipped"
        );
    }
    let golden = e2e::workloads::trivy_output("alpine-310.json.golden");
    let images: Vec<String> = (0..4).map(|i| format!("{test}{i}:1.0")).collect();
    let map: serde_json::Map<String, Value> =
        images.iter().map(|i| (i.clone(), json!(golden))).collect();
    let cluster = Cluster::start_with_images(test, Some(Value::Object(map)))
        .await
        .unwrap();
    let names: Vec<String> = (0..namespaces)
        .map(|i| cluster.ns(&format!("{test}{i}")))
        .collect();
    cluster.create_namespaces(&names).unwrap();
    let manifest: String = names
        .iter()
        .flat_map(|ns| {
            let images = &images;
            (0..per_namespace)
                .map(move |i| deployment(ns, &format!("app{i}"), "app", &images[i % images.len()]))
        })
        .collect();
    cluster.apply(&manifest).unwrap();
    let workloads = namespaces * per_namespace;
    eventually("every ReplicaSet", LONG, || async {
        let n = count(&cluster, "replicasets", &names)?;
        (n >= workloads)
            .then_some(())
            .ok_or(format!("{n} ReplicaSets"))
    })
    .await
    .unwrap();
    (cluster, names, workloads)
}

async fn full_coverage(cluster: &Cluster, namespaces: &[String], workloads: usize) {
    eventually("full coverage", LONG, || async {
        let audits = count(cluster, "configauditreports", namespaces)?;
        let vulns = count(cluster, "vulnerabilityreports", namespaces)?;
        (audits >= workloads && vulns >= workloads)
            .then_some(())
            .ok_or(format!("{audits} audits, {vulns} vulnerability reports"))
    })
    .await
    .unwrap();
}

/// The value of a metric series on an admin port (0 when absent).
async fn metric(port: u16, series: &str) -> f64 {
    let (_, text) = http_get(port, "/metrics").await.unwrap();
    text.lines()
        .find(|l| l.strip_prefix(series).is_some_and(|r| r.starts_with(' ')))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_rate_stays_within_the_budget_whatever_the_workers() {
    let (cluster, namespaces, workloads) = cluster_with_workloads("rate", 4, 12).await;
    let sim = cluster.sim().unwrap();
    sim.stats().requests.reset();
    // 4 requests/s for the whole operator: at most 40 in any 10 s, shared by four workers
    // that could each send far more.
    let qps = 4.0;
    let options = OperatorOptions::new(e2e::binaries!(), &cluster, namespaces.clone())
        .workers(4, 4)
        .leader_args(vec!["--kube-api-qps".into(), qps.to_string()]);
    let op = Operator::start(&cluster, options).unwrap();
    full_coverage(&cluster, &namespaces, workloads).await;

    let stats = sim.stats().requests.to_json();
    let total = stats["byUserAgent"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(agent, _)| agent.starts_with("trivy-operator"))
        .map(|(_, n)| n.as_u64().unwrap())
        .sum::<u64>();
    let busiest = sim.stats().requests.window_json("trivy-operator", WINDOW)["max"]
        .as_u64()
        .unwrap();
    let bound = (qps * WINDOW.as_secs_f64()) as u64;
    println!("{total} operator requests, at most {busiest} in any 10 s (bound {bound})");
    // The work needs several windows' worth of requests, so an unthrottled operator (which
    // covers it in a few seconds) would exceed the bound.
    assert!(
        total > 3 * bound,
        "{total} requests: too few to test the bound"
    );
    // The bound, plus each process's one reachability check at start (outside the budget).
    assert!(
        busiest <= bound + 5,
        "{busiest} requests in one 10 s window; budget {bound}"
    );
    // The workers waited for their grants.
    let mut waited = 0.0;
    for port in op.worker_admin_ports.values() {
        waited += metric(*port, "trivy_operator_worker_api_throttled_seconds_total").await;
    }
    assert!(waited > 1.0, "the workers waited {waited} s in all");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_requests_slow_the_operator_down_without_failing_tasks() {
    let (cluster, namespaces, workloads) = cluster_with_workloads("apf", 3, 8).await;
    let sim = cluster.sim().unwrap();
    // A fifth of the operator's requests are refused with 429 and `Retry-After: 1`, as API
    // Priority and Fairness does when the operator's priority level is saturated.
    sim.set_faults(FaultConfig {
        error_rate: 0.2,
        error_codes: vec![429],
        match_user_agent: Some("trivy-operator-".into()),
        ..FaultConfig::default()
    });
    let options =
        OperatorOptions::new(e2e::binaries!(), &cluster, namespaces.clone()).workers(2, 4);
    let mut op = Operator::start(&cluster, options).unwrap();
    full_coverage(&cluster, &namespaces, workloads).await;
    sim.set_faults(FaultConfig::default());

    assert!(op.all_running(), "no process exits");
    let status = op.status(&["cluster"]).unwrap();
    let failures = status["failures"].as_array().cloned().unwrap_or_default();
    assert!(failures.is_empty(), "tasks failed under 429s: {status:#}");
    let mut refused = metric(
        op.leader_admin_ports[0],
        "trivy_operator_leader_api_too_many_requests_total",
    )
    .await;
    for port in op.worker_admin_ports.values() {
        refused += metric(*port, "trivy_operator_worker_api_too_many_requests_total").await;
    }
    let injected = sim
        .stats()
        .faults_injected
        .load(std::sync::atomic::Ordering::Relaxed);
    let (_, leader_metrics) = http_get(op.leader_admin_ports[0], "/metrics")
        .await
        .unwrap();
    let api_lines: Vec<&str> = leader_metrics
        .lines()
        .filter(|l| l.contains("_api_"))
        .collect();
    assert!(
        refused >= 10.0,
        "{refused} 429s seen by the operator ({injected} injected); leader: {api_lines:#?}"
    );
}

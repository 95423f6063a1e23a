//! The operator's load on the API server, counted by kube-sim (`/_sim/stats`): a first full
//! coverage costs at most three requests per workload for its ConfigAuditReport and
//! VulnerabilityReport, plus one write per report of each kind written from the same scan
//! (ExposedSecretReports, SbomReports: no read, no extra Job) (collection reads — lists, watches — and
//! Lease renewals are fixed costs, not per workload), and after it, changing one
//! workload among many costs a small, bounded number of requests, and a flood of `/metrics`
//! scrapes lists no report at all (the gauges come from the leader's watches). kube-sim
//! only: a real API server has no such counters.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use e2e::workloads::deployment;
use e2e::{Cluster, Operator, OperatorOptions, eventually};
use serde_json::{Value, json};

const LONG: Duration = Duration::from_secs(300);
const NAMESPACES: usize = 10;
const PER_NAMESPACE: usize = 20;
const IMAGES: usize = 20;

fn image(i: usize) -> String {
    format!("budget{i}:1.0")
}

/// Report kinds written from the same scan as the VulnerabilityReport.
const COMPANIONS: [&str; 2] = [
    "aquasecurity.github.io/exposedsecretreports",
    "aquasecurity.github.io/sbomreports",
];

/// Requests by the operator's processes on `resource` that grow with the work, by verb.
fn requests_on(stats: &Value, resource: &str) -> Vec<(String, u64)> {
    stats["requests"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| {
            r["userAgent"]
                .as_str()
                .unwrap_or("")
                .starts_with("trivy-operator")
                && r["resource"] == resource
                && !matches!(r["verb"].as_str(), Some("list" | "watch"))
        })
        .map(|r| {
            (
                r["verb"].as_str().unwrap_or("").to_owned(),
                r["count"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

/// Requests by the operator's processes that grow with the work: everything but lists,
/// watches and Lease requests.
fn per_work_requests(stats: &Value) -> (u64, Vec<String>) {
    let mut total = 0;
    let mut rows = Vec::new();
    for row in stats["requests"].as_array().into_iter().flatten() {
        let agent = row["userAgent"].as_str().unwrap_or("");
        let verb = row["verb"].as_str().unwrap_or("");
        let resource = row["resource"].as_str().unwrap_or("");
        if !agent.starts_with("trivy-operator")
            || matches!(verb, "list" | "watch")
            || resource == "coordination.k8s.io/leases"
        {
            continue;
        }
        let count = row["count"].as_u64().unwrap_or(0);
        total += count;
        rows.push(format!("{agent} {verb} {resource} {count}"));
    }
    (total, rows)
}

fn count(cluster: &Cluster, resource: &str) -> Result<usize, String> {
    cluster
        .kubectl(&["get", resource, "-A", "--no-headers", "-o", "name"])
        .map(|out| out.lines().count())
        .map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coverage_costs_at_most_three_requests_per_workload_and_a_change_a_few() {
    if std::env::var("E2E_REAL_CLUSTER").is_ok_and(|v| v == "1") {
        panic!(
            "counts requests at kube-sim; against a real cluster run the scenarios with --profile real-cluster, which reports this one as skipped"
        );
    }
    let golden = e2e::repo_root().join("tests/data/trivy-json/alpine-310.json.golden");
    let map: serde_json::Map<String, Value> = (0..IMAGES)
        .map(|i| (image(i), json!(golden.to_string_lossy())))
        .collect();
    let cluster = Cluster::start_with_images("budget", Some(Value::Object(map)))
        .await
        .unwrap();
    let namespaces: Vec<String> = (0..NAMESPACES)
        .map(|i| cluster.ns(&format!("budget{i}")))
        .collect();
    cluster.create_namespaces(&namespaces).unwrap();
    let manifest: String = namespaces
        .iter()
        .enumerate()
        .flat_map(|(n, ns)| {
            (0..PER_NAMESPACE).map(move |i| {
                deployment(
                    ns,
                    &format!("app{i}"),
                    "app",
                    &image((n * PER_NAMESPACE + i) % IMAGES),
                )
            })
        })
        .collect();
    cluster.apply(&manifest).unwrap();
    let workloads = NAMESPACES * PER_NAMESPACE;
    eventually("every ReplicaSet", LONG, || async {
        let n = count(&cluster, "replicasets")?;
        (n >= workloads)
            .then_some(())
            .ok_or(format!("{n} ReplicaSets"))
    })
    .await
    .unwrap();
    let sim = cluster.sim().unwrap();
    sim.stats().requests.reset();
    let options =
        OperatorOptions::new(e2e::binaries!(), &cluster, namespaces.clone()).workers(2, 4);
    let op = Operator::start(&cluster, options).unwrap();
    eventually("full coverage", LONG, || async {
        let audits = count(&cluster, "configauditreports")?;
        let vulns = count(&cluster, "vulnerabilityreports")?;
        (audits >= workloads && vulns >= workloads)
            .then_some(())
            .ok_or(format!("{audits} audits, {vulns} vulnerability reports"))
    })
    .await
    .unwrap();
    let stats = sim.stats().requests.to_json();
    let (first, rows) = per_work_requests(&stats);
    println!(
        "first coverage: {first} requests for {workloads} workloads\n{}",
        rows.join("\n")
    );
    // Each report of a kind written from the same scan costs its one write, nothing else.
    let mut companions = 0;
    for kind in COMPANIONS {
        let requests = requests_on(&stats, kind);
        eventually(&format!("every {kind}"), LONG, || async {
            let name = kind.rsplit('/').next().unwrap();
            let n = count(&cluster, name)?;
            (n >= workloads)
                .then_some(())
                .ok_or(format!("{n} of {name}"))
        })
        .await
        .unwrap();
        assert!(
            requests.iter().all(|(verb, _)| verb == "patch"),
            "{kind}: {requests:?}"
        );
        let writes: u64 = requests.iter().map(|(_, n)| n).sum();
        assert!(writes <= workloads as u64, "{kind}: {writes} writes");
        companions += writes;
    }
    assert!(
        first - companions <= 3 * workloads as u64,
        "{first} requests ({companions} of them reports written beside vulnerability reports) for {workloads} workloads:\n{}",
        rows.join("\n")
    );

    // One workload changes (a new image, so a new ReplicaSet): a bounded cost, whatever
    // the number of workloads.
    sim.stats().requests.reset();
    let ns = &namespaces[0];
    cluster
        .kubectl(&[
            "set",
            "image",
            "deployment/app0",
            "app=budget1:1.0",
            "-n",
            ns,
        ])
        .unwrap();
    eventually("the new ReplicaSet's reports", LONG, || async {
        let reports = cluster
            .list(&["vulnerabilityreports", "-n", ns])
            .map_err(|e| e.to_string())?;
        let audits = cluster
            .list(&["configauditreports", "-n", ns])
            .map_err(|e| e.to_string())?;
        let fresh = |list: &[Value]| list.len() > PER_NAMESPACE;
        (fresh(&reports) && fresh(&audits))
            .then_some(())
            .ok_or(format!("{} / {} reports", reports.len(), audits.len()))
    })
    .await
    .unwrap();
    let (change, rows) = per_work_requests(&sim.stats().requests.to_json());
    println!("one change: {change} requests\n{}", rows.join("\n"));
    assert!(
        change <= 20,
        "{change} requests for one change:\n{}",
        rows.join("\n")
    );

    // A flood of scrapes lists no report: the gauges come from the watches (every report the
    // workers wrote carries its counts and image), complete, and the scrape port cannot
    // multiply the load.
    sim.stats().requests.reset();
    let port = op.leader_admin_ports[0];
    let scrapes: Vec<_> = (0..10)
        .map(|_| tokio::spawn(e2e::operator::http_get(port, "/metrics")))
        .collect();
    let count = |kind: &str| cluster.list(&[kind, "-A"]).unwrap().len();
    let (vuln_reports, audit_reports, secret_reports) = (
        count("vulnerabilityreports"),
        count("configauditreports"),
        count("exposedsecretreports"),
    );
    assert!(vuln_reports >= NAMESPACES * PER_NAMESPACE);
    for scrape in scrapes {
        let (code, text) = scrape.await.unwrap().unwrap();
        assert_eq!(code, 200);
        let series = |name: &str| text.lines().filter(|l| l.starts_with(name)).count();
        assert_eq!(series("trivy_image_vulnerabilities{"), 5 * vuln_reports);
        assert_eq!(series("trivy_resource_configaudits{"), 4 * audit_reports);
        assert_eq!(series("trivy_image_exposedsecrets{"), 4 * secret_reports);
    }
    let report_lists: u64 = sim.stats().requests.to_json()["requests"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| {
            r["userAgent"]
                .as_str()
                .unwrap_or("")
                .starts_with("trivy-operator-leader")
                && r["verb"] == "list"
                && r["resource"].as_str().unwrap_or("").ends_with("reports")
        })
        .map(|r| r["count"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(report_lists, 0, "report lists for 10 scrapes");
}

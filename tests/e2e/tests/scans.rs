//! Vulnerability scans end to end: reports per container with the exact contents of the
//! real Trivy outputs, one scan Job per image however many workloads run it, rescans after a
//! deleted report or a changed image, and failures that are reported, not faked.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::time::Duration;

use e2e::reports::{label, name, owner, uid};
use e2e::{Cluster, Operator, OperatorOptions, eventually};
use serde_json::Value;

const LONG: Duration = Duration::from_secs(240);

fn deployment(ns: &str, name: &str, containers: &[(&str, &str)]) -> String {
    let containers: String = containers
        .iter()
        .map(|(n, image)| format!("        - {{name: {n}, image: \"{image}\"}}\n"))
        .collect();
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n  replicas: 1\n  selector: {{matchLabels: {{app: {name}}}}}\n  template:\n    metadata: {{labels: {{app: {name}}}}}\n    spec:\n      containers:\n{containers}---\n"
    )
}

fn golden_ids(file: &str) -> BTreeSet<String> {
    e2e::reports::golden_vulnerability_ids(file).unwrap()
}

fn ids(report: &Value) -> BTreeSet<String> {
    e2e::reports::vulnerability_ids(report)
}

fn vuln_count(report: &Value) -> usize {
    report["report"]["vulnerabilities"]
        .as_array()
        .map_or(0, Vec::len)
}

fn options(
    cluster: &Cluster,
    namespaces: Vec<String>,
    leader_args: Vec<String>,
    worker_args: Vec<String>,
) -> OperatorOptions {
    OperatorOptions::new(e2e::binaries!(), cluster, namespaces)
        .workers(2, 2)
        .leader_args(leader_args)
        .worker_args(worker_args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_container_gets_the_exact_report_of_its_image() {
    let cluster = Cluster::start("scan-exact").await.unwrap();
    let ns = cluster.ns("vuln");
    cluster
        .create_namespaces(std::slice::from_ref(&ns))
        .unwrap();
    let opts = options(&cluster, vec![ns.clone()], Vec::new(), Vec::new());
    let opns = opts.operator_namespace.clone();
    let _op = Operator::start(&cluster, opts).unwrap();
    cluster
        .apply(&deployment(
            &ns,
            "web",
            &[("alpine", "alpine:3.10"), ("debian", "debian:buster")],
        ))
        .unwrap();
    let reports = eventually("two VulnerabilityReports", LONG, || async {
        let reports = cluster
            .list(&["vulnerabilityreports", "-n", &ns])
            .map_err(|e| e.to_string())?;
        if reports.len() == 2 {
            Ok(reports)
        } else {
            Err(format!("{} reports", reports.len()))
        }
    })
    .await
    .unwrap();
    let rs = cluster.list(&["replicasets", "-n", &ns]).unwrap().remove(0);
    for (container, file) in [
        ("alpine", "alpine-310.json.golden"),
        ("debian", "debian-buster.json.golden"),
    ] {
        let report = reports
            .iter()
            .find(|r| label(r, "trivy-operator.container.name") == Some(container))
            .unwrap();
        assert_eq!(
            name(report),
            format!("replicaset-{}-{container}", name(&rs))
        );
        assert_eq!(
            label(report, "trivy-operator.resource.kind"),
            Some("ReplicaSet")
        );
        assert_eq!(
            label(report, "trivy-operator.resource.name"),
            Some(name(&rs))
        );
        assert_eq!(label(report, "resource-spec-hash").map(str::len), Some(16));
        assert_eq!(
            owner(report).unwrap(),
            ("ReplicaSet".into(), name(&rs).into(), uid(&rs).into())
        );
        assert_eq!(
            report["metadata"]["ownerReferences"][0]["blockOwnerDeletion"],
            false
        );
        assert_eq!(ids(report), golden_ids(file), "{container}");
        let summary = &report["report"]["summary"];
        let counted: u64 = [
            "criticalCount",
            "highCount",
            "mediumCount",
            "lowCount",
            "unknownCount",
        ]
        .iter()
        .map(|k| summary[k].as_u64().unwrap())
        .sum();
        assert_eq!(
            counted as usize,
            vuln_count(report),
            "summary of {container}"
        );
        assert_eq!(report["report"]["scanner"]["name"], "Trivy");
        assert_eq!(
            report["report"]["artifact"]["repository"],
            format!(
                "library/{}",
                if container == "alpine" {
                    "alpine"
                } else {
                    "debian"
                }
            )
        );
    }
    eventually("the scan Jobs to be deleted", LONG, || async {
        let jobs = cluster
            .list(&["jobs", "-n", &opns])
            .map_err(|e| e.to_string())?;
        if jobs.is_empty() {
            Ok(())
        } else {
            Err(format!("{} jobs left", jobs.len()))
        }
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_is_scanned_once_for_all_its_workloads() {
    let cluster = Cluster::start("scan-dedupe").await.unwrap();
    let namespaces: Vec<String> = (0..5).map(|i| cluster.ns(&format!("dd{i}"))).collect();
    cluster.create_namespaces(&namespaces).unwrap();
    let opts = options(&cluster, namespaces.clone(), Vec::new(), Vec::new());
    let jobs = e2e::jobs::watch_jobs(&cluster, &opts.operator_namespace)
        .await
        .unwrap();
    let _op = Operator::start(&cluster, opts).unwrap();
    let manifest: String = namespaces
        .iter()
        .flat_map(|ns| {
            (0..4).map(move |i| deployment(ns, &format!("app{i}"), &[("main", "alpine:3.10")]))
        })
        .collect();
    cluster.apply(&manifest).unwrap();
    eventually("20 VulnerabilityReports", LONG, || async {
        let mut total = 0;
        for ns in &namespaces {
            let reports = cluster
                .list(&["vulnerabilityreports", "-n", ns])
                .map_err(|e| e.to_string())?;
            for r in &reports {
                if ids(r) != golden_ids("alpine-310.json.golden") {
                    return Err(format!("{} has other contents", name(r)));
                }
            }
            total += reports.len();
        }
        if total == 20 {
            Ok(())
        } else {
            Err(format!("{total} reports"))
        }
    })
    .await
    .unwrap();
    assert_eq!(
        jobs.lock().unwrap().seen.len(),
        1,
        "exactly one scan Job for the image"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_are_rescanned_when_deleted_or_when_the_image_changes() {
    let cluster = Cluster::start("scan-again").await.unwrap();
    let ns = cluster.ns("again");
    cluster
        .create_namespaces(std::slice::from_ref(&ns))
        .unwrap();
    let _op = Operator::start(
        &cluster,
        options(&cluster, vec![ns.clone()], Vec::new(), Vec::new()),
    )
    .unwrap();
    cluster
        .apply(&deployment(&ns, "web", &[("main", "alpine:3.10")]))
        .unwrap();
    let first = eventually("the first report", LONG, || async {
        let r = cluster
            .list(&["vulnerabilityreports", "-n", &ns])
            .map_err(|e| e.to_string())?;
        r.into_iter().next().ok_or_else(|| "none".to_string())
    })
    .await
    .unwrap();
    cluster
        .kubectl(&["delete", "vulnerabilityreport", name(&first), "-n", &ns])
        .unwrap();
    eventually("the deleted report to come back", LONG, || async {
        let r = cluster
            .list(&["vulnerabilityreports", "-n", &ns])
            .map_err(|e| e.to_string())?;
        match r.as_slice() {
            [one] if uid(one) != uid(&first) && name(one) == name(&first) => Ok(()),
            other => Err(format!("{} reports", other.len())),
        }
    })
    .await
    .unwrap();

    // A new image: a new ReplicaSet is scanned; the old one (no revision history kept) is
    // deleted and its report goes with it.
    let changed = deployment(&ns, "web", &[("main", "debian:buster")]).replace(
        "  replicas: 1\n",
        "  replicas: 1\n  revisionHistoryLimit: 0\n",
    );
    assert!(changed.contains("revisionHistoryLimit: 0"));
    cluster.apply(&changed).unwrap();
    eventually("only the new ReplicaSet's report", LONG, || async {
        let r = cluster
            .list(&["vulnerabilityreports", "-n", &ns])
            .map_err(|e| e.to_string())?;
        match r.as_slice() {
            [one]
                if name(one) != name(&first)
                    && ids(one) == golden_ids("debian-buster.json.golden") =>
            {
                Ok(())
            }
            other => Err(format!("{:?}", other.iter().map(name).collect::<Vec<_>>())),
        }
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_scans_are_reported_and_retried_without_a_report() {
    let cluster = Cluster::start("scan-fail").await.unwrap();
    let ns = cluster.ns("fail");
    cluster
        .create_namespaces(std::slice::from_ref(&ns))
        .unwrap();
    // An unknown image, garbage output, and a scan that never ends (3s deadline).
    let timeout = vec!["--scan-job-timeout".to_string(), "3s".to_string()];
    let opts = options(&cluster, vec![ns.clone()], Vec::new(), timeout);
    let jobs = e2e::jobs::watch_jobs(&cluster, &opts.operator_namespace)
        .await
        .unwrap();
    let op = Operator::start(&cluster, opts).unwrap();
    cluster
        .apply(&format!(
            "{}{}{}{}",
            deployment(&ns, "unknown", &[("main", "registry.invalid/nothing:1")]),
            deployment(&ns, "garbage", &[("main", "garbage:1")]),
            deployment(&ns, "hung", &[("main", "slow:1")]),
            deployment(&ns, "good", &[("main", "alpine:3.10")])
        ))
        .unwrap();
    // The good scan is unaffected.
    eventually("the good workload's report", LONG, || async {
        let r = cluster
            .list(&["vulnerabilityreports", "-n", &ns])
            .map_err(|e| e.to_string())?;
        if r.len() == 1 && name(&r[0]).contains("good") {
            Ok(())
        } else {
            Err(format!("{} reports", r.len()))
        }
    })
    .await
    .unwrap();
    // Each bad one: a Warning Event on its ReplicaSet saying why.
    for (workload, reason) in [
        ("unknown", "ScanJobFailed"),
        ("garbage", "ScanOutputInvalid"),
        ("hung", "ScanJobTimeout"),
    ] {
        let event = eventually(&format!("a {reason} Event"), LONG, || async {
            let events = cluster
                .list(&["events.v1.events.k8s.io", "-n", &ns])
                .map_err(|e| e.to_string())?;
            events
                .into_iter()
                .find(|e| e["reason"] == reason)
                .ok_or_else(|| "none yet".to_string())
        })
        .await
        .unwrap();
        assert_eq!(event["regarding"]["kind"], "ReplicaSet");
        assert!(
            event["regarding"]["name"]
                .as_str()
                .unwrap()
                .starts_with(workload),
            "{event}"
        );
        assert_eq!(event["type"], "Warning");
        assert!(
            !event["note"].as_str().unwrap_or_default().is_empty(),
            "the Event says why"
        );
    }
    // Retried with backoff: more Jobs than images; the failures are counted by reason.
    eventually("retries of the failing scans", LONG, || async {
        let n = jobs.lock().unwrap().seen.len();
        if n >= 6 {
            Ok(())
        } else {
            Err(format!("{n} jobs"))
        }
    })
    .await
    .unwrap();
    // The worker publishes the Event before it reports the failure to the leader: poll.
    eventually("every failure reason counted", LONG, || async {
        let (_, metrics) = e2e::operator::http_get(op.leader_admin_ports[0], "/metrics")
            .await
            .map_err(|e| e.to_string())?;
        match ["ScanJobFailed", "ScanOutputInvalid", "ScanJobTimeout"]
            .into_iter()
            .find(|reason| !metrics.contains(&format!("reason=\"{reason}\"")))
        {
            None => Ok(()),
            Some(missing) => Err(format!("{missing} not counted:\n{metrics}")),
        }
    })
    .await
    .unwrap();
    let reports = cluster.list(&["vulnerabilityreports", "-n", &ns]).unwrap();
    assert_eq!(reports.len(), 1, "no report is faked for a failing scan");
}

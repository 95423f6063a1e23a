//! What VulnerabilityReports keep, set on the workers as upstream sets it on Trivy: only
//! some severities (`--trivy-severity`, upstream's `trivy.severity`), only fixable
//! vulnerabilities (`--trivy-ignore-unfixed`, upstream's `trivy.ignoreUnfixed`), and fields
//! left out to make reports smaller (`--vulnerability-report-omit`). The summary counts what
//! the report keeps.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use e2e::reports::label;
use e2e::workloads::deployment;
use e2e::{Cluster, Operator, OperatorOptions, eventually};
use serde_json::Value;

const LONG: Duration = Duration::from_secs(300);
const DEBIAN: &str = "trivy-double.test/debian-buster/detail:1.0";
const BUSYBOX: &str = "trivy-double.test/busybox-with-lockfile/detail:1.0";

/// (vulnerability ids and severities, summary counts by severity) of the one report of
/// `workload`.
fn kept(reports: &[Value], workload: &str) -> Option<(Vec<(String, String)>, Value)> {
    let report = reports.iter().find(|r| {
        label(r, "trivy-operator.resource.name").is_some_and(|n| n.starts_with(workload))
    })?;
    let vulns = report["report"]["vulnerabilities"]
        .as_array()?
        .iter()
        .map(|v| {
            for field in ["description", "links", "primaryLink"] {
                assert!(v.get(field).is_none(), "{field} kept in {v:#}");
            }
            assert!(v.get("title").is_some(), "the title stays: {v:#}");
            (
                v["vulnerabilityID"].as_str().unwrap_or("").to_owned(),
                v["severity"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    Some((vulns, report["report"]["summary"].clone()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_keep_only_the_severities_fixes_and_fields_asked_for() {
    // debian-buster: a LOW without a fix and a CRITICAL with one; busybox: a HIGH and a
    // MEDIUM, both fixed.
    // The Trivy double's naming convention: no image map, so it runs on a real cluster too.
    let cluster = Cluster::start("detail").await.unwrap();
    let ns = cluster.ns("detail");
    cluster
        .create_namespaces(std::slice::from_ref(&ns))
        .unwrap();
    let options = OperatorOptions::new(e2e::binaries!(), &cluster, vec![ns.clone()])
        .workers(1, 4)
        .worker_args(
            [
                "--trivy-severity",
                "HIGH,CRITICAL,LOW",
                "--trivy-ignore-unfixed",
                "--vulnerability-report-omit",
                "description,links",
            ]
            .map(String::from)
            .to_vec(),
        );
    let _op = Operator::start(&cluster, options).unwrap();
    cluster
        .apply(&format!(
            "{}{}",
            deployment(&ns, "debian", "main", DEBIAN),
            deployment(&ns, "busybox", "main", BUSYBOX)
        ))
        .unwrap();
    let reports = eventually("both reports", LONG, || async {
        let reports = cluster
            .list(&["vulnerabilityreports", "-n", &ns])
            .map_err(|e| e.to_string())?;
        (reports.len() == 2)
            .then_some(reports)
            .ok_or_else(|| "not yet".to_string())
    })
    .await
    .unwrap();
    let (debian, summary) = kept(&reports, "debian").unwrap();
    // The LOW has no fix, so only the CRITICAL stays.
    assert_eq!(debian.len(), 1, "{debian:?}");
    assert_eq!(debian[0].1, "CRITICAL");
    assert_eq!(summary["criticalCount"], 1);
    assert_eq!(summary["lowCount"], 0);
    let (busybox, summary) = kept(&reports, "busybox").unwrap();
    // MEDIUM is not asked for.
    assert_eq!(
        busybox.iter().map(|v| v.1.as_str()).collect::<Vec<_>>(),
        ["HIGH"]
    );
    assert_eq!(summary["highCount"], 1);
    assert_eq!(summary["mediumCount"], 0);
}

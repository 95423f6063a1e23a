//! The per-image storage mode (`--vulnerability-report-mode per-image`), end to end: each
//! image's whole list is stored once in a cluster-scoped ImageVulnerabilityReport shared by
//! every workload (in any namespace) that runs it; each workload's VulnerabilityReport keeps
//! the whole summary, the kept severities and the image report's name. Deleted reports of
//! either kind come back, the TTL refreshes the image's report, the report metrics count
//! the whole list, and an image report is collected once no workload uses its image.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use e2e::operator::http_get;
use e2e::reports::{annotation, label};
use e2e::workloads::deployment;
use e2e::{Cluster, Operator, OperatorOptions, eventually};
use serde_json::Value;

const LONG: Duration = Duration::from_secs(300);
const IMAGE_REPORT: &str = "trivy-operator-rs.dev/image-report";
const BUSYBOX: &str = "trivy-double.test/busybox-with-lockfile/pi:1.0";
const DEBIAN: &str = "trivy-double.test/debian-buster/pi:1.0";

fn image_reports(cluster: &Cluster) -> Result<Vec<Value>, String> {
    cluster
        .list(&["imagevulnerabilityreports"])
        .map_err(|e| e.to_string())
}

/// The VulnerabilityReport of the Deployment `workload` in `ns`, if there is one.
fn report_of(cluster: &Cluster, ns: &str, workload: &str) -> Result<Option<Value>, String> {
    let reports = cluster
        .list(&["vulnerabilityreports", "-n", ns])
        .map_err(|e| e.to_string())?;
    Ok(reports.into_iter().find(|r| {
        label(r, "trivy-operator.resource.name")
            .is_some_and(|n| n.starts_with(&format!("{workload}-")))
    }))
}

/// Waits for the report of `workload`, naming an image report; returns both.
async fn reports_of(cluster: &Cluster, ns: &str, workload: &str) -> (Value, Value) {
    eventually(&format!("the reports of {ns}/{workload}"), LONG, || async {
        let report = report_of(cluster, ns, workload)?.ok_or("no report yet")?;
        let name = annotation(&report, IMAGE_REPORT).ok_or("names no image report")?;
        let image = image_reports(cluster)?
            .into_iter()
            .find(|i| i["metadata"]["name"] == name)
            .ok_or_else(|| format!("image report {name} not there"))?;
        Ok::<_, String>((report, image))
    })
    .await
    .unwrap()
}

fn severities(report: &Value) -> Vec<String> {
    let mut out: Vec<String> = report["report"]["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["severity"].as_str().unwrap().to_owned())
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn images_are_stored_once_and_follow_their_workloads() {
    // busybox: a HIGH and a MEDIUM; debian: a CRITICAL and a LOW.
    // The Trivy double's naming convention: no image map, so it runs on a real cluster too.
    let cluster = Cluster::start("per-image").await.unwrap();
    let (a, b) = (cluster.ns("pi-a"), cluster.ns("pi-b"));
    cluster.create_namespaces(&[a.clone(), b.clone()]).unwrap();
    let options = OperatorOptions::new(e2e::binaries!(), &cluster, vec![a.clone(), b.clone()])
        .workers(2, 4)
        .leader_args(
            [
                "--vulnerability-report-mode",
                "per-image",
                "--image-report-gc-grace",
                "3s",
                "--report-ttl",
                "30s",
            ]
            .map(String::from)
            .to_vec(),
        )
        .worker_args(["--report-ttl", "30s"].map(String::from).to_vec());
    let op = Operator::start(&cluster, options).unwrap();
    cluster
        .apply(&format!(
            "{}{}{}",
            deployment(&a, "web", "main", BUSYBOX),
            deployment(&b, "api", "main", BUSYBOX),
            deployment(&a, "db", "main", DEBIAN),
        ))
        .unwrap();

    // One image report per image, shared across namespaces.
    let (web, busybox) = reports_of(&cluster, &a, "web").await;
    let (api, busybox_too) = reports_of(&cluster, &b, "api").await;
    let (db, debian) = reports_of(&cluster, &a, "db").await;
    assert_eq!(busybox["metadata"]["name"], busybox_too["metadata"]["name"]);
    assert_ne!(busybox["metadata"]["name"], debian["metadata"]["name"]);
    assert!(busybox["metadata"]["namespace"].is_null(), "cluster-scoped");
    // The image report has the whole list; a workload's keeps CRITICAL and HIGH, with the
    // whole summary.
    assert_eq!(severities(&busybox), ["HIGH", "MEDIUM"]);
    assert_eq!(severities(&web), ["HIGH"]);
    assert_eq!(severities(&api), ["HIGH"]);
    assert_eq!(severities(&debian), ["CRITICAL", "LOW"]);
    assert_eq!(severities(&db), ["CRITICAL"]);
    for (workload, image) in [(&web, &busybox), (&api, &busybox), (&db, &debian)] {
        assert_eq!(workload["report"]["summary"], image["report"]["summary"]);
    }
    assert_eq!(web["report"]["summary"]["mediumCount"], 1);
    assert!(
        annotation(&busybox, "trivy-operator-rs.dev/bytes").is_some(),
        "the image report's size counts in the storage budget"
    );
    // kubectl's columns show the whole counts (Critical, High, Medium, Low, Unknown).
    let table = cluster
        .kubectl(&["get", "vulns", "-n", &a, "-o", "wide", "--no-headers"])
        .unwrap();
    let web_row = table
        .lines()
        .find(|l| l.contains("busybox-with-lockfile/pi"))
        .unwrap_or_else(|| panic!("{table}"));
    let counts: Vec<&str> = web_row.split_whitespace().rev().take(5).collect();
    assert_eq!(counts, ["0", "0", "1", "1", "0"], "{web_row}");

    // The leader's report metrics count the whole list, as in the default mode.
    eventually("the MEDIUM of web in the metrics", LONG, || async {
        let (_, metrics) = http_get(op.leader_admin_ports[0], "/metrics")
            .await
            .map_err(|e| e.to_string())?;
        metrics
            .lines()
            .any(|l| {
                l.starts_with("trivy_image_vulnerabilities{")
                    && l.contains(&format!("namespace=\"{a}\""))
                    && l.contains("resource_name=\"web")
                    && l.contains("severity=\"Medium\"")
                    && l.ends_with(" 1")
            })
            .then_some(())
            .ok_or_else(|| "not yet".to_string())
    })
    .await
    .unwrap();

    // A deleted workload report comes back, naming the same image report.
    let web_name = web["metadata"]["name"].as_str().unwrap().to_owned();
    cluster
        .kubectl(&["delete", "vulnerabilityreport", "-n", &a, &web_name])
        .unwrap();
    let (web_again, busybox_again) = reports_of(&cluster, &a, "web").await;
    assert_ne!(web_again["metadata"]["uid"], web["metadata"]["uid"]);
    assert_eq!(
        busybox_again["metadata"]["name"],
        busybox["metadata"]["name"]
    );

    // A deleted image report is written again by a rescan.
    let debian_name = debian["metadata"]["name"].as_str().unwrap().to_owned();
    cluster
        .kubectl(&["delete", "imagevulnerabilityreport", &debian_name])
        .unwrap();
    eventually("the debian image report to be back", LONG, || async {
        let back = image_reports(&cluster)?
            .into_iter()
            .find(|i| i["metadata"]["name"] == debian_name.as_str())
            .ok_or("not yet")?;
        (back["metadata"]["uid"] != debian["metadata"]["uid"]
            && severities(&back) == ["CRITICAL", "LOW"])
        .then_some(())
        .ok_or_else(|| "not the new one yet".to_string())
    })
    .await
    .unwrap();

    // The TTL refreshes the image report.
    let scanned = annotation(&busybox, "trivy-operator-rs.dev/scanned-at")
        .unwrap()
        .to_owned();
    eventually("a refreshed busybox image report", LONG, || async {
        let now = image_reports(&cluster)?
            .into_iter()
            .find(|i| i["metadata"]["name"] == busybox["metadata"]["name"])
            .ok_or("gone")?;
        let at = annotation(&now, "trivy-operator-rs.dev/scanned-at").unwrap_or_default();
        (at > scanned.as_str())
            .then_some(())
            .ok_or_else(|| format!("still scanned at {at}"))
    })
    .await
    .unwrap();

    // The last workload running debian goes, and so does its image report; the busybox
    // one stays while web still runs it (the same collector passes judged both).
    cluster
        .kubectl(&["delete", "deployment", "-n", &a, "db"])
        .unwrap();
    cluster
        .kubectl(&["delete", "deployment", "-n", &b, "api"])
        .unwrap();
    eventually("the debian image report to be collected", LONG, || async {
        let names: Vec<Value> = image_reports(&cluster)?
            .iter()
            .map(|i| i["metadata"]["name"].clone())
            .collect();
        (!names.contains(&Value::from(debian_name.as_str())))
            .then_some(())
            .ok_or_else(|| format!("{names:?}"))
    })
    .await
    .unwrap();
    let left = image_reports(&cluster).unwrap();
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0]["metadata"]["name"], busybox["metadata"]["name"]);
    cluster
        .kubectl(&["delete", "deployment", "-n", &a, "web"])
        .unwrap();
    eventually("no image report left", LONG, || async {
        let left = image_reports(&cluster)?.len();
        (left == 0)
            .then_some(())
            .ok_or_else(|| format!("{left} left"))
    })
    .await
    .unwrap();
}

//! The reports' storage budget (`--report-storage-budget`): when the operator's reports
//! reach it, new reports keep only their summaries, and the leader says so with a Warning
//! Event, a metric and a status line; when reports are deleted and the bytes fall below nine
//! tenths of the budget, reports are written in full again. Judged with kubectl and the
//! leader's own endpoints, so it runs on a real cluster too.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use e2e::operator::http_get;
use e2e::reports::{annotation, label};
use e2e::workloads::pod;
use e2e::{Cluster, Operator, OperatorOptions, eventually};
use serde_json::Value;

const LONG: Duration = Duration::from_secs(300);
const SUMMARY_ONLY: &str = "trivy-operator-rs.dev/summary-only";

fn summary_only(report: &Value) -> bool {
    annotation(report, SUMMARY_ONLY) == Some("true")
}

/// The ConfigAuditReport of Pod `name`, once it exists.
async fn audit_of(cluster: &Cluster, ns: &str, name: &str) -> Value {
    eventually(&format!("the report of {name}"), LONG, || async {
        cluster
            .list(&["configauditreports", "-n", ns])
            .map_err(|e| e.to_string())?
            .into_iter()
            .find(|r| label(r, "trivy-operator.resource.name") == Some(name))
            .ok_or_else(|| "not yet".to_string())
    })
    .await
    .unwrap()
}

async fn over_budget_metric(op: &Operator) -> Option<f64> {
    let (_, text) = http_get(op.leader_admin_ports[0], "/metrics").await.ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("trivy_operator_leader_report_storage_over_budget "))
        .and_then(|v| v.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_storage_budget_reports_keep_their_summaries_until_bytes_fall() {
    let cluster = Cluster::start("storage").await.unwrap();
    let ns = cluster.ns("storage");
    cluster
        .create_namespaces(std::slice::from_ref(&ns))
        .unwrap();
    // A config audit report of a bare Pod is about 8 KB: the budget holds about five.
    let options = OperatorOptions::new(e2e::binaries!(), &cluster, vec![ns.clone()])
        .workers(1, 2)
        .leader_args(
            [
                "--vulnerability-scans",
                "false",
                "--report-storage-budget",
                "40Ki",
            ]
            .map(String::from)
            .to_vec(),
        );
    let opns = options.operator_namespace.clone();
    let op = Operator::start(&cluster, options).unwrap();

    // Fill up to the budget, one at a time, so the reports below it are full.
    let mut n = 0;
    loop {
        let name = format!("p{n}");
        cluster.apply(&pod(&ns, &name, "alpine:3.10")).unwrap();
        let report = audit_of(&cluster, &ns, &name).await;
        n += 1;
        if over_budget_metric(&op).await == Some(1.0) || n > 20 {
            break;
        }
        assert!(
            !summary_only(&report),
            "{name} written summary-only below the budget"
        );
        assert!(!report["report"]["checks"].as_array().unwrap().is_empty());
    }
    assert!(n <= 20, "the budget never tripped after {n} reports");

    // Over the budget: a new report has its summary and no checks.
    cluster.apply(&pod(&ns, "late", "alpine:3.10")).unwrap();
    let late = audit_of(&cluster, &ns, "late").await;
    assert!(summary_only(&late), "{late:#}");
    assert!(late["report"]["checks"].as_array().unwrap().is_empty());
    let summary = &late["report"]["summary"];
    assert!(summary["highCount"].as_u64().unwrap() + summary["mediumCount"].as_u64().unwrap() > 0);
    // The Warning Event and the status line say why.
    let note = eventually("the Warning Event", LONG, || async {
        cluster
            .list(&[
                "events",
                "-n",
                &opns,
                "--field-selector",
                "reason=ReportStorageOverBudget",
            ])
            .map_err(|e| e.to_string())?
            .first()
            .and_then(|e| e["message"].as_str().map(str::to_owned))
            .ok_or_else(|| "no Event yet".to_string())
    })
    .await
    .unwrap();
    assert!(note.contains("--report-storage-budget"), "{note}");
    let status = op.status(&["cluster"]).unwrap();
    assert_eq!(status["report_storage_over_budget"], true, "{status:#}");
    assert_eq!(status["report_storage_budget"], 40 * 1024);

    // Deleting most Pods deletes their reports (garbage collection): below nine tenths of
    // the budget, reports are full again.
    for i in 0..n {
        cluster
            .kubectl(&["delete", "pod", &format!("p{i}"), "-n", &ns, "--wait=false"])
            .unwrap();
    }
    eventually("the guard to recover", LONG, || async {
        (over_budget_metric(&op).await == Some(0.0))
            .then_some(())
            .ok_or_else(|| "still over".to_string())
    })
    .await
    .unwrap();
    cluster.apply(&pod(&ns, "after", "alpine:3.10")).unwrap();
    let after = audit_of(&cluster, &ns, "after").await;
    assert!(!summary_only(&after), "{after:#}");
    assert!(!after["report"]["checks"].as_array().unwrap().is_empty());
    eventually("the Normal Event", LONG, || async {
        let events = cluster
            .list(&[
                "events",
                "-n",
                &opns,
                "--field-selector",
                "reason=ReportStorageWithinBudget",
            ])
            .map_err(|e| e.to_string())?;
        (!events.is_empty())
            .then_some(())
            .ok_or_else(|| "no Event yet".to_string())
    })
    .await
    .unwrap();
}

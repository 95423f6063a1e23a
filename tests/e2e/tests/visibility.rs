//! Visibility end to end: the `status` subcommand answers "why does this workload have no
//! report yet?" correctly for each state, and `/metrics` agrees with the reports in the
//! cluster.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use e2e::operator::http_get;
use e2e::reports::name;
use e2e::workloads::pod;
use e2e::{Cluster, Operator, OperatorOptions, eventually};
use serde_json::Value;

const LONG: Duration = Duration::from_secs(300);

fn status(op: &Operator, args: &[&str]) -> Result<Value, String> {
    op.status(args)
}

async fn workload_state(op: &Operator, ns: &str, name: &str, want: &str) -> Value {
    eventually(&format!("{name} to be {want}"), LONG, || async {
        let answer = status(op, &["workload", ns, "Pod", name])?;
        if answer["state"] == want {
            Ok(answer)
        } else {
            Err(answer.to_string())
        }
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_explains_every_state_and_metrics_match_the_reports() {
    // The Trivy double's naming convention (no image map: it runs on a real cluster too):
    // a scan that takes 180 s, and another image.
    let (slow, later) = (
        "trivy-double.test/sleep-180/alpine-310/slow:1.0",
        "trivy-double.test/debian-buster/later:1.0",
    );
    let cluster = Cluster::start("visibility").await.unwrap();
    let ns = cluster.ns("vis");
    cluster
        .create_namespaces(std::slice::from_ref(&ns))
        .unwrap();
    let op = Operator::start(
        &cluster,
        OperatorOptions::new(e2e::binaries!(), &cluster, vec![ns.clone()])
            .leader_args(vec!["--max-concurrent-scans".into(), "1".into()]),
    )
    .unwrap();

    // Up to date.
    cluster.apply(&pod(&ns, "done", "alpine:3.10")).unwrap();
    let done = workload_state(&op, &ns, "done", "up-to-date").await;
    assert!(
        done["explanation"]
            .as_str()
            .unwrap()
            .starts_with("up to date"),
        "{done}"
    );
    // Failed, with the reason and the next retry.
    cluster.apply(&pod(&ns, "bad", "no-such-image:1")).unwrap();
    let bad = workload_state(&op, &ns, "bad", "failed").await;
    let failed = bad["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["state"] == "failed")
        .unwrap();
    assert_eq!(failed["failure_reason"], "ScanJobFailed", "{bad}");
    assert!(failed["next_retry_unix"].as_i64().unwrap() > 0);
    assert!(
        bad["explanation"]
            .as_str()
            .unwrap()
            .contains("ScanJobFailed"),
        "{bad}"
    );
    // In flight on the worker, holding the only scan slot...
    cluster.apply(&pod(&ns, "slow", slow)).unwrap();
    let slow = workload_state(&op, &ns, "slow", "in-flight").await;
    assert!(
        slow["explanation"].as_str().unwrap().contains("worker-0"),
        "{slow}"
    );
    // ...so another image's scan waits: pending.
    cluster.apply(&pod(&ns, "waiting", later)).unwrap();
    let waiting = workload_state(&op, &ns, "waiting", "pending").await;
    assert!(
        waiting["explanation"]
            .as_str()
            .unwrap()
            .starts_with("pending"),
        "{waiting}"
    );

    // The cluster and namespace views.
    let cluster_view = status(&op, &["cluster"]).unwrap();
    assert_eq!(
        cluster_view["workers"][0]["worker_id"], "worker-0",
        "{cluster_view}"
    );
    assert_eq!(cluster_view["scans_in_flight"], 1, "{cluster_view}");
    let ns_view = status(&op, &["namespace", &ns]).unwrap();
    assert_eq!(ns_view["owner_worker_id"], "worker-0");
    assert_eq!(ns_view["workloads"], 4);

    // /metrics: the leader's series and the report gauges, equal to the reports' summaries.
    let (code, metrics) = http_get(op.leader_admin_ports[0], "/metrics")
        .await
        .unwrap();
    assert_eq!(code, 200);
    for series in [
        "trivy_operator_leader_queue_depth",
        "trivy_operator_leader_workers 1",
        "trivy_operator_leader_scan_jobs_in_flight 1",
        "trivy_operator_leader_is_leader 1",
        "trivy_operator_leader_tasks_dispatched_total{kind=\"vulnerability_scan\"}",
        "trivy_operator_leader_tasks_completed_total{kind=\"vulnerability_scan\",outcome=\"failed_retryable\",reason=\"ScanJobFailed\"}",
        "trivy_operator_leader_plan_duration_seconds_count",
    ] {
        assert!(
            metrics.contains(series),
            "{series} missing from:\n{metrics}"
        );
    }
    let reports = cluster.list(&["vulnerabilityreports", "-n", &ns]).unwrap();
    assert_eq!(reports.len(), 1, "only 'done' is scanned so far");
    for report in &reports {
        for (severity, field) in [
            ("Critical", "criticalCount"),
            ("High", "highCount"),
            ("Medium", "mediumCount"),
            ("Low", "lowCount"),
            ("Unknown", "unknownCount"),
        ] {
            let value = report["report"]["summary"][field].as_u64().unwrap();
            let line = metrics
                .lines()
                .find(|l| {
                    l.starts_with("trivy_image_vulnerabilities{")
                        && l.contains(&format!("name=\"{}\"", name(report)))
                        && l.contains(&format!("severity=\"{severity}\""))
                })
                .unwrap_or_else(|| panic!("no {severity} series for {}", name(report)));
            assert!(
                line.ends_with(&format!(" {value}")),
                "{line} should be {value}"
            );
        }
    }
    assert!(
        metrics.contains("trivy_resource_configaudits{"),
        "config audit gauges"
    );
    let (code, worker_metrics) = http_get(op.worker_admin_ports["worker-0"], "/metrics")
        .await
        .unwrap();
    assert_eq!(code, 200);
    assert!(
        worker_metrics.contains("trivy_operator_worker_connected 1"),
        "{worker_metrics}"
    );
    assert_eq!(
        http_get(op.worker_admin_ports["worker-0"], "/readyz")
            .await
            .unwrap()
            .0,
        200
    );
}

//! Formatting of hand-built answers, and `run` against a small fake StatusService.

#![allow(clippy::unwrap_used)]

use common::proto::status_service_server::{StatusService, StatusServiceServer};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use common::proto::{TaskKind, WorkloadState};

use super::format::{ago, until};
use super::*;

const NOW: i64 = 1_700_000_000;

fn cluster() -> proto::ClusterStatus {
    proto::ClusterStatus {
        leader_id: "leader-0".into(),
        epoch: 3,
        workers: vec![
            proto::WorkerStatus {
                worker_id: "worker-a".into(),
                capacity: 4,
                namespaces: vec!["default".into(), "shop".into()],
                in_flight: 2,
                last_heartbeat_unix: NOW - 3,
            },
            proto::WorkerStatus {
                worker_id: "worker-long-name".into(),
                capacity: 16,
                namespaces: (0..7).map(|i| format!("ns{i}")).collect(),
                in_flight: 0,
                last_heartbeat_unix: NOW - 125,
            },
        ],
        queue_depth: 5,
        oldest_pending_seconds: 42,
        scans_in_flight: 1,
        scans_avoided: 9,
        failures: vec![proto::FailureCount {
            reason: "ScanJobFailed".into(),
            count: 2,
        }],
        policy_config_error: String::new(),
        watch_errors: Vec::new(),
        report_bytes: 3 * 1_048_576,
        report_storage_budget: 1 << 30,
        report_storage_over_budget: false,
    }
}

fn workload() -> proto::WorkloadStatus {
    proto::WorkloadStatus {
        workload: Some(proto::WorkloadRef {
            kind: "ReplicaSet".into(),
            api_version: "apps/v1".into(),
            namespace: "shop".into(),
            name: "web-6d4cf".into(),
            uid: "u-1".into(),
        }),
        state: WorkloadState::Failed as i32,
        tasks: vec![
            proto::TaskState {
                kind: TaskKind::ConfigAudit as i32,
                state: WorkloadState::InFlight as i32,
                worker_id: "worker-a".into(),
                since_unix: NOW - 10,
                ..Default::default()
            },
            proto::TaskState {
                kind: TaskKind::VulnerabilityScan as i32,
                state: WorkloadState::Failed as i32,
                failure_reason: "ScanJobFailed".into(),
                failure_message: "exit 1".into(),
                next_retry_unix: NOW + 90,
                ..Default::default()
            },
        ],
        explanation: "failed with ScanJobFailed: exit 1; next retry at unix 1700000090".into(),
    }
}

#[test]
fn cluster_table_is_aligned() {
    let text = cluster_table(&cluster(), NOW);
    let want = "\
LEADER            leader-0
EPOCH             3
QUEUE DEPTH       5
OLDEST PENDING    42s
SCANS IN FLIGHT   1
SCANS AVOIDED     9
POLICY ERROR      -
REPORT STORAGE    3.0 MiB of 1024.0 MiB

WORKER             CAPACITY   IN-FLIGHT   NAMESPACES                      LAST-HEARTBEAT
worker-a           4          2           default,shop                    3s ago
worker-long-name   16         0           ns0,ns1,ns2,ns3,ns4 (+2 more)   2m05s ago

FAILURE REASON   COUNT
ScanJobFailed    2
";
    assert_eq!(text, want);
    let mut over = cluster();
    over.report_storage_over_budget = true;
    assert!(
        cluster_table(&over, NOW)
            .contains("REPORT STORAGE    3.0 MiB of 1024.0 MiB: OVER BUDGET, new reports keep their summaries only\n")
    );
}

#[test]
fn empty_cluster_says_so() {
    let text = cluster_table(&proto::ClusterStatus::default(), NOW);
    assert!(text.contains("no workers connected\n"), "{text}");
    assert!(text.contains("no failures\n"), "{text}");
    assert!(text.starts_with("LEADER            -\n"), "{text}");
}

#[test]
fn workload_table_starts_with_the_explanation() {
    let text = workload_table(&workload(), NOW);
    let want = "\
failed with ScanJobFailed: exit 1; next retry at unix 1700000090

WORKLOAD   ReplicaSet shop/web-6d4cf
STATE      failed

TASK                 STATE       WORKER     SINCE     FAILURE         NEXT RETRY
config-audit         in-flight   worker-a   10s ago   -               -
vulnerability-scan   failed      -          -         ScanJobFailed   in 1m30s
";
    assert_eq!(text, want);
}

#[test]
fn namespace_table_lists_counts() {
    let n = proto::NamespaceStatus {
        namespace: "shop".into(),
        owner_worker_id: String::new(),
        workloads: 12,
        pending: 3,
        in_flight: 1,
        failed: 0,
    };
    assert_eq!(
        namespace_table(&n),
        "NAMESPACE   shop\nOWNER       -\nWORKLOADS   12\nPENDING     3\nIN FLIGHT   1\nFAILED      0\n"
    );
}

#[test]
fn json_views_carry_every_field() {
    let c = cluster_json(&cluster());
    assert_eq!(c["epoch"], 3);
    assert_eq!(c["workers"][1]["namespaces"].as_array().unwrap().len(), 7);
    assert_eq!(c["workers"][0]["last_heartbeat_unix"], NOW - 3);
    assert_eq!(c["failures"][0]["reason"], "ScanJobFailed");
    let w = workload_json(&workload());
    assert_eq!(w["state"], "failed");
    assert_eq!(w["workload"]["name"], "web-6d4cf");
    assert_eq!(w["tasks"][1]["kind"], "vulnerability-scan");
    assert_eq!(w["tasks"][1]["next_retry_unix"], NOW + 90);
    let missing = workload_json(&proto::WorkloadStatus::default());
    assert!(missing["workload"].is_null());
}

#[test]
fn ages_read_naturally() {
    assert_eq!(age(0), "0s");
    assert_eq!(age(59), "59s");
    assert_eq!(age(61), "1m01s");
    assert_eq!(age(7_260), "2h01m");
    assert_eq!(age(90_000), "1d1h");
    assert_eq!(ago(0, NOW), "never");
    assert_eq!(until(NOW - 5, NOW), "now");
}

/// Answers with fixed views; the workload query only knows `shop/ReplicaSet/web-6d4cf`.
struct Fake;

#[tonic::async_trait]
impl StatusService for Fake {
    async fn get_cluster(
        &self,
        _: Request<proto::GetClusterRequest>,
    ) -> Result<Response<proto::ClusterStatus>, Status> {
        Ok(Response::new(cluster()))
    }

    async fn get_namespace(
        &self,
        request: Request<proto::GetNamespaceRequest>,
    ) -> Result<Response<proto::NamespaceStatus>, Status> {
        Ok(Response::new(proto::NamespaceStatus {
            namespace: request.into_inner().namespace,
            ..Default::default()
        }))
    }

    async fn get_workload(
        &self,
        request: Request<proto::GetWorkloadRequest>,
    ) -> Result<Response<proto::WorkloadStatus>, Status> {
        let r = request.into_inner();
        if (r.namespace.as_str(), r.kind.as_str(), r.name.as_str())
            == ("shop", "ReplicaSet", "web-6d4cf")
        {
            Ok(Response::new(workload()))
        } else {
            Err(Status::not_found("no such workload"))
        }
    }
}

/// Serves `Fake` on a free port, requiring `Bearer s3cret`.
async fn fake_server(stop: CancellationToken) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let check = |r: Request<()>| match r.metadata().get("authorization") {
        Some(v) if v == "Bearer s3cret" => Ok(r),
        _ => Err(Status::unauthenticated("invalid token")),
    };
    let server = tonic::transport::Server::builder()
        .add_service(StatusServiceServer::with_interceptor(Fake, check))
        .serve_with_incoming_shutdown(
            tokio_stream::wrappers::TcpListenerStream::new(listener),
            stop.cancelled_owned(),
        );
    tokio::spawn(server);
    addr.to_string()
}

#[tokio::test]
async fn run_queries_a_server() {
    let stop = CancellationToken::new();
    let addr = fake_server(stop.clone()).await;
    let token = Some("s3cret");

    let text = run(&addr, token, None, Query::Cluster, Output::Table)
        .await
        .unwrap();
    assert!(text.starts_with("LEADER            leader-0\n"), "{text}");
    assert!(text.contains("\nworker-long-name   16 "), "{text}");
    let json = run(
        &addr,
        token,
        None,
        Query::Namespace("shop".into()),
        Output::Json,
    )
    .await
    .unwrap();
    let value: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["namespace"], "shop");
    let workload = Query::Workload {
        namespace: "shop".into(),
        kind: "ReplicaSet".into(),
        name: "web-6d4cf".into(),
    };
    let text = run(
        &format!("http://{addr}"),
        token,
        None,
        workload,
        Output::Table,
    )
    .await
    .unwrap();
    assert!(text.starts_with("failed with ScanJobFailed"), "{text}");

    let other = Query::Workload {
        namespace: "shop".into(),
        kind: "Pod".into(),
        name: "x".into(),
    };
    let err = run(&addr, token, None, other, Output::Table)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err}");
    for bad in [None, Some("wrong")] {
        let err = run(&addr, bad, None, Query::Cluster, Output::Table)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Refused(_)), "{err}");
        assert!(err.to_string().contains("--token"), "{err}");
    }
    let err = run(
        &addr,
        Some("bad\ntoken"),
        None,
        Query::Cluster,
        Output::Table,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Token), "{err}");
    stop.cancel();
}

#[tokio::test]
async fn run_reports_an_unreachable_leader() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    drop(listener);
    let err = run(&addr, None, None, Query::Cluster, Output::Json)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unreachable { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with(&format!("cannot reach the leader at {addr}"))
    );
    let err = run("not a uri", None, None, Query::Cluster, Output::Json)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Address { .. }), "{err}");
}

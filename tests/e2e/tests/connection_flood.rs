//! Nothing unauthenticated exhausts the leader: a flood of idle TCP connections to its gRPC
//! port and a burst of concurrent status queries leave it answering its probes, its worker
//! attached and the work going on; connections over `--grpc-max-connections` are closed at
//! once (and counted), idle ones after `--grpc-idle-timeout`; the limit on answering a call
//! never cuts a worker's long-lived stream.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use common::proto::status_service_client::StatusServiceClient;
use e2e::operator::http_get;
use e2e::workloads::{all_pods_audited, apply_pods};
use e2e::{Cluster, Operator, OperatorOptions, audits_only};
use tokio::io::AsyncReadExt;

const LONG: Duration = Duration::from_secs(240);
const MAX_CONNECTIONS: usize = 64;
const FLOOD: usize = 600;

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_and_status_bursts_do_not_exhaust_the_leader() {
    let cluster = Cluster::start("connection-flood").await.unwrap();
    let ns = cluster.ns("flood");
    cluster
        .create_namespaces(std::slice::from_ref(&ns))
        .unwrap();
    let started = std::time::Instant::now();
    let mut op = Operator::start(
        &cluster,
        OperatorOptions::new(e2e::binaries!(), &cluster, vec![ns.clone()]).leader_args(
            [
                audits_only(),
                vec![
                    "--grpc-max-connections".into(),
                    MAX_CONNECTIONS.to_string(),
                    "--grpc-idle-timeout".into(),
                    "6s".into(),
                ],
            ]
            .concat(),
        ),
    )
    .unwrap();
    apply_pods(&cluster, &ns, &["a"], "alpine:3.10").unwrap();
    all_pods_audited(&cluster, std::slice::from_ref(&ns), 1, LONG)
        .await
        .unwrap();
    let leader_pid = op.pids()[0].1;
    let admin = op.leader_admin_ports[0];
    let rss_before = rss_kib(leader_pid);

    // Open far more silent connections than the leader allows.
    let mut idle = Vec::new();
    for _ in 0..FLOOD {
        if let Ok(conn) = tokio::net::TcpStream::connect(("127.0.0.1", op.grpc_port)).await {
            idle.push(conn);
        }
    }
    assert!(idle.len() > MAX_CONNECTIONS, "opened only {}", idle.len());

    // The leader answers its probes, its worker stays attached and new work is done.
    for path in ["/healthz", "/readyz"] {
        let (code, _) = http_get(admin, path).await.unwrap();
        assert_eq!(code, 200, "{path} during the flood");
    }
    apply_pods(&cluster, &ns, &["b"], "alpine:3.10").unwrap();
    all_pods_audited(&cluster, std::slice::from_ref(&ns), 2, LONG)
        .await
        .unwrap();
    let (_, metrics) = http_get(admin, "/metrics").await.unwrap();
    let refused = metric(
        &metrics,
        "trivy_operator_leader_grpc_connections_refused_total",
    );
    assert!(
        refused >= (FLOOD - MAX_CONNECTIONS) as f64,
        "refused {refused} of {FLOOD}"
    );
    let rss_flood = rss_kib(leader_pid);
    assert!(
        rss_flood < rss_before + 64 * 1024,
        "the flood grew the leader from {rss_before} KiB to {rss_flood} KiB"
    );

    // Every silent connection is closed by the leader: at once over the limit, the others
    // after the idle timeout.
    let deadline = std::time::Instant::now() + LONG;
    loop {
        let mut open = 0;
        for conn in idle.iter_mut() {
            let mut buf = [0u8; 64];
            match tokio::time::timeout(Duration::from_millis(5), conn.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => {}
                _ => open += 1,
            }
        }
        if open == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{open} idle connections still open"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    drop(idle);

    // A burst of status queries on one connection: all answered, the worker still there.
    let channel = op.grpc_channel().await.unwrap();
    let token: tonic::metadata::MetadataValue<_> =
        format!("Bearer {}", op.status_token).parse().unwrap();
    let client = StatusServiceClient::with_interceptor(channel, move |mut r: tonic::Request<()>| {
        r.metadata_mut().insert("authorization", token.clone());
        Ok(r)
    });
    // One call first: by its answer the client has the server's SETTINGS (64 streams per
    // connection); before them an HTTP/2 client may open more, which the server refuses.
    client
        .clone()
        .get_cluster(common::proto::GetClusterRequest {})
        .await
        .unwrap();
    let calls = (0..300).map(|_| {
        let mut client = client.clone();
        async move {
            client
                .get_cluster(common::proto::GetClusterRequest {})
                .await
                .map(|r| r.into_inner().workers.len())
        }
    });
    let answers = futures::future::join_all(calls).await;
    assert!(
        answers.iter().all(|a| matches!(a, Ok(1))),
        "{:?}",
        answers.iter().find(|a| !matches!(a, Ok(1)))
    );
    let (code, _) = http_get(admin, "/readyz").await.unwrap();
    assert_eq!(code, 200);
    assert!(op.all_running(), "a process died");

    // The leader's 30 s limit on answering a call does not cut a worker's stream: the
    // worker attached once, more than 30 s ago, and never had to reattach.
    let attached = started + Duration::from_secs(35);
    tokio::time::sleep(attached.saturating_duration_since(std::time::Instant::now())).await;
    let log = op.log("worker-0");
    assert_eq!(
        log.matches("attached to the leader").count(),
        1,
        "the worker reattached: {log}"
    );
}

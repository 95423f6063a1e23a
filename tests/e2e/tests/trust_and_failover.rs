//! Fail-over and trust end to end: two leader replicas contend for the Lease; killing the
//! active one hands over to the standby without losing, doubling or redoing work; a client
//! without the token or with the wrong protocol version cannot attach as a worker, and one
//! with it cannot claim more than the capped capacity.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use common::proto::worker_service_client::WorkerServiceClient;
use common::proto::{self, worker_message};
use e2e::operator::http_get;
use e2e::workloads::{all_pods_audited, apply_pods, lease_holder};
use e2e::{Cluster, Operator, OperatorOptions, audits_only, eventually};

const LONG: Duration = Duration::from_secs(240);

/// How often each report was written, over every worker's log.
fn writes(op: &Operator) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for worker in ["worker-0", "worker-1", "worker-2"] {
        for line in op
            .log(worker)
            .lines()
            .filter(|l| l.contains("config audit report written"))
        {
            let field = |key: &str| {
                line.split_whitespace()
                    .find_map(|t| t.strip_prefix(key))
                    .unwrap_or("")
            };
            *out.entry(format!("{}/{}", field("namespace="), field("report=")))
                .or_default() += 1;
        }
    }
    out
}

/// The writes logged by the workers once they add up to `total` (one per report). A worker
/// logs a write after the API answered, so the line may trail the report a little; a write
/// beyond `total` shows up in the caller's comparison.
async fn logged_writes(op: &Operator, total: usize) -> BTreeMap<String, usize> {
    eventually("one logged write per report", LONG, || async {
        let w = writes(op);
        if w.values().sum::<usize>() >= total {
            Ok(w)
        } else {
            Err(format!("{w:?}"))
        }
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standby_takes_over_without_losing_or_redoing_work() {
    let cluster = Cluster::start("failover").await.unwrap();
    let ns = cluster.ns("fo");
    cluster
        .create_namespaces(std::slice::from_ref(&ns))
        .unwrap();
    let opns = cluster.ns("trivy-system");
    let options = OperatorOptions::new(e2e::binaries!(), &cluster, vec![ns.clone()])
        .workers(3, 2)
        .operator_namespace(opns.clone())
        .leader_args(audits_only());
    let mut op = Operator::start_replicated(&cluster, options, 2).unwrap();
    apply_pods(&cluster, &ns, &["a", "b", "c", "d"], "nginx:1.16").unwrap();
    all_pods_audited(&cluster, std::slice::from_ref(&ns), 4, LONG)
        .await
        .unwrap();
    let (first, transitions) = lease_holder(&cluster, &opns).unwrap();
    assert!(first.starts_with("leader-"), "lease held by {first:?}");
    // Only the holder is ready; the standby is healthy but not ready.
    for (i, port) in op.leader_admin_ports.iter().enumerate() {
        let name = format!("leader-{i}");
        let (ready, _) = http_get(*port, "/readyz").await.unwrap();
        assert_eq!(
            ready,
            if name == first { 200 } else { 503 },
            "/readyz of {name}"
        );
        assert_eq!(http_get(*port, "/healthz").await.unwrap().0, 200);
    }
    let before = logged_writes(&op, 4).await;
    assert_eq!(
        before.values().sum::<usize>(),
        4,
        "one write per report: {before:?}"
    );

    op.kill_leader(&first).unwrap();
    // Work created during the fail-over is picked up by the new leader.
    apply_pods(&cluster, &ns, &["e", "f"], "nginx:1.16").unwrap();
    let (second, after_transitions) = eventually("the standby to take the lease", LONG, || async {
        let (h, t) = lease_holder(&cluster, &opns)?;
        if h != first && !h.is_empty() {
            Ok((h, t))
        } else {
            Err(format!("still {h}"))
        }
    })
    .await
    .unwrap();
    assert!(
        after_transitions > transitions,
        "a new term: {transitions} -> {after_transitions}"
    );
    all_pods_audited(&cluster, std::slice::from_ref(&ns), 6, LONG)
        .await
        .unwrap();
    assert!(op.log(&second).contains("acquired the lease: leading"));

    // Up-to-date workloads were not audited again, and nothing was written twice.
    let after = logged_writes(&op, 6).await;
    for (report, count) in &before {
        assert_eq!(
            after.get(report),
            Some(count),
            "{report} redone after fail-over"
        );
    }
    assert_eq!(after.values().sum::<usize>(), 6, "{after:?}");
}

fn hello(version: i32) -> proto::WorkerMessage {
    proto::WorkerMessage {
        body: Some(worker_message::Body::Hello(proto::Hello {
            protocol_version: version,
            worker_id: "intruder".into(),
            capacity: 1,
        })),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_without_an_identity_never_lead_together() {
    let cluster = Cluster::start("anonymous-leaders").await.unwrap();
    let ns = cluster.ns("anon");
    cluster
        .create_namespaces(std::slice::from_ref(&ns))
        .unwrap();
    let mut op = Operator::start_replicated(
        &cluster,
        OperatorOptions::new(e2e::binaries!(), &cluster, vec![ns])
            .workers(0, 1)
            .leader_args(audits_only()),
        1,
    )
    .unwrap();
    eventually("leader-0 to lead", LONG, || async {
        op.log("leader-0")
            .contains("acquired the lease")
            .then_some(())
            .ok_or_else(|| "not yet".to_string())
    })
    .await
    .unwrap();
    let a = op.add_anonymous_leader().unwrap();
    let b = op.add_anonymous_leader().unwrap();
    eventually("both to stand by", LONG, || async {
        [&a, &b]
            .iter()
            .all(|l| op.log(l).contains("standing by"))
            .then_some(())
            .ok_or_else(|| "not yet".to_string())
    })
    .await
    .unwrap();
    op.kill_leader("leader-0").unwrap();
    let leading = |op: &Operator| {
        [&a, &b]
            .iter()
            .filter(|l| op.log(l).contains("acquired the lease"))
            .count()
    };
    eventually("one of them to take over", LONG, || async {
        (leading(&op) > 0)
            .then_some(())
            .ok_or_else(|| "not yet".to_string())
    })
    .await
    .unwrap();
    // Two more renew periods (the lease lasts 6 s): the other one still stands by.
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    assert_eq!(leading(&op), 1, "exactly one replica leads");
}

async fn attach(port: u16, token: Option<&str>, version: i32) -> Result<(), tonic::Status> {
    let channel = e2e::operator::grpc_channel(port)
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let mut client = WorkerServiceClient::new(channel);
    let mut request = tonic::Request::new(tokio_stream::iter(vec![hello(version)]));
    if let Some(token) = token {
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    client.attach(request).await.map(|_| ())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_authenticated_workers_of_this_protocol_may_attach() {
    let cluster = Cluster::start("trust").await.unwrap();
    let ns = cluster.ns("tr");
    cluster
        .create_namespaces(std::slice::from_ref(&ns))
        .unwrap();
    let op = Operator::start(
        &cluster,
        OperatorOptions::new(e2e::binaries!(), &cluster, vec![ns])
            .workers(1, 1)
            .leader_args(audits_only()),
    )
    .unwrap();
    let v1 = proto::ProtocolVersion::V1 as i32;
    // Wait for the leader to serve (the real worker attaches with the token).
    eventually(
        "the leader to accept the real worker's token",
        LONG,
        || async {
            match attach(op.grpc_port, Some(&op.token), v1).await {
                Ok(()) => Ok(()),
                Err(s) => Err(s.to_string()),
            }
        },
    )
    .await
    .unwrap();
    let missing = attach(op.grpc_port, None, v1).await.unwrap_err();
    assert_eq!(missing.code(), tonic::Code::Unauthenticated, "{missing}");
    let wrong = attach(op.grpc_port, Some("not-the-token"), v1)
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), tonic::Code::Unauthenticated, "{wrong}");
    let old = attach(op.grpc_port, Some(&op.token), 7).await.unwrap_err();
    assert_eq!(old.code(), tonic::Code::FailedPrecondition, "{old}");

    // A worker process with the wrong token gives up with the reason: retrying cannot help.
    let mut op = op;
    op.add_worker_with_token("intruder", "not-the-token")
        .unwrap();
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = op.exited("intruder") {
            break status;
        }
        assert!(started.elapsed() < LONG, "the intruder kept retrying");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert!(!status.success(), "{status}");
    assert!(
        op.log("intruder").contains("Unauthenticated") || op.log("intruder").contains("token"),
        "{}",
        op.log("intruder")
    );

    // A client with the token that claims an unbounded capacity is counted at the cap.
    let channel = op.grpc_channel().await.unwrap();
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tx.send(proto::WorkerMessage {
        body: Some(worker_message::Body::Hello(proto::Hello {
            protocol_version: v1,
            worker_id: "greedy".into(),
            capacity: u32::MAX,
        })),
    })
    .await
    .unwrap();
    let mut request = tonic::Request::new(tokio_stream::wrappers::ReceiverStream::new(rx));
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {}", op.token).parse().unwrap(),
    );
    let _stream = WorkerServiceClient::new(channel)
        .attach(request)
        .await
        .unwrap();
    let capacity = eventually("the greedy client in status", LONG, || async {
        let view = op.status(&["cluster"])?;
        view["workers"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|w| w["worker_id"] == "greedy")
            .and_then(|w| w["capacity"].as_u64())
            .ok_or_else(|| view.to_string())
    })
    .await
    .unwrap();
    assert_eq!(capacity, u64::from(proto::MAX_WORKER_CAPACITY));
    drop(tx);
}

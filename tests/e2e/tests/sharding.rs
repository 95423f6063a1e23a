//! Sharding end to end: namespaces split over workers by rendezvous hashing, and workers
//! joining or dying mid-run without losing or doubling a report.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::proto::GetClusterRequest;
use common::proto::status_service_client::StatusServiceClient;
use common::sharding::{WorkerSlot, assign};
use e2e::reports::audit_reports;
use e2e::workloads::{all_pods_audited, pod};
use e2e::{Cluster, Operator, OperatorOptions, audits_only, eventually};

const LONG: Duration = Duration::from_secs(240);

/// (namespace, namespace/report@spec-hash) of each report a worker wrote, from the "report written" lines of its log.
fn written_namespaces(op: &Operator, worker: &str) -> Vec<(String, String)> {
    op.log(worker)
        .lines()
        .filter(|l| l.contains("config audit report written"))
        .filter_map(|l| {
            let field = |key: &str| {
                l.split_whitespace()
                    .find_map(|t| t.strip_prefix(key))
                    .map(str::to_string)
            };
            let ns = field("namespace=")?;
            let report = format!("{ns}/{}@{}", field("report=")?, field("spec_hash=")?);
            Some((ns, report))
        })
        .collect()
}

fn namespaces(cluster: &Cluster, count: usize) -> Vec<String> {
    let namespaces: Vec<String> = (0..count)
        .map(|i| cluster.ns(&format!("shard{i}")))
        .collect();
    cluster.create_namespaces(&namespaces).unwrap();
    namespaces
}

fn create_pods(cluster: &Cluster, namespaces: &[String], pods_per_ns: usize) {
    let mut manifest = String::new();
    for ns in namespaces {
        for p in 0..pods_per_ns {
            manifest.push_str(&pod(ns, &format!("app-{p}"), "nginx:1.16"));
        }
    }
    cluster.apply(&manifest).unwrap();
}

/// A status request carrying the operator's status token.
fn authorized<T>(op: &Operator, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    let value = format!("Bearer {}", op.status_token).parse().unwrap();
    request.metadata_mut().insert("authorization", value);
    request
}

async fn status_client(op: &Operator) -> StatusServiceClient<tonic::transport::Channel> {
    let addr = format!("http://127.0.0.1:{}", op.grpc_port);
    eventually("the leader's status service", LONG, || async {
        StatusServiceClient::connect(addr.clone())
            .await
            .map_err(|e| e.to_string())
    })
    .await
    .unwrap()
}

/// Waits until exactly `ids` are attached, each with its assignment sent.
async fn attached(op: &Operator, ids: &[&str]) {
    let status = status_client(op).await;
    eventually("the workers to attach", LONG, || {
        let mut status = status.clone();
        async move {
            let workers = status
                .get_cluster(authorized(op, GetClusterRequest {}))
                .await
                .map_err(|e| e.to_string())?;
            let seen: Vec<String> = workers
                .into_inner()
                .workers
                .into_iter()
                .map(|w| w.worker_id)
                .collect();
            if seen == ids {
                Ok(())
            } else {
                Err(format!("{seen:?}"))
            }
        }
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespaces_are_split_by_rendezvous_hashing() {
    let cluster = Cluster::start("sharding").await.unwrap();
    let namespaces = namespaces(&cluster, 30);
    let op = Operator::start(
        &cluster,
        OperatorOptions::new(e2e::binaries!(), &cluster, namespaces.clone())
            .workers(3, 2)
            .leader_args(audits_only()),
    )
    .unwrap();
    // All three attach before any work exists, so every task goes to its final owner.
    attached(&op, &["worker-0", "worker-1", "worker-2"]).await;
    create_pods(&cluster, &namespaces, 1);
    all_pods_audited(&cluster, &namespaces, 1, LONG)
        .await
        .unwrap();

    let slots: Vec<WorkerSlot> = op
        .worker_ids()
        .iter()
        .map(|id| WorkerSlot {
            id: id.clone(),
            capacity: 2,
        })
        .collect();
    let expected: BTreeMap<String, Vec<String>> =
        assign(namespaces.iter().map(String::as_str), &slots);

    // The status service shows the same split.
    let mut status = StatusServiceClient::connect(format!("http://127.0.0.1:{}", op.grpc_port))
        .await
        .unwrap();
    let cluster_status = status
        .get_cluster(authorized(&op, GetClusterRequest {}))
        .await
        .unwrap()
        .into_inner();
    let shown: BTreeMap<String, Vec<String>> = cluster_status
        .workers
        .iter()
        .map(|w| (w.worker_id.clone(), w.namespaces.clone()))
        .collect();
    assert_eq!(shown, expected, "status service assignment");

    // Every namespace's reports were written by exactly its owner. A worker logs the write
    // after the API answered, so the log line may trail the report a little: poll.
    let writers = eventually("a logged write in every namespace", LONG, || async {
        let mut writers: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for worker in op.worker_ids() {
            for (ns, _) in written_namespaces(&op, &worker) {
                writers.entry(ns).or_default().insert(worker.clone());
            }
        }
        if namespaces.iter().all(|ns| writers.contains_key(ns)) {
            Ok(writers)
        } else {
            Err(format!(
                "{} of {} namespaces",
                writers.len(),
                namespaces.len()
            ))
        }
    })
    .await
    .unwrap();
    for ns in &namespaces {
        let owner = expected
            .iter()
            .find(|(_, nss)| nss.contains(ns))
            .map(|(w, _)| w.clone())
            .unwrap();
        assert_eq!(
            writers.get(ns),
            Some(&BTreeSet::from([owner])),
            "writers of {ns}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_joining_and_dying_lose_and_double_nothing() {
    let cluster = Cluster::start("churn").await.unwrap();
    let namespaces = namespaces(&cluster, 20);
    create_pods(&cluster, &namespaces, 2);
    let mut op = Operator::start(
        &cluster,
        OperatorOptions::new(e2e::binaries!(), &cluster, namespaces.clone())
            .workers(2, 1)
            .leader_args(audits_only()),
    )
    .unwrap();
    // Mid-run: once some reports exist, a worker joins and another is killed.
    eventually("the first reports", LONG, || async {
        let mut total = 0;
        for ns in &namespaces {
            total += audit_reports(&cluster, ns)
                .map_err(|e| e.to_string())?
                .len();
        }
        if total >= 4 {
            Ok(())
        } else {
            Err(format!("{total} reports"))
        }
    })
    .await
    .unwrap();
    op.add_worker("worker-late").unwrap();
    op.kill_worker("worker-0").unwrap();
    all_pods_audited(&cluster, &namespaces, 2, LONG)
        .await
        .unwrap();

    let mut writes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for worker in ["worker-0", "worker-1", "worker-late"] {
        for (_, report) in written_namespaces(&op, worker) {
            writes.entry(report).or_default().push(worker.to_string());
        }
    }
    let doubled: Vec<_> = writes.iter().filter(|(_, w)| w.len() > 1).collect();
    assert!(
        doubled.is_empty(),
        "reports written twice for the same spec: {doubled:?}"
    );
    let mut status = StatusServiceClient::connect(format!("http://127.0.0.1:{}", op.grpc_port))
        .await
        .unwrap();
    let workers = status
        .get_cluster(authorized(&op, GetClusterRequest {}))
        .await
        .unwrap()
        .into_inner()
        .workers;
    let ids: Vec<&str> = workers.iter().map(|w| w.worker_id.as_str()).collect();
    assert_eq!(
        ids,
        ["worker-1", "worker-late"],
        "the killed worker is gone, the new one in"
    );
    assert!(
        workers.iter().all(|w| !w.namespaces.is_empty()),
        "both own namespaces: {workers:?}"
    );
}

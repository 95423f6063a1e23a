//! Workers with identities of their own (leader `--worker-service-account`, as `deploy/`
//! ships it): each worker presents a ServiceAccount token bound to its Pod, the leader
//! checks it with a TokenReview under the shipped RBAC, and a worker can attach only under
//! its own Pod's name. Tokens are issued with `kubectl create token`, as the kubelet would
//! project them; runs on kube-sim and on a real cluster.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::time::Duration;

use e2e::workloads::{all_pods_audited, apply_pods};
use e2e::{Cluster, Operator, OperatorOptions, audits_only};

const LONG: Duration = Duration::from_secs(240);
const WORKER_SA: &str = "trivy-operator-worker";
const AUDIENCE: &str = "trivy-operator-rs";

/// A token from `kubectl create token`, written to a file a worker reads.
fn token_file(
    cluster: &Cluster,
    namespace: &str,
    account: &str,
    audience: &str,
    pod: Option<&str>,
    file: &str,
) -> PathBuf {
    let mut args = vec![
        "create".to_string(),
        "token".into(),
        account.into(),
        "-n".into(),
        namespace.into(),
        format!("--audience={audience}"),
    ];
    if let Some(pod) = pod {
        args.push("--bound-object-kind=Pod".into());
        args.push(format!("--bound-object-name={pod}"));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let token = cluster.kubectl(&args).unwrap();
    let path = cluster.dir.join(file);
    std::fs::write(&path, token.trim()).unwrap();
    path
}

/// Starts a worker that must be refused; returns its log once it has given up.
async fn refused(op: &mut Operator, id: &str, token: &std::path::Path) -> String {
    op.add_worker_with_token_file(id, token).unwrap();
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = op.exited(id) {
            break status;
        }
        assert!(started.elapsed() < LONG, "worker {id} was not refused");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(!status.success(), "{status}");
    op.log(id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_worker_attaches_only_as_the_pod_its_token_is_bound_to() {
    let cluster = Cluster::start("worker-identity").await.unwrap();
    let ns = cluster.ns("wid");
    let op_ns = cluster.ns("trivy-system");
    cluster
        .create_namespaces(std::slice::from_ref(&ns))
        .unwrap();
    // On kube-sim the operator's namespace holds its RBAC already.
    let _ = cluster.kubectl(&["create", "namespace", &op_ns]);
    // The workers' ServiceAccount (deploy/ creates it) and two worker Pods.
    let _ = cluster.kubectl(&["create", "serviceaccount", WORKER_SA, "-n", &op_ns]);
    for pod in ["worker-a", "worker-b"] {
        cluster
            .kubectl(&[
                "run",
                pod,
                "-n",
                &op_ns,
                "--image=registry.k8s.io/pause:3.10",
                "--restart=Never",
            ])
            .unwrap();
    }
    let token_a = token_file(&cluster, &op_ns, WORKER_SA, AUDIENCE, Some("worker-a"), "a");
    let token_b = token_file(&cluster, &op_ns, WORKER_SA, AUDIENCE, Some("worker-b"), "b");
    let mut op = Operator::start(
        &cluster,
        OperatorOptions::new(e2e::binaries!(), &cluster, vec![ns.clone()])
            .workers(0, 2)
            .operator_namespace(op_ns.clone())
            .leader_args(
                [
                    audits_only(),
                    vec!["--worker-service-account".into(), WORKER_SA.into()],
                ]
                .concat(),
            ),
    )
    .unwrap();

    // The worker of Pod worker-a attaches under its Pod's name and does the work.
    op.add_worker_with_token_file("worker-a", &token_a).unwrap();
    apply_pods(&cluster, &ns, &["a", "b"], "alpine:3.10").unwrap();
    all_pods_audited(&cluster, std::slice::from_ref(&ns), 2, LONG)
        .await
        .unwrap();

    // worker-a's token cannot attach as another worker (it would take over its namespaces).
    let log = refused(&mut op, "worker-b", &token_a).await;
    assert!(
        log.contains("is not the Pod its token is bound to"),
        "{log}"
    );
    // A token of another ServiceAccount, bound to the right Pod: refused.
    cluster
        .kubectl(&["create", "serviceaccount", "someone-else", "-n", &op_ns])
        .unwrap();
    let other_sa = token_file(
        &cluster,
        &op_ns,
        "someone-else",
        AUDIENCE,
        Some("worker-b"),
        "d",
    );
    let log = refused(&mut op, "worker-b", &other_sa).await;
    assert!(log.contains("workers must run as"), "{log}");
    // A token for the API server (not for the leader's audience): refused.
    let api_token = token_file(
        &cluster,
        &op_ns,
        WORKER_SA,
        "https://kubernetes.default.svc.cluster.local",
        Some("worker-b"),
        "api",
    );
    let log = refused(&mut op, "worker-b", &api_token).await;
    assert!(log.contains("refused the worker's token"), "{log}");
    // A token not bound to a Pod: refused, with what to do about it.
    let unbound = token_file(&cluster, &op_ns, WORKER_SA, AUDIENCE, None, "unbound");
    let log = refused(&mut op, "worker-b", &unbound).await;
    assert!(log.contains("not bound to a Pod"), "{log}");
    // Something that is no ServiceAccount token at all (e.g. a shared secret).
    let path = cluster.dir.join("shared");
    std::fs::write(&path, "0123456789abcdef0123456789abcdef").unwrap();
    let log = refused(&mut op, "worker-b", &path).await;
    assert!(log.contains("refused the worker's token"), "{log}");
    // Once its Pod is gone, a token stops working.
    cluster
        .kubectl(&["delete", "pod", "worker-b", "-n", &op_ns, "--wait=true"])
        .unwrap();
    e2e::eventually("worker-b's Pod to be gone", LONG, || {
        let out = cluster.kubectl(&["get", "pods", "-n", &op_ns, "-o", "name"]);
        async move {
            match out {
                Ok(o) if !o.contains("pod/worker-b") => Ok(()),
                other => Err(format!("{other:?}")),
            }
        }
    })
    .await
    .unwrap();
    let log = refused(&mut op, "worker-b", &token_b).await;
    assert!(log.contains("refused the worker's token"), "{log}");

    // Through all of it, the real worker stayed attached and alone.
    let status = op.status(&["cluster"]).unwrap();
    let workers: Vec<&str> = status["workers"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|w| w["worker_id"].as_str())
        .collect();
    assert_eq!(workers, ["worker-a"], "{status}");
}

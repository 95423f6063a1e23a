//! ClientServer mode (`--trivy-server-url`): scan Jobs run `trivy image --server <url>`
//! with the token from its Secret and no DB init container, and a scan that fails because
//! the server cannot be reached is reported as such (Event, failure reason in status and
//! metrics) without a report being faked. kube-sim only: the stand-in server listens on
//! this machine, where kube-sim runs the Jobs' containers.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use e2e::reports::name;
use e2e::workloads::deployment;
use e2e::{Cluster, Operator, OperatorOptions, eventually};

const LONG: Duration = Duration::from_secs(300);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_jobs_use_the_server_and_its_outage_is_reported() {
    let cluster = Cluster::start("client-server").await.unwrap();
    let ns = cluster.ns("cs");
    cluster
        .create_namespaces(std::slice::from_ref(&ns))
        .unwrap();
    // A stand-in for the Trivy server: the double only needs to reach it.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        loop {
            if let Ok((conn, _)) = listener.accept().await {
                drop(conn);
            }
        }
    });
    let options = OperatorOptions::new(e2e::binaries!(), &cluster, vec![ns.clone()])
        .workers(1, 2)
        .worker_args(
            [
                "--trivy-server-url",
                &url,
                "--trivy-server-token-secret",
                "trivy-server-token",
            ]
            .map(String::from)
            .to_vec(),
        );
    let operator_ns = options.operator_namespace.clone();
    let jobs = e2e::jobs::watch_jobs(&cluster, &operator_ns).await.unwrap();
    let op = Operator::start(&cluster, options).unwrap();
    cluster
        .kubectl(&[
            "create",
            "secret",
            "generic",
            "trivy-server-token",
            "-n",
            &operator_ns,
            "--from-literal=token=0123456789abcdef0123456789abcdef",
        ])
        .unwrap();
    cluster
        .apply(&deployment(
            &ns,
            "web",
            "main",
            "trivy-double.test/alpine-310/cs:1",
        ))
        .unwrap();
    eventually("the report of a scan through the server", LONG, || async {
        let reports = cluster
            .list(&["vulnerabilityreports", "-n", &ns])
            .map_err(|e| e.to_string())?;
        match reports.as_slice() {
            [one]
                if one["report"]["vulnerabilities"]
                    .as_array()
                    .is_some_and(|v| !v.is_empty()) =>
            {
                Ok(())
            }
            other => Err(format!("{} reports", other.len())),
        }
    })
    .await
    .unwrap();
    {
        let jobs = jobs.lock().unwrap();
        assert_eq!(jobs.objects.len(), 1);
        let job = jobs.objects.values().next().unwrap();
        let pod = job.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
        // No DB download: only the SBOM's init container, which needs no DB.
        let init: Vec<&str> = pod
            .init_containers
            .iter()
            .flatten()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(init, ["trivy-sbom"]);
        let every_arg: Vec<&String> = pod
            .init_containers
            .iter()
            .flatten()
            .chain(&pod.containers)
            .flat_map(|c| c.args.iter().flatten())
            .collect();
        assert!(!every_arg.iter().any(|a| a.contains("db")), "{every_arg:?}");
        let scan = &pod.containers[0];
        let args = scan.args.clone().unwrap();
        let at = args.iter().position(|a| a == "--server").unwrap();
        assert_eq!(args[at + 1], url);
        assert!(!args.iter().any(|a| a.contains("db")), "{args:?}");
        let env = scan.env.clone().unwrap();
        let token = env.iter().find(|e| e.name == "TRIVY_TOKEN").unwrap();
        let key = token
            .value_from
            .as_ref()
            .unwrap()
            .secret_key_ref
            .as_ref()
            .unwrap();
        assert_eq!(
            (key.name.as_str(), key.key.as_str()),
            ("trivy-server-token", "token")
        );
    }

    // The server goes away: the next image's scan fails, and says why.
    server.abort();
    let _ = server.await;
    cluster
        .apply(&deployment(
            &ns,
            "api",
            "main",
            "trivy-double.test/debian-buster/cs:1",
        ))
        .unwrap();
    let event = eventually("a TrivyServerUnavailable Event", LONG, || async {
        let events = cluster
            .list(&["events.v1.events.k8s.io", "-n", &ns])
            .map_err(|e| e.to_string())?;
        events
            .into_iter()
            .find(|e| e["reason"] == "TrivyServerUnavailable")
            .ok_or_else(|| "none yet".to_string())
    })
    .await
    .unwrap();
    assert_eq!(event["type"], "Warning");
    assert!(
        event["regarding"]["name"]
            .as_str()
            .unwrap()
            .starts_with("api-"),
        "{event}"
    );
    assert!(event["note"].as_str().unwrap().contains(&url), "{event}");
    eventually("the failure counted by its reason", LONG, || async {
        let (_, metrics) = e2e::operator::http_get(op.leader_admin_ports[0], "/metrics")
            .await
            .map_err(|e| e.to_string())?;
        metrics
            .lines()
            .any(|l| {
                l.starts_with("trivy_operator_leader_tasks_completed_total{")
                    && l.contains("reason=\"TrivyServerUnavailable\"")
            })
            .then_some(())
            .ok_or_else(|| "not counted yet".to_string())
    })
    .await
    .unwrap();
    let reports = cluster.list(&["vulnerabilityreports", "-n", &ns]).unwrap();
    assert_eq!(
        reports.iter().map(name).collect::<Vec<_>>().len(),
        1,
        "no report is faked while the server is down"
    );
}

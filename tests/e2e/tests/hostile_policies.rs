//! Hostile policies never stop the operator: a policy that allocates without bound is
//! rejected when it fails on any input (the Event, status and metric say which and why) and
//! fails only its own check when it explodes on some workloads; policies that run into their
//! time limit leave heartbeats, probes and SIGTERM unaffected. Every process stays up.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use e2e::reports::{audit_reports, failed_checks, name};
use e2e::wait::DEFAULT_TIMEOUT;
use e2e::{Cluster, Operator, OperatorOptions, audits_only, eventually};
use serde_json::Value;

const WORKLOADS: &str = e2e::workloads::DB_AND_DEBUG_POD;

/// A ConfigMap in `opns` with `policies`: (name, kinds, Rego).
fn configmap(opns: &str, policies: &[(&str, &str, &str)]) -> String {
    let mut data = serde_json::Map::new();
    for (name, kinds, rego) in policies {
        data.insert(format!("policy.{name}.kinds"), Value::from(*kinds));
        data.insert(format!("policy.{name}.rego"), Value::from(*rego));
    }
    serde_json::json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "trivy-operator-policies-config", "namespace": opns},
        "data": data,
    })
    .to_string()
}

/// Fails on every input: `numbers.range` asks for terabytes up front.
const BOMB: &str = r#"package trivyoperator.policy.k8s.bomb
__rego_metadata__ := {"id": "BOMB-1", "title": "bomb", "severity": "LOW"}
deny[res] { xs := numbers.range(0, 1000000000000); count(xs) > 0; res := {"msg": "big"} }
"#;

/// Explodes only on StatefulSets (its trial on an empty input passes).
const STATEFULSET_BOMB: &str = r#"package trivyoperator.policy.k8s.bomb2
__rego_metadata__ := {"id": "BOMB-2", "title": "bomb on StatefulSets", "severity": "HIGH"}
deny[res] { input.kind == "StatefulSet"; xs := numbers.range(0, 1000000000000); count(xs) > 0; res := {"msg": "big"} }
"#;

/// A harmless policy evaluated after the bomb (keys are evaluated in order).
const LABEL: &str = r#"package trivyoperator.policy.k8s.label
__rego_metadata__ := {"id": "LABEL-1", "title": "team label", "severity": "LOW"}
deny[res] { not input.metadata.labels.team; res := {"msg": "no team label"} }
"#;

/// Runs until its 5 s time limit on every workload, using no memory.
fn slow(id: &str) -> String {
    format!(
        r#"package trivyoperator.policy.k8s.slow{id}
__rego_metadata__ := {{"id": "SLOW-{id}", "title": "slow", "severity": "LOW"}}
deny[res] {{
  input.kind
  r := numbers.range(1, 2000)
  hits := [1 | some i, j, k; r[i]; r[j]; r[k]; i < 0]
  count(hits) > 0
  res := {{"msg": "never"}}
}}
"#
    )
}

fn start(cluster: &Cluster, ns: &str, workers: usize) -> (String, Operator) {
    cluster.create_namespaces(&[ns.to_string()]).unwrap();
    let opns = cluster.ns("trivy-system");
    let op = Operator::start(
        cluster,
        OperatorOptions::new(e2e::binaries!(), cluster, vec![ns.to_string()])
            .workers(workers, 2)
            .operator_namespace(opns.clone())
            .leader_args(audits_only()),
    )
    .unwrap();
    cluster.apply(&WORKLOADS.replace("NS", ns)).unwrap();
    (opns, op)
}

/// The report of `report_name` once `ready` holds for it.
async fn report_where(
    cluster: &Cluster,
    ns: &str,
    report_name: &str,
    what: &str,
    ready: impl Fn(&Value) -> bool,
) -> Value {
    eventually(what, DEFAULT_TIMEOUT, || async {
        let reports = audit_reports(cluster, ns).map_err(|e| e.to_string())?;
        let report = reports
            .into_iter()
            .find(|r| name(r) == report_name)
            .ok_or("no report")?;
        if ready(&report) {
            Ok(report)
        } else {
            Err(format!("{report:#}"))
        }
    })
    .await
    .unwrap()
}

fn check<'a>(report: &'a Value, id: &str) -> Option<&'a Value> {
    report["report"]["checks"]
        .as_array()?
        .iter()
        .find(|c| c["checkID"] == id)
}

async fn probes_answer(op: &Operator) {
    let ports = op
        .leader_admin_ports
        .iter()
        .chain(op.worker_admin_ports.values());
    for port in ports {
        let asked = Instant::now();
        let (code, _) = e2e::operator::http_get(*port, "/healthz").await.unwrap();
        assert_eq!(code, 200, "port {port}");
        assert!(
            asked.elapsed() < Duration::from_secs(5),
            "/healthz on {port} took {:?}",
            asked.elapsed()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_that_allocates_without_bound_stops_nothing() {
    let cluster = Cluster::start("hostile-bomb").await.unwrap();
    let ns = cluster.ns("bomb");
    let (opns, mut op) = start(&cluster, &ns, 2);
    report_where(&cluster, &ns, "statefulset-db", "the first report", |_| {
        true
    })
    .await;

    // Fails on every input: rejected, the last good policies stay, nobody dies.
    cluster
        .apply(&configmap(&opns, &[("bomb", "Workload", BOMB)]))
        .unwrap();
    let note = eventually("the PolicyConfigInvalid Event", DEFAULT_TIMEOUT, || async {
        let events = cluster
            .list(&["events.v1.events.k8s.io", "-n", &opns])
            .map_err(|e| e.to_string())?;
        events
            .iter()
            .find(|e| e["reason"] == "PolicyConfigInvalid")
            .map(|e| e["note"].as_str().unwrap_or_default().to_owned())
            .ok_or_else(|| "no event yet".to_string())
    })
    .await
    .unwrap();
    assert!(note.contains("policy.bomb.rego"), "{note}");
    assert!(note.contains("memory"), "{note}");
    let cluster_status = op.status(&["cluster"]).unwrap();
    let error = cluster_status["policy_config_error"].as_str().unwrap();
    assert!(error.contains("policy.bomb.rego"), "{cluster_status:#}");
    assert!(op.all_running(), "every process is still up");
    probes_answer(&op).await;

    // Explodes on StatefulSets only: accepted; its own check fails with the reason, the
    // policy after it still runs, and the Pod is audited normally.
    cluster
        .apply(&configmap(
            &opns,
            &[
                ("a_bomb", "Workload", STATEFULSET_BOMB),
                ("b_label", "Workload", LABEL),
            ],
        ))
        .unwrap();
    let db = report_where(
        &cluster,
        &ns,
        "statefulset-db",
        "BOMB-2 in the report",
        |r| check(r, "BOMB-2").is_some(),
    )
    .await;
    let bomb = check(&db, "BOMB-2").unwrap();
    assert_eq!(bomb["success"], false);
    assert_eq!(bomb["severity"], "UNKNOWN");
    let message = bomb["messages"][0].as_str().unwrap();
    assert!(message.contains("policy evaluation failed"), "{message}");
    assert!(message.contains("SIGABRT"), "{message}");
    assert!(failed_checks(&db).contains("LABEL-1"), "{db:#}");
    assert!(
        failed_checks(&db).contains("KSV001"),
        "built-ins still run: {db:#}"
    );
    let pod = report_where(&cluster, &ns, "pod-debug", "LABEL-1 on the Pod", |r| {
        check(r, "LABEL-1").is_some()
    })
    .await;
    assert!(check(&pod, "BOMB-2").is_none(), "{pod:#}");
    assert!(op.all_running(), "every process is still up");
    probes_answer(&op).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_policies_delay_no_heartbeat_probe_or_signal() {
    let cluster = Cluster::start("hostile-slow").await.unwrap();
    let ns = cluster.ns("slow");
    let (opns, mut op) = start(&cluster, &ns, 1);
    report_where(&cluster, &ns, "statefulset-db", "the first report", |_| {
        true
    })
    .await;
    let worker = op.worker_ids().pop().unwrap();

    let slow: Vec<(String, String)> = (1..=4)
        .map(|i| (format!("slow{i}"), slow(&i.to_string())))
        .collect();
    let policies: Vec<(&str, &str, &str)> = slow
        .iter()
        .map(|(name, rego)| (name.as_str(), "Workload", rego.as_str()))
        .collect();
    cluster.apply(&configmap(&opns, &policies)).unwrap();
    // While the re-audit runs (4 policies x 5 s per workload), probes answer at once.
    let started = Instant::now();
    let mut audited = None;
    while started.elapsed() < DEFAULT_TIMEOUT {
        probes_answer(&op).await;
        let reports = audit_reports(&cluster, &ns).unwrap();
        let done = reports
            .iter()
            .filter(|r| (1..=4).all(|i| check(r, &format!("SLOW-{i}")).is_some()))
            .count();
        if done == 2 {
            audited = Some(reports);
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let reports = audited.expect("both workloads re-audited with the slow policies");
    for report in &reports {
        let slow1 = check(report, "SLOW-1").unwrap();
        assert_eq!(slow1["severity"], "UNKNOWN", "{report:#}");
        let message = slow1["messages"][0].as_str().unwrap();
        assert!(message.contains("policy evaluation failed"), "{message}");
    }
    assert!(
        !op.log("leader-0").contains("worker silent"),
        "the leader never lost the worker"
    );
    assert!(op.all_running());

    // SIGTERM in the middle of an audit: out within 2 s, cleanly.
    cluster
        .apply(
            &WORKLOADS
                .replace("NS", &ns)
                .replace("name: debug", "name: debug2"),
        )
        .unwrap();
    eventually("the new Pod's audit in flight", DEFAULT_TIMEOUT, || async {
        let answer = op.status(&["workload", &ns, "Pod", "debug2"])?;
        (answer["state"] == "in-flight")
            .then_some(())
            .ok_or_else(|| answer.to_string())
    })
    .await
    .unwrap();
    let (status, took) = op.terminate(&worker, Duration::from_secs(30)).unwrap();
    let status = status.expect("the worker stopped");
    assert!(status.success(), "exit status {status}");
    assert!(took <= Duration::from_secs(2), "took {took:?}");
    assert!(
        audit_reports(&cluster, &ns)
            .unwrap()
            .iter()
            .all(|r| name(r) != "pod-debug2"),
        "no report from the interrupted audit"
    );

    // Restarted, the audit is done again: nothing lost.
    op.add_worker("worker-restarted").unwrap();
    report_where(
        &cluster,
        &ns,
        "pod-debug2",
        "the interrupted audit redone",
        |r| check(r, "SLOW-4").is_some(),
    )
    .await;
    assert_eq!(audit_reports(&cluster, &ns).unwrap().len(), 3);
}

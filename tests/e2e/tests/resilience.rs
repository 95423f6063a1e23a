//! Resilience end to end: a leader cut off from the API server stops before its lease could
//! be taken and the standby takes over; under injected API errors and dropped watches every
//! workload still ends with correct reports and no process exits.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use e2e::operator::http_get;
use e2e::reports::{audit_reports, single_report_of, uid};
use e2e::workloads::{apply_pods, lease_holder};
use e2e::{Cluster, Operator, OperatorOptions, audits_only, eventually};
use kube_sim::faults::FaultConfig;

const LONG: Duration = Duration::from_secs(300);

/// The timestamp at the start of the first log line containing `needle`.
fn logged_at(log: &str, needle: &str) -> Option<jiff::Timestamp> {
    log.lines()
        .find(|l| l.contains(needle))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitioned_leader_stops_before_the_standby_takes_over() {
    let cluster = Cluster::start("partition").await.unwrap();
    let Some(sim) = cluster.sim() else {
        panic!(
            "needs kube-sim's fault injection; against a real cluster run the scenarios with --profile real-cluster, which reports this one as skipped"
        );
    };
    let ns = cluster.ns("part");
    cluster
        .create_namespaces(std::slice::from_ref(&ns))
        .unwrap();
    let opns = cluster.ns("trivy-system");
    let options = OperatorOptions::new(e2e::binaries!(), &cluster, vec![ns.clone()])
        .workers(2, 2)
        .operator_namespace(opns.clone())
        .leader_args(audits_only());
    let mut op = Operator::start_replicated(&cluster, options, 2).unwrap();
    // A replica that wrote itself into the Lease confirms the win before it leads: cut off
    // only a holder that is leading.
    let first = eventually("a leader", LONG, || async {
        let (h, _) = lease_holder(&cluster, &opns)?;
        if h.is_empty() {
            Err("no holder".into())
        } else if logged_at(&op.log(&h), "acquired the lease: leading").is_none() {
            Err(format!("{h} holds the Lease but does not lead yet"))
        } else {
            Ok(h)
        }
    })
    .await
    .unwrap();
    // Cut the holder off: every request it makes fails.
    sim.set_faults(FaultConfig {
        error_rate: 1.0,
        error_codes: vec![503],
        match_user_agent: Some(format!("({first})")),
        ..FaultConfig::default()
    });
    let second = eventually("the standby to take over", LONG, || async {
        let (h, _) = lease_holder(&cluster, &opns)?;
        if h != first && !h.is_empty() {
            Ok(h)
        } else {
            Err(format!("held by {h}"))
        }
    })
    .await
    .unwrap();
    let stopped = eventually("the cut-off leader to give up", LONG, || async {
        logged_at(&op.log(&first), "lost the lease").ok_or_else(|| "still running".to_string())
    })
    .await
    .unwrap();
    let took_over = eventually("the standby to lead", LONG, || async {
        logged_at(&op.log(&second), "acquired the lease: leading")
            .ok_or_else(|| format!("{second} holds the Lease but does not lead yet"))
    })
    .await
    .unwrap();
    assert!(
        stopped < took_over,
        "stopped at {stopped}, the other took over at {took_over}"
    );
    sim.set_faults(FaultConfig::default());

    // The cut-off replica did not exit: it stands by, not ready, and counts the lost term.
    assert!(op.all_running(), "no replica exited");
    let index: usize = first.trim_start_matches("leader-").parse().unwrap();
    let port = op.leader_admin_ports[index];
    eventually(
        "the old holder to report itself a standby",
        LONG,
        || async {
            let (ready, _) = http_get(port, "/readyz").await.map_err(|e| e.to_string())?;
            let (_, metrics) = http_get(port, "/metrics")
                .await
                .map_err(|e| e.to_string())?;
            let lost = metrics
                .lines()
                .any(|l| l == "trivy_operator_leader_terms_lost_total 1");
            if ready == 503 && lost {
                Ok(())
            } else {
                Err(format!("readyz {ready}, terms lost counted: {lost}"))
            }
        },
    )
    .await
    .unwrap();

    // Work goes on under the new leader.
    apply_pods(&cluster, &ns, &["p0", "p1", "p2"], "alpine:3.10").unwrap();
    eventually("reports under the new leader", LONG, || async {
        let reports = audit_reports(&cluster, &ns).map_err(|e| e.to_string())?;
        for pod in cluster
            .list(&["pods", "-n", &ns])
            .map_err(|e| e.to_string())?
        {
            single_report_of(&reports, uid(&pod))?;
        }
        if reports.len() == 3 {
            Ok(())
        } else {
            Err(format!("{} reports", reports.len()))
        }
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_errors_and_dropped_watches_lose_nothing() {
    let cluster = Cluster::start("faults").await.unwrap();
    let Some(sim) = cluster.sim() else {
        panic!(
            "needs kube-sim's fault injection; against a real cluster run the scenarios with --profile real-cluster, which reports this one as skipped"
        );
    };
    let namespaces: Vec<String> = (0..4).map(|i| cluster.ns(&format!("flt{i}"))).collect();
    cluster.create_namespaces(&namespaces).unwrap();
    let mut op = Operator::start(
        &cluster,
        OperatorOptions::new(e2e::binaries!(), &cluster, namespaces.clone()).workers(3, 2),
    )
    .unwrap();
    // 10% of the operator's requests fail with 500 or 429 (kubectl in this test is spared).
    sim.set_faults(FaultConfig {
        error_rate: 0.1,
        error_codes: vec![500, 429],
        match_user_agent: Some("trivy-operator-".into()),
        ..FaultConfig::default()
    });
    for ns in &namespaces {
        apply_pods(&cluster, ns, &["p0", "p1", "p2", "p3", "p4"], "alpine:3.10").unwrap();
    }
    for round in 0..3 {
        tokio::time::sleep(Duration::from_secs(2)).await;
        sim.close_watches();
        assert!(op.all_running(), "no process exits (round {round})");
    }
    eventually("every Pod to have its two reports", LONG, || async {
        for ns in &namespaces {
            let audits = audit_reports(&cluster, ns).map_err(|e| e.to_string())?;
            let vulns = cluster
                .list(&["vulnerabilityreports", "-n", ns])
                .map_err(|e| e.to_string())?;
            for pod in cluster
                .list(&["pods", "-n", ns])
                .map_err(|e| e.to_string())?
            {
                single_report_of(&audits, uid(&pod)).map_err(|e| format!("audit: {e}"))?;
                single_report_of(&vulns, uid(&pod)).map_err(|e| format!("vuln: {e}"))?;
            }
        }
        Ok(())
    })
    .await
    .unwrap();
    let injected = sim
        .stats()
        .faults_injected
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(injected > 0, "faults were injected");
    assert!(op.all_running(), "no process exited");
}

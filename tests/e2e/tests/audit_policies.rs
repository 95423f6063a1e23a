//! The plugin ConfigMap end to end: a custom policy re-audits exactly the kinds it applies
//! to; a broken ConfigMap is reported as an Event and changes nothing until it is fixed; one
//! broken from the start leaves the built-in checks in use and never stops scans.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use e2e::reports::{audit_reports, failed_checks, label, name};
use e2e::wait::DEFAULT_TIMEOUT;
use e2e::{Cluster, Operator, OperatorOptions, audits_only, eventually};

const WORKLOADS: &str = e2e::workloads::DB_AND_DEBUG_POD;

const CUSTOM_POLICY: &str = r#"
apiVersion: v1
kind: ConfigMap
metadata: {name: trivy-operator-policies-config, namespace: OPNS}
data:
  library.kubernetes.rego: |
    package lib.kubernetes

    name = input.metadata.name
  policy.team_label.kinds: StatefulSet
  policy.team_label.rego: |
    package trivyoperator.policy.k8s.custom

    import data.lib.kubernetes

    __rego_metadata__ := {
      "id": "CUSTOM-001",
      "title": "Workload must carry a team label",
      "severity": "LOW",
      "type": "Kubernetes Security Check",
      "description": "Every workload must say which team owns it.",
      "recommended_actions": "Add a team label."
    }

    deny[res] {
      not input.metadata.labels.team
      res := {"msg": sprintf("%s has no team label", [kubernetes.name])}
    }
"#;

const BROKEN_POLICY: &str = r#"
apiVersion: v1
kind: ConfigMap
metadata: {name: trivy-operator-policies-config, namespace: OPNS}
data:
  policy.broken.kinds: Workload
  policy.broken.rego: |
    package trivyoperator.policy.k8s.broken

    deny[res] {
      input.kind ==
"#;

/// Report name → plugin-config-hash, once both reports exist.
async fn hashes(cluster: &Cluster, ns: &str) -> BTreeMap<String, String> {
    eventually("both reports", DEFAULT_TIMEOUT, || async {
        let reports = audit_reports(cluster, ns).map_err(|e| e.to_string())?;
        let map: BTreeMap<String, String> = reports
            .iter()
            .map(|r| {
                (
                    name(r).to_string(),
                    label(r, "plugin-config-hash").unwrap_or("").to_string(),
                )
            })
            .collect();
        if map.len() == 2 {
            Ok(map)
        } else {
            Err(format!("{map:?}"))
        }
    })
    .await
    .unwrap()
}

fn start(cluster: &Cluster, test_ns: &str) -> (String, Operator) {
    cluster.create_namespaces(&[test_ns.to_string()]).unwrap();
    let opns = cluster.ns("trivy-system");
    let op = Operator::start(
        cluster,
        OperatorOptions::new(e2e::binaries!(), cluster, vec![test_ns.to_string()])
            .workers(2, 2)
            .operator_namespace(opns.clone())
            .leader_args(audits_only()),
    )
    .unwrap();
    cluster.apply(&WORKLOADS.replace("NS", test_ns)).unwrap();
    (opns, op)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_policy_reaudits_only_the_kinds_it_applies_to() {
    let cluster = Cluster::start("policy-change").await.unwrap();
    let ns = cluster.ns("pol");
    let (opns, _op) = start(&cluster, &ns);
    let before = hashes(&cluster, &ns).await;

    cluster
        .apply(&CUSTOM_POLICY.replace("OPNS", &opns))
        .unwrap();
    let after = eventually(
        "the StatefulSet's report to carry the custom check",
        DEFAULT_TIMEOUT,
        || async {
            let reports = audit_reports(&cluster, &ns).map_err(|e| e.to_string())?;
            let sts = reports
                .iter()
                .find(|r| name(r) == "statefulset-db")
                .ok_or("no report")?;
            if label(sts, "plugin-config-hash") == before.get("statefulset-db").map(String::as_str)
            {
                return Err("old hash".into());
            }
            if !failed_checks(sts).contains("CUSTOM-001") {
                return Err(format!("checks: {:?}", failed_checks(sts)));
            }
            Ok(reports)
        },
    )
    .await
    .unwrap();
    let pod = after.iter().find(|r| name(r) == "pod-debug").unwrap();
    assert_eq!(
        label(pod, "plugin-config-hash"),
        before.get("pod-debug").map(String::as_str),
        "the policy does not apply to Pods: their hash is kept"
    );
    assert!(!failed_checks(pod).contains("CUSTOM-001"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_configmap_raises_an_event_and_changes_nothing_until_fixed() {
    let cluster = Cluster::start("policy-broken").await.unwrap();
    let ns = cluster.ns("brk");
    let (opns, _op) = start(&cluster, &ns);
    let before = hashes(&cluster, &ns).await;
    let uids: Vec<String> = audit_reports(&cluster, &ns)
        .unwrap()
        .iter()
        .map(|r| e2e::reports::uid(r).to_string())
        .collect();

    cluster
        .apply(&BROKEN_POLICY.replace("OPNS", &opns))
        .unwrap();
    let event = eventually(
        "a PolicyConfigInvalid Event on the ConfigMap",
        DEFAULT_TIMEOUT,
        || async {
            let events = cluster
                .list(&["events.v1.events.k8s.io", "-n", &opns])
                .map_err(|e| e.to_string())?;
            events
                .into_iter()
                .find(|e| e["reason"] == "PolicyConfigInvalid")
                .ok_or_else(|| "no event yet".to_string())
        },
    )
    .await
    .unwrap();
    assert_eq!(event["regarding"]["kind"], "ConfigMap");
    assert_eq!(event["regarding"]["name"], "trivy-operator-policies-config");
    assert!(
        event["note"]
            .as_str()
            .unwrap()
            .contains("policy.broken.rego"),
        "{event:#}"
    );

    // Reports are untouched: same objects, same hashes.
    let reports = audit_reports(&cluster, &ns).unwrap();
    let now: Vec<String> = reports
        .iter()
        .map(|r| e2e::reports::uid(r).to_string())
        .collect();
    assert_eq!(now, uids);
    for r in &reports {
        assert_eq!(
            label(r, "plugin-config-hash"),
            before.get(name(r)).map(String::as_str)
        );
    }

    // Fixing it resumes normal work: the custom policy lands in the StatefulSet's report.
    cluster
        .apply(&CUSTOM_POLICY.replace("OPNS", &opns))
        .unwrap();
    eventually(
        "the fixed policy to be applied",
        DEFAULT_TIMEOUT,
        || async {
            let reports = audit_reports(&cluster, &ns).map_err(|e| e.to_string())?;
            let sts = reports
                .iter()
                .find(|r| name(r) == "statefulset-db")
                .ok_or("no report")?;
            if failed_checks(sts).contains("CUSTOM-001") {
                Ok(())
            } else {
                Err("not yet".into())
            }
        },
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configmap_broken_at_start_up_falls_back_to_the_built_in_checks() {
    let cluster = Cluster::start("policy-broken-start").await.unwrap();
    let ns = cluster.ns("brs");
    cluster
        .create_namespaces(std::slice::from_ref(&ns))
        .unwrap();
    let opns = cluster.ns("trivy-system");
    let _ = cluster.kubectl(&["create", "namespace", &opns]);
    cluster
        .apply(&BROKEN_POLICY.replace("OPNS", &opns))
        .unwrap();
    let op = Operator::start(
        &cluster,
        OperatorOptions::new(e2e::binaries!(), &cluster, vec![ns.clone()])
            .workers(2, 2)
            .operator_namespace(opns.clone()),
    )
    .unwrap();
    // Images the Trivy double knows, so that the scans succeed.
    let workloads = WORKLOADS
        .replace("NS", &ns)
        .replace("postgres:16.4", "alpine:3.10")
        .replace("image: busybox", "image: \"debian:buster\"");
    cluster.apply(&workloads).unwrap();
    // Audits proceed with the built-in checks; scans never depended on policies.
    let reports = hashes(&cluster, &ns).await;
    assert_eq!(reports.len(), 2);
    let db = audit_reports(&cluster, &ns)
        .unwrap()
        .into_iter()
        .find(|r| name(r) == "statefulset-db")
        .unwrap();
    assert!(
        !failed_checks(&db).is_empty(),
        "built-in checks ran: {db:#}"
    );
    eventually("the vulnerability reports", DEFAULT_TIMEOUT, || async {
        let vulns = cluster
            .list(&["vulnerabilityreports", "-n", &ns])
            .map_err(|e| e.to_string())?;
        (vulns.len() == 2)
            .then_some(())
            .ok_or(format!("{} reports", vulns.len()))
    })
    .await
    .unwrap();
    eventually("the Event", DEFAULT_TIMEOUT, || async {
        let events = cluster
            .list(&["events.v1.events.k8s.io", "-n", &opns])
            .map_err(|e| e.to_string())?;
        events
            .iter()
            .any(|e| e["reason"] == "PolicyConfigInvalid")
            .then_some(())
            .ok_or("no event yet".to_string())
    })
    .await
    .unwrap();
    let port = op.leader_admin_ports[0];
    eventually("the metric", DEFAULT_TIMEOUT, || async {
        let (_, text) = e2e::operator::http_get(port, "/metrics")
            .await
            .map_err(|e| e.to_string())?;
        text.lines()
            .any(|l| l == "trivy_operator_leader_policy_config_invalid 1")
            .then_some(())
            .ok_or("metric not 1".to_string())
    })
    .await
    .unwrap();
}

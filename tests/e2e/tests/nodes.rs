//! Node assessments end to end, on three fake nodes named like kind's: each node gets its
//! ClusterInfraAssessmentReport with the findings of its own collector's answer (kubectl
//! shows upstream's columns); a collector that fails gives a Warning Event on its Node and
//! a status entry while the other nodes are assessed; fixed, it is assessed; a deleted
//! report comes back; a custom policy for `kinds: Node` re-checks every node; a node labelled
//! for exclusion is no longer assessed; a deleted Node takes its report with it; the leader
//! serves `trivy_resource_infraassessments`.
//!
//! kube-sim only (the real-cluster profile leaves it out): the findings depend on what the
//! node-collector double answers for each node.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use e2e::operator::wait_for_series;
use e2e::reports::{failed_checks as failed, label, name, owner, uid};
use e2e::{Cluster, Operator, OperatorOptions, eventually};
use serde_json::Value;

const LONG: Duration = Duration::from_secs(240);
const NODES: [&str; 3] = ["kind-control-plane", "kind-worker", "kind-worker2"];

/// What the double's built-in answers fail (tests/kube-sim/README.md).
const MASTER_FAILS: [&str; 8] = [
    "KCV0056", "KCV0059", "KCV0069", "KCV0075", "KCV0077", "KCV0083", "KCV0091", "KCV0092",
];
const WORKER_FAILS: [&str; 7] = [
    "KCV0069", "KCV0077", "KCV0083", "KCV0088", "KCV0089", "KCV0091", "KCV0092",
];

const NODE_POLICY: &str = r#"
apiVersion: v1
kind: ConfigMap
metadata: {name: trivy-operator-policies-config, namespace: OPNS}
data:
  policy.worker_marker.kinds: Node
  policy.worker_marker.rego: |
    package trivyoperator.policy.node.marker

    __rego_metadata__ := {
      "id": "CUSTOM-N01",
      "title": "Worker nodes are flagged",
      "severity": "LOW",
      "type": "Kubernetes Security Check",
      "description": "Flags every worker node.",
      "recommended_actions": "None."
    }

    deny[res] {
      input.kind == "NodeInfo"
      input.type == "worker"
      res := {"msg": "a worker node"}
    }
"#;

fn ids(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// The node reports, by name.
fn reports(cluster: &Cluster) -> Result<BTreeMap<String, Value>, String> {
    let list = cluster
        .list(&["clusterinfraassessmentreports"])
        .map_err(|e| e.to_string())?;
    Ok(list.into_iter().map(|r| (name(&r).to_owned(), r)).collect())
}

/// Waits until `report` of the node reports satisfies `ok`; returns it.
async fn report_where(
    cluster: &Cluster,
    report: &str,
    what: &str,
    ok: impl Fn(&Value) -> bool,
) -> Value {
    eventually(what, LONG, || async {
        let all = reports(cluster)?;
        match all.get(report) {
            Some(r) if ok(r) => Ok(r.clone()),
            Some(r) => Err(format!("{report} fails {:?}", failed(r))),
            None => Err(format!(
                "no {report}; have {:?}",
                all.keys().collect::<Vec<_>>()
            )),
        }
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_node_gets_its_assessment_and_follows_its_node() {
    let cluster = Cluster::start_with_nodes("nodes", &NODES).await.unwrap();
    let answers = cluster.node_info_dir();
    // kind-worker's kubelet accepts anonymous requests; kind-worker2's collector fails.
    std::fs::write(
        answers.join("kind-worker.json"),
        r#"{"kubeletAnonymousAuthArgumentSet":{"values":["true"]}}"#,
    )
    .unwrap();
    let broken = answers.join("kind-worker2.error");
    std::fs::write(&broken, "cannot read /proc/1/cmdline: permission denied").unwrap();
    let ns = cluster.ns("nodes");
    cluster
        .create_namespaces(std::slice::from_ref(&ns))
        .unwrap();
    let options = OperatorOptions::new(e2e::binaries!(), &cluster, vec![ns.clone()])
        .workers(2, 2)
        .leader_args(
            [
                "--vulnerability-scans",
                "false",
                "--node-collector",
                "true",
                // kind's control plane is tainted: assessed only with this toleration.
                "--node-collector-tolerations",
                r#"[{"key":"node-role.kubernetes.io/control-plane","operator":"Exists","effect":"NoSchedule"}]"#,
                "--node-collector-exclude-nodes",
                "team=excluded",
            ]
            .map(String::from)
            .to_vec(),
        );
    let opns = options.operator_namespace.clone();
    let mut op = Operator::start(&cluster, options).unwrap();

    // The control plane is tainted as kind's is.
    let taints =
        cluster.get_json(&["node", "kind-control-plane"]).unwrap()["spec"]["taints"].clone();
    assert_eq!(taints[0]["effect"], "NoSchedule", "{taints}");

    // Each node's own findings, upstream's labels and owner.
    let mut worker_fails = ids(&WORKER_FAILS);
    worker_fails.insert("KCV0079".into());
    let worker = report_where(&cluster, "node-kind-worker", "kind-worker's report", |r| {
        failed(r) == worker_fails
    })
    .await;
    let master = report_where(
        &cluster,
        "node-kind-control-plane",
        "the control plane's report",
        |r| failed(r) == ids(&MASTER_FAILS),
    )
    .await;
    let node = cluster.get_json(&["node", "kind-worker"]).unwrap();
    assert_eq!(
        owner(&worker),
        Some(("Node".into(), "kind-worker".into(), uid(&node).into()))
    );
    assert_eq!(label(&worker, "trivy-operator.resource.kind"), Some("Node"));
    assert_eq!(
        label(&worker, "trivy-operator.resource.name"),
        Some("kind-worker")
    );
    assert_eq!(
        label(&worker, "trivy-operator.resource.namespace"),
        Some("")
    );
    assert!(label(&worker, "plugin-config-hash").is_some());
    assert_eq!(worker["report"]["scanner"]["name"], "Trivy");
    assert_eq!(
        worker["report"]["summary"]["criticalCount"], 4,
        "{worker:#}"
    );
    assert_eq!(master["report"]["summary"]["lowCount"], 1, "{master:#}");
    let anonymous = worker["report"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["checkID"] == "KCV0079")
        .unwrap()
        .clone();
    assert_eq!(anonymous["severity"], "CRITICAL");
    assert_eq!(
        anonymous["messages"][0],
        "Ensure that the --anonymous-auth argument is set to false"
    );
    // The leader's gauge, from the reports' metadata.
    let series = "trivy_resource_infraassessments{namespace=\"\",name=\"node-kind-worker\",\
                  resource_kind=\"Node\",resource_name=\"kind-worker\",severity=\"Critical\"} 4";
    wait_for_series(op.leader_admin_ports[0], &[series.to_owned()], LONG)
        .await
        .unwrap();
    let table = cluster
        .kubectl(&["get", "clusterinfraassessment", "-o", "wide"])
        .unwrap();
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAME", "SCANNER", "AGE", "CRITICAL", "HIGH", "MEDIUM", "LOW"
        ]
    );

    // The failing collector: an Event on its Node, a status entry, no report.
    let note = eventually("the Event on kind-worker2", LONG, || async {
        let events = cluster
            .list(&["events.v1.events.k8s.io", "-A"])
            .map_err(|e| e.to_string())?;
        events
            .iter()
            .find(|e| e["regarding"]["name"] == "kind-worker2" && e["type"] == "Warning")
            .map(|e| (e["reason"].clone(), e["note"].clone()))
            .ok_or_else(|| "no Event yet".to_string())
    })
    .await
    .unwrap();
    assert_eq!(note.0, "NodeCollectorFailed", "{note:?}");
    assert!(
        note.1.as_str().unwrap().contains("permission denied"),
        "{note:?}"
    );
    let status = eventually("kind-worker2's failure in status", LONG, || async {
        let s = op.status(&["node", "kind-worker2"])?;
        let text = s["explanation"].as_str().unwrap_or_default().to_owned();
        text.contains("NodeCollectorFailed")
            .then_some(text.clone())
            .ok_or(text)
    })
    .await
    .unwrap();
    assert!(status.contains("its work goes to worker"), "{status}");
    assert!(!reports(&cluster).unwrap().contains_key("node-kind-worker2"));

    // Fixed: assessed at its next retry.
    std::fs::remove_file(&broken).unwrap();
    report_where(
        &cluster,
        "node-kind-worker2",
        "kind-worker2's report",
        |r| failed(r) == ids(&WORKER_FAILS),
    )
    .await;

    // A deleted report comes back.
    let before = uid(&worker).to_owned();
    cluster
        .kubectl(&["delete", "clusterinfraassessmentreport", "node-kind-worker"])
        .unwrap();
    report_where(&cluster, "node-kind-worker", "the report back", |r| {
        uid(r) != before
    })
    .await;

    // A policy for nodes re-checks them all: the workers get its check, the master not.
    cluster.apply(&NODE_POLICY.replace("OPNS", &opns)).unwrap();
    for node in ["kind-worker", "kind-worker2"] {
        let report = format!("node-{node}");
        report_where(&cluster, &report, "the custom check", |r| {
            failed(r).contains("CUSTOM-N01")
        })
        .await;
    }
    let hash = label(&master, "plugin-config-hash").unwrap().to_owned();
    report_where(&cluster, "node-kind-control-plane", "a new hash", |r| {
        label(r, "plugin-config-hash") != Some(hash.as_str()) && !failed(r).contains("CUSTOM-N01")
    })
    .await;

    // A node labelled as excluded is no longer assessed: its deleted report stays deleted.
    cluster
        .kubectl(&["label", "node", "kind-worker2", "team=excluded"])
        .unwrap();
    eventually("kind-worker2 excluded in status", LONG, || async {
        let s = op.status(&["node", "kind-worker2"])?;
        let text = s["explanation"].as_str().unwrap_or_default().to_owned();
        text.starts_with("not assessed").then_some(()).ok_or(text)
    })
    .await
    .unwrap();
    cluster
        .kubectl(&[
            "delete",
            "clusterinfraassessmentreport",
            "node-kind-worker2",
        ])
        .unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(
        !reports(&cluster).unwrap().contains_key("node-kind-worker2"),
        "an excluded node was assessed again"
    );

    // A deleted Node takes its report with it, and it is not made again.
    cluster.kubectl(&["delete", "node", "kind-worker"]).unwrap();
    eventually("the report of the deleted node gone", LONG, || async {
        let all = reports(&cluster)?;
        (!all.contains_key("node-kind-worker"))
            .then_some(())
            .ok_or_else(|| "still there".to_string())
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let all = reports(&cluster).unwrap();
    assert!(!all.contains_key("node-kind-worker"), "made again");
    assert!(all.contains_key("node-kind-control-plane"));
    assert!(op.all_running());
}

//! The shipped RBAC is necessary, not just sufficient: with one rule the operator needs taken
//! away, the failure is a clear Forbidden error in the logs and in the status service — not a
//! silent stall — and putting the rule back resumes the work. (Every other scenario already
//! runs the operator under the shipped RBAC on kube-sim, proving it sufficient.)

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use e2e::reports::audit_reports;
use e2e::workloads::apply_pods;
use e2e::{Cluster, Operator, OperatorOptions, audits_only, eventually};
use serde_json::Value;

const LONG: Duration = Duration::from_secs(240);

fn status(op: &Operator, args: &[&str]) -> Result<Value, String> {
    op.status(args)
}

/// The ClusterRole `name` with the rules matching `drop` removed, and the original.
fn without_rule(cluster: &Cluster, name: &str, drop: impl Fn(&Value) -> bool) -> (String, String) {
    let mut role = cluster.get_json(&["clusterrole", name]).unwrap();
    // Unconditional replaces: no resourceVersion.
    role["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("resourceVersion");
    let mut reduced = role.clone();
    let rules = reduced["rules"].as_array_mut().unwrap();
    let before = rules.len();
    rules.retain(|r| !drop(r));
    assert_eq!(
        rules.len(),
        before - 1,
        "exactly one rule removed from {name}"
    );
    (reduced.to_string(), role.to_string())
}

fn has(rule: &Value, resource: &str) -> bool {
    rule["resources"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r == resource)
}

fn start(cluster: &Cluster, ns: &str) -> Operator {
    cluster.create_namespaces(&[ns.to_string()]).unwrap();
    Operator::start(
        cluster,
        OperatorOptions::new(e2e::binaries!(), cluster, vec![ns.to_string()])
            .workers(1, 1)
            .leader_args(audits_only()),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_worker_rule_is_a_clear_forbidden_error() {
    let cluster = Cluster::start("rbac-worker").await.unwrap();
    if cluster.real {
        panic!(
            "edits the operator's ClusterRoles, only on kube-sim; against a real cluster run the scenarios with --profile real-cluster, which reports this one as skipped"
        );
    }
    let ns = cluster.ns("rw");
    let op = start(&cluster, &ns);
    let (reduced, original) = without_rule(&cluster, "trivy-operator-worker", |r| {
        has(r, "configauditreports")
    });
    cluster
        .kubectl_with_input(&["replace", "-f", "-"], Some(&reduced))
        .unwrap();
    apply_pods(&cluster, &ns, &["app"], "alpine:3.10").unwrap();

    let answer = eventually("the status to show the Forbidden error", LONG, || async {
        let answer = status(&op, &["workload", &ns, "Pod", "app"])?;
        if answer["state"] == "failed" {
            Ok(answer)
        } else {
            Err(answer.to_string())
        }
    })
    .await
    .unwrap();
    let message = answer["tasks"][0]["failure_message"]
        .as_str()
        .unwrap()
        .to_string();
    let sa = format!(
        "system:serviceaccount:{}:trivy-operator-worker",
        cluster.ns("trivy-system")
    );
    assert!(
        message.contains("forbidden") && message.contains(&sa),
        "{message}"
    );
    assert!(message.contains("configauditreports"), "{message}");
    assert!(
        op.log("worker-0").contains("is forbidden"),
        "the worker log says why"
    );
    assert!(audit_reports(&cluster, &ns).unwrap().is_empty());

    // Putting the rule back resumes the work (after the retry backoff).
    cluster
        .kubectl_with_input(&["apply", "-f", "-"], Some(&original))
        .unwrap();
    eventually("the report once the rule is back", LONG, || async {
        let n = audit_reports(&cluster, &ns)
            .map_err(|e| e.to_string())?
            .len();
        if n == 1 {
            Ok(())
        } else {
            Err(format!("{n} reports"))
        }
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_leader_rule_is_a_clear_forbidden_error() {
    let cluster = Cluster::start("rbac-leader").await.unwrap();
    if cluster.real {
        panic!(
            "edits the operator's ClusterRoles, only on kube-sim; against a real cluster run the scenarios with --profile real-cluster, which reports this one as skipped"
        );
    }
    let (reduced, original) = without_rule(&cluster, "trivy-operator-leader", |r| {
        has(r, "statefulsets") && r["verbs"].as_array().unwrap().iter().any(|v| v == "watch")
    });
    cluster
        .kubectl_with_input(&["replace", "-f", "-"], Some(&reduced))
        .unwrap();
    let ns = cluster.ns("rl");
    let op = start(&cluster, &ns);
    // The removed rule covers all four apps/v1 kinds; their watches fail one by one, so wait
    // for the StatefulSet one rather than for the first error.
    eventually("the status to show the failing watch", LONG, || async {
        let answer = status(&op, &["cluster"])?;
        let forbidden = answer["watch_errors"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e.as_str())
            .any(|e| e.contains("forbidden") && e.contains("statefulsets"));
        if forbidden {
            Ok(())
        } else {
            Err(answer.to_string())
        }
    })
    .await
    .unwrap();
    assert!(
        op.log("leader-0").contains("forbidden"),
        "the leader log says why"
    );

    cluster
        .kubectl_with_input(&["apply", "-f", "-"], Some(&original))
        .unwrap();
    apply_pods(&cluster, &ns, &["app"], "alpine:3.10").unwrap();
    eventually("work to resume once the rule is back", LONG, || async {
        let n = audit_reports(&cluster, &ns)
            .map_err(|e| e.to_string())?
            .len();
        let answer = status(&op, &["cluster"])?;
        let clear = answer["watch_errors"]
            .as_array()
            .is_none_or(|e| e.is_empty());
        if n == 1 && clear {
            Ok(())
        } else {
            Err(format!("{n} reports, {answer}"))
        }
    })
    .await
    .unwrap();
}

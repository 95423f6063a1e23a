//! Report names that collide: Pod `a-b` with container `c` and Pod `a` with container `b-c`
//! both map to the upstream name `pod-a-b-c`. Each workload gets its own report — the
//! second under a fallback name — and neither is rewritten back and forth, so both are up
//! to date.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::time::Duration;

use e2e::reports::{name, owner};
use e2e::{Cluster, Operator, OperatorOptions, eventually};
use serde_json::Value;

const LONG: Duration = Duration::from_secs(240);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn colliding_report_names_give_each_workload_its_own_report() {
    let cluster = Cluster::start("report-names").await.unwrap();
    let ns = cluster.ns("names");
    cluster
        .create_namespaces(std::slice::from_ref(&ns))
        .unwrap();
    let op = Operator::start(
        &cluster,
        OperatorOptions::new(e2e::binaries!(), &cluster, vec![ns.clone()]),
    )
    .unwrap();
    let pods = format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: a-b, namespace: {ns}}}\nspec:\n  containers: [{{name: c, image: \"alpine:3.10\"}}]\n---\napiVersion: v1\nkind: Pod\nmetadata: {{name: a, namespace: {ns}}}\nspec:\n  containers: [{{name: b-c, image: \"debian:buster\"}}]\n"
    );
    cluster.apply(&pods).unwrap();
    let reports: Vec<Value> = eventually("a report for each Pod", LONG, || async {
        let reports = cluster
            .list(&["vulnerabilityreports", "-n", &ns])
            .map_err(|e| e.to_string())?;
        let owners: BTreeSet<String> = reports
            .iter()
            .filter_map(|r| owner(r).map(|(_, name, _)| name))
            .collect();
        (owners.len() == 2)
            .then_some(reports.clone())
            .ok_or_else(|| format!("{} reports, owners {owners:?}", reports.len()))
    })
    .await
    .unwrap();
    assert_eq!(reports.len(), 2, "one report per container");
    let names: BTreeSet<&str> = reports.iter().map(name).collect();
    assert!(names.contains("pod-a-b-c"), "{names:?}");
    for r in &reports {
        let (_, pod, _) = owner(r).unwrap();
        let pod = pod.as_str();
        let container = r["metadata"]["labels"]["trivy-operator.container.name"]
            .as_str()
            .unwrap();
        assert_eq!((pod == "a-b"), (container == "c"), "{r:#}");
        let os = r["report"]["os"]["name"].as_str().unwrap_or_default();
        let expected = if pod == "a-b" { "3.10" } else { "10" };
        assert!(os.starts_with(expected), "{pod}: os {os}");
    }
    // Both are up to date: nothing is rewritten back and forth.
    for pod in ["a-b", "a"] {
        eventually(&format!("{pod} to be up to date"), LONG, || async {
            let answer = op.status(&["workload", &ns, "Pod", pod])?;
            (answer["state"] == "up-to-date")
                .then_some(())
                .ok_or_else(|| answer.to_string())
        })
        .await
        .unwrap();
    }
    let versions = |reports: &[Value]| -> Vec<String> {
        reports
            .iter()
            .map(|r| {
                r["metadata"]["resourceVersion"]
                    .as_str()
                    .unwrap_or("")
                    .to_string()
            })
            .collect()
    };
    let before = versions(&cluster.list(&["vulnerabilityreports", "-n", &ns]).unwrap());
    // A full planning cycle later (the leader plans every second), nothing was rewritten.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = versions(&cluster.list(&["vulnerabilityreports", "-n", &ns]).unwrap());
    assert_eq!(before, after);
}

//! A report CRD deleted while the operator runs: the leader notices, pauses the work that
//! writes that kind (no scan Jobs for nothing, no stream of 404s from the workers), says so
//! in its status, and resumes when the CRD is installed again.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use e2e::{Cluster, Operator, OperatorOptions, eventually};

const LONG: Duration = Duration::from_secs(240);
const CRD: &str = "vulnerabilityreports.aquasecurity.github.io";

fn deployment(ns: &str, name: &str, image: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n  replicas: 1\n  selector: {{matchLabels: {{app: {name}}}}}\n  template:\n    metadata: {{labels: {{app: {name}}}}}\n    spec:\n      containers: [{{name: main, image: \"{image}\"}}]\n"
    )
}

async fn vuln_reports(cluster: &Cluster, ns: &str, want: usize) {
    eventually(&format!("{want} vulnerability reports"), LONG, || async {
        let n = cluster
            .list(&["vulnerabilityreports", "-n", ns])
            .map_err(|e| e.to_string())?
            .len();
        (n == want).then_some(()).ok_or(format!("{n} reports"))
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_report_crd_pauses_its_work_until_it_is_back() {
    let cluster = Cluster::start("missing-crds").await.unwrap();
    if cluster.real {
        panic!(
            "deletes a CRD every other scenario uses, only on kube-sim; against a real cluster run the scenarios with --profile real-cluster, which reports this one as skipped"
        );
    }
    let ns = cluster.ns("crds");
    cluster
        .create_namespaces(std::slice::from_ref(&ns))
        .unwrap();
    let opts = OperatorOptions::new(e2e::binaries!(), &cluster, vec![ns.clone()]);
    let jobs = e2e::jobs::watch_jobs(&cluster, &opts.operator_namespace)
        .await
        .unwrap();
    let op = Operator::start(&cluster, opts).unwrap();
    cluster
        .apply(&deployment(&ns, "first", "alpine:3.10"))
        .unwrap();
    vuln_reports(&cluster, &ns, 1).await;
    let crd = cluster.kubectl(&["get", "crd", CRD, "-o", "yaml"]).unwrap();

    cluster
        .kubectl(&["delete", "crd", CRD, "--wait=true"])
        .unwrap();
    eventually("the leader to report the missing CRD", LONG, || async {
        let status = op.status(&["cluster"])?;
        status
            .to_string()
            .contains("vuln-reports")
            .then_some(())
            .ok_or_else(|| status.to_string())
    })
    .await
    .unwrap();
    assert!(
        op.log("leader-0")
            .contains("the report CRD is not installed"),
        "the leader says why"
    );
    // A new workload while the CRD is missing: audited, but no scan Job runs for nothing.
    let seen_before = jobs.lock().unwrap().seen.len();
    cluster
        .apply(&deployment(&ns, "second", "debian:buster"))
        .unwrap();
    eventually("the new workload's audit", LONG, || async {
        let n = cluster
            .list(&["configauditreports", "-n", &ns])
            .map_err(|e| e.to_string())?
            .len();
        (n == 2).then_some(()).ok_or(format!("{n} audit reports"))
    })
    .await
    .unwrap();
    assert_eq!(
        jobs.lock().unwrap().seen.len(),
        seen_before,
        "no scan Job while its reports cannot be written"
    );
    let worker = op.worker_ids().pop().unwrap();
    let not_found = op.log(&worker).matches("404").count();
    assert!(not_found <= 2, "{not_found} 404s in the worker log");

    // Installed again: both workloads get their reports.
    cluster
        .kubectl_with_input(&["apply", "-f", "-"], Some(&crd))
        .unwrap();
    cluster
        .kubectl(&["wait", "--for=condition=Established", &format!("crd/{CRD}")])
        .unwrap();
    vuln_reports(&cluster, &ns, 2).await;
    eventually("the leader to resume", LONG, || async {
        op.log("leader-0")
            .contains("the report CRD is back")
            .then_some(())
            .ok_or_else(|| "not yet".to_string())
    })
    .await
    .unwrap();
}

/// Without the ClusterConfigAuditReport CRD, only the cluster-scoped objects' audits wait:
/// a Service still gets its ConfigAuditReport; a ClusterRoleBinding gets its report once the
/// CRD is installed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_cluster_config_audit_crd_pauses_only_the_cluster_scoped_audits() {
    const CLUSTER_CRD: &str = "clusterconfigauditreports.aquasecurity.github.io";
    let cluster = Cluster::start("missing-cluster-crd").await.unwrap();
    if cluster.real {
        panic!(
            "deletes a CRD every other scenario uses, only on kube-sim; against a real cluster run the scenarios with --profile real-cluster, which reports this one as skipped"
        );
    }
    let ns = cluster.ns("objects");
    cluster
        .create_namespaces(std::slice::from_ref(&ns))
        .unwrap();
    cluster
        .kubectl(&["delete", "crd", CLUSTER_CRD, "--wait=true"])
        .unwrap();
    cluster
        .apply(&format!(
            "apiVersion: v1\nkind: Service\nmetadata: {{name: web, namespace: {ns}}}\nspec:\n  ports: [{{port: 80}}]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {{name: {ns}-viewers}}\nroleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}}\nsubjects: [{{apiGroup: rbac.authorization.k8s.io, kind: User, name: bob}}]\n"
        ))
        .unwrap();
    let opts = OperatorOptions::new(e2e::binaries!(), &cluster, vec![ns.clone()]).leader_args(
        [
            "--vulnerability-scans",
            "false",
            "--resource-audits",
            "true",
        ]
        .map(String::from)
        .to_vec(),
    );
    let op = Operator::start(&cluster, opts).unwrap();
    // The namespaced object is audited; the leader says what waits.
    eventually("the Service's report", LONG, || async {
        cluster
            .get_json(&["configauditreport", "-n", &ns, "service-web"])
            .map(|_| ())
            .map_err(|e| e.to_string())
    })
    .await
    .unwrap();
    let status = op.status(&["cluster"]).unwrap();
    assert!(
        status.to_string().contains("cluster-audit-reports"),
        "{status}"
    );
    let binding = cluster
        .get_json(&["clusterrolebinding", &format!("{ns}-viewers")])
        .unwrap();
    let status = op
        .status(&["object", "ClusterRoleBinding", &format!("{ns}-viewers")])
        .unwrap();
    assert_ne!(status["state"], "up-to-date", "{status}");

    // Installed: the binding gets its ClusterConfigAuditReport.
    let file = e2e::repo_root().join(format!("deploy/crds/{CLUSTER_CRD}.yaml"));
    cluster
        .kubectl(&["apply", "-f", &file.to_string_lossy()])
        .unwrap();
    cluster
        .kubectl(&[
            "wait",
            "--for=condition=Established",
            &format!("crd/{CLUSTER_CRD}"),
        ])
        .unwrap();
    let uid = binding["metadata"]["uid"].as_str().unwrap();
    e2e::reports::cluster_report_owned_by(&cluster, "clusterconfigauditreports", uid, LONG)
        .await
        .unwrap();
    cluster
        .kubectl(&["delete", "clusterrolebinding", &format!("{ns}-viewers")])
        .unwrap();
}

//! Config audits end to end: one leader and two workers against a cluster. New workloads of
//! every kind get exactly one report, named, labelled and owned as upstream; reports follow
//! their owners through garbage collection; a deleted report comes back.

#![allow(clippy::unwrap_used)]

use e2e::reports::{audit_reports, failed_checks, label, name, owner, single_report_of, uid};
use e2e::wait::DEFAULT_TIMEOUT;
use e2e::{Cluster, Operator, OperatorOptions, audits_only, eventually};

const WORKLOADS: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: NS}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - {name: nginx, image: "nginx:1.16"}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: NS}
spec:
  serviceName: db
  replicas: 1
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      securityContext: {runAsNonRoot: true, runAsUser: 20001, runAsGroup: 20001, seccompProfile: {type: RuntimeDefault}}
      automountServiceAccountToken: false
      containers:
        - name: postgres
          image: "postgres:16.4"
          securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}
          resources: {requests: {cpu: 100m, memory: 128Mi}, limits: {cpu: "1", memory: 256Mi}}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: NS}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      hostNetwork: true
      hostPID: true
      containers:
        - name: agent
          image: "alpine:3.10"
          securityContext: {privileged: true}
          volumeMounts: [{name: host, mountPath: /host}]
      volumes: [{name: host, hostPath: {path: /}}]
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: backup, namespace: NS}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
            - {name: backup, image: "busybox:latest", command: [sh, -c, echo hi]}
---
apiVersion: v1
kind: Pod
metadata: {name: debug, namespace: NS}
spec:
  containers:
    - {name: shell, image: busybox, command: [sleep, "3600"]}
"#;

fn options(cluster: &Cluster, namespaces: &[String]) -> OperatorOptions {
    OperatorOptions::new(e2e::binaries!(), cluster, namespaces.to_vec())
        .workers(2, 2)
        .leader_args(audits_only())
}

/// The uid of `kind/name` in `ns`.
fn uid_of(cluster: &Cluster, ns: &str, kind: &str, name: &str) -> anyhow::Result<String> {
    Ok(uid(&cluster.get_json(&[kind, name, "-n", ns])?).to_string())
}

/// The current ReplicaSet of Deployment `web`.
fn current_replicaset(cluster: &Cluster, ns: &str) -> Result<serde_json::Value, String> {
    let rss = cluster
        .list(&["replicasets", "-n", ns, "-l", "app=web"])
        .map_err(|e| e.to_string())?;
    rss.into_iter()
        .next()
        .ok_or_else(|| "no ReplicaSet yet".to_string())
}

/// A cluster with the operator and the sample workloads of every kind in a fresh namespace,
/// once the Deployment's ReplicaSet exists: (cluster, namespace, operator, ReplicaSet).
async fn start_with_workloads(
    test: &str,
    base: &str,
) -> (Cluster, String, Operator, serde_json::Value) {
    let cluster = Cluster::start(test).await.unwrap();
    let ns = cluster.ns(base);
    cluster
        .create_namespaces(std::slice::from_ref(&ns))
        .unwrap();
    let op = Operator::start(&cluster, options(&cluster, std::slice::from_ref(&ns))).unwrap();
    cluster.apply(&WORKLOADS.replace("NS", &ns)).unwrap();
    let rs = eventually("the Deployment's ReplicaSet", DEFAULT_TIMEOUT, || async {
        current_replicaset(&cluster, &ns)
    })
    .await
    .unwrap();
    (cluster, ns, op, rs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_workload_kind_gets_exactly_one_upstream_shaped_report() {
    let (cluster, ns, _op, rs) = start_with_workloads("audit-kinds", "apps").await;
    let expected = [
        ("ReplicaSet", name(&rs).to_string(), uid(&rs).to_string()),
        (
            "StatefulSet",
            "db".to_string(),
            uid_of(&cluster, &ns, "statefulset", "db").unwrap(),
        ),
        (
            "DaemonSet",
            "agent".to_string(),
            uid_of(&cluster, &ns, "daemonset", "agent").unwrap(),
        ),
        (
            "CronJob",
            "backup".to_string(),
            uid_of(&cluster, &ns, "cronjob", "backup").unwrap(),
        ),
        (
            "Pod",
            "debug".to_string(),
            uid_of(&cluster, &ns, "pod", "debug").unwrap(),
        ),
    ];
    let reports = eventually("five ConfigAuditReports", DEFAULT_TIMEOUT, || async {
        let reports = audit_reports(&cluster, &ns).map_err(|e| e.to_string())?;
        for (_, _, owner_uid) in &expected {
            single_report_of(&reports, owner_uid)?;
        }
        Ok(reports)
    })
    .await
    .unwrap();
    assert_eq!(
        reports.len(),
        5,
        "no report without a workload: {reports:#?}"
    );

    for (kind, workload, owner_uid) in &expected {
        let report = single_report_of(&reports, owner_uid).unwrap();
        assert_eq!(name(report), format!("{}-{workload}", kind.to_lowercase()));
        assert_eq!(label(report, "trivy-operator.resource.kind"), Some(*kind));
        assert_eq!(
            label(report, "trivy-operator.resource.name"),
            Some(workload.as_str())
        );
        assert_eq!(
            label(report, "trivy-operator.resource.namespace"),
            Some(ns.as_str())
        );
        assert_eq!(
            label(report, "app.kubernetes.io/managed-by"),
            Some("trivy-operator")
        );
        assert!(label(report, "resource-spec-hash").is_some_and(|h| !h.is_empty()));
        assert!(label(report, "plugin-config-hash").is_some_and(|h| !h.is_empty()));
        let owners = report["metadata"]["ownerReferences"].as_array().unwrap();
        assert_eq!(owners.len(), 1);
        assert_eq!(owners[0]["controller"], true);
        assert_eq!(owners[0]["blockOwnerDeletion"], false);
        assert_eq!(
            owner(report).unwrap(),
            (kind.to_string(), workload.clone(), owner_uid.clone())
        );
        assert_eq!(report["report"]["scanner"]["name"], "Trivy");
        let summary = &report["report"]["summary"];
        let failed = failed_checks(report).len() as u64;
        let counted: u64 = ["criticalCount", "highCount", "mediumCount", "lowCount"]
            .iter()
            .map(|k| summary[k].as_u64().unwrap())
            .sum();
        assert!(counted <= failed, "summary counts failed checks only");
    }

    let checks = |kind: &str| {
        let (_, _, u) = expected.iter().find(|(k, _, _)| *k == kind).unwrap();
        failed_checks(single_report_of(&reports, u).unwrap())
    };
    let agent = checks("DaemonSet");
    for id in ["KSV017", "KSV009", "KSV010", "KSV023"] {
        assert!(
            agent.contains(id),
            "DaemonSet is privileged, hostNetwork, hostPID, hostPath: {agent:?}"
        );
    }
    let db = checks("StatefulSet");
    for id in [
        "KSV017", "KSV009", "KSV010", "KSV023", "KSV001", "KSV003", "KSV011", "KSV012", "KSV014",
        "KSV018",
    ] {
        assert!(
            !db.contains(id),
            "the hardened StatefulSet does not fail {id}: {db:?}"
        );
    }
    assert!(
        checks("CronJob").contains("KSV013"),
        "busybox:latest uses the latest tag"
    );
    assert!(
        checks("ReplicaSet").contains("KSV011"),
        "nginx has no CPU limit"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_follow_their_owners_and_come_back_when_deleted() {
    let (cluster, ns, _op, rs) = start_with_workloads("audit-lifecycle", "life").await;
    let sts_uid = uid_of(&cluster, &ns, "statefulset", "db").unwrap();
    let first = eventually(
        "reports of the ReplicaSet and the StatefulSet",
        DEFAULT_TIMEOUT,
        || async {
            let reports = audit_reports(&cluster, &ns).map_err(|e| e.to_string())?;
            single_report_of(&reports, uid(&rs))?;
            Ok(single_report_of(&reports, &sts_uid)?.clone())
        },
    )
    .await
    .unwrap();

    // A deleted report comes back, with a new uid.
    cluster
        .kubectl(&["delete", "configauditreport", "statefulset-db", "-n", &ns])
        .unwrap();
    eventually(
        "the deleted report to come back",
        DEFAULT_TIMEOUT,
        || async {
            let reports = audit_reports(&cluster, &ns).map_err(|e| e.to_string())?;
            let report = single_report_of(&reports, &sts_uid)?;
            if uid(report) == uid(&first) {
                return Err("still the old report".into());
            }
            Ok(())
        },
    )
    .await
    .unwrap();

    // Deleting the StatefulSet lets garbage collection remove its report.
    cluster
        .kubectl(&["delete", "statefulset", "db", "-n", &ns])
        .unwrap();
    // Deleting the Deployment cascades to the ReplicaSet and then its report.
    cluster
        .kubectl(&["delete", "deployment", "web", "-n", &ns])
        .unwrap();
    eventually(
        "the reports of deleted owners to be collected",
        DEFAULT_TIMEOUT,
        || async {
            let reports = audit_reports(&cluster, &ns).map_err(|e| e.to_string())?;
            let left: Vec<&str> = reports
                .iter()
                .filter(|r| owner(r).is_some_and(|(_, _, u)| u == sts_uid || u == uid(&rs)))
                .map(name)
                .collect();
            if left.is_empty() {
                Ok(())
            } else {
                Err(format!("still there: {left:?}"))
            }
        },
    )
    .await
    .unwrap();

    // No report remains without a live owner, and the others are still there.
    let reports = audit_reports(&cluster, &ns).unwrap();
    assert_eq!(
        reports.len(),
        3,
        "DaemonSet, CronJob and Pod keep theirs: {reports:#?}"
    );
}

//! RBAC assessments end to end: a Role gets its RbacAssessmentReport and a ClusterRole its
//! ClusterRbacAssessmentReport — upstream's names, labels, owner, findings and messages
//! (kubectl shows upstream's columns) —, a changed rule re-assesses, a deleted report comes
//! back, a policy for `kinds: Role` re-assesses the Roles, and a deleted role takes its
//! report with it. ClusterRoles are sharded on their own keys: the leader's status says
//! which worker a ClusterRole's work goes to.
//!
//! kube-sim only (the real-cluster profile leaves it out): the operator assesses every
//! ClusterRole of the cluster, which all scenarios share.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::time::Duration;

use e2e::operator::wait_for_series;
use e2e::reports::{failed_checks as failed, label, missing, owner, uid};
use e2e::{Cluster, Operator, OperatorOptions, eventually};
use serde_json::Value;

const LONG: Duration = Duration::from_secs(240);

const ROLES: &str = r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: secret-reader, namespace: NS}
rules:
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pod-reader, namespace: NS}
rules:
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: CLUSTERROLE}
rules:
- apiGroups: ["*"]
  resources: ["*"]
  verbs: ["*"]
"#;

const ROLE_POLICY: &str = r#"
apiVersion: v1
kind: ConfigMap
metadata: {name: trivy-operator-policies-config, namespace: OPNS}
data:
  policy.no_list.kinds: Role
  policy.no_list.rego: |
    package trivyoperator.policy.k8s.no_list

    __rego_metadata__ := {
      "id": "CUSTOM-R01",
      "title": "Roles do not list",
      "severity": "LOW",
      "type": "Kubernetes Security Check",
      "description": "Flags a Role that lists anything.",
      "recommended_actions": "Grant get instead."
    }

    deny[res] {
      input.rules[_].verbs[_] == "list"
      res := {"msg": "the role lists"}
    }
"#;

/// Waits until the report satisfies `ok` (see [`e2e::reports::report_where`]).
async fn report_where(
    cluster: &Cluster,
    kind: &str,
    namespace: &str,
    name: &str,
    ok: impl Fn(&Value) -> bool,
) -> Value {
    e2e::reports::report_where(cluster, kind, namespace, name, LONG, ok)
        .await
        .unwrap()
}

fn ids(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_and_cluster_roles_get_rbac_assessments_that_follow_them() {
    let cluster = Cluster::start("rbac-assessments").await.unwrap();
    let ns = cluster.ns("team");
    cluster
        .create_namespaces(std::slice::from_ref(&ns))
        .unwrap();
    let cluster_role = format!("{ns}-everything");
    cluster
        .apply(
            &ROLES
                .replace("CLUSTERROLE", &cluster_role)
                .replace("NS", &ns),
        )
        .unwrap();
    let options = OperatorOptions::new(e2e::binaries!(), &cluster, vec![ns.clone()])
        .workers(2, 2)
        .leader_args(
            [
                "--vulnerability-scans",
                "false",
                "--rbac-assessments",
                "true",
            ]
            .map(String::from)
            .to_vec(),
        );
    let opns = options.operator_namespace.clone();
    let mut op = Operator::start(&cluster, options).unwrap();

    // The Role that reads secrets: upstream's finding, message, labels and owner.
    let secret_reader = report_where(
        &cluster,
        "rbacassessmentreports",
        &ns,
        "role-secret-reader",
        |r| failed(r) == ids(&["KSV113"]),
    )
    .await;
    let role = cluster
        .get_json(&["role", "-n", &ns, "secret-reader"])
        .unwrap();
    assert_eq!(
        owner(&secret_reader),
        Some(("Role".into(), "secret-reader".into(), uid(&role).into()))
    );
    assert_eq!(
        secret_reader["metadata"]["ownerReferences"][0]["apiVersion"],
        "rbac.authorization.k8s.io/v1"
    );
    assert_eq!(
        label(&secret_reader, "trivy-operator.resource.kind"),
        Some("Role")
    );
    assert_eq!(
        label(&secret_reader, "trivy-operator.resource.namespace"),
        Some(ns.as_str())
    );
    assert!(label(&secret_reader, "plugin-config-hash").is_some());
    let check = &secret_reader["report"]["checks"][0];
    assert_eq!(check["severity"], "MEDIUM");
    assert_eq!(
        check["messages"][0],
        format!("Role 'secret-reader' shouldn't have access to manage secrets in namespace '{ns}'")
    );
    assert_eq!(secret_reader["report"]["summary"]["mediumCount"], 1);
    // A reader of pods fails nothing.
    report_where(
        &cluster,
        "rbacassessmentreports",
        &ns,
        "role-pod-reader",
        |r| failed(r).is_empty(),
    )
    .await;
    // The ClusterRole's cluster-scoped report.
    let name = format!("clusterrole-{cluster_role}");
    let everything = report_where(&cluster, "clusterrbacassessmentreports", "", &name, |r| {
        failed(r) == ids(&["KSV044", "KSV046"])
    })
    .await;
    assert_eq!(everything["metadata"].get("namespace"), None);
    assert_eq!(everything["report"]["summary"]["criticalCount"], 2);
    let table = cluster
        .kubectl(&["get", "rbacassessments", "-n", &ns, "-o", "wide"])
        .unwrap();
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAME", "SCANNER", "AGE", "CRITICAL", "HIGH", "MEDIUM", "LOW"
        ]
    );
    // The leader's gauges, from the reports' metadata.
    let series = [
        format!(
            "trivy_role_rbacassessments{{namespace=\"{ns}\",name=\"role-secret-reader\",\
             resource_kind=\"Role\",resource_name=\"secret-reader\",severity=\"Medium\"}} 1"
        ),
        format!(
            "trivy_clusterrole_clusterrbacassessments{{name=\"{name}\",\
             resource_kind=\"ClusterRole\",resource_name=\"{cluster_role}\",\
             severity=\"Critical\"}} 2"
        ),
    ];
    wait_for_series(op.leader_admin_ports[0], &series, LONG)
        .await
        .unwrap();
    // The leader says where each role's work goes, and that it is assessed.
    for args in [
        vec!["clusterrole", cluster_role.as_str()],
        vec!["role", ns.as_str(), "secret-reader"],
    ] {
        let status = op.status(&args).unwrap();
        let text = status["explanation"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(
            text.contains("its work goes to worker"),
            "{args:?}: {status}"
        );
        assert_eq!(status["state"], "up-to-date", "{args:?}: {status}");
    }

    // A changed rule: re-assessed.
    cluster
        .kubectl(&[
            "patch",
            "role",
            "-n",
            &ns,
            "pod-reader",
            "--type=json",
            "-p",
            r#"[{"op":"add","path":"/rules/0/verbs/-","value":"delete"}]"#,
        ])
        .unwrap();
    report_where(
        &cluster,
        "rbacassessmentreports",
        &ns,
        "role-pod-reader",
        |r| failed(r) == ids(&["KSV048"]),
    )
    .await;

    // A deleted report comes back.
    let before = uid(&everything).to_owned();
    cluster
        .kubectl(&["delete", "clusterrbacassessmentreport", &name])
        .unwrap();
    report_where(&cluster, "clusterrbacassessmentreports", "", &name, |r| {
        uid(r) != before
    })
    .await;

    // A policy for Roles re-assesses them (a new hash), not the ClusterRole.
    let role_hash = label(&secret_reader, "plugin-config-hash")
        .unwrap()
        .to_owned();
    let cluster_hash = label(&everything, "plugin-config-hash").unwrap().to_owned();
    cluster.apply(&ROLE_POLICY.replace("OPNS", &opns)).unwrap();
    report_where(
        &cluster,
        "rbacassessmentreports",
        &ns,
        "role-secret-reader",
        |r| {
            failed(r) == ids(&["KSV113", "CUSTOM-R01"])
                && label(r, "plugin-config-hash") != Some(role_hash.as_str())
        },
    )
    .await;
    let now = cluster
        .get_json(&["clusterrbacassessmentreport", &name])
        .unwrap();
    assert_eq!(
        label(&now, "plugin-config-hash"),
        Some(cluster_hash.as_str())
    );

    // A deleted role takes its report with it, and it is not made again.
    cluster
        .kubectl(&["delete", "role", "-n", &ns, "secret-reader"])
        .unwrap();
    eventually("the deleted Role's report gone", LONG, || async {
        missing(&cluster, "rbacassessmentreport", &ns, "role-secret-reader")
            .then_some(())
            .ok_or_else(|| "still there".to_owned())
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(missing(
        &cluster,
        "rbacassessmentreport",
        &ns,
        "role-secret-reader"
    ));
    assert!(op.all_running());
}

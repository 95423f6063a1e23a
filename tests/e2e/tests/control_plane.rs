//! The control-plane components' infra assessments end to end: the static Pods a kubeadm
//! control plane runs in `kube-system` (mirrored by the kubelet, controlled by their Node)
//! each get an InfraAssessmentReport beside their ConfigAuditReport — named, labelled and
//! owned as it — with upstream's KCV findings for their command lines, which never appear in
//! a ConfigAuditReport; other Pods get none, even with the same command line; a deleted
//! report comes back; a custom policy with a KCV ID lands in the infra report and re-audits;
//! a deleted Pod takes its reports with it; the leader serves the series of
//! `trivy_resource_infraassessments`.
//!
//! kube-sim only (the real-cluster profile leaves it out): it audits `kube-system`, where a
//! real cluster's own control plane would get reports from the test.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use e2e::operator::wait_for_series;
use e2e::reports::{failed_checks as failed, label, name, owner, uid};
use e2e::{Cluster, Operator, OperatorOptions, eventually};
use serde_json::Value;

const LONG: Duration = Duration::from_secs(240);
const SYSTEM: &str = "kube-system";

/// kubeadm's API server command line (as kind v1.32 runs it).
const APISERVER: &str = r#"[kube-apiserver, --advertise-address=172.18.0.2, --allow-privileged=true,
  '--authorization-mode=Node,RBAC', --client-ca-file=/etc/kubernetes/pki/ca.crt,
  --enable-admission-plugins=NodeRestriction, --enable-bootstrap-token-auth=true,
  --etcd-cafile=/etc/kubernetes/pki/etcd/ca.crt,
  --etcd-certfile=/etc/kubernetes/pki/apiserver-etcd-client.crt,
  --etcd-keyfile=/etc/kubernetes/pki/apiserver-etcd-client.key,
  --etcd-servers=https://127.0.0.1:2379,
  --kubelet-client-certificate=/etc/kubernetes/pki/apiserver-kubelet-client.crt,
  --kubelet-client-key=/etc/kubernetes/pki/apiserver-kubelet-client.key, --secure-port=6443,
  --service-account-issuer=https://kubernetes.default.svc.cluster.local,
  --service-account-key-file=/etc/kubernetes/pki/sa.pub,
  --service-account-signing-key-file=/etc/kubernetes/pki/sa.key,
  --service-cluster-ip-range=10.96.0.0/16, --tls-cert-file=/etc/kubernetes/pki/apiserver.crt,
  --tls-private-key-file=/etc/kubernetes/pki/apiserver.key]"#;

/// What kubeadm's API server fails (upstream's verdicts).
const APISERVER_FAILS: [&str; 11] = [
    "KCV0001", "KCV0006", "KCV0010", "KCV0012", "KCV0013", "KCV0018", "KCV0019", "KCV0020",
    "KCV0021", "KCV0022", "KCV0030",
];

/// kubeadm's etcd, with self-signed peer certificates.
const ETCD: &str = r#"[etcd, --cert-file=/etc/kubernetes/pki/etcd/server.crt, --client-cert-auth=true,
  --data-dir=/var/lib/etcd, --key-file=/etc/kubernetes/pki/etcd/server.key,
  --peer-cert-file=/etc/kubernetes/pki/etcd/peer.crt, --peer-client-cert-auth=true,
  --peer-key-file=/etc/kubernetes/pki/etcd/peer.key, --peer-auto-tls=true]"#;

/// A Pod running `command`, controlled by `node` (the Node's uid) when given, as the
/// kubelet's mirror of a static Pod is.
fn pod(namespace: &str, pod_name: &str, command: &str, node: Option<&str>) -> String {
    let owner = node.map_or(String::new(), |uid| {
        format!(
            "\n  ownerReferences: [{{apiVersion: v1, kind: Node, name: kind-control-plane, \
             uid: {uid}, controller: true}}]"
        )
    });
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {pod_name}\n  namespace: {namespace}{owner}\n\
         spec:\n  containers:\n  - name: main\n    image: registry.k8s.io/{pod_name}:v1.32.0\n    \
         command: {}\n",
        command.replace('\n', " ")
    )
}

const KCV_POLICY: &str = r#"
apiVersion: v1
kind: ConfigMap
metadata: {name: trivy-operator-policies-config, namespace: OPNS}
data:
  policy.etcd_quota.kinds: Pod
  policy.etcd_quota.rego: |
    package trivyoperator.policy.k8s.etcd_quota

    __rego_metadata__ := {
      "id": "KCV9001",
      "title": "etcd sets a backend quota",
      "severity": "HIGH",
      "type": "Kubernetes Security Check",
      "description": "etcd runs with --quota-backend-bytes.",
      "recommended_actions": "Set --quota-backend-bytes."
    }

    deny[res] {
      c := input.spec.containers[_]
      c.command[0] == "etcd"
      not contains(concat(" ", c.command), "--quota-backend-bytes")
      res := {"msg": "etcd has no backend quota"}
    }
"#;

fn ids(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// The reports of `kind` in `namespace`, by name.
fn reports(cluster: &Cluster, kind: &str, namespace: &str) -> BTreeMap<String, Value> {
    let list = cluster.list(&[kind, "-n", namespace]).unwrap_or_default();
    list.into_iter().map(|r| (name(&r).to_owned(), r)).collect()
}

/// Waits until report `report` of `kind` in `namespace` satisfies `ok`; returns it.
async fn report_where(
    cluster: &Cluster,
    kind: &str,
    namespace: &str,
    report: &str,
    ok: impl Fn(&Value) -> bool,
) -> Value {
    eventually(&format!("{kind} {namespace}/{report}"), LONG, || async {
        match reports(cluster, kind, namespace).get(report) {
            Some(r) if ok(r) => Ok(r.clone()),
            Some(r) => Err(format!("{report} fails {:?}", failed(r))),
            None => Err(format!("no {report}")),
        }
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_plane_pods_get_infra_assessments_beside_their_audits() {
    let cluster = Cluster::start_with_nodes("control-plane", &["kind-control-plane"])
        .await
        .unwrap();
    let ns = cluster.ns("apps");
    cluster
        .create_namespaces(std::slice::from_ref(&ns))
        .unwrap();
    let node = cluster.get_json(&["node", "kind-control-plane"]).unwrap();
    let node_uid = uid(&node).to_owned();
    let apiserver = "kube-apiserver-kind-control-plane";
    let etcd = "etcd-kind-control-plane";
    for manifest in [
        pod(SYSTEM, apiserver, APISERVER, Some(&node_uid)),
        pod(SYSTEM, etcd, ETCD, Some(&node_uid)),
        // Not a component by name, or not in kube-system: no infra assessment.
        pod(SYSTEM, "api-proxy", APISERVER, None),
        pod(&ns, apiserver, APISERVER, None),
    ] {
        cluster.apply(&manifest).unwrap();
    }
    let options = OperatorOptions::new(
        e2e::binaries!(),
        &cluster,
        vec![SYSTEM.to_owned(), ns.clone()],
    )
    .workers(2, 2)
    .leader_args(
        ["--vulnerability-scans", "false"]
            .map(String::from)
            .to_vec(),
    );
    let opns = options.operator_namespace.clone();
    let mut op = Operator::start(&cluster, options).unwrap();

    // The API server's infra assessment: upstream's findings, named, labelled and owned as
    // its config audit.
    let report = format!("pod-{apiserver}");
    let infra = report_where(&cluster, "infraassessmentreports", SYSTEM, &report, |r| {
        failed(r) == ids(&APISERVER_FAILS)
    })
    .await;
    let audit = report_where(&cluster, "configauditreports", SYSTEM, &report, |_| true).await;
    let pod_object = cluster.get_json(&["pod", "-n", SYSTEM, apiserver]).unwrap();
    for r in [&infra, &audit] {
        assert_eq!(
            owner(r),
            Some(("Pod".into(), apiserver.into(), uid(&pod_object).into()))
        );
        assert_eq!(label(r, "trivy-operator.resource.kind"), Some("Pod"));
        assert_eq!(label(r, "trivy-operator.resource.name"), Some(apiserver));
        assert_eq!(label(r, "trivy-operator.resource.namespace"), Some(SYSTEM));
    }
    for key in ["resource-spec-hash", "plugin-config-hash"] {
        assert_eq!(label(&infra, key), label(&audit, key), "{key}");
    }
    assert!(
        failed(&audit).iter().all(|id| !id.starts_with("KCV")),
        "a KCV check in the config audit: {:?}",
        failed(&audit)
    );
    assert!(!failed(&audit).is_empty(), "the KSV checks are still there");
    let summary = &infra["report"]["summary"];
    assert_eq!(
        (summary["mediumCount"].clone(), summary["lowCount"].clone()),
        (1.into(), 10.into()),
        "{summary}"
    );
    let anonymous = infra["report"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["checkID"] == "KCV0001")
        .unwrap()
        .clone();
    assert_eq!(anonymous["severity"], "MEDIUM");
    assert_eq!(anonymous["category"], "Kubernetes Security Check");
    assert_eq!(
        anonymous["messages"][0],
        "Ensure that the --anonymous-auth argument is set to false"
    );
    report_where(
        &cluster,
        "infraassessmentreports",
        SYSTEM,
        &format!("pod-{etcd}"),
        |r| failed(r) == ids(&["KCV0047"]),
    )
    .await;
    let table = cluster
        .kubectl(&["get", "infraassessmentreports", "-n", SYSTEM, "-o", "wide"])
        .unwrap();
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAME", "SCANNER", "AGE", "CRITICAL", "HIGH", "MEDIUM", "LOW"
        ]
    );

    // The other Pods have their config audits, without KCV checks and without infra reports.
    for (namespace, pod_name) in [(SYSTEM, "api-proxy"), (ns.as_str(), apiserver)] {
        let audit = report_where(
            &cluster,
            "configauditreports",
            namespace,
            &format!("pod-{pod_name}"),
            |_| true,
        )
        .await;
        assert!(failed(&audit).iter().all(|id| !id.starts_with("KCV")));
        assert!(
            !reports(&cluster, "infraassessmentreports", namespace)
                .contains_key(&format!("pod-{pod_name}")),
            "{namespace}/{pod_name} has an infra assessment"
        );
    }

    // The leader's gauge, from the reports' metadata.
    let series = format!(
        "trivy_resource_infraassessments{{namespace=\"kube-system\",name=\"{report}\",\
         resource_kind=\"Pod\",resource_name=\"{apiserver}\",severity=\"Low\"}} 10"
    );
    wait_for_series(op.leader_admin_ports[0], &[series], LONG)
        .await
        .unwrap();

    // A deleted infra assessment comes back.
    let before = uid(&infra).to_owned();
    cluster
        .kubectl(&["delete", "infraassessmentreport", "-n", SYSTEM, &report])
        .unwrap();
    report_where(&cluster, "infraassessmentreports", SYSTEM, &report, |r| {
        uid(r) != before && failed(r) == ids(&APISERVER_FAILS)
    })
    .await;

    // A custom policy with a KCV ID: its finding is an infra finding; the policy change
    // re-audits (a new plugin-config-hash on both reports).
    let hash = label(&infra, "plugin-config-hash").unwrap().to_owned();
    cluster.apply(&KCV_POLICY.replace("OPNS", &opns)).unwrap();
    let etcd_report = format!("pod-{etcd}");
    let etcd_infra = report_where(
        &cluster,
        "infraassessmentreports",
        SYSTEM,
        &etcd_report,
        |r| failed(r) == ids(&["KCV0047", "KCV9001"]),
    )
    .await;
    let new_hash = label(&etcd_infra, "plugin-config-hash").unwrap().to_owned();
    assert_ne!(new_hash, hash);
    report_where(&cluster, "configauditreports", SYSTEM, &etcd_report, |r| {
        label(r, "plugin-config-hash") == Some(new_hash.as_str())
            && failed(r).iter().all(|id| !id.starts_with("KCV"))
    })
    .await;

    // A deleted Pod takes both reports with it.
    cluster
        .kubectl(&["delete", "pod", "-n", SYSTEM, etcd, "--wait=false"])
        .unwrap();
    eventually("the deleted Pod's reports gone", LONG, || async {
        let infra = reports(&cluster, "infraassessmentreports", SYSTEM);
        let audits = reports(&cluster, "configauditreports", SYSTEM);
        (!infra.contains_key(&etcd_report) && !audits.contains_key(&etcd_report))
            .then_some(())
            .ok_or_else(|| "still there".to_owned())
    })
    .await
    .unwrap();
    assert!(
        reports(&cluster, "infraassessmentreports", SYSTEM).contains_key(&report),
        "the API server's report went too"
    );
    assert!(op.all_running());
}

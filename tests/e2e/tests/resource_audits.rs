//! Config audits of the kinds besides workloads, end to end: a Service, ConfigMaps and a
//! PersistentVolumeClaim get their ConfigAuditReports, a ClusterRoleBinding, a
//! CustomResourceDefinition and a PersistentVolume their ClusterConfigAuditReports — upstream's names, labels, owner and findings —, a changed
//! Service is re-audited, a deleted report comes back, a policy for `kinds: Service`
//! re-audits the Services only, and a deleted object takes its report with it. The leader's
//! status says where an object's work goes.
//!
//! kube-sim only (the real-cluster profile leaves it out): the operator audits every
//! ClusterRoleBinding, CRD and PersistentVolume of the cluster, which all scenarios share.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::time::Duration;

use e2e::reports::{cluster_report_owned_by, failed_checks as failed, label, missing, owner, uid};
use e2e::{Cluster, Operator, OperatorOptions, eventually};
use serde_json::Value;

const LONG: Duration = Duration::from_secs(240);

const OBJECTS: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: web, namespace: NS}
spec:
  ports: [{port: 80}]
  externalIPs: [203.0.113.7]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: NS}
data:
  password: hunter2
  color: blue
---
apiVersion: v1
kind: ConfigMap
metadata: {name: plain, namespace: NS}
data:
  color: blue
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: NS-admins}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: alice}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: NS}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: NS-disk}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  hostPath: {path: /srv/disk}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.NS.example.com}
spec:
  group: NS.example.com
  names: {kind: Widget, plural: widgets, singular: widget}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
"#;

const SERVICE_POLICY: &str = r#"
apiVersion: v1
kind: ConfigMap
metadata: {name: trivy-operator-policies-config, namespace: OPNS}
data:
  policy.no_port_80.kinds: Service
  policy.no_port_80.rego: |
    package trivyoperator.policy.k8s.no_port_80

    __rego_metadata__ := {
      "id": "CUSTOM-S01",
      "title": "Services do not serve port 80",
      "severity": "LOW",
      "type": "Kubernetes Security Check",
      "description": "Flags a Service on port 80.",
      "recommended_actions": "Serve TLS."
    }

    deny[res] {
      input.spec.ports[_].port == 80
      res := {"msg": "the service serves port 80"}
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
async fn services_config_maps_bindings_and_crds_get_config_audits_that_follow_them() {
    let cluster = Cluster::start("resource-audits").await.unwrap();
    let ns = cluster.ns("team");
    cluster
        .create_namespaces(std::slice::from_ref(&ns))
        .unwrap();
    cluster.apply(&OBJECTS.replace("NS", &ns)).unwrap();
    let options = OperatorOptions::new(e2e::binaries!(), &cluster, vec![ns.clone()])
        .workers(2, 2)
        .leader_args(
            [
                "--vulnerability-scans",
                "false",
                "--resource-audits",
                "true",
            ]
            .map(String::from)
            .to_vec(),
        );
    let opns = options.operator_namespace.clone();
    let mut op = Operator::start(&cluster, options).unwrap();

    // The Service with an external IP: upstream's finding, message, labels and owner.
    let web = report_where(&cluster, "configauditreports", &ns, "service-web", |r| {
        failed(r) == ids(&["KSV108"])
    })
    .await;
    let service = cluster.get_json(&["service", "-n", &ns, "web"]).unwrap();
    assert_eq!(
        owner(&web),
        Some(("Service".into(), "web".into(), uid(&service).into()))
    );
    assert_eq!(web["metadata"]["ownerReferences"][0]["apiVersion"], "v1");
    assert_eq!(label(&web, "trivy-operator.resource.kind"), Some("Service"));
    assert_eq!(
        label(&web, "trivy-operator.resource.namespace"),
        Some(ns.as_str())
    );
    let check = &web["report"]["checks"][0];
    assert_eq!(check["severity"], "HIGH");
    assert_eq!(
        check["messages"][0],
        format!("Service 'web' in '{ns}' namespace should not set external IPs or external Name")
    );
    assert_eq!(web["report"]["summary"]["highCount"], 1);
    // A ConfigMap holding a password, and one holding nothing secret.
    let settings = report_where(
        &cluster,
        "configauditreports",
        &ns,
        "configmap-settings",
        |r| failed(r).contains("KSV109"),
    )
    .await;
    let message = settings["report"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["checkID"] == "KSV109")
        .unwrap()["messages"][0]
        .clone();
    assert_eq!(
        message,
        format!(
            "ConfigMap 'settings' in '{ns}' namespace stores secrets in key(s) or value(s) \
             '{{\"password\"}}'"
        )
    );
    report_where(
        &cluster,
        "configauditreports",
        &ns,
        "configmap-plain",
        |r| failed(r).is_empty(),
    )
    .await;
    // The cluster-scoped objects' ClusterConfigAuditReports.
    let binding = cluster
        .get_json(&["clusterrolebinding", &format!("{ns}-admins")])
        .unwrap();
    let admins =
        cluster_report_owned_by(&cluster, "clusterconfigauditreports", uid(&binding), LONG)
            .await
            .unwrap();
    assert_eq!(admins["metadata"].get("namespace"), None);
    assert_eq!(
        admins["metadata"]["name"],
        format!("clusterrolebinding-{ns}-admins")
    );
    assert!(failed(&admins).contains("KSV111"), "{admins}");
    let crd = cluster
        .get_json(&["crd", &format!("widgets.{ns}.example.com")])
        .unwrap();
    let widgets = cluster_report_owned_by(&cluster, "clusterconfigauditreports", uid(&crd), LONG)
        .await
        .unwrap();
    assert_eq!(
        widgets["metadata"]["ownerReferences"][0]["apiVersion"],
        "apiextensions.k8s.io/v1"
    );
    // A PersistentVolumeClaim and a PersistentVolume, as upstream audits them.
    report_where(
        &cluster,
        "configauditreports",
        &ns,
        "persistentvolumeclaim-data",
        |r| failed(r).is_empty(),
    )
    .await;
    let disk = cluster
        .get_json(&["persistentvolume", &format!("{ns}-disk")])
        .unwrap();
    let disk_report =
        cluster_report_owned_by(&cluster, "clusterconfigauditreports", uid(&disk), LONG)
            .await
            .unwrap();
    assert_eq!(
        disk_report["metadata"]["name"],
        format!("persistentvolume-{ns}-disk")
    );
    let table = cluster
        .kubectl(&["get", "clusterconfigaudit", "-o", "wide"])
        .unwrap();
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAME", "SCANNER", "AGE", "CRITICAL", "HIGH", "MEDIUM", "LOW"
        ]
    );
    // The leader says where an object's work goes, and that it is audited.
    for args in [
        vec!["object", "Service", "web", "-n", ns.as_str()],
        vec![
            "object",
            "CustomResourceDefinition",
            crd["metadata"]["name"].as_str().unwrap(),
        ],
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

    // A changed Service: re-audited.
    cluster
        .kubectl(&[
            "patch",
            "service",
            "-n",
            &ns,
            "web",
            "--type=json",
            "-p",
            r#"[{"op":"remove","path":"/spec/externalIPs"}]"#,
        ])
        .unwrap();
    report_where(&cluster, "configauditreports", &ns, "service-web", |r| {
        failed(r).is_empty()
    })
    .await;

    // A deleted report comes back.
    let before = uid(&settings).to_owned();
    cluster
        .kubectl(&[
            "delete",
            "configauditreport",
            "-n",
            &ns,
            "configmap-settings",
        ])
        .unwrap();
    let settings = report_where(
        &cluster,
        "configauditreports",
        &ns,
        "configmap-settings",
        |r| uid(r) != before,
    )
    .await;

    // A policy for Services re-audits them (a new hash), not the ConfigMaps.
    let web = cluster
        .get_json(&["configauditreport", "-n", &ns, "service-web"])
        .unwrap();
    let service_hash = label(&web, "plugin-config-hash").unwrap().to_owned();
    let config_map_hash = label(&settings, "plugin-config-hash").unwrap().to_owned();
    cluster
        .apply(&SERVICE_POLICY.replace("OPNS", &opns))
        .unwrap();
    report_where(&cluster, "configauditreports", &ns, "service-web", |r| {
        failed(r) == ids(&["CUSTOM-S01"])
            && label(r, "plugin-config-hash") != Some(service_hash.as_str())
    })
    .await;
    let now = cluster
        .get_json(&["configauditreport", "-n", &ns, "configmap-settings"])
        .unwrap();
    assert_eq!(
        label(&now, "plugin-config-hash"),
        Some(config_map_hash.as_str())
    );

    // A deleted object takes its report with it, and it is not made again.
    cluster
        .kubectl(&["delete", "configmap", "-n", &ns, "settings"])
        .unwrap();
    eventually("the deleted ConfigMap's report gone", LONG, || async {
        missing(&cluster, "configauditreport", &ns, "configmap-settings")
            .then_some(())
            .ok_or_else(|| "still there".to_owned())
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(missing(
        &cluster,
        "configauditreport",
        &ns,
        "configmap-settings"
    ));
    // The cluster-scoped objects are the cluster's: remove them.
    cluster
        .kubectl(&["delete", "clusterrolebinding", &format!("{ns}-admins")])
        .unwrap();
    cluster
        .kubectl(&["delete", "crd", &format!("widgets.{ns}.example.com")])
        .unwrap();
    cluster
        .kubectl(&["delete", "persistentvolume", &format!("{ns}-disk")])
        .unwrap();
    // The workers read the cluster's version (given to the checks as `data.k8s.version`).
    for worker in op.worker_ids() {
        assert!(
            op.log(&worker).contains("version=v1.32.0-kube-sim"),
            "{worker} read no cluster version"
        );
    }
    assert!(op.all_running());
}

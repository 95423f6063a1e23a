//! The real kubectl (1.32) against kube-sim: apply/get/delete of built-in kinds, CRDs and
//! custom resources, printer columns, selectors, jsonpath, server-side apply, watch with a
//! request timeout, namespace deletion (generator commands and tokens: `kubectl_commands`).
#![allow(clippy::unwrap_used)]

mod sim_support;

use sim_support::{eventually, start};

const CRD: &str = include_str!("fixtures/vulnerabilityreports-crd.yaml");
const REPORT: &str = include_str!("fixtures/vulnerabilityreport.yaml");

const DEPLOYMENT: &str = "
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: nginx
        image: nginx:1.25.3
        env: [{name: A, value: '1'}]
      - name: sidecar
        image: busybox:1.36
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_get_delete_deployment() {
    let sim = start().await;
    // Generator commands send protobuf bodies.
    sim.kubectl(&["create", "namespace", "k1"]).await;
    let out = sim.apply(DEPLOYMENT, &["-n", "k1"]).await;
    assert!(out.contains("deployment.apps/web created"), "{out}");
    let again = sim.apply(DEPLOYMENT, &["-n", "k1"]).await;
    assert!(again.contains("unchanged"), "{again}");
    // Client-side apply of a change: strategic merge patch by container name.
    let changed = DEPLOYMENT.replace("nginx:1.25.3", "nginx:1.26.0");
    assert!(
        sim.apply(&changed, &["-n", "k1"])
            .await
            .contains("configured")
    );
    let images = sim
        .kubectl(&[
            "get",
            "deploy",
            "web",
            "-n",
            "k1",
            "-o",
            "jsonpath={.spec.template.spec.containers[*].image}",
        ])
        .await;
    assert_eq!(images, "nginx:1.26.0 busybox:1.36");
    let generation = sim
        .kubectl(&[
            "get",
            "deploy/web",
            "-n",
            "k1",
            "-o",
            "jsonpath={.metadata.generation}",
        ])
        .await;
    assert_eq!(generation, "2");
    let labelled = sim
        .kubectl(&[
            "get",
            "deploy",
            "-n",
            "k1",
            "-l",
            "app in (web,db)",
            "-o",
            "name",
        ])
        .await;
    assert_eq!(labelled.trim(), "deployment.apps/web");
    let none = sim
        .kubectl(&["get", "deploy", "-n", "k1", "-l", "app!=web", "-o", "name"])
        .await;
    assert_eq!(none.trim(), "");
    let table = sim.kubectl(&["get", "deploy", "-n", "k1"]).await;
    assert!(
        table.starts_with("NAME") && table.contains("web"),
        "{table}"
    );
    let deleted = sim.kubectl(&["delete", "deploy", "web", "-n", "k1"]).await;
    assert!(deleted.contains("deleted"), "{deleted}");
    let gone = sim
        .kubectl_in(&["get", "deploy", "web", "-n", "k1"], None)
        .await;
    assert!(
        !gone.ok && gone.stderr.contains("NotFound"),
        "{}",
        gone.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crd_custom_resource_and_printer_columns() {
    let sim = start().await;
    sim.namespace("k2");
    assert!(sim.apply(CRD, &[]).await.contains("created"));
    let established = sim
        .kubectl(&[
            "get",
            "crd",
            "vulnerabilityreports.aquasecurity.github.io",
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Established\")].status}",
        ])
        .await;
    assert_eq!(established, "True");
    assert!(sim.apply(REPORT, &["-n", "k2"]).await.contains("created"));
    let wide = sim
        .kubectl(&["get", "vulns", "-n", "k2", "-o", "wide"])
        .await;
    let lines: Vec<&str> = wide.lines().collect();
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAME",
            "REPOSITORY",
            "TAG",
            "SCANNER",
            "AGE",
            "CRITICAL",
            "HIGH"
        ]
    );
    let row: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(
        row[..4],
        [
            "replicaset-web-6d4cf56db6-nginx",
            "library/nginx",
            "1.25.3",
            "Trivy"
        ]
    );
    assert_eq!(row[5..], ["3", "17"]);
    // Priority-1 columns only with -o wide.
    let narrow = sim.kubectl(&["get", "vuln", "-A"]).await;
    assert!(
        narrow.starts_with("NAMESPACE") && !narrow.contains("CRITICAL"),
        "{narrow}"
    );
    let by_label = sim
        .kubectl(&[
            "get",
            "vulnerabilityreports",
            "-n",
            "k2",
            "-l",
            "trivy-operator.container.name=nginx",
            "-o",
            "jsonpath={.items[*].report.summary.highCount}",
        ])
        .await;
    assert_eq!(by_label, "17");
    sim.kubectl(&[
        "delete",
        "vulns",
        "-n",
        "k2",
        "replicaset-web-6d4cf56db6-nginx",
    ])
    .await;
    assert_eq!(
        sim.kubectl(&["get", "vulns", "-n", "k2", "-o", "name"])
            .await
            .trim(),
        ""
    );
    // Deleting the CRD stops serving the resource.
    sim.apply(REPORT, &["-n", "k2"]).await;
    sim.kubectl(&[
        "delete",
        "crd",
        "vulnerabilityreports.aquasecurity.github.io",
    ])
    .await;
    let out = sim
        .kubectl_in(
            &["get", "vulnerabilityreports.aquasecurity.github.io", "-A"],
            None,
        )
        .await;
    assert!(!out.ok, "resource still served: {}", out.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_apply() {
    let sim = start().await;
    sim.namespace("k3");
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c1, labels: {a: '1', b: '2'}}\ndata: {x: '1', y: '2'}\n";
    let out = sim.apply(cm, &["-n", "k3", "--server-side"]).await;
    assert!(out.contains("serverside-applied"), "{out}");
    let managers = sim
        .kubectl(&[
            "get",
            "cm",
            "c1",
            "-n",
            "k3",
            "-o",
            "jsonpath={.metadata.managedFields[*].manager}",
        ])
        .await;
    assert_eq!(managers, "kubectl");
    // Re-applying without a field removes it (it was only ours).
    let fewer =
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c1, labels: {a: '1'}}\ndata: {x: '3'}\n";
    sim.apply(fewer, &["-n", "k3", "--server-side"]).await;
    let got = sim
        .kubectl(&[
            "get",
            "cm",
            "c1",
            "-n",
            "k3",
            "-o",
            "jsonpath={.data}{' '}{.metadata.labels}",
        ])
        .await;
    assert_eq!(got, r#"{"x":"3"} {"a":"1"}"#);
    // A CR through server-side apply (CRD applied server-side too).
    sim.apply(CRD, &["--server-side"]).await;
    let out = sim
        .apply(
            REPORT,
            &[
                "-n",
                "k3",
                "--server-side",
                "--field-manager",
                "trivy-operator",
            ],
        )
        .await;
    assert!(out.contains("serverside-applied"), "{out}");
    let tag = sim
        .kubectl(&[
            "get",
            "vuln",
            "-n",
            "k3",
            "-o",
            "jsonpath={.items[0].report.artifact.tag}",
        ])
        .await;
    assert_eq!(tag, "1.25.3");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_ends_at_request_timeout_and_sees_changes() {
    let sim = start().await;
    sim.namespace("k4");
    let store = sim.handle.store().clone();
    let writer = tokio::spawn(async move {
        // Write until the watcher has certainly connected; each write is a new pod.
        for i in 0..40 {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            let pod = serde_json::json!({"metadata": {"name": format!("p{i}"), "namespace": "k4"},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]}});
            let _ = store.create(&kube_sim::store::GroupResource::new("", "pods"), pod);
        }
    });
    let start = std::time::Instant::now();
    let out = sim
        .kubectl_in(
            &["get", "pods", "-n", "k4", "-w", "--request-timeout=3s"],
            None,
        )
        .await;
    writer.abort();
    assert!(out.ok, "kubectl get -w failed: {}", out.stderr);
    assert!(
        start.elapsed() >= std::time::Duration::from_secs(2),
        "watch ended early"
    );
    // Pods created after the initial list arrive as watch events.
    let names: Vec<&str> = out
        .stdout
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(
        names.iter().filter(|n| n.starts_with('p')).count() >= 2,
        "{}",
        out.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_namespace_removes_its_objects() {
    let sim = start().await;
    sim.kubectl(&["create", "ns", "k5"]).await;
    sim.kubectl(&["create", "configmap", "c", "-n", "k5", "--from-literal=a=b"])
        .await;
    sim.apply(DEPLOYMENT, &["-n", "k5"]).await;
    let out = sim.kubectl(&["delete", "ns", "k5"]).await;
    assert!(out.contains("namespace \"k5\" deleted"), "{out}");
    let gr = kube_sim::store::GroupResource::new("", "configmaps");
    let store = sim.handle.store().clone();
    eventually("namespace contents gone", || {
        let store = store.clone();
        let gr = gr.clone();
        async move {
            store
                .list(&gr, Some("k5"))
                .ok()
                .filter(|p| p.items.is_empty())
                .map(|_| ())
        }
    })
    .await;
    let ns = sim.kubectl_in(&["get", "ns", "k5"], None).await;
    assert!(!ns.ok && ns.stderr.contains("not found"), "{}", ns.stderr);
    let create = sim
        .kubectl_in(&["create", "configmap", "c2", "-n", "k5"], None)
        .await;
    assert!(
        !create.ok && create.stderr.contains("not found"),
        "{}",
        create.stderr
    );
}

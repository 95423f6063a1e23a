//! Node objects of the fake nodes and what depends on them, driven with the real kubectl:
//! registration, selectors and `kubectl get nodes`, garbage collection of what a Node owns,
//! scheduling by `nodeSelector`, and node-collector Jobs run through the node-collector double.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod controller_support;

use controller_support::{condition, eventually, names, start};
use serde_json::Value;

const KIND: [&str; 3] = ["kind-control-plane", "kind-worker", "kind-worker2"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fake_nodes_are_node_objects_with_labels_and_status() {
    let sim = start(&KIND, None).await;
    let nodes = sim.items(&["nodes"]).await;
    assert_eq!(names(&nodes), KIND);
    for (i, node) in nodes.iter().enumerate() {
        let md = &node["metadata"];
        assert!(md["uid"].is_string() && md["resourceVersion"].is_string());
        assert!(md["creationTimestamp"].is_string());
        assert_eq!(md["labels"]["kubernetes.io/hostname"], KIND[i]);
        assert_eq!(md["labels"]["kubernetes.io/os"], "linux");
        assert_eq!(md["labels"]["kubernetes.io/arch"], "amd64");
        assert_eq!(condition(node, "Ready").unwrap()["status"], "True");
        let info = &node["status"]["nodeInfo"];
        assert_eq!(info["kubeletVersion"], "v1.32.0");
        assert!(
            info["containerRuntimeVersion"]
                .as_str()
                .unwrap()
                .starts_with("containerd://1.7.")
        );
        let addresses = &node["status"]["addresses"];
        assert_eq!(addresses[0]["type"], "InternalIP");
        assert_eq!(addresses[0]["address"], format!("172.18.0.{}", 2 + i));
        assert_eq!(
            addresses[1],
            serde_json::json!({"type": "Hostname", "address": KIND[i]})
        );
    }
    let control_plane = sim
        .items(&["nodes", "-l", "node-role.kubernetes.io/control-plane"])
        .await;
    assert_eq!(names(&control_plane), ["kind-control-plane"]);
    let workers = sim
        .items(&["nodes", "-l", "!node-role.kubernetes.io/control-plane"])
        .await;
    assert_eq!(names(&workers), ["kind-worker", "kind-worker2"]);
    let by_name = sim
        .items(&["nodes", "--field-selector", "metadata.name=kind-worker2"])
        .await;
    assert_eq!(names(&by_name), ["kind-worker2"]);
    let table = sim.ok(&["get", "nodes", "-o", "wide"]).await;
    let row = table
        .lines()
        .find(|l| l.starts_with("kind-control-plane"))
        .unwrap();
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(&cells[1..3], ["Ready", "control-plane"], "{table}");
    assert_eq!(&cells[4..7], ["v1.32.0", "172.18.0.2", "<none>"], "{table}");
    let worker = table
        .lines()
        .find(|l| l.starts_with("kind-worker "))
        .unwrap();
    assert_eq!(worker.split_whitespace().nth(2), Some("<none>"), "{table}");
    let leases = sim.items(&["leases", "-n", "kube-node-lease"]).await;
    assert_eq!(names(&leases), KIND);
    assert_eq!(
        leases[0]["metadata"]["ownerReferences"][0]["uid"],
        nodes[0]["metadata"]["uid"]
    );
    // The default sim has one fake node.
    let default = start(&[], None).await;
    assert_eq!(names(&default.items(&["nodes"]).await), ["kube-sim-node-1"]);
}

const CLUSTER_REPORT_CRD: &str = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n\
metadata:\n  name: clusterinfraassessmentreports.aquasecurity.github.io\nspec:\n  \
group: aquasecurity.github.io\n  scope: Cluster\n  names:\n    kind: ClusterInfraAssessmentReport\n    \
plural: clusterinfraassessmentreports\n    singular: clusterinfraassessmentreport\n  versions:\n  \
- name: v1alpha1\n    served: true\n    storage: true\n    schema:\n      openAPIV3Schema:\n        \
type: object\n        x-kubernetes-preserve-unknown-fields: true\n";

/// Objects owned by a node: a cluster-scoped custom resource, a ClusterRole, a ConfigMap.
fn owned_by(node: &str, uid: &str) -> String {
    let owner = format!(
        "  ownerReferences:\n  - {{apiVersion: v1, kind: Node, name: {node}, uid: {uid}, \
         controller: true, blockOwnerDeletion: false}}\n"
    );
    format!(
        "apiVersion: aquasecurity.github.io/v1alpha1\nkind: ClusterInfraAssessmentReport\n\
         metadata:\n  name: node-{node}\n{owner}report: {{}}\n---\n\
         apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: role-{node}\n{owner}\
         rules: []\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{node}\n  \
         namespace: default\n{owner}"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_node_collects_the_objects_it_owns() {
    let sim = start(&KIND, None).await;
    let out = sim
        .kubectl_in(&["apply", "-f", "-"], Some(CLUSTER_REPORT_CRD))
        .await;
    assert!(out.ok, "{}", out.stderr);
    sim.ok(&[
        "wait",
        "--for=condition=established",
        "crd/clusterinfraassessmentreports.aquasecurity.github.io",
    ])
    .await;
    for node in ["kind-worker", "kind-worker2"] {
        let uid = sim.get_json(&["node", node]).await.unwrap()["metadata"]["uid"]
            .as_str()
            .unwrap()
            .to_owned();
        let out = sim
            .kubectl_in(&["apply", "-f", "-"], Some(&owned_by(node, &uid)))
            .await;
        assert!(out.ok, "{}", out.stderr);
    }
    sim.ok(&["delete", "node", "kind-worker"]).await;
    let kinds = [
        "clusterinfraassessmentreports",
        "clusterroles",
        "configmaps",
    ];
    eventually("the deleted node's objects are collected", || async {
        let mut left = Vec::new();
        for kind in kinds {
            left.extend(names(&sim.items(&[kind, "-n", "default"]).await));
        }
        (!left.iter().any(|n| n.ends_with("-kind-worker"))).then_some(left)
    })
    .await;
    // The other node's stay.
    for (kind, name) in kinds.iter().zip(["node-", "role-", "cm-"]) {
        let name = format!("{name}kind-worker2");
        assert!(
            sim.get_json(&[kind, &name, "-n", "default"])
                .await
                .is_some(),
            "{kind}/{name} was deleted"
        );
    }
    assert_eq!(
        names(&sim.items(&["nodes"]).await),
        ["kind-control-plane", "kind-worker2"]
    );
    let leases = sim.items(&["leases", "-n", "kube-node-lease"]).await;
    assert_eq!(names(&leases), ["kind-control-plane", "kind-worker2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_whose_node_selector_matches_no_node_waits_until_one_does() {
    let sim = start(&KIND, None).await;
    let ns = sim.namespace("h4-selector").await;
    let pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: picky\nspec:\n  restartPolicy: Never\n  \
               nodeSelector:\n    disk: ssd\n  containers:\n  - name: main\n    image: busybox:1.36\n    \
               command: [sh, -c, 'echo scheduled']\n";
    sim.apply(&ns, pod).await;
    let waiting = eventually("the pod is unschedulable", || async {
        let pod = sim.get_json(&["pod", "picky", "-n", &ns]).await?;
        let scheduled = condition(&pod, "PodScheduled")?.clone();
        (scheduled["reason"] == "Unschedulable").then_some(pod)
    })
    .await;
    assert!(waiting["spec"].get("nodeName").is_none());
    assert_eq!(
        condition(&waiting, "PodScheduled").unwrap()["message"],
        "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. \
         preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    );
    sim.ok(&["label", "node", "kind-worker2", "disk=ssd"]).await;
    let done = eventually("the pod runs on the labelled node", || async {
        let pod = sim.get_json(&["pod", "picky", "-n", &ns]).await?;
        (pod["status"]["phase"] == "Succeeded").then_some(pod)
    })
    .await;
    assert_eq!(done["spec"]["nodeName"], "kind-worker2");
    assert_eq!(done["status"]["hostIP"], "172.18.0.4");
    assert_eq!(sim.ok(&["logs", "-n", &ns, "picky"]).await, "scheduled\n");
}

/// A node-collector Job as trivy-operator creates it (trivy-kubernetes' template), pinned to
/// its node by `pin` (a `nodeName` or `nodeSelector` line of the pod spec).
fn collector_job(name: &str, node: &str, pin: &str) -> String {
    let paths = [
        ("var-lib-etcd", "/var/lib/etcd", "/var/lib/etcd"),
        ("var-lib-kubelet", "/var/lib/kubelet", "/var/lib/kubelet"),
        (
            "var-lib-kube-scheduler",
            "/var/lib/kube-scheduler",
            "/var/lib/kube-scheduler",
        ),
        (
            "var-lib-kube-controller-manager",
            "/var/lib/kube-controller-manager",
            "/var/lib/kube-controller-manager",
        ),
        ("etc-systemd", "/etc/systemd", "/etc/systemd"),
        ("lib-systemd", "/lib/systemd", "/lib/systemd/"),
        ("etc-kubernetes", "/etc/kubernetes", "/etc/kubernetes"),
        ("etc-cni-netd", "/etc/cni/net.d/", "/etc/cni/net.d/"),
    ];
    let mounts: String = paths
        .iter()
        .map(|(n, _, m)| format!("        - {{name: {n}, mountPath: {m}, readOnly: true}}\n"))
        .collect();
    let volumes: String = paths
        .iter()
        .map(|(n, p, _)| format!("      - {{name: {n}, hostPath: {{path: {p}}}}}\n"))
        .collect();
    let b64 = "QlpoOTFBWSZTWUzpE4kAAAP/gH8A"; // bzip2 + base64 payloads: ignored by the double
    format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {name}\n  labels:\n    \
         app.kubernetes.io/managed-by: trivy-operator\n    node-info.collector: Trivy\n    \
         trivy-operator.resource.kind: Node\n    trivy-operator.resource.name: {node}\nspec:\n  \
         activeDeadlineSeconds: 300\n  backoffLimit: 0\n  completions: 1\n  template:\n    \
         metadata:\n      labels:\n        app: node-collector\n    spec:\n      {pin}\n      \
         automountServiceAccountToken: true\n      hostPID: true\n      restartPolicy: Never\n      \
         securityContext: {{runAsUser: 0, runAsGroup: 0, seccompProfile: {{type: RuntimeDefault}}}}\n      \
         containers:\n      - name: node-collector\n        \
         image: ghcr.io/aquasecurity/node-collector:0.3.1\n        command: [node-collector]\n        \
         args: [k8s, --node, {node}, --node-config, {b64}, --kubelet-config-mapping, {b64}, \
         --node-commands, {b64}]\n        securityContext: {{allowPrivilegeEscalation: false, \
         capabilities: {{drop: [ALL]}}, privileged: false, readOnlyRootFilesystem: true}}\n        \
         volumeMounts:\n{mounts}      volumes:\n{volumes}"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_collector_jobs_run_the_double_on_their_node() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("h4-node-collector-{}", std::process::id()));
    let node_info = dir.join("node-info");
    std::fs::create_dir_all(&node_info).unwrap();
    std::fs::write(
        node_info.join("kind-worker.json"),
        r#"{"kubeletAnonymousAuthArgumentSet":{"values":["true"]}}"#,
    )
    .unwrap();
    std::fs::write(
        node_info.join("kind-worker2.error"),
        "failed to collect node info\n",
    )
    .unwrap();
    // The kubelet clears the environment: a wrapper sets the double's.
    let wrapper = dir.join("node-collector");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nNODE_COLLECTOR_DOUBLE_DIR='{}' exec '{}' \"$@\"\n",
            node_info.display(),
            env!("CARGO_BIN_EXE_node-collector-double")
        ),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let map = format!(
        "ghcr.io/aquasecurity/node-collector: {}\n",
        wrapper.display()
    );
    let sim = start(&KIND, Some(map)).await;
    let ns = sim.namespace("h4-node-collector").await;
    let jobs = [
        (
            "nc-cp",
            "kind-control-plane",
            "nodeName: kind-control-plane",
        ),
        (
            "nc-w1",
            "kind-worker",
            "nodeSelector: {kubernetes.io/hostname: kind-worker}",
        ),
        (
            "nc-w2",
            "kind-worker2",
            "nodeSelector: {kubernetes.io/hostname: kind-worker2}",
        ),
    ];
    for (name, node, pin) in jobs {
        sim.apply(&ns, &collector_job(name, node, pin)).await;
    }
    for (name, condition) in [
        ("nc-cp", "complete"),
        ("nc-w1", "complete"),
        ("nc-w2", "failed"),
    ] {
        sim.ok(&[
            "wait",
            "-n",
            &ns,
            &format!("--for=condition={condition}"),
            &format!("job/{name}"),
            "--timeout=60s",
        ])
        .await;
    }
    for (i, (name, node, _)) in jobs.iter().enumerate() {
        let pods = sim
            .items(&["pods", "-n", &ns, "-l", &format!("job-name={name}")])
            .await;
        assert_eq!(pods[0]["spec"]["nodeName"], *node);
        assert_eq!(pods[0]["status"]["hostIP"], format!("172.18.0.{}", 2 + i));
    }
    let log = |job: &str| {
        let sim = &sim;
        let ns = ns.clone();
        let job = job.to_owned();
        async move {
            sim.ok(&[
                "logs",
                "-n",
                &ns,
                &format!("job/{job}"),
                "-c",
                "node-collector",
            ])
            .await
        }
    };
    let master_log = log("nc-cp").await;
    assert!(!master_log.ends_with('\n'), "{master_log}");
    let master: Value = serde_json::from_str(&master_log).unwrap();
    assert_eq!(
        (&master["apiVersion"], &master["kind"], &master["type"]),
        (&"v1".into(), &"NodeInfo".into(), &"master".into())
    );
    assert!(master["metadata"]["creationTimestamp"].is_string());
    assert_eq!(master["info"].as_object().unwrap().len(), 45);
    assert_eq!(
        master["info"]["kubeAPIServerSpecFilePermission"]["values"][0],
        600
    );
    let worker: Value = serde_json::from_str(&log("nc-w1").await).unwrap();
    assert_eq!(worker["type"], "worker");
    assert_eq!(
        worker["info"]["kubeletAnonymousAuthArgumentSet"]["values"][0],
        "true"
    );
    assert_eq!(
        worker["info"]["kubeAPIServerSpecFilePermission"]["values"],
        serde_json::json!([])
    );
    assert_eq!(log("nc-w2").await, "Error: failed to collect node info\n");
    let failed = sim
        .items(&["pods", "-n", &ns, "-l", "job-name=nc-w2"])
        .await;
    assert_eq!(
        failed[0]["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"],
        1
    );
    let _ = std::fs::remove_dir_all(&dir);
}

//! The shipped manifests (`deploy/`): `kubectl kustomize deploy/` renders them, the API
//! server accepts every object (`kubectl apply --dry-run=server` against kube-sim, or the
//! real cluster in real-cluster mode), and the rendered objects keep the promises of the
//! README: restricted security contexts, limits and probes on every container, pinned image
//! tags, no token checked in, an HA leader with a PDB, and RBAC without wildcards that grants
//! what the processes use and no more than the brief allows.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::process::Command;

use e2e::Cluster;
use serde_json::Value;

const NS: &str = "trivy-system";
/// The namespace of the node-collector Jobs.
const NODES_NS: &str = "trivy-system-nodes";

/// `kubectl kustomize deploy/`, as a user runs it.
fn render() -> String {
    render_dir("deploy")
}

/// `kubectl kustomize <dir>` for a directory of the repository.
fn render_dir(dir: &str) -> String {
    let path = e2e::repo_root().join(dir);
    let out = Command::new("kubectl")
        .args(["kustomize", &path.to_string_lossy()])
        .output()
        .expect("running kubectl (is it on PATH?)");
    assert!(
        out.status.success(),
        "kubectl kustomize {dir} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The documents of a multi-document YAML stream (separated by `---` lines, as kustomize
/// and our files write them), as JSON values; empty documents are skipped.
fn documents(text: &str) -> Vec<Value> {
    let mut docs = vec![String::new()];
    for line in text.lines() {
        if line.trim_end() == "---" {
            docs.push(String::new());
        } else if let Some(doc) = docs.last_mut() {
            doc.push_str(line);
            doc.push('\n');
        }
    }
    docs.iter()
        .map(|doc| serde_yaml_ng::from_str::<Value>(doc).unwrap())
        .filter(|v| !v.is_null())
        .collect()
}

fn rendered() -> Vec<Value> {
    let objects = documents(&render());
    assert!(!objects.is_empty(), "kustomize rendered nothing");
    objects
}

fn kind_name(o: &Value) -> (String, String) {
    (
        o["kind"].as_str().unwrap_or_default().to_owned(),
        o["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| kind_name(o) == (kind.to_owned(), name.to_owned()))
        .unwrap_or_else(|| panic!("no {kind} {name} in the rendered manifests"))
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// Pod templates of the rendered workloads, by "Kind/name".
fn pod_specs(objects: &[Value]) -> Vec<(String, &Value)> {
    objects
        .iter()
        .filter_map(|o| {
            let (kind, name) = kind_name(o);
            let spec = match kind.as_str() {
                "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => {
                    &o["spec"]["template"]["spec"]
                }
                "CronJob" => &o["spec"]["jobTemplate"]["spec"]["template"]["spec"],
                "Pod" => &o["spec"],
                _ => return None,
            };
            Some((format!("{kind}/{name}"), spec))
        })
        .collect()
}

#[test]
fn renders_every_part_of_the_install() {
    let objects = rendered();
    let present: BTreeSet<(String, String)> = objects.iter().map(kind_name).collect();
    let expected = [
        ("Namespace", NS),
        (
            "CustomResourceDefinition",
            "vulnerabilityreports.aquasecurity.github.io",
        ),
        (
            "CustomResourceDefinition",
            "configauditreports.aquasecurity.github.io",
        ),
        (
            "CustomResourceDefinition",
            "imagevulnerabilityreports.trivy-operator-rs.dev",
        ),
        (
            "CustomResourceDefinition",
            "exposedsecretreports.aquasecurity.github.io",
        ),
        (
            "CustomResourceDefinition",
            "sbomreports.aquasecurity.github.io",
        ),
        (
            "CustomResourceDefinition",
            "clusterinfraassessmentreports.aquasecurity.github.io",
        ),
        (
            "CustomResourceDefinition",
            "infraassessmentreports.aquasecurity.github.io",
        ),
        (
            "CustomResourceDefinition",
            "rbacassessmentreports.aquasecurity.github.io",
        ),
        (
            "CustomResourceDefinition",
            "clusterrbacassessmentreports.aquasecurity.github.io",
        ),
        (
            "CustomResourceDefinition",
            "clusterconfigauditreports.aquasecurity.github.io",
        ),
        ("Namespace", NODES_NS),
        ("ServiceAccount", "trivy-operator-node-collector"),
        ("ClusterRole", "trivy-operator-node-collector"),
        ("ClusterRoleBinding", "trivy-operator-node-collector"),
        ("ServiceAccount", "trivy-operator-leader"),
        ("ServiceAccount", "trivy-operator-worker"),
        ("ServiceAccount", "trivy-operator-scan"),
        ("ClusterRole", "trivy-operator-leader"),
        ("ClusterRoleBinding", "trivy-operator-leader"),
        ("Role", "trivy-operator-leader"),
        ("RoleBinding", "trivy-operator-leader"),
        ("ClusterRole", "trivy-operator-worker"),
        ("ClusterRoleBinding", "trivy-operator-worker"),
        ("Role", "trivy-operator-worker"),
        ("RoleBinding", "trivy-operator-worker"),
        ("ConfigMap", "trivy-operator-policies-config"),
        ("Deployment", "trivy-operator-leader"),
        ("Service", "trivy-operator-leader"),
        ("PodDisruptionBudget", "trivy-operator-leader"),
        ("Deployment", "trivy-operator-worker"),
        ("NetworkPolicy", "trivy-operator-leader"),
    ];
    for (kind, name) in expected {
        assert!(
            present.contains(&(kind.to_owned(), name.to_owned())),
            "{kind} {name} missing; rendered: {present:?}"
        );
    }
    // The CRDs are the generated files, unchanged.
    for name in [
        "vulnerabilityreports.aquasecurity.github.io",
        "configauditreports.aquasecurity.github.io",
        "imagevulnerabilityreports.trivy-operator-rs.dev",
        "exposedsecretreports.aquasecurity.github.io",
        "sbomreports.aquasecurity.github.io",
        "clusterinfraassessmentreports.aquasecurity.github.io",
        "infraassessmentreports.aquasecurity.github.io",
        "rbacassessmentreports.aquasecurity.github.io",
        "clusterrbacassessmentreports.aquasecurity.github.io",
        "clusterconfigauditreports.aquasecurity.github.io",
    ] {
        let file = e2e::repo_root().join(format!("deploy/crds/{name}.yaml"));
        let committed = documents(&std::fs::read_to_string(file).unwrap());
        assert_eq!(
            find(&objects, "CustomResourceDefinition", name),
            &committed[0]
        );
    }
    // Everything but the cluster-scoped kinds lives in the operator namespace, except the
    // node-collector's account and the worker's Role for its Jobs, in theirs.
    let cluster_scoped = [
        "Namespace",
        "CustomResourceDefinition",
        "ClusterRole",
        "ClusterRoleBinding",
    ];
    let mut in_nodes_ns = Vec::new();
    for o in &objects {
        if cluster_scoped.contains(&o["kind"].as_str().unwrap()) {
            continue;
        }
        if o["metadata"]["namespace"] == NODES_NS {
            in_nodes_ns.push(kind_name(o));
        } else {
            assert_eq!(o["metadata"]["namespace"], NS, "{:?}", kind_name(o));
        }
    }
    in_nodes_ns.sort();
    let worker = || "trivy-operator-worker".to_owned();
    assert_eq!(
        in_nodes_ns,
        [
            ("Role".to_owned(), worker()),
            ("RoleBinding".to_owned(), worker()),
            (
                "ServiceAccount".to_owned(),
                "trivy-operator-node-collector".to_owned()
            ),
        ]
    );
}

/// Whether a restricted setting holds at container level, or at pod level when the
/// container does not override it.
fn effective<'a>(pod: &'a Value, container: &'a Value, key: &str) -> &'a Value {
    match &container["securityContext"][key] {
        Value::Null => &pod["securityContext"][key],
        v => v,
    }
}

#[test]
fn every_container_is_restricted_limited_and_probed() {
    let objects = rendered();
    let pods = pod_specs(&objects);
    assert_eq!(pods.len(), 2, "expected the leader and worker Deployments");
    for (workload, pod) in pods {
        let init = pod["initContainers"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let main = pod["containers"].as_array().cloned().unwrap_or_default();
        assert!(!main.is_empty(), "{workload}: no containers");
        for (c, is_main) in main
            .iter()
            .map(|c| (c, true))
            .chain(init.iter().map(|c| (c, false)))
        {
            let at = format!("{workload} container {}", c["name"]);
            let sc = &c["securityContext"];
            assert_eq!(
                effective(pod, c, "runAsNonRoot"),
                true,
                "{at}: runAsNonRoot"
            );
            let user = effective(pod, c, "runAsUser");
            assert!(
                user.as_u64().is_some_and(|u| u > 0),
                "{at}: runAsUser {user}"
            );
            assert_eq!(
                effective(pod, c, "seccompProfile")["type"],
                "RuntimeDefault",
                "{at}: seccompProfile"
            );
            assert_eq!(
                sc["readOnlyRootFilesystem"], true,
                "{at}: readOnlyRootFilesystem"
            );
            assert_eq!(
                sc["allowPrivilegeEscalation"], false,
                "{at}: allowPrivilegeEscalation"
            );
            assert_ne!(sc["privileged"], true, "{at}: privileged");
            assert!(
                strings(&sc["capabilities"]["drop"]).contains(&"ALL"),
                "{at}: drop ALL"
            );
            assert!(
                sc["capabilities"]["add"].is_null(),
                "{at}: adds capabilities"
            );
            for kind in ["limits", "requests"] {
                for resource in ["cpu", "memory"] {
                    assert!(
                        !c["resources"][kind][resource].is_null(),
                        "{at}: no {resource} in resources.{kind}"
                    );
                }
            }
            let image = c["image"].as_str().unwrap_or_default();
            let last = image.rsplit('/').next().unwrap_or_default();
            let tag = last.split_once(':').map(|(_, t)| t);
            assert!(
                image.contains('@') || tag.is_some_and(|t| !t.is_empty() && t != "latest"),
                "{at}: image {image:?} must carry a pinned tag, not latest"
            );
            if is_main {
                for probe in ["livenessProbe", "readinessProbe"] {
                    let port = &c[probe]["httpGet"]["port"];
                    assert!(!port.is_null(), "{at}: no {probe} on the admin port");
                }
                assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz", "{at}");
                assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz", "{at}");
            }
        }
        assert!(
            pod["hostNetwork"] != true && pod["hostPID"] != true,
            "{workload}"
        );
    }
}

#[test]
fn images_are_the_pinned_release() {
    let objects = rendered();
    let version = env!("CARGO_PKG_VERSION");
    for (name, image) in [("leader", "leader"), ("worker", "worker")] {
        let d = find(&objects, "Deployment", &format!("trivy-operator-{name}"));
        assert_eq!(
            d["spec"]["template"]["spec"]["containers"][0]["image"],
            format!("ghcr.io/trivy-operator-rs/{image}:{version}")
        );
    }
}

/// Every YAML file under `deploy/`, rendered or not (examples included).
fn deploy_files() -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![e2e::repo_root().join("deploy")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                files.push(path);
            }
        }
    }
    assert!(files.len() > 5, "found only {files:?}");
    files
}

#[test]
fn no_secret_value_is_checked_in() {
    let objects = rendered();
    for o in &objects {
        assert_ne!(o["kind"], "Secret", "a Secret is rendered: {o}");
        assert!(o["secretGenerator"].is_null());
    }
    for file in deploy_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        for doc in documents(&text) {
            let secret = doc["kind"] == "Secret";
            let generated = !doc["secretGenerator"].is_null();
            assert!(
                !secret && !generated,
                "{} checks in a Secret or secretGenerator",
                file.display()
            );
        }
    }
    // The status token comes from the Secret created at install time, required.
    let leader = find(&objects, "Deployment", "trivy-operator-leader");
    let env = |d: &serde_json::Value| {
        d["spec"]["template"]["spec"]["containers"][0]["env"]
            .as_array()
            .unwrap()
            .clone()
    };
    let leader_env = env(leader);
    let status = leader_env
        .iter()
        .find(|e| e["name"] == "STATUS_TOKEN")
        .unwrap();
    assert!(
        status["value"].is_null(),
        "STATUS_TOKEN has a literal value"
    );
    let r = &status["valueFrom"]["secretKeyRef"];
    assert_eq!(r["name"], "trivy-operator-token");
    assert_eq!(r["key"], "status-token");
    assert_eq!(r["optional"], false);
    // Workers have no shared secret: each presents its own Pod-bound ServiceAccount token,
    // for the leader's audience only, which the leader checks with a TokenReview.
    let var = |env: &[serde_json::Value], name: &str| {
        env.iter()
            .find(|e| e["name"] == name)
            .and_then(|e| e["value"].as_str())
            .map(str::to_owned)
    };
    assert_eq!(
        var(&leader_env, "WORKER_SERVICE_ACCOUNT").as_deref(),
        Some("trivy-operator-worker")
    );
    let worker = find(&objects, "Deployment", "trivy-operator-worker");
    let worker_env = env(worker);
    assert!(worker_env.iter().all(|e| e["name"] != "WORKER_TOKEN"));
    assert!(leader_env.iter().all(|e| e["name"] != "WORKER_TOKEN"));
    let pod = &worker["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "trivy-operator-worker");
    let file = var(&worker_env, "WORKER_TOKEN_FILE").unwrap();
    let mount = pod["containers"][0]["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| file.starts_with(m["mountPath"].as_str().unwrap()))
        .unwrap();
    assert_eq!(mount["readOnly"], true);
    let volume = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == mount["name"])
        .unwrap();
    let source = &volume["projected"]["sources"][0]["serviceAccountToken"];
    assert_eq!(source["audience"], "trivy-operator-rs");
    assert!(file.ends_with(source["path"].as_str().unwrap()));
    let rbac = find(&objects, "ClusterRole", "trivy-operator-leader");
    assert!(
        rbac["rules"].as_array().unwrap().iter().any(|r| {
            r["apiGroups"][0] == "authentication.k8s.io"
                && r["resources"][0] == "tokenreviews"
                && r["verbs"] == serde_json::json!(["create"])
        }),
        "the leader may create TokenReviews"
    );
}

#[test]
fn shipped_policies_are_the_documented_example() {
    let objects = rendered();
    let shipped = find(&objects, "ConfigMap", "trivy-operator-policies-config");
    let file = e2e::repo_root().join("deploy/examples/policies-configmap.yaml");
    let example = documents(&std::fs::read_to_string(file).unwrap());
    assert_eq!(shipped["data"], example[0]["data"]);
    assert!(shipped["data"]["policy.required_labels.kinds"].is_string());
}

/// Renders an overlay of `deploy/<base>` with the component `deploy/components/<component>`,
/// written to a scratch directory named `name`, as a user's overlay would be.
fn render_overlay(name: &str, base: &str, component: &str) -> Vec<Value> {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::create_dir_all(&dir).unwrap();
    // kustomize takes only relative paths: from the overlay up to `/`, then down.
    let up = "../".repeat(dir.components().count() - 1);
    let root = e2e::repo_root().canonicalize().unwrap();
    let deploy = format!(
        "{up}{}",
        root.join("deploy")
            .to_string_lossy()
            .trim_start_matches('/')
    );
    let base = if base.is_empty() {
        deploy.clone()
    } else {
        format!("{deploy}/{base}")
    };
    std::fs::write(
        dir.join("kustomization.yaml"),
        format!("resources: [{base}]\ncomponents: [{deploy}/components/{component}]\n"),
    )
    .unwrap();
    let out = std::process::Command::new("kubectl")
        .args(["kustomize", &dir.to_string_lossy()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    documents(&String::from_utf8(out.stdout).unwrap())
}

#[path = "manifests/availability.rs"]
mod availability;
#[path = "manifests/rbac.rs"]
mod rbac;
#[path = "manifests/tls.rs"]
mod tls;
#[path = "manifests/trivy_server.rs"]
mod trivy_server;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_object_passes_a_server_side_dry_run() {
    let text = render();
    let objects = documents(&text);
    let cluster = Cluster::start("manifests").await.unwrap();
    // Namespaced objects need their namespace: create it for real (idempotent on a real
    // cluster where the operator is installed), dry-run everything else.
    for ns in [NS, NODES_NS] {
        let namespace = find(&objects, "Namespace", ns);
        cluster
            .apply(&serde_json::to_string(namespace).unwrap())
            .unwrap();
    }
    let out = cluster
        .kubectl_with_input(&["apply", "--dry-run=server", "-f", "-"], Some(&text))
        .unwrap();
    for o in &objects {
        let (kind, name) = kind_name(o);
        // e.g. `customresourcedefinition.apiextensions.k8s.io/<name> created (server dry run)`
        let (prefix, object) = (kind.to_lowercase(), format!("/{name} "));
        assert!(
            out.lines().any(|l| l.starts_with(&prefix)
                && l.contains(&object)
                && l.ends_with("(server dry run)")),
            "{kind} {name} not accepted by the dry run:\n{out}"
        );
    }
    if !cluster.real {
        // A dry run stores nothing.
        let deployments = cluster.list(&["deployments", "-n", NS]).unwrap();
        assert!(
            deployments.is_empty(),
            "the dry run created {deployments:?}"
        );
        // (The harness itself installs the shipped RBAC for the operator's processes, so
        // check objects only this dry run could have made.)
        for kind in [
            "networkpolicies",
            "poddisruptionbudgets",
            "services",
            "roles",
        ] {
            let made = cluster.list(&[kind, "-n", NS]).unwrap();
            assert!(made.is_empty(), "the dry run created {kind}: {made:?}");
        }
    }
}

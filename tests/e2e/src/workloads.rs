//! Workloads and waits shared by the scenarios: bare Pods, one-replica Deployments, real
//! Trivy outputs for the double, the leader Lease, and "every Pod of these namespaces has
//! exactly one ConfigAuditReport".

use std::time::Duration;

use crate::reports::{audit_reports, single_report_of, uid};
use crate::{Cluster, eventually};

/// A bare Pod running `image`, as a YAML document.
pub fn pod(ns: &str, name: &str, image: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n  containers: [{{name: app, image: \"{image}\"}}]\n---\n"
    )
}

/// A Deployment of one replica whose one container `container` runs `image`, as a YAML
/// document.
pub fn deployment(ns: &str, name: &str, container: &str, image: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n  replicas: 1\n  selector: {{matchLabels: {{app: {name}}}}}\n  template:\n    metadata: {{labels: {{app: {name}}}}}\n    spec:\n      containers:\n        - {{name: {container}, image: \"{image}\"}}\n---\n"
    )
}

/// The path of a real Trivy output in `tests/data/trivy-json/`, for the Trivy double's map.
pub fn trivy_output(file: &str) -> String {
    crate::repo_root()
        .join("tests/data/trivy-json")
        .join(file)
        .to_string_lossy()
        .into_owned()
}

/// Applies bare Pods named `names` in `ns`, all running `image`.
pub fn apply_pods(cluster: &Cluster, ns: &str, names: &[&str], image: &str) -> anyhow::Result<()> {
    let manifest: String = names.iter().map(|n| pod(ns, n, image)).collect();
    cluster.apply(&manifest).map(|_| ())
}

/// Holder identity and transition count of the leader Lease in `operator_ns`.
pub fn lease_holder(cluster: &Cluster, operator_ns: &str) -> Result<(String, i64), String> {
    let lease = cluster
        .get_json(&["lease", "trivy-operator-leader", "-n", operator_ns])
        .map_err(|e| e.to_string())?;
    let spec = &lease["spec"];
    let holder = spec["holderIdentity"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    Ok((holder, spec["leaseTransitions"].as_i64().unwrap_or(0)))
}

/// Waits until each namespace has exactly `pods_per_ns` Pods, each with exactly one
/// ConfigAuditReport, and no other report.
pub async fn all_pods_audited(
    cluster: &Cluster,
    namespaces: &[String],
    pods_per_ns: usize,
    timeout: Duration,
) -> anyhow::Result<()> {
    eventually(
        "every Pod to have exactly one ConfigAuditReport",
        timeout,
        || async {
            for ns in namespaces {
                let reports = audit_reports(cluster, ns).map_err(|e| e.to_string())?;
                let pods = cluster
                    .list(&["pods", "-n", ns])
                    .map_err(|e| e.to_string())?;
                if pods.len() != pods_per_ns || reports.len() != pods_per_ns {
                    return Err(format!(
                        "{ns}: {} pods, {} reports",
                        pods.len(),
                        reports.len()
                    ));
                }
                for pod in &pods {
                    single_report_of(&reports, uid(pod)).map_err(|e| format!("{ns}: {e}"))?;
                }
            }
            Ok(())
        },
    )
    .await
}

/// A StatefulSet `db` (postgres) and a bare Pod `debug` (busybox) in the namespace `NS`
/// (replace it), for the policy scenarios.
pub const DB_AND_DEBUG_POD: &str = r#"
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
      containers: [{name: postgres, image: "postgres:16.4"}]
---
apiVersion: v1
kind: Pod
metadata: {name: debug, namespace: NS}
spec:
  containers: [{name: shell, image: busybox, command: [sleep, "3600"]}]
"#;

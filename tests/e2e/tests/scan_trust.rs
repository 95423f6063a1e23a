//! Scan sharing across tenants: one namespace can neither poison another's vulnerability
//! reports (a forged or edited report is never copied) nor read another's private image
//! (results scanned with credentials are never shared, and another namespace's digest is
//! never borrowed).

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::time::Duration;

use e2e::{Cluster, Operator, OperatorOptions, eventually};
use serde_json::{Value, json};

const LONG: Duration = Duration::from_secs(240);
const PRIVATE: &str = "private.example/team/app:1";

fn golden() -> std::path::PathBuf {
    e2e::repo_root().join("tests/data/trivy-json/alpine-310.json.golden")
}

fn golden_ids() -> BTreeSet<String> {
    e2e::reports::golden_vulnerability_ids("alpine-310.json.golden").unwrap()
}

fn ids(report: &Value) -> BTreeSet<String> {
    e2e::reports::vulnerability_ids(report)
}

fn deployment(ns: &str, name: &str, image: &str, pull_secret: Option<&str>) -> String {
    let secrets = pull_secret.map_or(String::new(), |s| {
        format!("      imagePullSecrets: [{{name: {s}}}]\n")
    });
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n  replicas: 1\n  selector: {{matchLabels: {{app: {name}}}}}\n  template:\n    metadata: {{labels: {{app: {name}}}}}\n    spec:\n{secrets}      containers:\n        - {{name: app, image: \"{image}\"}}\n---\n"
    )
}

fn options(cluster: &Cluster, namespaces: Vec<String>) -> OperatorOptions {
    OperatorOptions::new(e2e::binaries!(), cluster, namespaces).workers(2, 2)
}

/// The first VulnerabilityReport to appear in a namespace.
async fn first_report(cluster: &Cluster, ns: &str, what: &str) -> Value {
    eventually(what, LONG, || async {
        vulns(cluster, ns)?
            .into_iter()
            .next()
            .ok_or_else(|| "no report yet".to_string())
    })
    .await
    .unwrap()
}

/// The VulnerabilityReports of a namespace.
fn vulns(cluster: &Cluster, ns: &str) -> Result<Vec<Value>, String> {
    cluster
        .list(&["vulnerabilityreports", "-n", ns])
        .map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_report_is_never_copied_to_another_namespace() {
    let cluster = Cluster::start("trust-poison").await.unwrap();
    let (evil, victim) = (cluster.ns("evil"), cluster.ns("victim"));
    cluster
        .create_namespaces(&[evil.clone(), victim.clone()])
        .unwrap();
    let _op = Operator::start(
        &cluster,
        options(&cluster, vec![evil.clone(), victim.clone()]),
    )
    .unwrap();
    cluster
        .apply(&deployment(&evil, "bait", "alpine:3.10", None))
        .unwrap();
    let bait = first_report(&cluster, &evil, "the bait's report").await;
    // The tenant empties its own report and dates it far in the future.
    let name = bait["metadata"]["name"].as_str().unwrap();
    let forged = json!({
        "metadata": {"annotations": {"trivy-operator-rs.dev/scanned-at": "2099-01-01T00:00:00Z"}},
        "report": {"vulnerabilities": [], "summary": {
            "criticalCount": 0, "highCount": 0, "mediumCount": 0, "lowCount": 0,
            "unknownCount": 0, "noneCount": 0}}
    });
    cluster
        .kubectl(&[
            "patch",
            "vulnerabilityreport",
            name,
            "-n",
            &evil,
            "--type=merge",
            "-p",
            &forged.to_string(),
        ])
        .unwrap();
    cluster
        .apply(&deployment(&victim, "web", "alpine:3.10", None))
        .unwrap();
    let report = first_report(&cluster, &victim, "the victim's report").await;
    assert_eq!(
        ids(&report),
        golden_ids(),
        "the victim got the image's real findings, not the forged copy"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_image_is_reported_only_where_its_credentials_are() {
    let entry = format!("!private alice:s3cret {}", golden().display());
    let images = json!({ PRIVATE: entry });
    let cluster = Cluster::start_with_images("trust-private", Some(images))
        .await
        .unwrap();
    let (owner, thief) = (cluster.ns("owner"), cluster.ns("thief"));
    cluster
        .create_namespaces(&[owner.clone(), thief.clone()])
        .unwrap();
    registry_secret(&cluster, &owner, "regcred");
    let _op = Operator::start(
        &cluster,
        options(&cluster, vec![owner.clone(), thief.clone()]),
    )
    .unwrap();
    cluster
        .apply(&deployment(&owner, "app", PRIVATE, Some("regcred")))
        .unwrap();
    // The other tenant names the same image, without credentials, in a suspended CronJob.
    let cronjob = format!(
        "apiVersion: batch/v1\nkind: CronJob\nmetadata: {{name: peek, namespace: {thief}}}\nspec:\n  schedule: '0 0 1 1 *'\n  suspend: true\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n          containers:\n            - {{name: app, image: \"{PRIVATE}\"}}\n"
    );
    cluster.apply(&cronjob).unwrap();
    let report = first_report(&cluster, &owner, "the owner's report").await;
    assert_eq!(ids(&report), golden_ids());
    // The thief's scan runs without credentials and fails; it never receives the findings.
    scan_fails(&cluster, &thief).await;
    assert!(
        vulns(&cluster, &thief).unwrap().is_empty(),
        "no report of the private image in the other namespace"
    );
}

/// Waits for a `ScanJobFailed` Event in `ns`.
async fn scan_fails(cluster: &Cluster, ns: &str) {
    eventually("the scan to fail", LONG, || async {
        let events = cluster
            .list(&["events.v1.events.k8s.io", "-n", ns])
            .map_err(|e| e.to_string())?;
        events
            .iter()
            .any(|e| e["reason"] == "ScanJobFailed")
            .then_some(())
            .ok_or_else(|| format!("{} events", events.len()))
    })
    .await
    .unwrap();
}

fn registry_secret(cluster: &Cluster, ns: &str, name: &str) {
    cluster
        .kubectl(&[
            "create",
            "secret",
            "docker-registry",
            name,
            "-n",
            ns,
            "--docker-server=private.example",
            "--docker-username=alice",
            "--docker-password=s3cret",
        ])
        .unwrap();
}

/// `--registry-secrets=mapped`: credentials come only from the Secrets of the operator's
/// namespace mapped to the workload's namespace, never from the tenant's own Secrets, and
/// the worker needs no access to Secrets outside the operator's namespace (its ClusterRole
/// loses `secrets`; a Role lets it read them in its own namespace: the README's recipe).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mapped_registry_secrets_need_no_secret_access_in_tenant_namespaces() {
    let entry = format!("!private alice:s3cret {}", golden().display());
    let cluster = Cluster::start_with_images("trust-mapped", Some(json!({ PRIVATE: entry })))
        .await
        .unwrap();
    let (mapped, other) = (cluster.ns("mapped"), cluster.ns("other"));
    let op_ns = cluster.ns("trivy-system");
    cluster
        .create_namespaces(&[mapped.clone(), other.clone()])
        .unwrap();
    registry_secret(&cluster, &op_ns, "mapped-pull");
    registry_secret(&cluster, &other, "regcred");
    // Least privilege for this mode.
    let mut role = cluster
        .get_json(&["clusterrole", "trivy-operator-worker"])
        .unwrap();
    role["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("resourceVersion");
    for rule in role["rules"].as_array_mut().unwrap() {
        rule["resources"]
            .as_array_mut()
            .unwrap()
            .retain(|r| r != "secrets");
    }
    role["rules"]
        .as_array_mut()
        .unwrap()
        .retain(|r| !r["resources"].as_array().unwrap().is_empty());
    cluster
        .kubectl_with_input(&["replace", "-f", "-"], Some(&role.to_string()))
        .unwrap();
    cluster
        .apply(&format!(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {{name: registry-secrets, namespace: {op_ns}}}\nrules:\n  - {{apiGroups: [''], resources: [secrets], resourceNames: [mapped-pull], verbs: [get]}}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {{name: registry-secrets, namespace: {op_ns}}}\nroleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: registry-secrets}}\nsubjects:\n  - {{kind: ServiceAccount, name: trivy-operator-worker, namespace: {op_ns}}}\n"
        ))
        .unwrap();
    let mut options = options(&cluster, vec![mapped.clone(), other.clone()]);
    options.worker_args = vec![
        "--registry-secrets".into(),
        "mapped".into(),
        "--registry-secret-names".into(),
        format!("{mapped}=mapped-pull"),
    ];
    let op = Operator::start(&cluster, options).unwrap();
    cluster
        .apply(&deployment(&mapped, "app", PRIVATE, None))
        .unwrap();
    // The other tenant names its own (valid) pull secret: not read in this mode.
    cluster
        .apply(&deployment(&other, "app", PRIVATE, Some("regcred")))
        .unwrap();
    let report = first_report(&cluster, &mapped, "the mapped namespace's report").await;
    assert_eq!(ids(&report), golden_ids());
    scan_fails(&cluster, &other).await;
    assert!(vulns(&cluster, &other).unwrap().is_empty());
    for worker in op.worker_ids() {
        let log = op.log(&worker);
        assert!(!log.contains("forbidden"), "{worker} tried a Secret: {log}");
    }
}

/// `--registry-secrets=none`: no Secret is read, so an image that needs credentials fails to
/// scan even where its pull secret is named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_registry_secrets_a_private_image_fails_to_scan() {
    let entry = format!("!private alice:s3cret {}", golden().display());
    let cluster = Cluster::start_with_images("trust-none", Some(json!({ PRIVATE: entry })))
        .await
        .unwrap();
    let ns = cluster.ns("nosecrets");
    cluster
        .create_namespaces(std::slice::from_ref(&ns))
        .unwrap();
    registry_secret(&cluster, &ns, "regcred");
    let mut options = options(&cluster, vec![ns.clone()]);
    options.worker_args = vec!["--registry-secrets".into(), "none".into()];
    let _op = Operator::start(&cluster, options).unwrap();
    cluster
        .apply(&deployment(&ns, "app", PRIVATE, Some("regcred")))
        .unwrap();
    scan_fails(&cluster, &ns).await;
    assert!(vulns(&cluster, &ns).unwrap().is_empty());
}

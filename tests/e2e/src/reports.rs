//! Reading reports the way a user does (`kubectl get configaudits -o json`) and the
//! assertions scenarios share.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::Cluster;

/// Vulnerability IDs of a real Trivy output in tests/data/trivy-json.
pub fn golden_vulnerability_ids(file: &str) -> anyhow::Result<BTreeSet<String>> {
    let path = crate::repo_root().join("tests/data/trivy-json").join(file);
    let json: Value = serde_json::from_str(&std::fs::read_to_string(path)?)?;
    Ok(json["Results"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["Vulnerabilities"].as_array().cloned().unwrap_or_default())
        .filter_map(|v| v["VulnerabilityID"].as_str().map(str::to_string))
        .collect())
}

/// Vulnerability IDs of a VulnerabilityReport.
pub fn vulnerability_ids(report: &Value) -> BTreeSet<String> {
    report["report"]["vulnerabilities"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v["vulnerabilityID"].as_str().map(str::to_string))
        .collect()
}

/// The ConfigAuditReports of a namespace.
pub fn audit_reports(cluster: &Cluster, ns: &str) -> anyhow::Result<Vec<Value>> {
    cluster.list(&["configauditreports", "-n", ns])
}

/// The controlling owner of an object: (kind, name, uid).
pub fn owner(object: &Value) -> Option<(String, String, String)> {
    let owners = object["metadata"]["ownerReferences"].as_array()?;
    let o = owners
        .iter()
        .find(|o| o["controller"] == Value::Bool(true))?;
    Some((
        o["kind"].as_str()?.into(),
        o["name"].as_str()?.into(),
        o["uid"].as_str()?.into(),
    ))
}

/// A label of an object.
pub fn label<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object["metadata"]["labels"][key].as_str()
}

/// An annotation of an object.
pub fn annotation<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object["metadata"]["annotations"][key].as_str()
}

/// The name of an object.
pub fn name(object: &Value) -> &str {
    object["metadata"]["name"].as_str().unwrap_or_default()
}

/// The uid of an object.
pub fn uid(object: &Value) -> &str {
    object["metadata"]["uid"].as_str().unwrap_or_default()
}

/// IDs of the failed checks of a ConfigAuditReport.
pub fn failed_checks(report: &Value) -> BTreeSet<String> {
    report["report"]["checks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["success"] == Value::Bool(false))
        .filter_map(|c| c["checkID"].as_str().map(str::to_string))
        .collect()
}

/// The report owned by the object with `uid`, if exactly one exists; an error describes
/// what was found otherwise (for `eventually`).
pub fn single_report_of<'a>(reports: &'a [Value], uid: &str) -> Result<&'a Value, String> {
    let owned: Vec<&Value> = reports
        .iter()
        .filter(|r| owner(r).is_some_and(|(_, _, u)| u == uid))
        .collect();
    match owned.as_slice() {
        [one] => Ok(one),
        other => Err(format!("{} reports owned by {uid}", other.len())),
    }
}

/// Waits up to `within` until the report `name` (of resource `kind`, in `namespace`, or
/// cluster-scoped when it is empty) satisfies `ok`; returns it.
pub async fn report_where(
    cluster: &Cluster,
    kind: &str,
    namespace: &str,
    name: &str,
    within: std::time::Duration,
    ok: impl Fn(&Value) -> bool,
) -> anyhow::Result<Value> {
    crate::eventually(&format!("{kind} {name}"), within, || async {
        let mut args = vec![kind, name];
        if !namespace.is_empty() {
            args.extend(["-n", namespace]);
        }
        let report = cluster.get_json(&args).map_err(|e| e.to_string())?;
        if ok(&report) {
            Ok(report)
        } else {
            Err(format!("{name} fails {:?}", failed_checks(&report)))
        }
    })
    .await
}

/// Waits up to `within` for the report of resource `kind` (cluster-scoped) whose controller
/// has `owner_uid`; returns it.
pub async fn cluster_report_owned_by(
    cluster: &Cluster,
    kind: &str,
    owner_uid: &str,
    within: std::time::Duration,
) -> anyhow::Result<Value> {
    crate::eventually(&format!("the {kind} of {owner_uid}"), within, || async {
        let reports = cluster.list(&[kind]).map_err(|e| e.to_string())?;
        let count = reports.len();
        reports
            .into_iter()
            .find(|r| owner(r).is_some_and(|(_, _, uid)| uid == owner_uid))
            .ok_or_else(|| format!("{count} reports, none of it"))
    })
    .await
}

/// Whether the object `name` of resource `kind` (in `namespace`, or cluster-scoped when it
/// is empty) does not exist.
pub fn missing(cluster: &Cluster, kind: &str, namespace: &str, name: &str) -> bool {
    let mut args = vec!["get", kind, name, "--ignore-not-found", "-o", "name"];
    if !namespace.is_empty() {
        args.extend(["-n", namespace]);
    }
    cluster
        .kubectl(&args)
        .is_ok_and(|out| out.trim().is_empty())
}

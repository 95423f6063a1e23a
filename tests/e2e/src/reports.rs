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

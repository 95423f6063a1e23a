//! Trivy outputs of realistic size for the benchmark: `n` vulnerabilities per image, made
//! from the real records of the Trivy outputs in `tests/data/trivy-json/` (each record
//! repeated under a new ID, with its real description, links and CVSS).

use std::path::{Path, PathBuf};

use serde_json::Value;

/// Writes a Trivy JSON document with `n` vulnerabilities into `dir`; returns its path.
pub fn trivy_output(repo: &Path, dir: &Path, n: usize) -> anyhow::Result<PathBuf> {
    let data = repo.join("tests/data/trivy-json");
    let mut base: Option<Value> = None;
    let mut records: Vec<Value> = Vec::new();
    for name in [
        "alpine-310.json.golden",
        "debian-buster.json.golden",
        "spring4shell-jre8.json.golden",
    ] {
        let doc: Value = serde_json::from_slice(&std::fs::read(data.join(name))?)?;
        for result in doc["Results"].as_array().into_iter().flatten() {
            records.extend(
                result["Vulnerabilities"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .cloned(),
            );
        }
        base.get_or_insert(doc);
    }
    let mut doc = base.ok_or_else(|| anyhow::anyhow!("no Trivy output in {}", data.display()))?;
    anyhow::ensure!(!records.is_empty(), "no vulnerability records");
    let vulnerabilities: Vec<Value> = (0..n)
        .map(|i| {
            let mut v = records[i % records.len()].clone();
            let id = v["VulnerabilityID"].as_str().unwrap_or("CVE").to_owned();
            v["VulnerabilityID"] = Value::String(format!("{id}-{i}"));
            v
        })
        .collect();
    let results = doc["Results"]
        .as_array_mut()
        .ok_or_else(|| anyhow::anyhow!("no Results"))?;
    results.truncate(1);
    results[0]["Vulnerabilities"] = Value::Array(vulnerabilities);
    let path = dir.join(format!("trivy-{n}-vulnerabilities.json"));
    std::fs::write(&path, serde_json::to_vec(&doc)?)?;
    Ok(path)
}

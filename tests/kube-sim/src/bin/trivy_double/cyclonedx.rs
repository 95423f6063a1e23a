//! `--format cyclonedx`: the image's SBOM. A real CycloneDX output of the data directory's
//! sibling `trivy-cyclonedx/` when one belongs to the image — named by a `sbom-<stem>` path
//! segment of a convention image (`trivy-double.test/alpine-310/sbom-alpine_sbom/app:1`),
//! or sharing the stem of the image's Trivy JSON output — else a BOM made from that JSON
//! output the way Trivy lays one out: the image as `metadata.component`, one component per
//! result (`operating-system` for OS packages, `application` for a lock file or jar), the
//! image depending on them. (The double's JSON outputs list no packages, so neither does a
//! made BOM.)

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The CycloneDX output recorded for `reference` (its Trivy JSON output being `json_file`).
pub fn recorded(data_dir: &Path, reference: &str, json_file: Option<&Path>) -> Option<PathBuf> {
    let dir = data_dir.parent()?.join("trivy-cyclonedx");
    let named = reference
        .split(['@', ':'])
        .next()
        .unwrap_or_default()
        .split('/')
        .find_map(|segment| segment.strip_prefix("sbom-"));
    let stem = named.map(str::to_owned).or_else(|| {
        let name = json_file?.file_name()?.to_str()?;
        let stem = name
            .strip_suffix(".json.golden")
            .or_else(|| name.strip_suffix(".json"))?;
        Some(stem.to_owned())
    })?;
    if stem.is_empty() || stem.contains("..") {
        return None;
    }
    [".cdx.json.golden", ".cdx.json", ".json"]
        .iter()
        .map(|ext| dir.join(format!("{stem}{ext}")))
        .find(|f| f.is_file())
}

/// A recorded BOM as Trivy would make it now of `image`: `metadata.component.name` the
/// image scanned, `metadata.timestamp` the time `now` (unchanged when it is not a JSON object
/// with a `metadata.component`).
pub fn named(bytes: Vec<u8>, image: &str, now: &str) -> Vec<u8> {
    let Ok(mut bom) = serde_json::from_slice::<Value>(&bytes) else {
        return bytes;
    };
    match bom.pointer_mut("/metadata/component") {
        Some(Value::Object(component)) => {
            component.insert("name".into(), Value::String(image.to_owned()));
        }
        _ => return bytes,
    }
    if let Some(Value::Object(metadata)) = bom.get_mut("metadata") {
        metadata.insert("timestamp".into(), Value::String(now.to_owned()));
    }
    let mut out = serde_json::to_vec_pretty(&bom).unwrap_or(bytes);
    out.push(b'\n');
    out
}

/// The image a BOM file describes (`metadata.component.name`), for `trivy sbom`.
pub fn image_of(path: &Path) -> Result<String, String> {
    let bytes = std::fs::read(path)
        .map_err(|e| format!("sbom scan error: unable to open {}: {e}", path.display()))?;
    let bom: Value = serde_json::from_slice(&bytes)
        .map_err(|e| format!("sbom scan error: failed to decode the CycloneDX BOM: {e}"))?;
    bom["metadata"]["component"]["name"]
        .as_str()
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| "sbom scan error: the BOM names no image (metadata.component.name)".into())
}

/// A BOM laid out as Trivy lays out one, from a Trivy JSON report of `reference`.
pub fn from_report(reference: &str, report: &Value, now: &str) -> Value {
    let hash = |what: &str| {
        let digest = Sha256::digest(format!("{reference}\n{what}").as_bytes());
        let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
        format!(
            "{}-{}-{}-{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        )
    };
    let root = hash("image");
    let os = &report["Metadata"]["OS"];
    let mut components = Vec::new();
    let mut dependencies = Vec::new();
    for (i, result) in report["Results"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let class = result["Class"].as_str().unwrap_or_default();
        let kind = result["Type"].as_str().unwrap_or_default();
        let reference = hash(&format!("result-{i}"));
        let component = match class {
            "os-pkgs" => json!({
                "bom-ref": reference, "type": "operating-system",
                "name": os["Family"].as_str().unwrap_or(kind),
                "version": os["Name"].as_str().unwrap_or_default(),
                "properties": [
                    {"name": "aquasecurity:trivy:Class", "value": class},
                    {"name": "aquasecurity:trivy:Type", "value": kind},
                ],
            }),
            "lang-pkgs" => json!({
                "bom-ref": reference, "type": "application",
                "name": result["Target"].as_str().unwrap_or_default(),
                "properties": [
                    {"name": "aquasecurity:trivy:Class", "value": class},
                    {"name": "aquasecurity:trivy:Type", "value": kind},
                ],
            }),
            _ => continue,
        };
        components.push(component);
        dependencies.push(json!({"ref": reference, "dependsOn": []}));
    }
    let parts: Vec<Value> = components.iter().map(|c| c["bom-ref"].clone()).collect();
    dependencies.push(json!({"ref": root, "dependsOn": parts}));
    let mut properties = vec![json!({"name": "aquasecurity:trivy:SchemaVersion", "value": "2"})];
    if let Some(id) = report["Metadata"]["ImageID"].as_str() {
        properties.push(json!({"name": "aquasecurity:trivy:ImageID", "value": id}));
    }
    json!({
        "$schema": "http://cyclonedx.org/schema/bom-1.5.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": format!("urn:uuid:{}", hash("serial")),
        "version": 1,
        "metadata": {
            "timestamp": now,
            "tools": {"components": [
                {"type": "application", "group": "aquasecurity", "name": "trivy", "version": crate::scan::VERSION}
            ]},
            "component": {
                "bom-ref": root, "type": "container", "name": reference,
                "properties": properties,
            },
        },
        "components": components,
        "dependencies": dependencies,
        "vulnerabilities": [],
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const DATA: &str = crate::map::DEFAULT_DATA_DIR;

    #[test]
    fn recorded_boms_are_found_by_name_or_by_stem() {
        let data = Path::new(DATA);
        let named = recorded(
            data,
            "trivy-double.test/alpine-310/sbom-alpine_sbom/app:1",
            None,
        );
        assert!(named.unwrap().ends_with("trivy-cyclonedx/alpine_sbom.json"));
        let json = data.join("alpine-310.json.golden");
        assert_eq!(recorded(data, "alpine:3.10", Some(&json)), None);
        let fluentd = data.join("fluentd-multiple-lockfiles.json.golden");
        let by_stem = recorded(data, "fluentd:1", Some(&fluentd)).unwrap();
        assert!(by_stem.ends_with("fluentd-multiple-lockfiles.cdx.json.golden"));
        assert_eq!(
            recorded(data, "x.test/sbom-../../etc/passwd/a:1", None),
            None
        );
    }

    #[test]
    fn a_made_bom_lays_out_the_results() {
        let report: Value = serde_json::from_slice(
            &std::fs::read(format!("{DATA}/spring4shell-jre8.json.golden")).unwrap(),
        )
        .unwrap();
        let bom = from_report("spring4shell:jre8", &report, "2026-01-01T00:00:00+00:00");
        assert_eq!(bom["bomFormat"], "CycloneDX");
        let kinds: Vec<&str> = bom["components"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["type"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["operating-system", "application"]);
        let deps = bom["dependencies"].as_array().unwrap();
        assert_eq!(deps.len(), 3);
        assert_eq!(deps[2]["ref"], bom["metadata"]["component"]["bom-ref"]);
        assert_eq!(deps[2]["dependsOn"].as_array().unwrap().len(), 2);
        // Deterministic: the same image gives the same BOM.
        assert_eq!(
            bom,
            from_report("spring4shell:jre8", &report, "2026-01-01T00:00:00+00:00")
        );
    }
}

//! Trivy's CycloneDX output (`trivy image --format cyclonedx`) → SbomReport data, as upstream
//! stores it: the BOM's fields upstream's CRD keeps (the rest, e.g. `vulnerabilities` or a
//! tool's `manufacturer`, is dropped as the API server would prune it), the tools replaced
//! by Trivy at the scanner's version, and upstream's summary (components plus the image
//! itself; dependency entries).

use crate::reports::Scanner;
use crate::reports::sbom::{Bom, BomMetadata, Component, SbomReportData, SbomSummary, Tools};
use crate::reports::vulnerability::{Artifact, Registry};

use super::Error;
use super::decode::decode_scanner_output;

/// Parses a scan container's CycloneDX log (plain, or bzip2 + base64 like the JSON output).
pub fn parse_cyclonedx(output: &[u8]) -> Result<Bom, Error> {
    let json = decode_scanner_output(output)?;
    let bom: Bom = serde_json::from_slice(&json).map_err(|source| Error::Json { source })?;
    if bom.bom_format != "CycloneDX" {
        return Err(Error::NotCycloneDx {
            reason: format!("bomFormat is {:?}, not \"CycloneDX\"", bom.bom_format),
        });
    }
    if bom.spec_version.is_empty() {
        return Err(Error::NotCycloneDx {
            reason: "no specVersion".to_owned(),
        });
    }
    Ok(bom)
}

/// Builds the `report` of an SbomReport for one container image, with the image's registry
/// and artifact (those of its VulnerabilityReport).
pub fn to_sbom_data(
    mut bom: Bom,
    registry: Option<Registry>,
    artifact: Artifact,
    scanner: Scanner,
    update_timestamp: jiff::Timestamp,
) -> SbomReportData {
    let tool = Component {
        kind: "application".to_owned(),
        group: "aquasecurity".to_owned(),
        name: "trivy".to_owned(),
        version: scanner.version.clone(),
        ..Component::default()
    };
    let metadata = bom.metadata.get_or_insert_with(BomMetadata::default);
    metadata.tools = Tools {
        components: vec![tool],
    };
    SbomReportData {
        update_timestamp,
        scanner,
        registry,
        artifact,
        summary: SbomSummary::of(&bom),
        components: bom,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn not_a_bom_is_a_clear_error() {
        let err = parse_cyclonedx(br#"{"SchemaVersion": 2}"#).unwrap_err();
        assert_eq!(err.kind(), "not_cyclonedx");
        let err = parse_cyclonedx(br#"{"bomFormat": "CycloneDX"}"#).unwrap_err();
        assert!(err.to_string().contains("specVersion"), "{err}");
        assert_eq!(parse_cyclonedx(b"").unwrap_err().kind(), "empty_output");
        assert_eq!(
            parse_cyclonedx(b"{\"bomFormat\": 3}").unwrap_err().kind(),
            "json"
        );
    }

    #[test]
    fn tools_are_trivy_at_the_scanner_version_and_counts_are_upstreams() {
        let bom = parse_cyclonedx(
            br#"{"bomFormat":"CycloneDX","specVersion":"1.5","version":1,
                "metadata":{"timestamp":"2023-11-09T23:34:52+00:00",
                  "tools":{"components":[{"type":"application","group":"aquasecurity","name":"trivy","version":"0.52.2","manufacturer":{"name":"Aqua"}}]},
                  "component":{"bom-ref":"pkg:oci/alpine","type":"container","name":"alpine:3.18"}},
                "components":[{"bom-ref":"a","type":"library","name":"musl","version":"1.2.4"}],
                "dependencies":[{"ref":"pkg:oci/alpine","dependsOn":["a"]},{"ref":"a","dependsOn":[]}],
                "vulnerabilities":[{"id":"CVE-1"}]}"#,
        )
        .unwrap();
        let data = to_sbom_data(
            bom,
            None,
            Artifact::default(),
            Scanner::trivy("0.58.1"),
            jiff::Timestamp::UNIX_EPOCH,
        );
        assert_eq!(data.summary.components_count, 2);
        assert_eq!(data.summary.dependencies_count, 2);
        let tools = &data.components.metadata.as_ref().unwrap().tools.components;
        assert_eq!(tools.len(), 1);
        assert_eq!(tools[0].version, "0.58.1");
        let json = serde_json::to_value(&data).unwrap();
        assert!(json["components"].get("vulnerabilities").is_none());
        assert_eq!(
            json["components"]["dependencies"][1]["dependsOn"],
            serde_json::json!([])
        );
        assert_eq!(
            json["components"]["metadata"]["component"]["bom-ref"],
            "pkg:oci/alpine"
        );
    }
}

//! Trivy's CycloneDX outputs → SbomReport data, on real outputs: every field upstream's CRD
//! keeps comes through unchanged (the BOM re-serialized equals the input without the keys
//! the CRD prunes), the tools are Trivy at the scanner's version, upstream's summary, and the
//! report validates against the generated CRD.

#![allow(clippy::unwrap_used)]

use common::reports::Scanner;
use common::reports::vulnerability::{Artifact, Registry};
use common::trivy::{parse_cyclonedx, to_sbom_data};
use serde_json::Value;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/data/trivy-cyclonedx");

fn read(file: &str) -> Vec<u8> {
    std::fs::read(format!("{DIR}/{file}")).unwrap()
}

/// The input without what upstream's CRD does not keep: `$schema`, `vulnerabilities`, and
/// a tool's `manufacturer`.
fn kept(mut input: Value) -> Value {
    let bom = input.as_object_mut().unwrap();
    bom.remove("$schema");
    bom.remove("vulnerabilities");
    for tool in input["metadata"]["tools"]["components"]
        .as_array_mut()
        .into_iter()
        .flatten()
    {
        tool.as_object_mut().unwrap().remove("manufacturer");
    }
    input
}

#[test]
fn real_boms_keep_every_field_the_crd_keeps() {
    for file in [
        "alpine_sbom.json",
        "fluentd-multiple-lockfiles.cdx.json.golden",
    ] {
        let bytes = read(file);
        let bom = parse_cyclonedx(&bytes).unwrap();
        let input: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            serde_json::to_value(&bom).unwrap(),
            kept(input.clone()),
            "{file}"
        );

        let data = to_sbom_data(
            bom,
            Some(Registry {
                server: "index.docker.io".into(),
            }),
            Artifact {
                repository: "library/alpine".into(),
                tag: Some("3.18".into()),
                ..Artifact::default()
            },
            Scanner::trivy("0.58.1"),
            jiff::Timestamp::UNIX_EPOCH,
        );
        let components = input["components"].as_array().unwrap().len() as u64;
        let dependencies = input["dependencies"].as_array().unwrap().len() as u64;
        assert_eq!(data.summary.components_count, components + 1, "{file}");
        assert_eq!(data.summary.dependencies_count, dependencies, "{file}");
        let json = serde_json::to_value(&data).unwrap();
        assert_eq!(
            json["components"]["metadata"]["tools"],
            serde_json::json!({"components": [
                {"type": "application", "group": "aquasecurity", "name": "trivy", "version": "0.58.1"}
            ]}),
            "{file}"
        );
        assert_eq!(
            json["components"]["metadata"]["component"],
            input["metadata"]["component"]
        );
    }
}

#[test]
fn alpines_bom_as_upstream_reads_it() {
    let bom = parse_cyclonedx(&read("alpine_sbom.json")).unwrap();
    assert_eq!(bom.spec_version, "1.5");
    assert_eq!(
        bom.serial_number,
        "urn:uuid:9ba1d0c6-b4e3-4bc0-b8f4-2d3d21c7cfc5"
    );
    assert_eq!(bom.components.len(), 16);
    let os = &bom.components[0];
    assert_eq!(
        (os.kind.as_str(), os.name.as_str(), os.version.as_str()),
        ("operating-system", "alpine", "3.18.4")
    );
    let musl = bom.components.iter().find(|c| c.name == "musl").unwrap();
    assert_eq!(
        musl.purl,
        "pkg:apk/alpine/musl@1.2.4-r1?arch=x86_64&distro=3.18.4"
    );
    assert_eq!(musl.hashes[0].alg, "SHA-1");
    assert_eq!(musl.licenses[0].license.as_ref().unwrap().name, "MIT");
    let deps = bom.dependencies.as_ref().unwrap();
    assert_eq!(deps.len(), 17);
    let leaf = deps.iter().find(|d| d.reference == musl.bom_ref).unwrap();
    assert_eq!(
        leaf.depends_on,
        Some(Vec::new()),
        "an empty dependsOn is kept"
    );
}

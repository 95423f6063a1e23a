//! Trivy output that is not what we expect: garbage, wrong types, nulls and unknown fields
//! give a clear error with its path, or are tolerated, never a panic.
#![allow(clippy::unwrap_used)]

mod trivy_support;

use base64::Engine;
use common::reports::vulnerability::Severity;
use common::trivy::{Error, parse_report, parse_scanner_output};
use serde_json::Value;
use trivy_support::*;

#[test]
fn garbage_is_an_error_not_a_panic() {
    let json = read("debian-buster.json.golden");
    let truncated = &json[..json.len() / 2];
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", Vec::new(), "empty_output"),
        ("blank", b"  \n\t".to_vec(), "empty_output"),
        ("truncated json", truncated.to_vec(), "json"),
        ("truncated compressed", compress(truncated), "json"),
        ("text", b"hello: world!".to_vec(), "unrecognized_output"),
        (
            "base64 of garbage",
            b"aGVsbG8gd29ybGQ=".to_vec(),
            "not_bzip2",
        ),
        ("bad base64", b"aGVsbG8gd29ybGQ".to_vec(), "decode_base64"),
        ("array", b"[1,2]".to_vec(), "invalid_field"),
        (
            "schema 1",
            br#"{"SchemaVersion": 1, "Results": []}"#.to_vec(),
            "unsupported_schema_version",
        ),
        (
            "schema string",
            br#"{"SchemaVersion": "2"}"#.to_vec(),
            "unsupported_schema_version",
        ),
        (
            "no schema",
            br#"{"Results": []}"#.to_vec(),
            "unsupported_schema_version",
        ),
    ];
    for (name, input, kind) in cases {
        let err = parse_scanner_output(&input)
            .err()
            .unwrap_or_else(|| panic!("{name} parsed"));
        assert_eq!(err.kind(), kind, "{name}: {err}");
    }
    // A corrupt bzip2 stream.
    let mut bz = base64::engine::general_purpose::STANDARD
        .decode(
            compress(&json)
                .iter()
                .copied()
                .filter(|b| *b != b'\n')
                .collect::<Vec<u8>>(),
        )
        .unwrap();
    let mid = bz.len() / 2;
    bz[mid] ^= 0xff;
    bz.truncate(mid + 10);
    let corrupt = base64::engine::general_purpose::STANDARD.encode(bz);
    let err = parse_scanner_output(corrupt.as_bytes()).unwrap_err();
    assert!(matches!(err.kind(), "decompress" | "json"), "{err}");
}

#[test]
fn output_over_the_limit_is_a_clear_error_not_a_parse() {
    let mut huge = b"{\"SchemaVersion\": 2, \"Padding\": \"".to_vec();
    huge.resize(common::trivy::MAX_DECODED_LEN + 10, b'x');
    huge.extend_from_slice(b"\"}");
    let err = parse_scanner_output(&huge).unwrap_err();
    assert_eq!(err.kind(), "too_large", "{err}");
}

#[test]
fn wrongly_typed_fields_are_reported_with_their_path() {
    let mut v: Value = serde_json::from_slice(&read("alpine-310.json.golden")).unwrap();
    v["Results"][0]["Vulnerabilities"][2]["VendorSeverity"] = serde_json::json!("high");
    let err = parse_report(&serde_json::to_vec(&v).unwrap())
        .err()
        .unwrap();
    match &err {
        Error::InvalidField { path, .. } => {
            assert_eq!(path, "Results[0].Vulnerabilities[2].VendorSeverity")
        }
        other => panic!("{other}"),
    }
    assert!(
        err.to_string().contains("Results[0].Vulnerabilities[2]"),
        "{err}"
    );

    let mut v: Value = serde_json::from_slice(&read("alpine-310.json.golden")).unwrap();
    v["Results"][0]["Vulnerabilities"][1]
        .as_object_mut()
        .unwrap()
        .remove("VulnerabilityID");
    let err = parse_report(&serde_json::to_vec(&v).unwrap())
        .err()
        .unwrap();
    assert!(
        err.to_string().contains("Results[0].Vulnerabilities[1]"),
        "{err}"
    );
    assert!(err.to_string().contains("VulnerabilityID"), "{err}");

    let mut v: Value = serde_json::from_slice(&read("alpine-310.json.golden")).unwrap();
    v["Metadata"]["OS"] = serde_json::json!("alpine 3.10");
    let err = parse_report(&serde_json::to_vec(&v).unwrap())
        .err()
        .unwrap();
    assert!(
        matches!(&err, Error::InvalidField { path, .. } if path == "Metadata.OS"),
        "{err}"
    );

    let mut v: Value = serde_json::from_slice(&read("alpine-310.json.golden")).unwrap();
    v["Results"] = serde_json::json!({"a": 1});
    let err = parse_report(&serde_json::to_vec(&v).unwrap())
        .err()
        .unwrap();
    assert!(
        matches!(&err, Error::InvalidField { path, .. } if path == "Results"),
        "{err}"
    );
}

#[test]
fn null_lists_and_unknown_fields_are_tolerated() {
    let json = br#"{"SchemaVersion": 2, "NewTopLevel": {"x": 1},
        "Metadata": {"OS": null, "RepoDigests": null, "Extra": true},
        "Results": [{"Target": "t", "Vulnerabilities": null},
                    {"Target": "u", "Class": "lang-pkgs", "Type": "npm", "Vulnerabilities": [
                      {"VulnerabilityID": "GHSA-1", "PkgName": "left-pad", "InstalledVersion": "1",
                       "VendorSeverity": null, "CVSS": null, "References": null, "Brand": "new",
                       "PublishedDate": "2024-01-02T03:04:05.678+02:00"}]}]}"#;
    let r = convert(json, "node:20");
    assert_eq!(r.vulnerabilities.len(), 1);
    let v = &r.vulnerabilities[0];
    assert_eq!(v.severity, Severity::Unknown, "no SeveritySource");
    assert_eq!(r.summary.unknown_count, 1);
    assert_eq!(v.published_date, "2024-01-02T01:04:05Z");
    assert_eq!(v.links.as_deref(), Some(&[][..]));
    assert_eq!((v.score, v.cvss.as_ref()), (None, None));
    assert_eq!(r.os, Default::default());
}

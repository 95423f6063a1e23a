//! Trivy's secret findings → ExposedSecretReport data, on real Trivy outputs: the same data
//! upstream's own test expects from the same input (aquasecurity/trivy-operator,
//! `pkg/plugins/trivy/plugin_test.go`, "Should only parse exposedsecret report"), and
//! schema-valid under the generated CRD.

#![allow(clippy::unwrap_used)]

mod trivy_support;

use common::reports::exposed_secret::SecretSeverity;
use common::trivy::{ImageRef, parse_scanner_output, to_secret_data};
use trivy_support::{ALPINE_DIGEST, compress, read, scanner, ts};

#[test]
fn upstreams_fixture_gives_upstreams_report() {
    for output in [
        read("exposedsecret_report.json"),
        compress(&read("exposedsecret_report.json")),
    ] {
        let trivy = parse_scanner_output(&output).unwrap();
        let data = to_secret_data(
            &trivy,
            &ImageRef::parse("alpine:3.10.2").unwrap(),
            scanner(),
            ts(),
        );
        let got = serde_json::to_value(&data).unwrap();
        let want = serde_json::json!({
            "updateTimestamp": "2024-05-01T10:00:00Z",
            "scanner": {"name": "Trivy", "vendor": "Aqua Security", "version": "0.65.0"},
            "registry": {"server": "index.docker.io"},
            "artifact": {"repository": "library/alpine", "tag": "3.10.2", "digest": ALPINE_DIGEST},
            "summary": {"criticalCount": 3, "highCount": 1, "mediumCount": 0, "lowCount": 0},
            "secrets": [
                {"target": "/app/config/secret.yaml", "ruleID": "stripe-publishable-token",
                 "category": "Stripe", "severity": "HIGH", "title": "Stripe",
                 "match": "publishable_key: *****"},
                {"target": "/app/config/secret.yaml", "ruleID": "stripe-access-token",
                 "category": "Stripe", "severity": "CRITICAL", "title": "Stripe",
                 "match": "secret_key: *****"},
                {"target": "/etc/apt/s3auth.conf", "ruleID": "aws-access-key-id",
                 "category": "AWS", "severity": "CRITICAL", "title": "AWS Access Key ID",
                 "match": "AccessKeyId = ********************"},
                {"target": "/etc/apt/s3auth.conf", "ruleID": "aws-secret-access-key",
                 "category": "AWS", "severity": "CRITICAL", "title": "AWS Secret Access Key",
                 "match": "SecretAccessKey = ****************************************"},
            ],
        });
        assert_eq!(got, want);
    }
}

#[test]
fn a_vulnerability_only_output_has_no_secrets() {
    let trivy = parse_scanner_output(&read("vulnerability_report.json")).unwrap();
    let data = to_secret_data(
        &trivy,
        &ImageRef::parse("alpine:3.10.2").unwrap(),
        scanner(),
        ts(),
    );
    assert!(data.secrets.is_empty());
    assert_eq!(data.summary.critical_count, 0);
    assert_eq!(data.artifact.digest.as_deref(), Some(ALPINE_DIGEST));
}

#[test]
fn trivys_secret_scan_output_with_code_excerpts_parses() {
    let trivy = parse_scanner_output(&read("secrets.json.golden")).unwrap();
    let data = to_secret_data(&trivy, &ImageRef::parse("app:1").unwrap(), scanner(), ts());
    let got: Vec<(&str, &str, SecretSeverity)> = data
        .secrets
        .iter()
        .map(|s| (s.target.as_str(), s.rule_id.as_str(), s.severity))
        .collect();
    assert_eq!(
        got,
        [
            ("deploy.sh", "aws-access-key-id", SecretSeverity::Critical),
            ("deploy.sh", "mysecret", SecretSeverity::High),
        ]
    );
    assert_eq!(
        data.secrets[0].matched,
        "export AWS_ACCESS_KEY_ID=********************"
    );
    assert_eq!(data.summary.critical_count, 1);
    assert_eq!(data.summary.high_count, 1);
}

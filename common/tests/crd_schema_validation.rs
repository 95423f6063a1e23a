//! Reports as we serialize them (and upstream's examples) validate against the generated CRD
//! schemas, with a small validator for what the API server checks on these schemas: types,
//! required fields, enums, minimums, date-time formats, and fields it would prune.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use common::reports::Scanner;
use common::reports::config_audit::{Check, ConfigAuditReport, ConfigAuditReportData};
use common::reports::crd::{config_audit_crd, exposed_secret_crd, sbom_crd, vulnerability_crd};
use common::reports::vulnerability::VulnerabilityReport;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::{Value, json};

fn schema_of(crd: &CustomResourceDefinition) -> Value {
    let version = &crd.spec.versions[0];
    serde_json::to_value(
        version
            .schema
            .as_ref()
            .unwrap()
            .open_api_v3_schema
            .as_ref()
            .unwrap(),
    )
    .unwrap()
}

/// Every violation of `schema` by `value`, as `path: problem`.
fn validate(schema: &Value, value: &Value, path: &str, errors: &mut Vec<String>) {
    let ty = schema["type"].as_str().unwrap_or("");
    let type_ok = match ty {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        _ => true,
    };
    if !type_ok {
        errors.push(format!("{path}: expected {ty}, got {value}"));
        return;
    }
    if let Some(values) = schema["enum"].as_array()
        && !values.contains(value)
    {
        errors.push(format!("{path}: {value} not in enum"));
    }
    if let (Some(min), Some(n)) = (schema["minimum"].as_f64(), value.as_f64())
        && n < min
    {
        errors.push(format!("{path}: {n} < {min}"));
    }
    if schema["format"] == "date-time"
        && value.as_str().unwrap().parse::<jiff::Timestamp>().is_err()
    {
        errors.push(format!("{path}: not a date-time: {value}"));
    }
    if let Value::Object(fields) = value {
        for required in schema["required"].as_array().into_iter().flatten() {
            if !fields.contains_key(required.as_str().unwrap()) {
                errors.push(format!("{path}: missing required {required}"));
            }
        }
        let preserve = schema["x-kubernetes-preserve-unknown-fields"] == true;
        for (name, field) in fields {
            let sub = format!("{path}.{name}");
            if let Some(prop) = schema["properties"].get(name) {
                validate(prop, field, &sub, errors);
            } else if schema["additionalProperties"].is_object() {
                validate(&schema["additionalProperties"], field, &sub, errors);
            } else if !preserve && ty == "object" && schema.get("properties").is_some() {
                errors.push(format!("{sub}: unknown field, would be pruned"));
            }
        }
    }
    if let Value::Array(items) = value {
        for (i, item) in items.iter().enumerate() {
            validate(&schema["items"], item, &format!("{path}[{i}]"), errors);
        }
    }
}

fn violations(crd: &CustomResourceDefinition, value: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    validate(&schema_of(crd), value, "", &mut errors);
    errors
}

fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/data/report-examples")
}

fn example(name: &str) -> Value {
    let text = std::fs::read_to_string(examples_dir().join(name)).unwrap();
    serde_yaml_ng::from_str(&text.replace("uid: null", "uid: \"\"")).unwrap()
}

#[test]
fn config_audit_reports_validate() {
    let crd = config_audit_crd().unwrap();
    for name in [
        "pod-configauditreport-expected.yaml",
        "replicaset-configauditreport-expected.yaml",
    ] {
        let upstream = example(name);
        assert_eq!(violations(&crd, &upstream), Vec::<String>::new(), "{name}");
        let ours: ConfigAuditReport = serde_json::from_value(upstream).unwrap();
        let ours = serde_json::to_value(&ours).unwrap();
        assert_eq!(
            violations(&crd, &ours),
            Vec::<String>::new(),
            "{name} re-serialized"
        );
    }
    let built = ConfigAuditReport::new(
        Default::default(),
        ConfigAuditReportData::from_checks(
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                jiff::Timestamp::now(),
            )),
            Scanner::trivy("0.50.0"),
            vec![Check {
                check_id: "KSV001".into(),
                severity: "HIGH".into(),
                ..Check::default()
            }],
        ),
    );
    let built = serde_json::to_value(&built).unwrap();
    assert_eq!(violations(&crd, &built), Vec::<String>::new());
}

#[test]
fn vulnerability_reports_validate() {
    let crd = vulnerability_crd().unwrap();
    let upstream = example("vulnerability-ttl.yaml");
    // The example was written by an older upstream, before `os` and the two dates were
    // required; everything else must validate, and our re-serialization fills them in.
    let problems = violations(&crd, &upstream);
    assert_eq!(
        problems,
        [
            ".report: missing required \"os\"",
            ".report.vulnerabilities[0]: missing required \"lastModifiedDate\"",
            ".report.vulnerabilities[0]: missing required \"publishedDate\"",
        ]
    );
    let ours: VulnerabilityReport = serde_json::from_value(upstream).unwrap();
    let ours = serde_json::to_value(&ours).unwrap();
    assert_eq!(violations(&crd, &ours), Vec::<String>::new());
}

#[test]
fn exposed_secret_reports_validate() {
    let crd = exposed_secret_crd().unwrap();
    let json = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/data/trivy-json/exposedsecret_report.json"
    ))
    .unwrap();
    let trivy = common::trivy::parse_scanner_output(&json).unwrap();
    let image = common::trivy::ImageRef::parse("alpine:3.10.2").unwrap();
    let data = common::trivy::to_secret_data(
        &trivy,
        &image,
        Scanner::trivy("0.58.1"),
        jiff::Timestamp::UNIX_EPOCH,
    );
    let report = common::reports::exposed_secret::ExposedSecretReport::new(
        kube::api::ObjectMeta {
            name: Some("replicaset-web-abc-app".into()),
            namespace: Some("default".into()),
            ..Default::default()
        },
        data,
    );
    let value = serde_json::to_value(&report).unwrap();
    assert_eq!(violations(&crd, &value), Vec::<String>::new());
    let mut bad = value.clone();
    bad["report"]["secrets"][0]["severity"] = json!("UNKNOWN");
    bad["report"]["summary"]["lowCount"] = json!(-1);
    assert_eq!(
        violations(&crd, &bad).len(),
        2,
        "{:?}",
        violations(&crd, &bad)
    );
}

#[test]
fn sbom_reports_validate() {
    let crd = sbom_crd().unwrap();
    for file in [
        "alpine_sbom.json",
        "fluentd-multiple-lockfiles.cdx.json.golden",
    ] {
        let json = std::fs::read(format!(
            "{}/../tests/data/trivy-cyclonedx/{file}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let bom = common::trivy::parse_cyclonedx(&json).unwrap();
        let data = common::trivy::to_sbom_data(
            bom,
            None,
            Default::default(),
            Scanner::trivy("0.58.1"),
            jiff::Timestamp::UNIX_EPOCH,
        );
        let report = common::reports::sbom::SbomReport::new(
            kube::api::ObjectMeta {
                name: Some("replicaset-web-abc-app".into()),
                namespace: Some("default".into()),
                ..Default::default()
            },
            data,
        );
        let value = serde_json::to_value(&report).unwrap();
        assert_eq!(violations(&crd, &value), Vec::<String>::new(), "{file}");
    }
}

#[test]
fn validator_catches_violations() {
    let crd = config_audit_crd().unwrap();
    let base =
        json!({"report": {"checks": [{"checkID": "A", "severity": "LOW", "success": true}]}});
    assert_eq!(violations(&crd, &base), Vec::<String>::new());
    let cases = [
        (
            json!({"report": {}}),
            ".report: missing required \"checks\"",
        ),
        (
            json!({"report": {"checks": [{"severity": "LOW", "success": true}]}}),
            ".report.checks[0]: missing required \"checkID\"",
        ),
        (
            json!({"report": {"checks": [], "summary": {"criticalCount": -1, "highCount": 0,
                "mediumCount": 0, "lowCount": 0}}}),
            ".report.summary.criticalCount: -1 < 0",
        ),
        (
            json!({"report": {"checks": [], "updateTimestamp": "yesterday"}}),
            ".report.updateTimestamp: not a date-time: \"yesterday\"",
        ),
        (
            json!({"report": {"checks": [], "extra": 1}}),
            ".report.extra: unknown field, would be pruned",
        ),
    ];
    for (value, want) in cases {
        assert!(
            violations(&crd, &value).contains(&want.to_owned()),
            "{value}: {want}"
        );
    }
    let vuln = vulnerability_crd().unwrap();
    let bad_severity = json!({"report": {"vulnerabilities": [{"severity": "SEVERE"}]}});
    assert!(
        violations(&vuln, &bad_severity)
            .contains(&".report.vulnerabilities[0].severity: \"SEVERE\" not in enum".to_owned())
    );
}

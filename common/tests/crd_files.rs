//! The committed CRDs in `deploy/crds/` are what the code generates, and the generated CRDs
//! carry upstream's names, columns, required fields, enums and unknown-field handling.
//!
//! Regenerate the committed files with `UPDATE_CRDS=1 cargo test -p common --test crd_files`.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::PathBuf;

use common::reports::crd::{all_crds_yaml, crd_files};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, JSONSchemaProps,
};
use serde::Deserialize;

fn crd_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/crds")
}

#[test]
fn committed_crds_are_up_to_date() {
    let dir = crd_dir();
    let files = crd_files().unwrap();
    if std::env::var_os("UPDATE_CRDS").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(&dir).unwrap();
        for (name, yaml) in &files {
            std::fs::write(dir.join(name), yaml).unwrap();
        }
    }
    let mut stale = Vec::new();
    for (name, yaml) in &files {
        let path = dir.join(name);
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if &committed != yaml {
            stale.push(path.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "CRD files differ from the generated ones: {stale:?}\n\
         regenerate with: UPDATE_CRDS=1 cargo test -p common --test crd_files"
    );
    let generated: BTreeSet<String> = files.into_iter().map(|(n, _)| n).collect();
    let committed: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| {
            n.ends_with(".aquasecurity.github.io.yaml")
                || n.ends_with(".trivy-operator-rs.dev.yaml")
        })
        .collect();
    assert_eq!(committed, generated, "stale CRD files in {}", dir.display());
}

fn parse_all() -> Vec<CustomResourceDefinition> {
    let yaml = all_crds_yaml().unwrap();
    assert!(yaml.starts_with("---\n"));
    serde_yaml_ng::Deserializer::from_str(&yaml)
        .map(|doc| CustomResourceDefinition::deserialize(doc).unwrap())
        .collect()
}

fn node<'a>(root: &'a JSONSchemaProps, path: &[&str]) -> &'a JSONSchemaProps {
    let mut node = root;
    for step in path {
        node = match *step {
            "[]" => match node.items.as_ref().unwrap() {
                k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaPropsOrArray::Schema(s) => s,
                other => panic!("items at {step}: {other:?}"),
            },
            name => node
                .properties
                .as_ref()
                .and_then(|p| p.get(name))
                .unwrap_or_else(|| panic!("no property {name} in {path:?}")),
        };
    }
    node
}

fn required(root: &JSONSchemaProps, path: &[&str]) -> Vec<String> {
    node(root, path).required.clone().unwrap_or_default()
}

struct Expect {
    name: &'static str,
    kind: &'static str,
    plural: &'static str,
    singular: &'static str,
    short_names: &'static [&'static str],
    /// (name, jsonPath, type, priority)
    columns: &'static [(&'static str, &'static str, &'static str, i32)],
    required: &'static [(&'static [&'static str], &'static [&'static str])],
    enums: &'static [(&'static [&'static str], &'static [&'static str])],
    counters: &'static [&'static [&'static str]],
}

/// Upstream's infra assessment kinds: a config audit's columns; `report` requires its
/// checks, scanner and summary.
const CLUSTER_INFRA_ASSESSMENT: Expect = Expect {
    name: "clusterinfraassessmentreports.aquasecurity.github.io",
    kind: "ClusterInfraAssessmentReport",
    plural: "clusterinfraassessmentreports",
    singular: "clusterinfraassessmentreport",
    short_names: &["clusterinfraassessment"],
    required: &[
        (&[], &["report"]),
        (&["report"], &["checks", "scanner", "summary"]),
        (
            &["report", "checks", "[]"],
            &["checkID", "severity", "success"],
        ),
        (&["report", "checks", "[]", "scope"], &["type", "value"]),
        (&["report", "scanner"], &["name", "vendor", "version"]),
        (
            &["report", "summary"],
            &["criticalCount", "highCount", "lowCount", "mediumCount"],
        ),
    ],
    ..CONFIG_AUDIT
};

const INFRA_ASSESSMENT: Expect = Expect {
    name: "infraassessmentreports.aquasecurity.github.io",
    kind: "InfraAssessmentReport",
    plural: "infraassessmentreports",
    singular: "infraassessmentreport",
    short_names: &["infraassessment", "infraassessments"],
    ..CLUSTER_INFRA_ASSESSMENT
};

/// Upstream's RBAC assessment kinds: an infra assessment's shape.
const CLUSTER_RBAC_ASSESSMENT: Expect = Expect {
    name: "clusterrbacassessmentreports.aquasecurity.github.io",
    kind: "ClusterRbacAssessmentReport",
    plural: "clusterrbacassessmentreports",
    singular: "clusterrbacassessmentreport",
    short_names: &["clusterrbacassessmentreport"],
    ..CLUSTER_INFRA_ASSESSMENT
};

const RBAC_ASSESSMENT: Expect = Expect {
    name: "rbacassessmentreports.aquasecurity.github.io",
    kind: "RbacAssessmentReport",
    plural: "rbacassessmentreports",
    singular: "rbacassessmentreport",
    short_names: &["rbacassessment", "rbacassessments"],
    ..CLUSTER_INFRA_ASSESSMENT
};

const CONFIG_AUDIT: Expect = Expect {
    name: "configauditreports.aquasecurity.github.io",
    kind: "ConfigAuditReport",
    plural: "configauditreports",
    singular: "configauditreport",
    short_names: &["configaudit", "configaudits"],
    columns: &[
        ("Scanner", ".report.scanner.name", "string", 0),
        ("Age", ".metadata.creationTimestamp", "date", 0),
        ("Critical", ".report.summary.criticalCount", "integer", 1),
        ("High", ".report.summary.highCount", "integer", 1),
        ("Medium", ".report.summary.mediumCount", "integer", 1),
        ("Low", ".report.summary.lowCount", "integer", 1),
    ],
    required: &[
        (&[], &["report"]),
        (&["report"], &["checks"]),
        (
            &["report", "checks", "[]"],
            &["checkID", "severity", "success"],
        ),
        (&["report", "checks", "[]", "scope"], &["type", "value"]),
        (&["report", "scanner"], &["name", "vendor", "version"]),
        (
            &["report", "summary"],
            &["criticalCount", "highCount", "lowCount", "mediumCount"],
        ),
        (&["report", "checks", "[]", "messages"], &[]),
    ],
    enums: &[],
    counters: &[
        &["report", "summary", "criticalCount"],
        &["report", "summary", "lowCount"],
    ],
};

const CLUSTER_CONFIG_AUDIT: Expect = Expect {
    name: "clusterconfigauditreports.aquasecurity.github.io",
    kind: "ClusterConfigAuditReport",
    plural: "clusterconfigauditreports",
    singular: "clusterconfigauditreport",
    short_names: &["clusterconfigaudit"],
    ..CONFIG_AUDIT
};

const VULNERABILITY: Expect = Expect {
    name: "vulnerabilityreports.aquasecurity.github.io",
    kind: "VulnerabilityReport",
    plural: "vulnerabilityreports",
    singular: "vulnerabilityreport",
    short_names: &["vuln", "vulns"],
    columns: &[
        ("Repository", ".report.artifact.repository", "string", 0),
        ("Tag", ".report.artifact.tag", "string", 0),
        ("Scanner", ".report.scanner.name", "string", 0),
        ("Age", ".metadata.creationTimestamp", "date", 0),
        ("Critical", ".report.summary.criticalCount", "integer", 1),
        ("High", ".report.summary.highCount", "integer", 1),
        ("Medium", ".report.summary.mediumCount", "integer", 1),
        ("Low", ".report.summary.lowCount", "integer", 1),
        ("Unknown", ".report.summary.unknownCount", "integer", 1),
    ],
    required: &[
        (&[], &["report"]),
        (
            &["report"],
            &[
                "artifact",
                "os",
                "scanner",
                "summary",
                "updateTimestamp",
                "vulnerabilities",
            ],
        ),
        (&["report", "scanner"], &["name", "vendor", "version"]),
        (
            &["report", "summary"],
            &[
                "criticalCount",
                "highCount",
                "lowCount",
                "mediumCount",
                "unknownCount",
            ],
        ),
        (
            &["report", "vulnerabilities", "[]"],
            &[
                "fixedVersion",
                "installedVersion",
                "lastModifiedDate",
                "publishedDate",
                "resource",
                "severity",
                "title",
                "vulnerabilityID",
            ],
        ),
        (&["report", "artifact"], &[]),
        (&["report", "os"], &[]),
    ],
    enums: &[(
        &["report", "vulnerabilities", "[]", "severity"],
        &["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"],
    )],
    counters: &[
        &["report", "summary", "criticalCount"],
        &["report", "summary", "unknownCount"],
        &["report", "summary", "noneCount"],
    ],
};

/// Upstream's `deploy/helm/crds/aquasecurity.github.io_exposedsecretreports.yaml` (v0.32).
const EXPOSED_SECRET: Expect = Expect {
    name: "exposedsecretreports.aquasecurity.github.io",
    kind: "ExposedSecretReport",
    plural: "exposedsecretreports",
    singular: "exposedsecretreport",
    short_names: &["exposedsecret", "exposedsecrets"],
    columns: &[
        ("Repository", ".report.artifact.repository", "string", 0),
        ("Tag", ".report.artifact.tag", "string", 0),
        ("Scanner", ".report.scanner.name", "string", 0),
        ("Age", ".metadata.creationTimestamp", "date", 0),
        ("Critical", ".report.summary.criticalCount", "integer", 1),
        ("High", ".report.summary.highCount", "integer", 1),
        ("Medium", ".report.summary.mediumCount", "integer", 1),
        ("Low", ".report.summary.lowCount", "integer", 1),
    ],
    required: &[
        (&[], &["report"]),
        (
            &["report"],
            &[
                "artifact",
                "scanner",
                "secrets",
                "summary",
                "updateTimestamp",
            ],
        ),
        (&["report", "scanner"], &["name", "vendor", "version"]),
        (
            &["report", "secrets", "[]"],
            &["category", "match", "ruleID", "severity", "target", "title"],
        ),
        (
            &["report", "summary"],
            &["criticalCount", "highCount", "lowCount", "mediumCount"],
        ),
        (&["report", "artifact"], &[]),
        (&["report", "registry"], &[]),
    ],
    enums: &[(
        &["report", "secrets", "[]", "severity"],
        &["CRITICAL", "HIGH", "MEDIUM", "LOW"],
    )],
    counters: &[
        &["report", "summary", "criticalCount"],
        &["report", "summary", "lowCount"],
    ],
};

/// Upstream's `deploy/helm/crds/aquasecurity.github.io_sbomreports.yaml` (v0.32).
const SBOM: Expect = Expect {
    name: "sbomreports.aquasecurity.github.io",
    kind: "SbomReport",
    plural: "sbomreports",
    singular: "sbomreport",
    short_names: &["sbom", "sboms"],
    columns: &[
        ("Repository", ".report.artifact.repository", "string", 0),
        ("Tag", ".report.artifact.tag", "string", 0),
        ("Scanner", ".report.scanner.name", "string", 0),
        ("Age", ".metadata.creationTimestamp", "date", 0),
        (
            "Components",
            ".report.summary.componentsCount",
            "integer",
            1,
        ),
        (
            "Dependencies",
            ".report.summary.dependenciesCount",
            "integer",
            1,
        ),
    ],
    required: &[
        (&[], &["report"]),
        (
            &["report"],
            &[
                "artifact",
                "components",
                "scanner",
                "summary",
                "updateTimestamp",
            ],
        ),
        (&["report", "components"], &["bomFormat", "specVersion"]),
        (&["report", "scanner"], &["name", "vendor", "version"]),
        (
            &["report", "summary"],
            &["componentsCount", "dependenciesCount"],
        ),
        (&["report", "components", "components", "[]"], &[]),
        (&["report", "components", "dependencies", "[]"], &[]),
        (&["report", "components", "metadata", "component"], &[]),
    ],
    enums: &[],
    counters: &[
        &["report", "summary", "componentsCount"],
        &["report", "summary", "dependenciesCount"],
    ],
};

fn check(crd: &CustomResourceDefinition, want: &Expect) {
    assert_eq!(crd.metadata.name.as_deref(), Some(want.name));
    let spec = &crd.spec;
    assert_eq!(spec.group, "aquasecurity.github.io");
    // Upstream's cluster-scoped kinds are the `Cluster…` ones.
    let scope = if want.kind.starts_with("Cluster") {
        "Cluster"
    } else {
        "Namespaced"
    };
    assert_eq!(spec.scope, scope);
    assert_eq!(spec.names.kind, want.kind);
    assert_eq!(
        spec.names.list_kind.as_deref(),
        Some(format!("{}List", want.kind).as_str())
    );
    assert_eq!(spec.names.plural, want.plural);
    assert_eq!(spec.names.singular.as_deref(), Some(want.singular));
    assert_eq!(spec.names.short_names.clone().unwrap(), want.short_names);
    assert_eq!(spec.versions.len(), 1);
    let version = &spec.versions[0];
    assert_eq!(version.name, "v1alpha1");
    assert!(version.served && version.storage);

    let columns: Vec<(String, String, String, i32)> = version
        .additional_printer_columns
        .clone()
        .unwrap()
        .into_iter()
        .map(|c| (c.name, c.json_path, c.type_, c.priority.unwrap_or(0)))
        .collect();
    let want_columns: Vec<(String, String, String, i32)> = want
        .columns
        .iter()
        .map(|(n, p, t, prio)| ((*n).into(), (*p).into(), (*t).into(), *prio))
        .collect();
    assert_eq!(columns, want_columns, "{}", want.kind);

    let root = version
        .schema
        .as_ref()
        .unwrap()
        .open_api_v3_schema
        .as_ref()
        .unwrap();
    assert_eq!(root.x_kubernetes_preserve_unknown_fields, Some(true));
    assert_eq!(root.type_.as_deref(), Some("object"));
    for (path, fields) in want.required {
        let mut got = required(root, path);
        got.sort();
        let mut fields: Vec<String> = fields.iter().map(|f| (*f).to_owned()).collect();
        fields.sort();
        assert_eq!(got, fields, "{} required at {path:?}", want.kind);
    }
    for (path, values) in want.enums {
        let got: Vec<String> = node(root, path)
            .enum_
            .clone()
            .unwrap()
            .into_iter()
            .map(|v| v.0.as_str().unwrap().to_owned())
            .collect();
        assert_eq!(got, *values, "{} enum at {path:?}", want.kind);
    }
    for path in want.counters {
        let counter = node(root, path);
        assert_eq!(counter.type_.as_deref(), Some("integer"), "{path:?}");
        assert_eq!(counter.minimum, Some(0.0), "{path:?}");
    }
    // Every kind but the infra and RBAC assessments (upstream's have none) is dated.
    if !want.kind.contains("InfraAssessment") && !want.kind.contains("RbacAssessment") {
        assert_eq!(
            node(root, &["report", "updateTimestamp"]).format.as_deref(),
            Some("date-time")
        );
    }
    let json = serde_json::to_string(root).unwrap();
    for forbidden in ["$ref", "nullable", "anyOf", "oneOf", "allOf", "\"default\""] {
        assert!(
            !json.contains(forbidden),
            "{} schema has {forbidden}",
            want.kind
        );
    }
}

#[test]
fn generated_crds_match_upstream_contract() {
    let crds = parse_all();
    let find = |kind: &str| crds.iter().find(|c| c.spec.names.kind == kind);
    check(find("ConfigAuditReport").unwrap(), &CONFIG_AUDIT);
    check(
        find("VulnerabilityReport").expect("VulnerabilityReport CRD"),
        &VULNERABILITY,
    );
    check(
        find("ExposedSecretReport").expect("ExposedSecretReport CRD"),
        &EXPOSED_SECRET,
    );
    check(find("SbomReport").expect("SbomReport CRD"), &SBOM);
    check(
        find("ClusterInfraAssessmentReport").expect("ClusterInfraAssessmentReport CRD"),
        &CLUSTER_INFRA_ASSESSMENT,
    );
    check(
        find("InfraAssessmentReport").expect("InfraAssessmentReport CRD"),
        &INFRA_ASSESSMENT,
    );
    check(
        find("RbacAssessmentReport").expect("RbacAssessmentReport CRD"),
        &RBAC_ASSESSMENT,
    );
    check(
        find("ClusterRbacAssessmentReport").expect("ClusterRbacAssessmentReport CRD"),
        &CLUSTER_RBAC_ASSESSMENT,
    );
    check(
        find("ClusterConfigAuditReport").expect("ClusterConfigAuditReport CRD"),
        &CLUSTER_CONFIG_AUDIT,
    );
    assert_eq!(crds.len(), 10);
}

#[test]
fn the_image_report_crd_is_a_cluster_scoped_vulnerability_report_in_our_group() {
    let crds = parse_all();
    let find = |kind: &str| crds.iter().find(|c| c.spec.names.kind == kind).unwrap();
    let (image, vuln) = (
        find("ImageVulnerabilityReport"),
        find("VulnerabilityReport"),
    );
    assert_eq!(image.spec.scope, "Cluster");
    assert_eq!(image.spec.group, "trivy-operator-rs.dev");
    assert_eq!(
        image.metadata.name.as_deref(),
        Some("imagevulnerabilityreports.trivy-operator-rs.dev")
    );
    assert_eq!(
        image.spec.names.short_names,
        Some(vec!["imagevuln".into(), "imagevulns".into()])
    );
    let schema = |c: &CustomResourceDefinition| {
        let v = &c.spec.versions[0];
        (
            serde_json::to_value(
                &v.schema
                    .as_ref()
                    .unwrap()
                    .open_api_v3_schema
                    .as_ref()
                    .unwrap()
                    .properties
                    .as_ref()
                    .unwrap()["report"],
            )
            .unwrap(),
            serde_json::to_value(&v.additional_printer_columns).unwrap(),
        )
    };
    assert_eq!(
        schema(image),
        schema(vuln),
        "the same report data and columns"
    );
}

//! The upstream ConfigAuditReport examples in `tests/data/report-examples/` parse into our
//! types, re-serialize losslessly, and match our names, labels, owner references and summary.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use common::labels::{self, report_labels};
use common::names::config_audit_report_name;
use common::owner::{owner_reference, workload_api_version};
use common::reports::config_audit::{ConfigAuditReport, ConfigAuditSummary};
use serde_json::Value;

fn examples() -> Vec<(PathBuf, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/data/report-examples");
    let mut files: Vec<(PathBuf, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.to_string_lossy()
                .ends_with("configauditreport-expected.yaml")
        })
        .map(|p| {
            // The examples leave the owner's uid null; ours is a string.
            let text = std::fs::read_to_string(&p)
                .unwrap()
                .replace("uid: null", "uid: \"\"");
            (p, text)
        })
        .collect();
    files.sort();
    assert!(files.len() >= 2, "examples missing in {}", dir.display());
    files
}

#[test]
fn examples_round_trip_losslessly() {
    for (path, text) in examples() {
        let original: Value = serde_yaml_ng::from_str(&text).unwrap();
        let report: ConfigAuditReport =
            serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let back = serde_json::to_value(&report).unwrap();
        assert_eq!(back["report"], original["report"], "{}", path.display());
        assert_eq!(back["apiVersion"], original["apiVersion"]);
        assert_eq!(back["kind"], original["kind"]);
        assert_eq!(back["metadata"], original["metadata"], "{}", path.display());
    }
}

#[test]
fn examples_match_our_names_labels_owners_and_summary() {
    for (path, text) in examples() {
        let report: ConfigAuditReport = serde_yaml_ng::from_str(&text).unwrap();
        let meta = &report.metadata;
        let owner = &meta.owner_references.as_ref().unwrap()[0];
        let (kind, name) = (owner.kind.as_str(), owner.name.as_str());
        let namespace = meta.namespace.as_deref().unwrap();
        let at = path.display();

        assert_eq!(
            meta.name.as_deref(),
            Some(config_audit_report_name(kind, name).as_str())
        );
        assert_eq!(
            owner,
            &owner_reference(workload_api_version(kind).unwrap(), kind, name, "")
        );

        let got = meta.labels.clone().unwrap();
        let (mut want, annotations) = report_labels(kind, name, namespace, "<HASH>");
        labels::add_plugin_config_hash(&mut want, "<HASH>");
        assert_eq!(got, want, "{at}");
        assert!(annotations.is_empty());

        assert_eq!(
            ConfigAuditSummary::from_checks(&report.report.checks),
            report.report.summary,
            "{at}"
        );
    }
}

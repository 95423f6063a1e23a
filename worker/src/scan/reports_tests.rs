#![allow(clippy::unwrap_used)]

use std::time::Duration;

use common::reports::Scanner;
use common::workload::WorkloadKind;

use super::*;
use crate::scan::JobResources;
use crate::task::Workload;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/data/trivy-json");

fn settings(ttl: Duration) -> ScanSettings {
    ScanSettings {
        namespace: "trivy-system".into(),
        trivy_image: "trivy".into(),
        trivy_version: "0.58.1".into(),
        timeout: Duration::from_secs(300),
        report_ttl: ttl,
        sbom_rescan_max_age: Duration::from_secs(7 * 24 * 3600),
        compress_logs: false,
        resources: JobResources {
            cpu_request: "1".into(),
            cpu_limit: "1".into(),
            memory_request: "1".into(),
            memory_limit: "1".into(),
            ephemeral_storage_request: "1Mi".into(),
            ephemeral_storage_limit: "1Gi".into(),
        },
        service_account: None,
        server: None,
        registry_secrets: Default::default(),
        detail: Default::default(),
        reporting_instance: None,
        recorder: None,
    }
}

fn subscriber(kind: WorkloadKind, name: &str, container: &str, image: &str) -> Subscriber {
    Subscriber {
        report_name: None,
        workload: Workload {
            kind,
            namespace: "apps".into(),
            name: name.into(),
            uid: format!("uid-{name}"),
        },
        container_name: container.into(),
        spec_hash: "spechash".into(),
        image: image.into(),
        pull_secrets: Vec::new(),
    }
}

fn alpine() -> (VulnerabilityReportData, ImageRef) {
    let json = std::fs::read(format!("{DATA}/alpine-310.json.golden")).unwrap();
    let trivy = common::trivy::parse_report(&json).unwrap();
    let image = ImageRef::parse("alpine:3.10").unwrap();
    let now: jiff::Timestamp = "2024-05-06T07:08:09.5Z".parse().unwrap();
    let data = common::trivy::to_report_data(&trivy, &image, Scanner::trivy("0.58.1"), now);
    (data, image)
}

#[test]
fn report_metadata_follows_upstream() {
    let (base, image) = alpine();
    let s = subscriber(
        WorkloadKind::ReplicaSet,
        "web-6d4cf56db6",
        "nginx",
        "alpine:3.10",
    );
    let data = for_subscriber(&base, &s, &image);
    let at = base.update_timestamp;
    let r = vulnerability_report(&s, "key", data, at, &settings(Duration::from_secs(86400)));
    let v = serde_json::to_value(&r).unwrap();
    assert_eq!(v["apiVersion"], "aquasecurity.github.io/v1alpha1");
    assert_eq!(v["kind"], "VulnerabilityReport");
    let meta = &v["metadata"];
    assert_eq!(meta["name"], "replicaset-web-6d4cf56db6-nginx");
    assert_eq!(meta["namespace"], "apps");
    assert_eq!(
        meta["labels"],
        serde_json::json!({
            "trivy-operator.resource.kind": "ReplicaSet",
            "trivy-operator.resource.name": "web-6d4cf56db6",
            "trivy-operator.resource.namespace": "apps",
            "trivy-operator.container.name": "nginx",
            "resource-spec-hash": "spechash",
            "app.kubernetes.io/managed-by": "trivy-operator",
        })
    );
    assert_eq!(
        meta["annotations"],
        serde_json::json!({
            "trivy-operator.aquasecurity.github.io/report-ttl": "24h0m0s",
            "trivy-operator-rs.dev/scan-key": "key",
            "trivy-operator-rs.dev/scanned-at": "2024-05-06T07:08:09Z",
        })
    );
    assert_eq!(
        meta["ownerReferences"],
        serde_json::json!([{
            "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-6d4cf56db6",
            "uid": "uid-web-6d4cf56db6", "controller": true, "blockOwnerDeletion": false,
        }])
    );
    assert_eq!(r.report, base);
    assert_eq!(
        scanned_at(&r),
        Some("2024-05-06T07:08:09Z".parse().unwrap())
    );
}

#[test]
fn no_ttl_annotation_when_disabled() {
    let (base, image) = alpine();
    let s = subscriber(WorkloadKind::Pod, "p", "c", "alpine:3.10");
    let r = vulnerability_report(
        &s,
        "k",
        for_subscriber(&base, &s, &image),
        base.update_timestamp,
        &settings(Duration::ZERO),
    );
    let annotations = r.metadata.annotations.unwrap();
    assert!(!annotations.contains_key(common::labels::REPORT_TTL));
    assert_eq!(r.metadata.name.unwrap(), "pod-p-c");
}

#[test]
fn each_subscriber_gets_its_own_artifact() {
    let (base, image) = alpine();
    let digest = "sha256:".to_owned() + &"a".repeat(64);
    let cases = [
        (
            "alpine:3.10",
            "index.docker.io",
            "library/alpine",
            Some("3.10"),
            None,
        ),
        (
            "mirror.local:5000/lib/alpine:stable",
            "mirror.local:5000",
            "lib/alpine",
            Some("stable"),
            None,
        ),
        (
            &*format!("quay.io/x/alpine@{digest}"),
            "quay.io",
            "x/alpine",
            None,
            Some(digest.as_str()),
        ),
        (
            "NOT A REF",
            "index.docker.io",
            "library/alpine",
            Some("3.10"),
            None,
        ),
    ];
    for (reference, registry, repository, tag, digest) in cases {
        let s = subscriber(WorkloadKind::DaemonSet, "d", "c", reference);
        let data = for_subscriber(&base, &s, &image);
        assert_eq!(data.registry.unwrap().server, registry, "{reference}");
        assert_eq!(data.artifact.repository, repository, "{reference}");
        assert_eq!(data.artifact.tag.as_deref(), tag, "{reference}");
        let want_digest = digest.map(str::to_owned).or(base.artifact.digest.clone());
        assert_eq!(data.artifact.digest, want_digest, "{reference}");
        assert_eq!(data.vulnerabilities, base.vulnerabilities);
        assert_eq!(data.summary, base.summary);
    }
}

#[test]
fn long_names_use_hashes() {
    let (base, image) = alpine();
    let long = "a".repeat(70);
    let s = subscriber(WorkloadKind::StatefulSet, &long, "c", "alpine:3.10");
    let r = vulnerability_report(
        &s,
        "k",
        for_subscriber(&base, &s, &image),
        base.update_timestamp,
        &settings(Duration::ZERO),
    );
    let name = r.metadata.name.clone().unwrap();
    assert_eq!(
        name,
        common::names::vulnerability_report_name("StatefulSet", &long, "c")
    );
    assert!(common::names::is_valid_label_value(&name));
    let labels = r.metadata.labels.unwrap();
    assert!(labels.contains_key(common::labels::RESOURCE_NAME_HASH));
    assert_eq!(
        r.metadata.annotations.unwrap()[common::labels::RESOURCE_NAME_ANNOTATION],
        long
    );
}

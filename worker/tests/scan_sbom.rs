//! SBOMs from the same scan Job: an init container writes the image's CycloneDX BOM, each
//! subscriber gets an SbomReport beside its VulnerabilityReport (same name, labels, owner),
//! and copies read the source's SbomReport pinned by its resourceVersion.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod scan_support;

use common::reports::exposed_secret::ExposedSecretReport;
use common::reports::sbom::SbomReport;
use common::reports::vulnerability::VulnerabilityReport;
use kube::api::Api;
use scan_support::*;
use worker::task::{ScanSource, StoredBom};

/// Upstream's secret fixture for the scan, upstream's alpine BOM for the SBOM.
const IMAGE: &str = "trivy-double.test/exposedsecret_report/sbom-alpine_sbom/app:1";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_job_writes_all_three_reports_and_copies_keep_the_sbom() {
    let sim = start(&["apps", "other"]).await;
    let web = sim.replicaset("apps", "web", &[("app", IMAGE)]).await;
    let counter = sim.job_counter().await;
    let mut t = task(IMAGE, vec![subscriber(&web, "app", IMAGE)]);
    t.secrets = true;
    t.sbom = true;
    let outcome = run_task(&sim, &t).await;
    assert!(outcome.error.is_none(), "{:?}", outcome.error);
    assert_eq!(
        counter.uids(&sim).await.len(),
        1,
        "one Job for all three reports"
    );
    sim.no_jobs_left().await;

    let sboms: Api<SbomReport> = Api::namespaced(sim.client.clone(), "apps");
    let vulns: Api<VulnerabilityReport> = Api::namespaced(sim.client.clone(), "apps");
    let secrets: Api<ExposedSecretReport> = Api::namespaced(sim.client.clone(), "apps");
    let sbom = sboms.get("replicaset-web-app").await.unwrap();
    let vuln = vulns.get("replicaset-web-app").await.unwrap();
    assert_eq!(
        secrets
            .get("replicaset-web-app")
            .await
            .unwrap()
            .report
            .secrets
            .len(),
        4
    );
    let bom = &sbom.report.components;
    assert_eq!(bom.bom_format, "CycloneDX");
    assert_eq!(bom.components.len(), 16);
    assert_eq!(sbom.report.summary.components_count, 17);
    assert_eq!(sbom.report.summary.dependencies_count, 17);
    let tools = &bom.metadata.as_ref().unwrap().tools.components;
    assert_eq!(tools[0].version, "0.58.1", "Trivy at the scanner's version");
    assert_eq!(sbom.report.artifact, vuln.report.artifact);
    assert_eq!(sbom.report.registry, vuln.report.registry);
    assert_eq!(sbom.metadata.labels, vuln.metadata.labels);
    assert_eq!(
        sbom.metadata.owner_references.as_ref().unwrap()[0].uid,
        web.uid
    );
    assert!(
        sbom.metadata.annotations.as_ref().unwrap()[common::reports::gauge::BYTES]
            .parse::<u64>()
            .unwrap()
            > 1000
    );
    let written = &outcome.written[0];
    assert_eq!(written.sbom_report_name, "replicaset-web-app");
    assert_eq!(
        written.sbom_resource_version,
        sbom.metadata.resource_version.clone().unwrap()
    );

    // A copy into another namespace: the source's BOM, no Job.
    let batch = sim.replicaset("other", "batch", &[("x", IMAGE)]).await;
    let counter = sim.job_counter().await;
    let mut copy = t.clone();
    copy.subscribers = vec![subscriber(&batch, "x", IMAGE)];
    copy.source = ScanSource::Copy {
        namespace: "apps".into(),
        name: written.name.clone(),
        resource_version: written.resource_version.clone(),
        secret: Some((
            written.secret_report_name.clone(),
            written.secret_resource_version.clone(),
        )),
        sbom: Some((
            written.sbom_report_name.clone(),
            written.sbom_resource_version.clone(),
        )),
    };
    let outcome = run_task(&sim, &copy).await;
    assert!(outcome.error.is_none(), "{:?}", outcome.error);
    assert!(counter.uids(&sim).await.is_empty(), "a copy runs no Job");
    let other: Api<SbomReport> = Api::namespaced(sim.client.clone(), "other");
    let copied = other.get("replicaset-batch-x").await.unwrap();
    assert_eq!(copied.report.components, sbom.report.components);
    assert_eq!(copied.metadata.owner_references.unwrap()[0].uid, batch.uid);

    // Without an SBOM source, a copy that wants one refuses.
    let mut bare = copy.clone();
    if let ScanSource::Copy { sbom, .. } = &mut bare.source {
        *sbom = None;
    }
    let outcome = run_task(&sim, &bare).await;
    assert_eq!(outcome.error.unwrap().reason(), "SourceReportIncomplete");
}

/// Vulnerabilities (Trivy's alpine 3.10 output) and upstream's alpine BOM.
const VULNERABLE: &str = "trivy-double.test/alpine-310/sbom-alpine_sbom/app:1";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rescan_scans_the_stored_sbom_for_vulnerabilities() {
    let (vulnerabilities, secrets) = rescan_from_the_stored_sbom(VULNERABLE).await;
    assert_eq!((vulnerabilities, secrets), (4, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rescan_from_the_stored_sbom_keeps_the_secrets_of_its_scan() {
    // `trivy sbom` finds no secrets: they are those of the scan the SBOM came from.
    let (vulnerabilities, secrets) = rescan_from_the_stored_sbom(IMAGE).await;
    assert_eq!((vulnerabilities, secrets), (0, 4));
}

/// Scans `image`, rescans it from its stored SBOM (checking the reports are those of the
/// first scan, written again), then from an SBOM edited since (the image is scanned);
/// returns the vulnerabilities and secrets reported.
async fn rescan_from_the_stored_sbom(image: &str) -> (usize, usize) {
    let sim = start(&["apps"]).await;
    let web = sim.replicaset("apps", "web", &[("app", image)]).await;
    let mut t = task(image, vec![subscriber(&web, "app", image)]);
    // Keyed as the leader keys it: by the digest the workload's Pods run (kube-sim's).
    t.scan_key = kube_sim::kubelet::image::image_id(image);
    t.secrets = true;
    t.sbom = true;
    let first = run_task(&sim, &t).await;
    assert!(first.error.is_none(), "{:?}", first.error);
    let written = first.written[0].clone();
    let vulns: Api<VulnerabilityReport> = Api::namespaced(sim.client.clone(), "apps");
    let secrets: Api<ExposedSecretReport> = Api::namespaced(sim.client.clone(), "apps");
    let sboms: Api<SbomReport> = Api::namespaced(sim.client.clone(), "apps");
    let name = "replicaset-web-app";
    let (vuln, secret, sbom) = (
        vulns.get(name).await.unwrap(),
        secrets.get(name).await.unwrap(),
        sboms.get(name).await.unwrap(),
    );

    // The rescan: one Job, of the stored SBOM (no image read, no SBOM container).
    let counter = sim.job_counter().await;
    let mut rescan = t.clone();
    rescan.source = ScanSource::StoredBom(StoredBom {
        namespace: "apps".into(),
        sbom: (
            written.sbom_report_name.clone(),
            written.sbom_resource_version.clone(),
        ),
        secret: Some((
            written.secret_report_name.clone(),
            written.secret_resource_version.clone(),
        )),
    });
    let outcome = run_task(&sim, &rescan).await;
    assert!(outcome.error.is_none(), "{:?}", outcome.error);
    let jobs: Vec<String> = counter.jobs(&sim).await.into_values().collect();
    assert_eq!(jobs, ["vuln;from-sbom"]);
    sim.no_jobs_left().await;
    let again = vulns.get(name).await.unwrap();
    assert_eq!(again.report.vulnerabilities, vuln.report.vulnerabilities);
    assert_eq!(again.report.summary, vuln.report.summary);
    assert!(again.report.update_timestamp >= vuln.report.update_timestamp);
    // The secrets of the scan the SBOM came from, and the SBOM itself, written again.
    let secrets_again = secrets.get(name).await.unwrap();
    assert_eq!(secrets_again.report.secrets, secret.report.secrets);
    assert_eq!(
        secrets_again.report.update_timestamp,
        again.report.update_timestamp
    );
    assert_eq!(
        sboms.get(name).await.unwrap().report.components,
        sbom.report.components
    );
    let rewritten = &outcome.written[0];
    assert!(rewritten.shareable);
    assert_eq!(rewritten.sbom_report_name, name);
    assert_eq!(rewritten.secret_report_name, name);
    // The BOM's Secret goes with its Job.
    let all: Api<k8s_openapi::api::core::v1::Secret> =
        Api::namespaced(sim.client.clone(), OPERATOR_NS);
    eventually("the BOM secret to be collected with its Job", || {
        let all = all.clone();
        async move {
            let list = all.list(&Default::default()).await.unwrap();
            (!list
                .items
                .iter()
                .any(|s| s.metadata.name.as_deref().unwrap_or("").ends_with("-bom")))
            .then_some(())
        }
    })
    .await;

    // A stored SBOM edited since this operator wrote it is not trusted: the image is
    // scanned as on a first scan.
    let counter = sim.job_counter().await;
    let mut edited = rescan.clone();
    if let ScanSource::StoredBom(stored) = &mut edited.source {
        stored.sbom.1 = "1".into();
    }
    let outcome = run_task(&sim, &edited).await;
    assert!(outcome.error.is_none(), "{:?}", outcome.error);
    let jobs: Vec<String> = counter.jobs(&sim).await.into_values().collect();
    assert_eq!(jobs, ["vuln,secret;sbom"]);
    (
        vuln.report.vulnerabilities.len(),
        secret.report.secrets.len(),
    )
}

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
use worker::task::ScanSource;

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

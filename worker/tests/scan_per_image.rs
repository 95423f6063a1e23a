//! The per-image storage mode at the worker: a scan writes the image's whole list once into
//! its ImageVulnerabilityReport and each subscriber's report keeps the summary, the kept
//! severities and the image report's name; a copy takes the image report's whole list; a
//! summary-only report is never offered as a copy source.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod scan_support;

use std::time::Duration;

use common::reports::image_vulnerability::{IMAGE_REPORT, ImageVulnerabilityReport};
use common::reports::vulnerability::VulnerabilityReport;
use kube::api::Api;
use scan_support::*;
use worker::task::ScanSource;

fn image_report_name(report: &VulnerabilityReport) -> Option<String> {
    report
        .metadata
        .annotations
        .as_ref()?
        .get(IMAGE_REPORT)
        .cloned()
}

/// Scans `debian:buster` (a CRITICAL and a LOW) for ReplicaSet `apps/web` in the
/// per-image mode.
async fn scan_web(
    sim: &Sim,
    settings: &worker::scan::ScanSettings,
    summary_only: bool,
) -> worker::scan::Outcome {
    let web = sim
        .replicaset("apps", "web", &[("app", "debian:buster")])
        .await;
    let mut scan = task(
        "debian:buster",
        vec![subscriber(&web, "app", "debian:buster")],
    );
    scan.per_image = true;
    scan.summary_only = summary_only;
    worker::scan::run_task(&sim.client, settings, &scan).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scans_store_the_list_once_and_copies_read_it_back() {
    let sim = start(&["apps", "other"]).await;
    let settings = settings(Duration::from_secs(120));
    let outcome = scan_web(&sim, &settings, false).await;
    assert!(outcome.error.is_none(), "{:?}", outcome.error);
    assert!(outcome.written[0].shareable);
    sim.no_jobs_left().await;

    let reports: Api<VulnerabilityReport> = Api::namespaced(sim.client.clone(), "apps");
    let source = reports.get("replicaset-web-app").await.unwrap();
    let name = image_report_name(&source).expect("names its image report");
    let images: Api<ImageVulnerabilityReport> = Api::all(sim.client.clone());
    let image = images.get(&name).await.unwrap();
    assert_eq!(image.report.vulnerabilities.len(), 2);
    assert!(
        image
            .report
            .vulnerabilities
            .iter()
            .any(|v| v.description.is_some())
    );
    assert_eq!(source.report.summary, image.report.summary);
    assert_eq!(source.report.summary.low_count, 1);
    let kept: Vec<_> = source.report.vulnerabilities.iter().collect();
    assert_eq!(kept.len(), 1, "only the CRITICAL");
    assert!(kept[0].description.is_none() && kept[0].links.is_none());

    // A copy to another namespace takes the image report's whole list, names it, and runs
    // no Job.
    let api = sim
        .replicaset("other", "api", &[("main", "debian:buster")])
        .await;
    let counter = sim.job_counter().await;
    let mut copy = task(
        "debian:buster",
        vec![subscriber(&api, "main", "debian:buster")],
    );
    copy.per_image = true;
    copy.source = ScanSource::Copy {
        namespace: "apps".into(),
        name: "replicaset-web-app".into(),
        resource_version: source.metadata.resource_version.clone().unwrap(),
        secret: None,
        sbom: None,
    };
    run(&sim, &settings, &copy).await.unwrap();
    assert!(counter.uids(&sim).await.is_empty(), "a copy runs no Job");
    let other: Api<VulnerabilityReport> = Api::namespaced(sim.client.clone(), "other");
    let copied = other.get("replicaset-api-main").await.unwrap();
    assert_eq!(image_report_name(&copied).as_deref(), Some(name.as_str()));
    assert_eq!(copied.report.summary, image.report.summary);
    assert_eq!(copied.report.vulnerabilities.len(), 1);

    // Copied in the default mode, the whole list comes back from the image report.
    let full = sim
        .replicaset("other", "full", &[("main", "debian:buster")])
        .await;
    let mut back = copy.clone();
    back.per_image = false;
    back.subscribers = vec![subscriber(&full, "main", "debian:buster")];
    run(&sim, &settings, &back).await.unwrap();
    let full_report = other.get("replicaset-full-main").await.unwrap();
    assert_eq!(full_report.report.vulnerabilities.len(), 2);
    assert_eq!(image_report_name(&full_report), None);

    // The image report gone, a copy fails clearly (the leader then rescans).
    images.delete(&name, &Default::default()).await.unwrap();
    let error = run(&sim, &settings, &copy).await.unwrap_err();
    assert_eq!(error.reason(), "ImageReportGone", "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summary_only_reports_are_not_copy_sources() {
    let sim = start(&["apps"]).await;
    let settings = settings(Duration::from_secs(120));
    let outcome = scan_web(&sim, &settings, true).await;
    assert!(outcome.error.is_none(), "{:?}", outcome.error);
    assert!(!outcome.written[0].shareable, "an empty list is not copied");
    let reports: Api<VulnerabilityReport> = Api::namespaced(sim.client.clone(), "apps");
    let report = reports.get("replicaset-web-app").await.unwrap();
    assert!(report.report.vulnerabilities.is_empty());
    assert_eq!(report.report.summary.critical_count, 1);
    assert_eq!(
        image_report_name(&report),
        None,
        "no image report over budget"
    );
    let images: Api<ImageVulnerabilityReport> = Api::all(sim.client.clone());
    assert!(
        images
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

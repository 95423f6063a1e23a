//! A scan whose source is a fresh report of the same image: no Job, the source's data and
//! scan time, each subscriber's own artifact, name, labels and owner.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod scan_support;

use std::time::Duration;

use common::reports::vulnerability::VulnerabilityReport;
use kube::api::Api;
use scan_support::*;
use worker::scan::reports::SCANNED_AT_ANNOTATION;
use worker::task::ScanSource;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_keep_the_data_and_use_each_subscribers_artifact() {
    let sim = start(&["apps", "other"]).await;
    let settings = settings(Duration::from_secs(120));
    let first = sim
        .replicaset("apps", "web", &[("app", "alpine:3.10")])
        .await;
    let t = task(
        "alpine:3.10",
        vec![subscriber(&first, "app", "alpine:3.10")],
    );
    run(&sim, &settings, &t).await.unwrap();
    sim.no_jobs_left().await;
    let source_api: Api<VulnerabilityReport> = Api::namespaced(sim.client.clone(), "apps");
    let source = source_api.get("replicaset-web-app").await.unwrap();

    let mirror = "mirror.local:5000/library/alpine:3.10";
    let a = sim.replicaset("other", "api", &[("main", mirror)]).await;
    let b = sim
        .replicaset("other", "batch", &[("x", "docker.io/library/alpine:3.10")])
        .await;
    let counter = sim.job_counter().await;
    let mut copy = task(
        "alpine:3.10",
        vec![
            subscriber(&a, "main", mirror),
            subscriber(&b, "x", "docker.io/library/alpine:3.10"),
        ],
    );
    copy.source = ScanSource::Copy {
        namespace: "apps".into(),
        name: "replicaset-web-app".into(),
        resource_version: source.metadata.resource_version.clone().unwrap(),
        secret: None,
        sbom: None,
    };
    let written = run(&sim, &settings, &copy).await.unwrap();
    assert_eq!(
        written,
        ["other/replicaset-api-main", "other/replicaset-batch-x"]
    );
    assert!(counter.uids(&sim).await.is_empty(), "a copy runs no Job");

    let api: Api<VulnerabilityReport> = Api::namespaced(sim.client.clone(), "other");
    let got = api.get("replicaset-api-main").await.unwrap();
    assert_eq!(got.report.vulnerabilities, source.report.vulnerabilities);
    assert_eq!(got.report.summary, source.report.summary);
    assert_eq!(got.report.os, source.report.os);
    assert_eq!(got.report.update_timestamp, source.report.update_timestamp);
    assert_eq!(
        got.report.registry.as_ref().unwrap().server,
        "mirror.local:5000"
    );
    assert_eq!(got.report.artifact.repository, "library/alpine");
    assert_eq!(got.report.artifact.tag.as_deref(), Some("3.10"));
    let annotations = |r: &VulnerabilityReport| r.metadata.annotations.clone().unwrap();
    assert_eq!(
        annotations(&got)[SCANNED_AT_ANNOTATION],
        annotations(&source)[SCANNED_AT_ANNOTATION]
    );
    let labels = got.metadata.labels.clone().unwrap();
    assert_eq!(labels["trivy-operator.resource.name"], "api");
    assert_eq!(labels["trivy-operator.resource.namespace"], "other");
    assert_eq!(labels["trivy-operator.container.name"], "main");
    assert_eq!(got.metadata.owner_references.unwrap()[0].uid, a.uid);

    let other = api.get("replicaset-batch-x").await.unwrap();
    assert_eq!(other.report.registry.unwrap().server, "index.docker.io");
    assert_eq!(other.report.summary, source.report.summary);
    assert_eq!(other.metadata.owner_references.unwrap()[0].uid, b.uid);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_source_is_retryable() {
    let sim = start(&["apps"]).await;
    let rs = sim
        .replicaset("apps", "web", &[("app", "alpine:3.10")])
        .await;
    let mut copy = task("alpine:3.10", vec![subscriber(&rs, "app", "alpine:3.10")]);
    copy.source = ScanSource::Copy {
        namespace: "apps".into(),
        name: "replicaset-gone-app".into(),
        resource_version: String::new(),
        secret: None,
        sbom: None,
    };
    let error = run(&sim, &settings(Duration::from_secs(120)), &copy)
        .await
        .unwrap_err();
    assert_eq!(error.reason(), "SourceReportGone");
    assert_eq!(error.outcome(), common::proto::Outcome::FailedRetryable);
    eventually("the failure event", || {
        let sim = &sim;
        async move {
            let events = events_for(sim, "apps", "web").await;
            events
                .iter()
                .any(|(reason, _)| reason == "SourceReportGone")
                .then_some(())
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_edited_since_it_was_written_is_not_copied() {
    let sim = start(&["apps", "other"]).await;
    let settings = settings(Duration::from_secs(120));
    let web = sim
        .replicaset("apps", "web", &[("app", "alpine:3.10")])
        .await;
    let t = task("alpine:3.10", vec![subscriber(&web, "app", "alpine:3.10")]);
    run(&sim, &settings, &t).await.unwrap();
    let source_api: Api<VulnerabilityReport> = Api::namespaced(sim.client.clone(), "apps");
    let written = source_api.get("replicaset-web-app").await.unwrap();
    // A tenant empties the report (any edit gives it a new resourceVersion).
    let patch = serde_json::json!({"report": {"vulnerabilities": []}});
    source_api
        .patch(
            "replicaset-web-app",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&patch),
        )
        .await
        .unwrap();
    let api = sim
        .replicaset("other", "api", &[("main", "alpine:3.10")])
        .await;
    let mut copy = task("alpine:3.10", vec![subscriber(&api, "main", "alpine:3.10")]);
    copy.source = ScanSource::Copy {
        namespace: "apps".into(),
        name: "replicaset-web-app".into(),
        resource_version: written.metadata.resource_version.clone().unwrap(),
        secret: None,
        sbom: None,
    };
    let error = run(&sim, &settings, &copy).await.unwrap_err();
    assert_eq!(error.reason(), "SourceReportChanged");
    let other: Api<VulnerabilityReport> = Api::namespaced(sim.client.clone(), "other");
    assert!(
        other
            .get_opt("replicaset-api-main")
            .await
            .unwrap()
            .is_none()
    );
}

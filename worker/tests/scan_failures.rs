//! Failed scans against kube-sim with the Trivy double: an unknown image, garbage output and
//! a scan that outlives its deadline each fail with their bounded reason, write no report,
//! leave no Job, and put a Warning Event on the workload.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod scan_support;

use std::time::Duration;

use common::proto::Outcome;
use common::reports::vulnerability::VulnerabilityReport;
use kube::api::Api;
use scan_support::*;

/// Runs a one-subscriber scan of `image` that must fail; checks what a failure leaves.
async fn failing_scan(
    image: &str,
    timeout: Duration,
) -> (worker::scan::Error, Vec<(String, String)>) {
    let sim = start(&["apps"]).await;
    let rs = sim.replicaset("apps", "web", &[("app", image)]).await;
    let settings = settings(timeout);
    let counter = sim.job_counter().await;
    let t = task(image, vec![subscriber(&rs, "app", image)]);
    let error = run(&sim, &settings, &t).await.unwrap_err();
    assert_eq!(error.outcome(), Outcome::FailedRetryable, "{error}");
    assert_eq!(counter.uids(&sim).await.len(), 1, "the scan ran in one Job");
    sim.no_jobs_left().await;
    let reports: Api<VulnerabilityReport> = Api::namespaced(sim.client.clone(), "apps");
    assert!(
        reports
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let reason = error.reason();
    let events = eventually("the failure event", || {
        let sim = &sim;
        async move {
            let events = events_for(sim, "apps", "web").await;
            events.iter().any(|(r, _)| r == reason).then_some(events)
        }
    })
    .await;
    (error, events)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_image_fails_the_job() {
    let (error, events) =
        failing_scan("registry.invalid/nothing:1", Duration::from_secs(120)).await;
    assert_eq!(error.reason(), "ScanJobFailed", "{error}");
    let (_, note) = events.iter().find(|(r, _)| r == "ScanJobFailed").unwrap();
    assert!(note.contains("scan-vulnerabilityreport-"), "{note}");
    assert!(note.contains("exited 1"), "{note}");
    assert!(note.len() <= 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_output_is_invalid() {
    let (error, events) = failing_scan("garbage:1", Duration::from_secs(120)).await;
    assert_eq!(error.reason(), "ScanOutputInvalid", "{error}");
    let (_, note) = events
        .iter()
        .find(|(r, _)| r == "ScanOutputInvalid")
        .unwrap();
    assert!(note.contains("neither json nor base64"), "{note}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_scan_times_out() {
    let (error, _) = failing_scan("slow:1", Duration::from_secs(3)).await;
    assert_eq!(error.reason(), "ScanJobTimeout", "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_image_is_permanent_and_creates_no_job() {
    let sim = start(&["apps"]).await;
    let rs = sim
        .replicaset("apps", "web", &[("app", "alpine:3.10")])
        .await;
    let counter = sim.job_counter().await;
    let t = task("Not An Image!", vec![subscriber(&rs, "app", "alpine:3.10")]);
    let error = run(&sim, &settings(Duration::from_secs(120)), &t)
        .await
        .unwrap_err();
    assert_eq!(error.reason(), "InvalidImage");
    assert_eq!(error.outcome(), Outcome::FailedPermanent);
    assert!(counter.uids(&sim).await.is_empty());
}

//! Exposed secrets from the same scan as the vulnerabilities: one Job per image, each
//! subscriber an ExposedSecretReport beside its VulnerabilityReport (same name, labels,
//! owner), copies pinned to the secret report this operator wrote, and a Job made for other
//! scanners never adopted.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod scan_support;

use std::time::Duration;

use common::reports::exposed_secret::{ExposedSecretReport, SecretSeverity};
use common::reports::vulnerability::VulnerabilityReport;
use kube::api::{Api, Patch, PatchParams, PostParams};
use scan_support::*;
use worker::scan::job::{Scanners, job_name, scan_job};
use worker::task::ScanSource;

/// An image whose Trivy output (upstream's own fixture) has four secrets and no
/// vulnerabilities; the double answers for it by its name.
const IMAGE: &str = "trivy-double.test/exposedsecret_report/app:1";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_scan_writes_both_reports_and_copies_keep_the_secrets() {
    let sim = start(&["apps", "other"]).await;
    let web = sim.replicaset("apps", "web", &[("app", IMAGE)]).await;
    let api = sim.replicaset("apps", "api", &[("main", IMAGE)]).await;
    let counter = sim.job_counter().await;
    let mut t = task(
        IMAGE,
        vec![
            subscriber(&web, "app", IMAGE),
            subscriber(&api, "main", IMAGE),
        ],
    );
    t.secrets = true;
    let outcome = run_task(&sim, &t).await;
    assert!(outcome.error.is_none(), "{:?}", outcome.error);
    assert_eq!(
        counter.uids(&sim).await.len(),
        1,
        "one Job for both workloads"
    );
    sim.no_jobs_left().await;

    let secrets: Api<ExposedSecretReport> = Api::namespaced(sim.client.clone(), "apps");
    let vulns: Api<VulnerabilityReport> = Api::namespaced(sim.client.clone(), "apps");
    let got = secrets.get("replicaset-web-app").await.unwrap();
    let vuln = vulns.get("replicaset-web-app").await.unwrap();
    assert_eq!(got.report.secrets.len(), 4);
    assert_eq!(got.report.summary.critical_count, 3);
    assert_eq!(got.report.summary.high_count, 1);
    assert_eq!(got.report.secrets[2].rule_id, "aws-access-key-id");
    assert_eq!(got.report.secrets[2].target, "/etc/apt/s3auth.conf");
    assert_eq!(got.report.secrets[2].severity, SecretSeverity::Critical);
    assert_eq!(got.report.artifact.repository, "exposedsecret_report/app");
    assert_eq!(got.report.artifact.tag.as_deref(), Some("1"));
    assert_eq!(
        got.report.registry.as_ref().unwrap().server,
        "trivy-double.test"
    );
    assert_eq!(got.report.scanner.name, "Trivy");
    assert_eq!(
        got.metadata.labels, vuln.metadata.labels,
        "the same labels as the VulnerabilityReport"
    );
    assert_eq!(
        got.metadata.owner_references.as_ref().unwrap()[0].uid,
        web.uid
    );
    assert!(vuln.report.vulnerabilities.is_empty());
    let annotations = got.metadata.annotations.clone().unwrap();
    assert_eq!(annotations[common::reports::gauge::SUMMARY], "3,1,0,0");
    assert_eq!(
        annotations[common::labels::SCANNED_AT],
        vuln.metadata.annotations.as_ref().unwrap()[common::labels::SCANNED_AT]
    );
    assert!(secrets.get("replicaset-api-main").await.is_ok());

    // The leader learns both resourceVersions, to pin copies to.
    let written = &outcome.written[0];
    assert_eq!(written.secret_report_name, "replicaset-web-app");
    assert_eq!(
        written.secret_resource_version,
        got.metadata.resource_version.clone().unwrap()
    );

    // A copy into another namespace: the source's secrets with the subscriber's artifact.
    let batch = sim.replicaset("other", "batch", &[("x", IMAGE)]).await;
    let counter = sim.job_counter().await;
    let mut copy = task(IMAGE, vec![subscriber(&batch, "x", IMAGE)]);
    copy.secrets = true;
    copy.source = ScanSource::Copy {
        namespace: "apps".into(),
        name: written.name.clone(),
        resource_version: written.resource_version.clone(),
        secret: Some((
            written.secret_report_name.clone(),
            written.secret_resource_version.clone(),
        )),
        sbom: None,
    };
    let outcome = run_task(&sim, &copy).await;
    assert!(outcome.error.is_none(), "{:?}", outcome.error);
    assert!(counter.uids(&sim).await.is_empty(), "a copy runs no Job");
    let other: Api<ExposedSecretReport> = Api::namespaced(sim.client.clone(), "other");
    let copied = other.get("replicaset-batch-x").await.unwrap();
    assert_eq!(copied.report.secrets, got.report.secrets);
    assert_eq!(copied.metadata.owner_references.unwrap()[0].uid, batch.uid);

    // A secret report edited since it was written is not copied: nothing is written.
    let patch = serde_json::json!({"report": {"secrets": []}});
    secrets
        .patch(
            "replicaset-web-app",
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
        .unwrap();
    let late = sim.replicaset("other", "late", &[("y", IMAGE)]).await;
    let mut stale = copy.clone();
    stale.subscribers = vec![subscriber(&late, "y", IMAGE)];
    let outcome = run_task(&sim, &stale).await;
    assert_eq!(outcome.error.unwrap().reason(), "SourceReportChanged");
    assert!(outcome.written.is_empty());
    assert!(other.get_opt("replicaset-late-y").await.unwrap().is_none());

    // A copy that wants secrets from a source without any refuses, rather than writing an
    // empty list.
    let mut bare = stale.clone();
    if let ScanSource::Copy { secret, .. } = &mut bare.source {
        *secret = None;
    }
    let outcome = run_task(&sim, &bare).await;
    assert_eq!(outcome.error.unwrap().reason(), "SourceReportIncomplete");
    assert!(outcome.written.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_secrets_no_secret_report_and_a_job_for_other_scanners_is_replaced() {
    let sim = start(&["apps"]).await;
    let web = sim.replicaset("apps", "web", &[("app", IMAGE)]).await;
    let t = task(IMAGE, vec![subscriber(&web, "app", IMAGE)]);
    let outcome = run_task(&sim, &t).await;
    assert!(outcome.error.is_none(), "{:?}", outcome.error);
    assert!(outcome.written[0].secret_report_name.is_empty());
    let secrets: Api<ExposedSecretReport> = Api::namespaced(sim.client.clone(), "apps");
    assert!(
        secrets
            .get_opt("replicaset-web-app")
            .await
            .unwrap()
            .is_none()
    );
    sim.no_jobs_left().await;

    // A Job of this scan left from before secrets were turned on: its output has no
    // secrets, so it is deleted rather than adopted, and the retry scans for both.
    let settings = settings(Duration::from_secs(120));
    let old = scan_job(&settings, &t.scan_key, &t.image, None, Scanners::VULN);
    sim.jobs()
        .create(&PostParams::default(), &old)
        .await
        .unwrap();
    let mut with = t.clone();
    with.secrets = true;
    let outcome = run_task(&sim, &with).await;
    assert_eq!(outcome.error.unwrap().reason(), "ScanJobOutdated");
    sim.no_jobs_left().await;
    let outcome = run_task(&sim, &with).await;
    assert!(outcome.error.is_none(), "{:?}", outcome.error);
    let got = secrets.get("replicaset-web-app").await.unwrap();
    assert_eq!(got.report.secrets.len(), 4);
    assert!(
        sim.jobs()
            .get_opt(&job_name(&t.scan_key))
            .await
            .unwrap()
            .is_none()
    );
}

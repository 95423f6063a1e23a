//! Scan Jobs against kube-sim with the Trivy double: reports with the exact vulnerabilities of
//! the golden files, upstream names, labels, owners and annotations; the Job is gone after;
//! an existing Job is adopted, never duplicated.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod scan_support;

use std::time::Duration;

use common::reports::vulnerability::VulnerabilityReport;
use kube::api::{Api, PostParams};
use kube_sim::faults::FaultConfig;
use scan_support::*;
use worker::scan::job::{SCAN_KEY_ANNOTATION, Scanners, job_name, scan_job};
use worker::scan::reports::SCANNED_AT_ANNOTATION;

fn check_report(r: &VulnerabilityReport, golden: &str) {
    let want = expected(golden);
    let got: Vec<(String, String)> = r
        .report
        .vulnerabilities
        .iter()
        .map(|v| (v.vulnerability_id.clone(), v.severity.as_str().to_owned()))
        .collect();
    assert_eq!(got, want.vulnerabilities, "{golden}");
    assert!(!got.is_empty());
    let count = |s: &str| want.counts.get(s).copied().unwrap_or(0);
    let summary = &r.report.summary;
    assert_eq!(summary.critical_count, count("CRITICAL"), "{golden}");
    assert_eq!(summary.high_count, count("HIGH"), "{golden}");
    assert_eq!(summary.medium_count, count("MEDIUM"), "{golden}");
    assert_eq!(summary.low_count, count("LOW"), "{golden}");
    assert_eq!(summary.unknown_count, count("UNKNOWN"), "{golden}");
    assert_eq!(r.report.scanner.name, "Trivy");
    assert_eq!(r.report.scanner.version, "0.58.1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_containers_get_their_reports_and_the_jobs_go() {
    let sim = start(&["apps"]).await;
    let rs = sim
        .replicaset(
            "apps",
            "web-6d4cf56db6",
            &[("app", "alpine:3.10"), ("sidecar", "debian:buster")],
        )
        .await;
    let settings = settings(Duration::from_secs(120));
    let counter = sim.job_counter().await;
    let before = jiff::Timestamp::now();
    for (container, image) in [("app", "alpine:3.10"), ("sidecar", "debian:buster")] {
        let t = task(image, vec![subscriber(&rs, container, image)]);
        let written = run(&sim, &settings, &t).await.unwrap();
        assert_eq!(
            written,
            [format!("apps/replicaset-web-6d4cf56db6-{container}")]
        );
    }
    sim.no_jobs_left().await;
    assert_eq!(counter.uids(&sim).await.len(), 2, "one Job per scan");

    let reports: Api<VulnerabilityReport> = Api::namespaced(sim.client.clone(), "apps");
    let alpine = reports.get("replicaset-web-6d4cf56db6-app").await.unwrap();
    check_report(&alpine, "alpine-310.json.golden");
    assert_eq!(alpine.report.artifact.repository, "library/alpine");
    assert_eq!(alpine.report.artifact.tag.as_deref(), Some("3.10"));
    assert_eq!(
        alpine.report.registry.as_ref().unwrap().server,
        "index.docker.io"
    );
    let debian = reports
        .get("replicaset-web-6d4cf56db6-sidecar")
        .await
        .unwrap();
    check_report(&debian, "debian-buster.json.golden");
    assert_eq!(debian.report.artifact.repository, "library/debian");

    let meta = &alpine.metadata;
    let labels = meta.labels.as_ref().unwrap();
    assert_eq!(labels["trivy-operator.resource.kind"], "ReplicaSet");
    assert_eq!(labels["trivy-operator.resource.name"], "web-6d4cf56db6");
    assert_eq!(labels["trivy-operator.resource.namespace"], "apps");
    assert_eq!(labels["trivy-operator.container.name"], "app");
    assert_eq!(labels["resource-spec-hash"], "spec-hash-1");
    assert_eq!(labels["app.kubernetes.io/managed-by"], "trivy-operator");
    let annotations = meta.annotations.as_ref().unwrap();
    assert_eq!(
        annotations["trivy-operator.aquasecurity.github.io/report-ttl"],
        "24h0m0s"
    );
    assert_eq!(
        annotations["trivy-operator-rs.dev/scan-key"],
        "index.docker.io/library/alpine:3.10"
    );
    let scanned: jiff::Timestamp = annotations[SCANNED_AT_ANNOTATION].parse().unwrap();
    assert!(scanned.as_second() >= before.as_second());
    let owner = &meta.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str()),
        ("ReplicaSet", "web-6d4cf56db6")
    );
    assert_eq!(owner.uid, rs.uid);
    assert_eq!(
        (owner.controller, owner.block_owner_deletion),
        (Some(true), Some(false))
    );
    // Each workload writes as its own field manager (so a name collision is detected).
    assert_eq!(
        meta.managed_fields.as_ref().unwrap()[0].manager.as_deref(),
        Some(format!("trivy-operator/{}", rs.uid).as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_job_is_adopted_and_concurrent_runs_share_one_job() {
    let sim = start(&["apps"]).await;
    let rs = sim
        .replicaset("apps", "api", &[("app", "alpine:3.10")])
        .await;
    let settings = settings(Duration::from_secs(120));
    let t = task("alpine:3.10", vec![subscriber(&rs, "app", "alpine:3.10")]);
    let counter = sim.job_counter().await;

    // A Job left by another worker (same deterministic name) is adopted.
    let existing = scan_job(&settings, &t.scan_key, &t.image, None, Scanners::VULN);
    let created = sim
        .jobs()
        .create(&PostParams::default(), &existing)
        .await
        .unwrap();
    let written = run(&sim, &settings, &t).await.unwrap();
    assert_eq!(written, ["apps/replicaset-api-app"]);
    sim.no_jobs_left().await;
    assert_eq!(
        counter.uids(&sim).await.into_iter().collect::<Vec<_>>(),
        [created.metadata.uid.unwrap()]
    );

    // Two workers running the same task at once: still one Job. Deleting the Job is made to
    // fail meanwhile (a fault on DELETE of the Job's own path), so neither run can remove it
    // before the other has created-or-adopted it.
    let counter = sim.job_counter().await;
    let name = job_name(&t.scan_key);
    sim.handle.set_faults(FaultConfig {
        error_rate: 1.0,
        error_codes: vec![500],
        path_prefix: Some(format!(
            "/apis/batch/v1/namespaces/{OPERATOR_NS}/jobs/{name}"
        )),
        methods: Some(vec!["DELETE".into()]),
        ..FaultConfig::default()
    });
    let (a, b) = tokio::join!(run(&sim, &settings, &t), run(&sim, &settings, &t));
    assert_eq!(a.unwrap(), ["apps/replicaset-api-app"]);
    assert_eq!(b.unwrap(), ["apps/replicaset-api-app"]);
    assert_eq!(
        counter.uids(&sim).await.len(),
        1,
        "exactly one Job for two concurrent runs"
    );
    sim.handle.set_faults(FaultConfig::default());
    sim.jobs().delete(&name, &Default::default()).await.unwrap();
    sim.no_jobs_left().await;
    assert_eq!(job_name(&t.scan_key).len(), 45);

    // A Job of that name made for another scan key is neither adopted nor deleted.
    let mut foreign = scan_job(
        &settings,
        "index.docker.io/library/evil:1",
        &t.image,
        None,
        Scanners::VULN,
    );
    foreign.metadata.name = Some(name.clone());
    sim.jobs()
        .create(&PostParams::default(), &foreign)
        .await
        .unwrap();
    let err = run(&sim, &settings, &t).await.unwrap_err();
    assert_eq!(err.reason(), "ScanJobNameTaken", "{err}");
    let kept = sim.jobs().get(&name).await.unwrap();
    assert_eq!(
        kept.metadata.annotations.unwrap()[SCAN_KEY_ANNOTATION],
        "index.docker.io/library/evil:1"
    );
    sim.jobs().delete(&name, &Default::default()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compressed_logs_and_reports_of_gone_workloads_are_collected() {
    let sim = start(&["apps"]).await;
    let rs = sim
        .replicaset("apps", "web", &[("app", "debian:buster")])
        .await;
    let mut settings = settings(Duration::from_secs(120));
    settings.compress_logs = true;
    let mut gone = rs.clone();
    gone.name = "deleted".into();
    gone.uid = "a-deleted-uid".into();
    let mut replaced = rs.clone();
    replaced.uid = "an-older-uid".into();
    let t = task(
        "debian:buster",
        vec![
            subscriber(&rs, "app", "debian:buster"),
            subscriber(&gone, "app", "debian:buster"),
            subscriber(&replaced, "other", "debian:buster"),
        ],
    );
    // The worker trusts the leader's view (no read before a write): every subscriber gets
    // its report, and garbage collection removes those whose owner is gone.
    let written = run(&sim, &settings, &t).await.unwrap();
    assert_eq!(
        written,
        [
            "apps/replicaset-web-app",
            "apps/replicaset-deleted-app",
            "apps/replicaset-web-other"
        ]
    );
    let reports: Api<VulnerabilityReport> = Api::namespaced(sim.client.clone(), "apps");
    check_report(
        &reports.get("replicaset-web-app").await.unwrap(),
        "debian-buster.json.golden",
    );
    eventually("the reports of gone workloads to be collected", || {
        let reports = reports.clone();
        async move {
            let left = reports.list(&Default::default()).await.ok()?.items;
            (left.len() == 1).then_some(())
        }
    })
    .await;
    sim.no_jobs_left().await;
}

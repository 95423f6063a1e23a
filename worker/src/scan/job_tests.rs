#![allow(clippy::unwrap_used)]

use std::time::Duration;

use clap::Parser;

use super::*;
use crate::scan::{ScanArgs, ScanSettings};

#[derive(Parser)]
struct Flags {
    #[command(flatten)]
    scan: ScanArgs,
}

fn settings(extra: &[&str]) -> ScanSettings {
    let argv = std::iter::once("test").chain(extra.iter().copied());
    ScanSettings::new(&Flags::parse_from(argv).scan, "trivy-system")
}

const KEY: &str = "index.docker.io/library/alpine@sha256:0123";

/// The `args` of a container of a Job manifest as JSON.
fn args_of(container: &serde_json::Value) -> Vec<&str> {
    container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect()
}

#[test]
fn names_are_deterministic_dns_labels() {
    let a = job_name(KEY);
    assert_eq!(a, job_name(KEY));
    assert_ne!(a, job_name("index.docker.io/library/alpine:3.10"));
    assert!(a.starts_with(JOB_NAME_PREFIX));
    assert!(common::names::is_dns1123_label(&a), "{a}");
    // Pod names add `-xxxxx`: still a label.
    assert!(a.len() + 6 <= 63);
}

#[test]
fn manifest_with_defaults() {
    let job = scan_job(
        &settings(&[]),
        KEY,
        "alpine:3.10",
        None,
        Scanners::VULN_SECRET,
    );
    let v = serde_json::to_value(&job).unwrap();
    assert_eq!(v["metadata"]["name"], job_name(KEY));
    assert_eq!(v["metadata"]["namespace"], "trivy-system");
    let labels = &v["metadata"]["labels"];
    assert_eq!(labels["app.kubernetes.io/managed-by"], "trivy-operator");
    assert_eq!(labels[SCAN_KEY_HASH_LABEL], scan_key_hash(KEY));
    assert_eq!(v["spec"]["template"]["metadata"]["labels"], *labels);
    assert_eq!(v["metadata"]["annotations"][SCAN_KEY_ANNOTATION], KEY);
    assert_eq!(
        v["metadata"]["annotations"][IMAGE_ANNOTATION],
        "alpine:3.10"
    );
    assert_eq!(
        v["metadata"]["annotations"][SCANNERS_ANNOTATION],
        "vuln,secret"
    );
    let spec = &v["spec"];
    assert_eq!(spec["backoffLimit"], 0);
    assert_eq!(spec["activeDeadlineSeconds"], 300);
    assert_eq!(spec["ttlSecondsAfterFinished"], 900);
    let pod = &spec["template"]["spec"];
    assert_eq!(pod["restartPolicy"], "Never");
    assert_eq!(pod["automountServiceAccountToken"], false);
    assert!(pod.get("serviceAccountName").is_none());
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    assert_eq!(pod["volumes"][0]["name"], "tmp");
    assert!(pod["volumes"][0]["emptyDir"].is_object());

    let scan = &pod["containers"][0];
    assert_eq!(pod["containers"].as_array().unwrap().len(), 1);
    assert_eq!(scan["name"], SCAN_CONTAINER);
    assert_eq!(scan["image"], "ghcr.io/aquasecurity/trivy:0.58.1");
    assert_eq!(scan["command"], serde_json::json!(["trivy"]));
    let args = args_of(scan);
    assert_eq!(
        args,
        [
            "image",
            "--cache-dir",
            "/tmp/trivy/.cache",
            "--quiet",
            "--skip-db-update",
            "--scanners",
            "vuln,secret",
            "--format",
            "json",
            "--timeout",
            "5m0s",
            "alpine:3.10"
        ]
    );
    let db = &pod["initContainers"][0];
    assert_eq!(db["name"], DB_CONTAINER);
    assert_eq!(
        db["args"],
        serde_json::json!([
            "image",
            "--cache-dir",
            "/tmp/trivy/.cache",
            "--quiet",
            "--download-db-only"
        ])
    );
    for c in [scan, db] {
        let sc = &c["securityContext"];
        assert_eq!(sc["allowPrivilegeEscalation"], false);
        assert_eq!(sc["readOnlyRootFilesystem"], true);
        assert_eq!(sc["runAsNonRoot"], true);
        assert_eq!(sc["runAsUser"], 65534);
        assert_eq!(sc["capabilities"]["drop"], serde_json::json!(["ALL"]));
        assert_eq!(sc["seccompProfile"]["type"], "RuntimeDefault");
        assert_eq!(c["volumeMounts"][0]["mountPath"], "/tmp");
        let res = &c["resources"];
        assert_eq!(res["requests"]["cpu"], "100m");
        assert_eq!(res["requests"]["memory"], "100M");
        assert_eq!(res["limits"]["cpu"], "500m");
        assert_eq!(res["limits"]["memory"], "500M");
        assert_eq!(res["requests"]["ephemeral-storage"], "512Mi");
        assert_eq!(res["limits"]["ephemeral-storage"], "4Gi");
        assert!(c.get("env").is_none());
    }
    let volume = &v["spec"]["template"]["spec"]["volumes"][0];
    assert_eq!(
        volume["emptyDir"]["sizeLimit"], "4Gi",
        "the scratch volume is bounded"
    );
}

#[test]
fn flags_change_the_manifest() {
    let s = settings(&[
        "--trivy-image",
        "registry.local/trivy:1",
        "--scan-job-timeout",
        "3s",
        "--scan-job-cpu-limit",
        "2",
        "--scan-job-memory-request",
        "1Gi",
        "--scan-job-service-account",
        "scanner",
        "--scan-compress-logs",
    ]);
    assert_eq!(s.timeout, Duration::from_secs(3));
    let v =
        serde_json::to_value(scan_job(&s, KEY, "it's:odd", None, Scanners::VULN_SECRET)).unwrap();
    assert_eq!(v["spec"]["activeDeadlineSeconds"], 3);
    let pod = &v["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "scanner");
    let scan = &pod["containers"][0];
    assert_eq!(scan["image"], "registry.local/trivy:1");
    assert_eq!(scan["resources"]["limits"]["cpu"], "2");
    assert_eq!(scan["resources"]["requests"]["memory"], "1Gi");
    assert_eq!(scan["command"], serde_json::json!(["/bin/sh", "-c"]));
    let script = scan["args"][0].as_str().unwrap();
    assert!(
        script.contains("trivy 'image' '--cache-dir' '/tmp/trivy/.cache'"),
        "{script}"
    );
    assert!(
        script.contains("'--timeout' '3s' 'it'\\''s:odd' > \"$out\""),
        "{script}"
    );
    assert!(
        script.ends_with("&& bzip2 -c \"$out\" | base64"),
        "{script}"
    );
}

#[test]
fn credentials_become_secret_env() {
    let creds = CredentialsRef {
        secret: "scan-creds".into(),
        username_key: "u".into(),
        password_key: "p".into(),
    };
    let v = serde_json::to_value(scan_job(
        &settings(&[]),
        KEY,
        "alpine:3.10",
        Some(&creds),
        Scanners::VULN_SECRET,
    ))
    .unwrap();
    let env = &v["spec"]["template"]["spec"]["containers"][0]["env"];
    assert_eq!(env[0]["name"], "TRIVY_USERNAME");
    assert_eq!(env[0]["valueFrom"]["secretKeyRef"]["name"], "scan-creds");
    assert_eq!(env[0]["valueFrom"]["secretKeyRef"]["key"], "u");
    assert_eq!(env[1]["name"], "TRIVY_PASSWORD");
    assert_eq!(env[1]["valueFrom"]["secretKeyRef"]["key"], "p");
}

#[test]
fn trivy_is_asked_only_for_what_reports_keep() {
    let job = scan_job(
        &settings(&[
            "--trivy-severity",
            "CRITICAL,HIGH",
            "--trivy-ignore-unfixed",
        ]),
        KEY,
        "alpine:3.10",
        None,
        Scanners::VULN,
    );
    let v = serde_json::to_value(&job).unwrap();
    let args = args_of(&v["spec"]["template"]["spec"]["containers"][0]);
    let at = args.iter().position(|a| *a == "--severity").unwrap();
    assert_eq!(args[at + 1], "HIGH,CRITICAL");
    assert!(args.contains(&"--ignore-unfixed"));
    let at = args.iter().position(|a| *a == "--scanners").unwrap();
    assert_eq!(
        args[at + 1],
        "vuln",
        "no secret scan when no secret report is wanted"
    );
    assert_eq!(args.last(), Some(&"alpine:3.10"), "the image comes last");
    let plain = serde_json::to_value(scan_job(
        &settings(&[]),
        KEY,
        "alpine:3.10",
        None,
        Scanners::VULN_SECRET,
    ))
    .unwrap();
    let plain_args = plain["spec"]["template"]["spec"]["containers"][0]["args"].to_string();
    assert!(!plain_args.contains("--severity") && !plain_args.contains("--ignore-unfixed"));
}

#[test]
fn client_server_mode_downloads_no_db_and_passes_the_token_from_its_secret() {
    let s = settings(&[
        "--trivy-server-url",
        "http://trivy-server.trivy-system:4954",
        "--trivy-server-token-secret",
        "trivy-server-token",
    ]);
    let v = serde_json::to_value(scan_job(
        &s,
        KEY,
        "alpine:3.10",
        None,
        Scanners::VULN_SECRET,
    ))
    .unwrap();
    let pod = &v["spec"]["template"]["spec"];
    assert!(pod.get("initContainers").is_none(), "no DB download: {pod}");
    let scan = &pod["containers"][0];
    let args = args_of(scan);
    let at = args.iter().position(|a| *a == "--server").unwrap();
    assert_eq!(args[at + 1], "http://trivy-server.trivy-system:4954");
    let at = args.iter().position(|a| *a == "--token-header").unwrap();
    assert_eq!(args[at + 1], "Trivy-Token");
    assert!(!args.contains(&"--skip-db-update") && !args.contains(&"--download-db-only"));
    assert_eq!(args.last(), Some(&"alpine:3.10"));
    let env = scan["env"].as_array().unwrap();
    assert_eq!(env.len(), 1);
    assert_eq!(env[0]["name"], "TRIVY_TOKEN");
    assert_eq!(
        env[0]["valueFrom"]["secretKeyRef"]["name"],
        "trivy-server-token"
    );
    assert_eq!(env[0]["valueFrom"]["secretKeyRef"]["key"], "token");
    // Without a token Secret: no token at all.
    let s = settings(&["--trivy-server-url", "http://trivy-server:4954"]);
    let v = serde_json::to_value(scan_job(&s, KEY, "alpine:3.10", None, Scanners::VULN)).unwrap();
    assert!(
        v["spec"]["template"]["spec"]["containers"][0]
            .get("env")
            .is_none()
    );
}

#[test]
fn an_sbom_comes_from_an_init_container_before_the_scan() {
    let scanners = Scanners::of(true, true);
    let v =
        serde_json::to_value(scan_job(&settings(&[]), KEY, "alpine:3.10", None, scanners)).unwrap();
    assert_eq!(
        v["metadata"]["annotations"][SCANNERS_ANNOTATION],
        "vuln,secret;sbom"
    );
    let pod = &v["spec"]["template"]["spec"];
    let init = pod["initContainers"].as_array().unwrap();
    let names: Vec<&str> = init.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, [DB_CONTAINER, SBOM_CONTAINER]);
    let sbom = &init[1];
    let args = args_of(sbom);
    let at = args.iter().position(|a| *a == "--format").unwrap();
    assert_eq!(args[at + 1], "cyclonedx");
    assert!(
        !args.contains(&"--scanners"),
        "no vulnerability scan: {args:?}"
    );
    assert_eq!(args.last(), Some(&"alpine:3.10"));
    // Same volume (the shared cache), same restrictions as the scan container.
    let scan = &pod["containers"][0];
    assert_eq!(sbom["volumeMounts"], scan["volumeMounts"]);
    assert_eq!(sbom["securityContext"], scan["securityContext"]);
    assert_eq!(sbom["resources"], scan["resources"]);
    // With a Trivy server: the SBOM container only.
    let s = settings(&["--trivy-server-url", "http://trivy-server:4954"]);
    let v = serde_json::to_value(scan_job(&s, KEY, "alpine:3.10", None, scanners)).unwrap();
    let init = v["spec"]["template"]["spec"]["initContainers"]
        .as_array()
        .unwrap();
    assert_eq!(init.len(), 1);
    assert_eq!(init[0]["name"], SBOM_CONTAINER);
    assert!(!init[0]["args"].to_string().contains("--server"));
    // The server's token only where it is used.
    let s = settings(&[
        "--trivy-server-url",
        "http://trivy-server:4954",
        "--trivy-server-token-secret",
        "t",
    ]);
    let v = serde_json::to_value(scan_job(&s, KEY, "alpine:3.10", None, scanners)).unwrap();
    let pod = &v["spec"]["template"]["spec"];
    assert!(pod["initContainers"][0].get("env").is_none());
    assert_eq!(pod["containers"][0]["env"][0]["name"], "TRIVY_TOKEN");
}

#[test]
fn a_stored_sbom_is_scanned_from_its_secret_without_reading_the_image() {
    let v = serde_json::to_value(scan_job(
        &settings(&[]),
        KEY,
        "alpine:3.10",
        None,
        Scanners::FROM_BOM,
    ))
    .unwrap();
    assert_eq!(
        v["metadata"]["annotations"][SCANNERS_ANNOTATION],
        "vuln;from-sbom"
    );
    let pod = &v["spec"]["template"]["spec"];
    // The DB still (standalone), no SBOM container: the SBOM is what is scanned.
    let init = pod["initContainers"].as_array().unwrap();
    let names: Vec<&str> = init.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, [DB_CONTAINER]);
    let scan = &pod["containers"][0];
    let args = args_of(scan);
    assert_eq!(args[0], "sbom");
    assert_eq!(args.last(), Some(&super::super::bom::BOM_PATH));
    let at = args.iter().position(|a| *a == "--scanners").unwrap();
    assert_eq!(args[at + 1], "vuln");
    assert!(args.contains(&"--skip-db-update"));
    assert!(
        !args.contains(&"alpine:3.10"),
        "the image is not read: {args:?}"
    );
    // The BOM's Secret, mounted read-only where the args point, readable by the scan user.
    let mounts = scan["volumeMounts"].as_array().unwrap();
    let bom = mounts.iter().find(|m| m["name"] == "bom").unwrap();
    assert_eq!(bom["mountPath"], super::super::bom::BOM_DIR);
    assert_eq!(bom["readOnly"], true);
    let volume = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "bom")
        .unwrap();
    let named = volume["secret"]["secretName"].as_str().unwrap();
    assert!(
        named.starts_with(&format!("{}-bom-", job_name(KEY))),
        "{named}"
    );
    let mut job = scan_job(&settings(&[]), KEY, "alpine:3.10", None, Scanners::FROM_BOM);
    super::set_bom_secret(&mut job, "unique");
    assert_eq!(super::bom_secret(&job).as_deref(), Some("unique"));
    assert_eq!(volume["secret"]["defaultMode"], 0o440);
    assert_eq!(pod["securityContext"]["fsGroup"], 65534);
    assert!(scan.get("env").is_none(), "no registry credentials");
    // With a Trivy server: no container but the scan, which asks the server.
    let s = settings(&["--trivy-server-url", "http://trivy-server:4954"]);
    let v =
        serde_json::to_value(scan_job(&s, KEY, "alpine:3.10", None, Scanners::FROM_BOM)).unwrap();
    let pod = &v["spec"]["template"]["spec"];
    assert!(pod.get("initContainers").is_none());
    let args = pod["containers"][0]["args"].to_string();
    assert!(
        args.starts_with("[\"sbom\"") && args.contains("--server"),
        "{args}"
    );
    // An image scan has no such volume.
    let image = serde_json::to_value(scan_job(
        &settings(&[]),
        KEY,
        "alpine:3.10",
        None,
        Scanners::VULN,
    ))
    .unwrap();
    assert_eq!(
        image["spec"]["template"]["spec"]["volumes"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

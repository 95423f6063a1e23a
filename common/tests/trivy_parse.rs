//! Trivy JSON → VulnerabilityReport data, on real Trivy outputs, plain and compressed
//! (malformed output: `trivy_errors`).
#![allow(clippy::unwrap_used)]

mod trivy_support;

use common::reports::vulnerability::{Severity, VulnerabilityReportData};
use common::trivy::{ImageRef, decode_scanner_output, parse_report, to_report_data};
use serde_json::Value;
use trivy_support::*;

/// The severity rule applied to raw JSON, independently of the crate's model.
fn expected_severities(json: &[u8]) -> Vec<(String, &'static str)> {
    let v: Value = serde_json::from_slice(json).unwrap();
    let mut out = Vec::new();
    for result in v["Results"].as_array().unwrap() {
        for vuln in result["Vulnerabilities"].as_array().into_iter().flatten() {
            let level = vuln["SeveritySource"]
                .as_str()
                .and_then(|src| vuln["VendorSeverity"][src].as_i64());
            let sev = match level {
                Some(1) => "LOW",
                Some(2) => "MEDIUM",
                Some(3) => "HIGH",
                Some(4) => "CRITICAL",
                _ => "UNKNOWN",
            };
            out.push((vuln["VulnerabilityID"].as_str().unwrap().to_owned(), sev));
        }
    }
    out
}

#[test]
fn every_file_plain_and_compressed_gives_the_independently_computed_counts() {
    for file in FILES {
        let json = read(file);
        let expected = expected_severities(&json);
        assert!(!expected.is_empty(), "{file} has vulnerabilities");
        let plain = convert(&json, "example.io/app:1");
        let compressed = convert(&compress(&json), "example.io/app:1");
        assert_eq!(plain, compressed, "{file}: plain and compressed differ");
        let got: Vec<(String, &str)> = plain
            .vulnerabilities
            .iter()
            .map(|v| (v.vulnerability_id.clone(), v.severity.as_str()))
            .collect();
        assert_eq!(got, expected, "{file}");
        let count = |s: &str| expected.iter().filter(|(_, x)| *x == s).count() as u64;
        let sum = &plain.summary;
        assert_eq!(
            (
                sum.critical_count,
                sum.high_count,
                sum.medium_count,
                sum.low_count
            ),
            (
                count("CRITICAL"),
                count("HIGH"),
                count("MEDIUM"),
                count("LOW")
            ),
            "{file}"
        );
        assert_eq!(sum.unknown_count, count("UNKNOWN"), "{file}");
        assert_eq!(plain.scanner, scanner());
        assert_eq!(plain.update_timestamp, ts());
        // The result is a valid report body.
        let back: VulnerabilityReportData =
            serde_json::from_value(serde_json::to_value(&plain).unwrap()).unwrap();
        assert_eq!(back, plain, "{file}: serde round trip");
    }
}

#[test]
fn alpine_310() {
    let r = convert(&read("alpine-310.json.golden"), "alpine:3.10.2");
    assert_eq!(r.vulnerabilities.len(), 4);
    assert_eq!(r.summary.medium_count, 4);
    assert_eq!(r.registry.as_ref().unwrap().server, "index.docker.io");
    assert_eq!(r.artifact.repository, "library/alpine");
    assert_eq!(r.artifact.tag.as_deref(), Some("3.10.2"));
    assert_eq!(r.artifact.digest, None, "no RepoDigests in this file");
    assert_eq!(r.os.family, "alpine");
    assert_eq!(r.os.name.as_deref(), Some("3.10.2"));
    assert_eq!(r.os.eosl, Some(true));
    let v = &r.vulnerabilities[0];
    assert_eq!(v.vulnerability_id, "CVE-2019-1549");
    assert_eq!(v.resource, "libcrypto1.1");
    assert_eq!(v.installed_version, "1.1.1c-r0");
    assert_eq!(v.fixed_version, "1.1.1d-r0");
    assert_eq!(v.severity, Severity::Medium);
    // redhat (non-NVD) 4.8 wins over nvd 5.3.
    assert_eq!(v.score, Some(4.8));
    assert_eq!(v.cvsssource.as_deref(), Some("redhat"));
    assert_eq!(v.cvss.as_ref().unwrap()["nvd"].v2_score, Some(5.0));
    assert_eq!(v.cvss.as_ref().unwrap()["nvd"].v3_score, Some(5.3));
    assert_eq!(
        v.primary_link.as_deref(),
        Some("https://avd.aquasec.com/nvd/cve-2019-1549")
    );
    assert_eq!(
        v.package_purl.as_deref(),
        Some("pkg:apk/alpine/libcrypto1.1@1.1.1c-r0?arch=x86_64&distro=3.10.2")
    );
    assert_eq!(v.published_date, "2019-09-10T17:15:00Z");
    assert_eq!(v.last_modified_date, "2020-10-20T22:15:00Z");
    assert_eq!(v.class.as_deref(), Some("os-pkgs"));
    assert_eq!(v.package_type.as_deref(), Some("alpine"));
    assert_eq!(
        v.target.as_deref(),
        Some("testdata/fixtures/images/alpine-310.tar.gz (alpine 3.10.2)")
    );
    assert_eq!(v.title, "openssl: information disclosure in fork()");
    assert!(
        v.description
            .as_ref()
            .unwrap()
            .starts_with("OpenSSL 1.1.1 introduced")
    );
    assert!(
        v.links
            .as_ref()
            .unwrap()
            .contains(&"https://access.redhat.com/security/cve/CVE-2019-1549".to_owned())
    );
    assert_eq!(r.vulnerabilities[3].resource, "libssl1.1");
    assert_eq!(r.vulnerabilities[3].fixed_version, "1.1.1d-r2");
}

#[test]
fn busybox_with_lockfile_has_no_os() {
    let r = convert(&read("busybox-with-lockfile.json.golden"), "busybox");
    assert_eq!(r.os, Default::default());
    let os_json = serde_json::to_value(&r).unwrap()["os"].clone();
    assert_eq!(
        os_json,
        serde_json::json!({}),
        "no OS is written as os: {{}}"
    );
    assert_eq!(r.artifact.tag.as_deref(), Some("latest"));
    assert_eq!((r.summary.high_count, r.summary.medium_count), (1, 1));
    let v = &r.vulnerabilities[0];
    assert_eq!(
        (v.vulnerability_id.as_str(), v.resource.as_str()),
        ("CVE-2019-15542", "ammonia")
    );
    assert_eq!(v.severity, Severity::High);
    assert_eq!(v.score, Some(7.5), "only NVD has a score");
    assert_eq!(v.cvsssource.as_deref(), Some("nvd"));
    assert_eq!(v.fixed_version, ">= 2.1.0");
    assert_eq!(v.package_purl.as_deref(), Some("pkg:cargo/ammonia@1.9.0"));
    assert_eq!(v.target.as_deref(), Some("Cargo.lock"));
    assert_eq!(v.class.as_deref(), Some("lang-pkgs"));
    assert_eq!(v.package_type.as_deref(), Some("cargo"));
    assert_eq!(v.package_path, None);
    assert_eq!(r.vulnerabilities[1].severity, Severity::Medium);
    assert_eq!(r.vulnerabilities[1].score, Some(6.1));
}

#[test]
fn debian_buster() {
    let r = convert(&read("debian-buster.json.golden"), "debian:buster");
    assert_eq!(
        (r.os.family.as_str(), r.os.name.as_deref(), r.os.eosl),
        ("debian", Some("10.1"), None)
    );
    let bash = &r.vulnerabilities[0];
    assert_eq!(
        (bash.vulnerability_id.as_str(), bash.severity),
        ("CVE-2019-18276", Severity::Low)
    );
    assert_eq!(bash.fixed_version, "", "no fix");
    assert_eq!(bash.score, Some(7.8));
    let idn = &r.vulnerabilities[1];
    assert_eq!(
        (idn.resource.as_str(), idn.severity),
        ("libidn2-0", Severity::Critical)
    );
    assert_eq!(idn.fixed_version, "2.0.5-1+deb10u1");
    assert_eq!(idn.score, Some(5.6), "redhat's score, not nvd's 9.8");
    assert_eq!((r.summary.critical_count, r.summary.low_count), (1, 1));
}

#[test]
fn spring4shell_mixes_os_and_jar_results_and_ignores_top_level_severity() {
    let json = read("spring4shell-jre8.json.golden");
    let trivy = parse_report(&json).unwrap();
    assert_eq!(trivy.results.len(), 3);
    assert_eq!(trivy.results[0].vulnerabilities.len(), 0);
    assert_eq!(trivy.results[2].r#type, None, "custom result has no Type");
    // Trivy's own top-level severity in this file is LOW; upstream's rule says CRITICAL.
    assert_eq!(
        trivy.results[1].vulnerabilities[0].severity.as_deref(),
        Some("LOW")
    );
    let r = to_report_data(
        &trivy,
        &ImageRef::parse("tomcat:jre8").unwrap(),
        scanner(),
        ts(),
    );
    assert_eq!(r.vulnerabilities.len(), 1);
    let v = &r.vulnerabilities[0];
    assert_eq!(v.vulnerability_id, "CVE-2022-22965");
    assert_eq!(v.severity, Severity::Critical);
    assert_eq!(r.summary.critical_count, 1);
    assert_eq!(r.summary.low_count, 0);
    assert_eq!(
        (v.score, v.cvsssource.as_deref()),
        (Some(9.8), Some("ghsa"))
    );
    assert_eq!(v.fixed_version, "5.3.18");
    assert_eq!(v.target.as_deref(), Some("Java"));
    assert_eq!(v.package_type.as_deref(), Some("jar"));
    assert_eq!(
        v.package_path.as_deref(),
        Some("usr/local/tomcat/webapps/helloworld.war/WEB-INF/lib/spring-beans-5.3.15.jar")
    );
    assert_eq!(
        v.package_purl.as_deref(),
        Some("pkg:maven/org.springframework/spring-beans@5.3.15")
    );
    assert_eq!(
        (r.os.family.as_str(), r.os.name.as_deref()),
        ("debian", Some("11.3"))
    );
}

#[test]
fn digest_falls_back_to_repo_digests() {
    let json = read("vulnerability_report.json");
    let r = convert(&json, "alpine:3.10.2");
    assert_eq!(r.artifact.digest.as_deref(), Some(ALPINE_DIGEST));
    assert_eq!(r.artifact.tag.as_deref(), Some("3.10.2"));
    assert_eq!(r.os.eosl, Some(true));
    let (a, b) = (&r.vulnerabilities[0], &r.vulnerabilities[1]);
    assert_eq!(
        (a.vulnerability_id.as_str(), a.severity),
        ("CVE-2019-1549", Severity::Medium)
    );
    assert_eq!(
        (b.vulnerability_id.as_str(), b.severity),
        ("CVE-2019-1547", Severity::Low)
    );
    assert_eq!(
        (a.score, a.cvss.as_ref()),
        (None, None),
        "no CVSS in this file"
    );
    assert_eq!(
        (a.published_date.as_str(), a.last_modified_date.as_str()),
        ("", "")
    );
    assert_eq!(a.class, None);
    assert_eq!(b.description, None);
    // A digest in the workload's reference wins over RepoDigests.
    let other = "sha256:0000000000000000000000000000000000000000000000000000000000000001";
    let r = convert(&json, &format!("alpine@{other}"));
    assert_eq!(r.artifact.digest.as_deref(), Some(other));
    assert_eq!(r.artifact.tag, None);
}

#[test]
fn repo_digest_of_the_same_repository_is_preferred() {
    let mut v: Value = serde_json::from_slice(&read("vulnerability_report.json")).unwrap();
    let other = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    v["Metadata"]["RepoDigests"] = serde_json::json!([
        format!("quay.io/mirror/alpine@{other}"),
        "not-a-digest",
        format!("docker.io/library/alpine@{ALPINE_DIGEST}"),
    ]);
    let json = serde_json::to_vec(&v).unwrap();
    assert_eq!(
        convert(&json, "alpine:3.10.2").artifact.digest.as_deref(),
        Some(ALPINE_DIGEST)
    );
    assert_eq!(
        convert(&json, "ghcr.io/x/y:1").artifact.digest.as_deref(),
        Some(other)
    );
}

#[test]
fn compressed_output_is_detected_with_and_without_line_breaks() {
    let json = read("alpine-310.json.golden");
    let wrapped = compress(&json);
    assert_eq!(decode_scanner_output(&wrapped).unwrap(), json);
    let one_line: Vec<u8> = wrapped.iter().copied().filter(|b| *b != b'\n').collect();
    assert_eq!(decode_scanner_output(&one_line).unwrap(), json);
    let padded = [b"\n  ".as_slice(), &json, b"\n"].concat();
    assert_eq!(decode_scanner_output(&padded).unwrap(), padded);
}

#[test]
fn bzip2_base64_is_what_the_decoder_reads() {
    let text = br#"{"SchemaVersion": 2}"#;
    let encoded = common::trivy::bzip2_base64(text);
    assert!(encoded.is_ascii());
    assert_eq!(
        common::trivy::decode_scanner_output(encoded.as_bytes())
            .unwrap()
            .as_ref(),
        text
    );
}

//! Helpers of the Trivy parsing tests: the real Trivy outputs of tests/data/trivy-json,
//! their compressed form as the scan Job writes it, and a conversion with fixed inputs.

#![allow(dead_code, clippy::unwrap_used)]

use std::io::Write;

use base64::Engine;
use common::reports::vulnerability::{Scanner, VulnerabilityReportData};
use common::trivy::{ImageRef, parse_scanner_output, to_report_data};

pub const TRIVY_JSON: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/data/trivy-json");
pub const FILES: [&str; 5] = [
    "alpine-310.json.golden",
    "busybox-with-lockfile.json.golden",
    "debian-buster.json.golden",
    "spring4shell-jre8.json.golden",
    "vulnerability_report.json",
];
pub const ALPINE_DIGEST: &str =
    "sha256:72c42ed48c3a2db31b7dafe17d275b634664a708d901ec9fd57b1529280f01fb";

pub fn read(file: &str) -> Vec<u8> {
    std::fs::read(format!("{TRIVY_JSON}/{file}")).unwrap()
}

/// `bzip2 | base64`, wrapped at 76 columns like coreutils' base64.
pub fn compress(json: &[u8]) -> Vec<u8> {
    let mut enc = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::best());
    enc.write_all(json).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(enc.finish().unwrap());
    let mut out = Vec::new();
    for line in b64.as_bytes().chunks(76) {
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    out
}

pub fn scanner() -> Scanner {
    Scanner::trivy("0.65.0")
}

pub fn ts() -> jiff::Timestamp {
    "2024-05-01T10:00:00Z".parse().unwrap()
}

pub fn convert(output: &[u8], image: &str) -> VulnerabilityReportData {
    let trivy = parse_scanner_output(output).unwrap();
    to_report_data(&trivy, &ImageRef::parse(image).unwrap(), scanner(), ts())
}

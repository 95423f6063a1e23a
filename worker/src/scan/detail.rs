//! What a VulnerabilityReport keeps of a scan: upstream's `trivy.severity` and
//! `trivy.ignoreUnfixed` (passed to Trivy, and applied again to every report written, so a
//! report copied from an older scan follows the current settings too), and fields the user
//! chose to omit to make reports smaller. The summary counts what the report keeps. Pure.

use std::collections::BTreeSet;

use common::reports::vulnerability::{Severity, VulnerabilityReportData, VulnerabilitySummary};

/// A field of each vulnerability that can be left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Omit {
    /// `description` (about 0.7 KB each).
    Description,
    /// `links` and `primaryLink` (about 1.3 KB each).
    Links,
    /// `cvss` (scores and vectors by vendor).
    Cvss,
}

/// The report's detail settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detail {
    /// Severities kept.
    pub severities: BTreeSet<Severity>,
    /// Keep only vulnerabilities with a fixed version.
    pub ignore_unfixed: bool,
    pub omit: BTreeSet<Omit>,
    /// In the per-image storage mode, the severities a workload's report keeps (the image's
    /// report keeps every one the settings above keep).
    pub per_image_keep: BTreeSet<Severity>,
}

impl Default for Detail {
    fn default() -> Self {
        Self {
            severities: Severity::ALL.into_iter().collect(),
            ignore_unfixed: false,
            omit: BTreeSet::new(),
            per_image_keep: [Severity::Critical, Severity::High].into(),
        }
    }
}

/// Parses `--per-image-keep-severities`: like [`parse_severities`], or `NONE`.
pub fn parse_kept_severities(s: &str) -> Result<BTreeSet<Severity>, String> {
    if s.trim().eq_ignore_ascii_case("none") {
        return Ok(BTreeSet::new());
    }
    parse_severities(s)
}

/// Parses `--trivy-severity`: comma-separated severity names, as Trivy takes them.
pub fn parse_severities(s: &str) -> Result<BTreeSet<Severity>, String> {
    let mut set = BTreeSet::new();
    for name in s.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let severity = Severity::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                format!("unknown severity {name:?} (UNKNOWN, LOW, MEDIUM, HIGH, CRITICAL)")
            })?;
        set.insert(severity);
    }
    if set.is_empty() {
        return Err("at least one severity is needed".into());
    }
    Ok(set)
}

impl Detail {
    /// Arguments for `trivy image` that make its output no larger than needed.
    pub fn trivy_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if self.severities.len() < Severity::ALL.len() {
            let names: Vec<&str> = Severity::ALL
                .into_iter()
                .filter(|s| self.severities.contains(s))
                .rev()
                .map(Severity::as_str)
                .collect();
            args.extend(["--severity".to_owned(), names.join(",")]);
        }
        if self.ignore_unfixed {
            args.push("--ignore-unfixed".to_owned());
        }
        args
    }

    /// Keeps what the settings keep, and recounts the summary.
    pub fn apply(&self, data: &mut VulnerabilityReportData) {
        data.vulnerabilities.retain(|v| {
            self.severities.contains(&v.severity)
                && !(self.ignore_unfixed && v.fixed_version.trim().is_empty())
        });
        for v in &mut data.vulnerabilities {
            for omit in &self.omit {
                match omit {
                    Omit::Description => v.description = None,
                    Omit::Links => {
                        v.links = None;
                        v.primary_link = None;
                    }
                    Omit::Cvss => v.cvss = None,
                }
            }
        }
        data.summary = VulnerabilitySummary::count(&data.vulnerabilities);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use common::reports::vulnerability::Vulnerability;

    use super::*;

    fn data() -> VulnerabilityReportData {
        let v = |id: &str, severity: &str, fixed: &str| -> Vulnerability {
            serde_json::from_value(serde_json::json!({
                "vulnerabilityID": id, "resource": "pkg", "installedVersion": "1",
                "fixedVersion": fixed, "publishedDate": "", "lastModifiedDate": "",
                "severity": severity, "title": "t", "description": "d",
                "primaryLink": "https://x/1", "links": ["https://x/2"],
                "cvss": {"nvd": {"V3Score": 9.8}},
            }))
            .unwrap()
        };
        let mut d = VulnerabilityReportData::default();
        d.vulnerabilities = vec![
            v("CVE-1", "CRITICAL", "2"),
            v("CVE-2", "HIGH", ""),
            v("CVE-3", "LOW", "2"),
            v("CVE-4", "UNKNOWN", ""),
        ];
        d.summary = VulnerabilitySummary::count(&d.vulnerabilities);
        d
    }

    #[test]
    fn the_default_keeps_everything() {
        let mut d = data();
        let before = d.clone();
        Detail::default().apply(&mut d);
        assert_eq!(d, before);
        assert!(Detail::default().trivy_args().is_empty());
    }

    #[test]
    fn severities_and_unfixed_are_filtered_and_the_summary_recounted() {
        let detail = Detail {
            severities: parse_severities("critical,HIGH, LOW").unwrap(),
            ignore_unfixed: true,
            ..Detail::default()
        };
        let mut d = data();
        detail.apply(&mut d);
        let ids: Vec<&str> = d
            .vulnerabilities
            .iter()
            .map(|v| v.vulnerability_id.as_str())
            .collect();
        assert_eq!(ids, ["CVE-1", "CVE-3"]);
        assert_eq!(
            (
                d.summary.critical_count,
                d.summary.high_count,
                d.summary.low_count
            ),
            (1, 0, 1)
        );
        assert_eq!(
            detail.trivy_args(),
            ["--severity", "LOW,HIGH,CRITICAL", "--ignore-unfixed"]
        );
    }

    #[test]
    fn omitted_fields_are_left_out() {
        let detail = Detail {
            omit: [Omit::Description, Omit::Links, Omit::Cvss].into(),
            ..Detail::default()
        };
        let mut d = data();
        detail.apply(&mut d);
        assert_eq!(d.vulnerabilities.len(), 4);
        for v in &d.vulnerabilities {
            assert!(v.description.is_none() && v.links.is_none() && v.primary_link.is_none());
            assert!(v.cvss.is_none());
            assert_eq!(v.title, "t");
        }
    }

    #[test]
    fn nonsense_severities_are_refused() {
        assert!(parse_severities("").is_err());
        assert!(parse_severities("SEVERE").is_err());
        assert!(parse_severities(" , ").is_err());
        assert!(parse_kept_severities("none").unwrap().is_empty());
        assert!(parse_kept_severities("NONE,HIGH").is_err());
        assert_eq!(
            parse_kept_severities("critical").unwrap(),
            [Severity::Critical].into()
        );
    }
}

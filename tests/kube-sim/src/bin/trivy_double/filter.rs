//! What Trivy's `--scanners`, `--severity` and `--ignore-unfixed` keep of an output.

/// What Trivy's flags keep of a report: the findings of the scanners run (`--scanners`:
/// without `vuln` no result has vulnerabilities, without `secret` no secret results), of
/// these severities (`--severity`, vulnerabilities and secrets alike), and with
/// `ignore_unfixed` only vulnerabilities with a fixed version.
pub struct Filter<'a> {
    pub severities: &'a [String],
    pub ignore_unfixed: bool,
    pub vulns: bool,
    pub secrets: bool,
}

impl Filter<'_> {
    fn keeps_severity(&self, finding: &serde_json::Value) -> bool {
        let sev = finding
            .get("Severity")
            .and_then(|s| s.as_str())
            .unwrap_or("UNKNOWN");
        self.severities.iter().any(|s| s == sev)
    }

    /// Filters the report. The bytes are returned unchanged when nothing is filtered out
    /// (the common case, so outputs stay byte-identical to the real files); a filtered
    /// report is re-serialized. Also says whether any vulnerability or secret remains, for
    /// `--exit-code`.
    pub fn apply(&self, bytes: Vec<u8>) -> (Vec<u8>, bool) {
        let Ok(mut report) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
            return (bytes, false);
        };
        let mut removed = false;
        let mut remaining = false;
        if let Some(results) = report.get_mut("Results").and_then(|r| r.as_array_mut()) {
            let before = results.len();
            results.retain(|r| {
                self.secrets || r.get("Class").and_then(|c| c.as_str()) != Some("secret")
            });
            removed |= results.len() != before;
            for result in results.iter_mut() {
                let Some(fields) = result.as_object_mut() else {
                    continue;
                };
                if !self.vulns && fields.remove("Vulnerabilities").is_some() {
                    removed = true;
                }
                if let Some(vulns) = fields
                    .get_mut("Vulnerabilities")
                    .and_then(|v| v.as_array_mut())
                {
                    let before = vulns.len();
                    vulns.retain(|v| {
                        let fixed = v
                            .get("FixedVersion")
                            .and_then(|f| f.as_str())
                            .is_some_and(|f| !f.trim().is_empty());
                        self.keeps_severity(v) && (fixed || !self.ignore_unfixed)
                    });
                    removed |= vulns.len() != before;
                    remaining |= !vulns.is_empty();
                }
                if let Some(secrets) = fields.get_mut("Secrets").and_then(|v| v.as_array_mut()) {
                    let before = secrets.len();
                    secrets.retain(|s| self.keeps_severity(s));
                    removed |= secrets.len() != before;
                    remaining |= !secrets.is_empty();
                }
            }
        }
        if !removed {
            return (bytes, remaining);
        }
        match serde_json::to_vec_pretty(&report) {
            Ok(mut out) => {
                out.push(b'\n');
                (out, remaining)
            }
            Err(_) => (bytes, remaining),
        }
    }
}

//! Trivy JSON → ExposedSecretReport data, with upstream's mapping: one entry per secret of
//! every `Results[]` entry, the result's `Target` as the secret's target, the rule's ID,
//! title, category and severity and the (masked) matched line.
//!
//! A severity outside the four upstream's CRD allows (a custom secret rule may say
//! `UNKNOWN`) is reported as `LOW` rather than dropped: the API server would refuse the whole
//! report otherwise.

use crate::reports::Scanner;
use crate::reports::exposed_secret::{
    ExposedSecret, ExposedSecretReportData, ExposedSecretSummary, SecretSeverity,
};

use super::convert::artifact_of;
use super::image_ref::ImageRef;
use super::json::{DetectedSecret, TrivyReport};

/// Builds the `report` of an ExposedSecretReport for one container image.
pub fn to_secret_data(
    trivy: &TrivyReport,
    image: &ImageRef,
    scanner: Scanner,
    update_timestamp: jiff::Timestamp,
) -> ExposedSecretReportData {
    let secrets: Vec<ExposedSecret> = trivy
        .results
        .iter()
        .flat_map(|r| r.secrets.iter().map(|s| convert(&r.target, s)))
        .collect();
    let (registry, artifact) = artifact_of(trivy, image);
    ExposedSecretReportData {
        update_timestamp,
        scanner,
        registry: Some(registry),
        artifact,
        summary: ExposedSecretSummary::count(&secrets),
        secrets,
    }
}

fn convert(target: &str, s: &DetectedSecret) -> ExposedSecret {
    ExposedSecret {
        target: target.to_owned(),
        rule_id: s.rule_id.clone(),
        title: s.title.clone(),
        category: s.category.clone(),
        severity: SecretSeverity::parse(&s.severity).unwrap_or(SecretSeverity::Low),
        matched: s.r#match.clone(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn report(json: &str) -> TrivyReport {
        crate::trivy::parse_report(json.as_bytes()).unwrap()
    }

    #[test]
    fn secrets_of_every_result_with_their_target() {
        let trivy = report(
            r#"{"SchemaVersion":2,"Metadata":{"RepoDigests":["alpine@sha256:72c42ed48c3a2db31b7dafe17d275b634664a708d901ec9fd57b1529280f01fb"]},
            "Results":[
              {"Target":"alpine:3.10 (alpine 3.10.2)","Class":"os-pkgs","Vulnerabilities":[]},
              {"Target":"/app/secret.yaml","Class":"secret","Secrets":[
                {"RuleID":"stripe-access-token","Category":"Stripe","Severity":"CRITICAL","Title":"Stripe","StartLine":4,"EndLine":4,"Match":"secret_key: *****"},
                {"RuleID":"custom","Category":"Custom","Severity":"UNKNOWN","Title":"Mine","Match":"x=***"}]},
              {"Target":"/etc/s3auth.conf","Class":"secret","Secrets":null}]}"#,
        );
        let image = ImageRef::parse("alpine:3.10").unwrap();
        let data = to_secret_data(
            &trivy,
            &image,
            Scanner::trivy("0.58.1"),
            jiff::Timestamp::UNIX_EPOCH,
        );
        assert_eq!(data.secrets.len(), 2);
        let first = &data.secrets[0];
        assert_eq!(first.target, "/app/secret.yaml");
        assert_eq!(first.rule_id, "stripe-access-token");
        assert_eq!(first.category, "Stripe");
        assert_eq!(first.title, "Stripe");
        assert_eq!(first.severity, SecretSeverity::Critical);
        assert_eq!(first.matched, "secret_key: *****");
        assert_eq!(data.secrets[1].severity, SecretSeverity::Low);
        assert_eq!(data.summary.critical_count, 1);
        assert_eq!(data.summary.low_count, 1);
        assert_eq!(data.artifact.repository, "library/alpine");
        assert_eq!(data.artifact.tag.as_deref(), Some("3.10"));
        assert!(
            data.artifact
                .digest
                .as_deref()
                .unwrap()
                .starts_with("sha256:72c4")
        );
        assert_eq!(data.registry.unwrap().server, "index.docker.io");
    }

    #[test]
    fn an_image_without_secrets_has_an_empty_list() {
        let trivy = report(r#"{"SchemaVersion":2,"Results":null}"#);
        let image = ImageRef::parse("nginx:1.16").unwrap();
        let data = to_secret_data(
            &trivy,
            &image,
            Scanner::trivy("0.58.1"),
            jiff::Timestamp::UNIX_EPOCH,
        );
        assert!(data.secrets.is_empty());
        assert_eq!(data.summary, ExposedSecretSummary::default());
    }
}

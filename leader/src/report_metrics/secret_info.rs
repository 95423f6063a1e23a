//! `trivy_exposedsecrets_info` (upstream's `metricsExposedSecretInfo`): one series per
//! distinct secret of each ExposedSecretReport, rendered from a listing of the reports with
//! their secrets (the leader's watches keep only counts).

use serde::Deserialize;

use common::labels;

use super::{ArtifactView, Error, ObjectMeta, RegistryView, apis, for_each, label_of, sample};

const SECRET_INFO_NAME: &str = "trivy_exposedsecrets_info";

/// An ExposedSecretReport as `trivy_exposedsecrets_info` needs it: with its secrets.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct SecretInfoView {
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub report: SecretInfoViewData,
}

/// The parts of an ExposedSecretReport's `report` the info series read.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct SecretInfoViewData {
    #[serde(default)]
    pub registry: Option<RegistryView>,
    #[serde(default)]
    pub artifact: ArtifactView,
    #[serde(default)]
    pub secrets: Vec<SecretFindingView>,
}

/// One secret of `report.secrets`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretFindingView {
    #[serde(default)]
    pub target: String,
    #[serde(rename = "ruleID", default)]
    pub rule_id: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub category: String,
    #[serde(default)]
    pub severity: String,
}

view_resource!(
    SecretInfoView,
    kind = "ExposedSecretReport",
    plural = "exposedsecretreports"
);

/// `trivy_exposedsecrets_info`: one series of value 1 per distinct secret (category, rule,
/// target, title and severity) of each report, as upstream's
/// `metricsExposedSecretInfo` serves it.
pub fn secret_info(reports: &[SecretInfoView]) -> String {
    let mut out = String::from(
        "# HELP trivy_exposedsecrets_info Number of container image exposed secrets group by secret rule id\n# TYPE trivy_exposedsecrets_info gauge\n",
    );
    for r in reports {
        let meta = &r.metadata;
        let artifact = &r.report.artifact;
        let mut seen = std::collections::BTreeSet::new();
        for secret in &r.report.secrets {
            let severity = severity_label(&secret.severity);
            let key = (
                &secret.category,
                &secret.rule_id,
                &secret.target,
                &secret.title,
                severity,
            );
            if !seen.insert(key) {
                continue;
            }
            let base = [
                ("namespace", meta.namespace.as_deref().unwrap_or("")),
                ("name", meta.name.as_deref().unwrap_or("")),
                ("resource_kind", label_of(meta, labels::RESOURCE_KIND)),
                ("resource_name", label_of(meta, labels::RESOURCE_NAME)),
                ("container_name", label_of(meta, labels::CONTAINER_NAME)),
                (
                    "image_registry",
                    r.report.registry.as_ref().map_or("", |g| g.server.as_str()),
                ),
                ("image_repository", artifact.repository.as_str()),
                ("image_tag", artifact.tag.as_deref().unwrap_or("")),
                ("image_digest", artifact.digest.as_deref().unwrap_or("")),
                ("secret_category", secret.category.as_str()),
                ("secret_rule_id", secret.rule_id.as_str()),
                ("secret_target", secret.target.as_str()),
                ("secret_title", secret.title.as_str()),
            ];
            sample(&mut out, SECRET_INFO_NAME, &base, severity, 1);
        }
    }
    out
}

/// Upstream's severity label of a report severity (`CRITICAL` → `Critical`).
fn severity_label(severity: &str) -> &'static str {
    match severity {
        "CRITICAL" => "Critical",
        "HIGH" => "High",
        "MEDIUM" => "Medium",
        "LOW" => "Low",
        _ => "Unknown",
    }
}

/// Lists the ExposedSecretReports (with their secrets, a page at a time) and renders
/// `trivy_exposedsecrets_info`.
pub async fn render_secret_info(
    client: &kube::Client,
    namespaces: &[String],
) -> Result<String, Error> {
    let mut reports = Vec::new();
    for api in apis::<SecretInfoView>(client, namespaces) {
        for_each(&api, |r| reports.push(r.clone()))
            .await
            .map_err(|source| Error::List {
                kind: "ExposedSecretReport",
                source: Box::new(source),
            })?;
    }
    Ok(secret_info(&reports))
}

//! The upstream-compatible report gauges, computed at scrape time from the reports in the
//! cluster: `trivy_image_vulnerabilities` (one series per VulnerabilityReport and severity),
//! `trivy_resource_configaudits` (one per ConfigAuditReport and severity),
//! `trivy_image_exposedsecrets` (one per ExposedSecretReport and severity),
//! `trivy_resource_infraassessments` (one per control-plane component's
//! InfraAssessmentReport and severity, as upstream, and one per node's
//! ClusterInfraAssessmentReport, with an empty namespace, which upstream leaves out) and, when asked for, `trivy_exposedsecrets_info` (one per secret found,
//! listed at scrape), with upstream's metric names, help texts, label names and severity
//! values. They come from the leader's
//! watches (each report's metadata carries its counts and image, see
//! [`common::reports::gauge`]); while a report lacks them, reports are listed in pages
//! and read through slim views (metadata, image and summary only), so a scrape never holds
//! every report's vulnerability list in memory.

use std::fmt::Write as _;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;

use common::labels;
use common::reports::config_audit::ConfigAuditSummary;
use common::reports::infra_assessment::{ClusterInfraAssessmentReport, InfraAssessmentReport};
use common::reports::rbac_assessment::{ClusterRbacAssessmentReport, RbacAssessmentReport};

mod cache;
mod listing;
mod observed;
pub use cache::{CachedGauges, MAX_AGE};
pub use listing::render;
use listing::{apis, for_each};
pub use observed::render_observed;
pub use secret_info::{SecretInfoView, render_secret_info, secret_info};

/// Errors of a scrape.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Listing reports failed.
    #[error("listing {kind}s: {source}")]
    List {
        kind: &'static str,
        source: Box<kube::Error>,
    },
}

impl Error {
    /// A bounded label for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::List { .. } => "ListReports",
        }
    }
}

/// A VulnerabilityReport as the gauges need it.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct VulnerabilityView {
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub report: VulnerabilityViewData,
}

/// The parts of `report` the gauges read; everything else is skipped when deserializing.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VulnerabilityViewData {
    #[serde(default)]
    pub registry: Option<RegistryView>,
    #[serde(default)]
    pub artifact: ArtifactView,
    #[serde(default)]
    pub summary: SeverityCounts,
}

/// `report.registry`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct RegistryView {
    #[serde(default)]
    pub server: String,
}

/// `report.artifact`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactView {
    #[serde(default)]
    pub repository: String,
    #[serde(default)]
    pub tag: Option<String>,
    #[serde(default)]
    pub digest: Option<String>,
}

/// `report.summary` of either kind (config audits have no unknown count).
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SeverityCounts {
    #[serde(default)]
    pub critical_count: u64,
    #[serde(default)]
    pub high_count: u64,
    #[serde(default)]
    pub medium_count: u64,
    #[serde(default)]
    pub low_count: u64,
    #[serde(default)]
    pub unknown_count: u64,
}

/// A ConfigAuditReport as the gauges need it.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ConfigAuditView {
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub report: ConfigAuditViewData,
}

/// The summary of a ConfigAuditReport.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ConfigAuditViewData {
    #[serde(default)]
    pub summary: SeverityCounts,
}

/// An ExposedSecretReport as `trivy_image_exposedsecrets` needs it (the list is skipped).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct SecretView {
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub report: VulnerabilityViewData,
}

macro_rules! view_resource {
    ($ty:ident, kind = $kind:literal, plural = $plural:literal) => {
        impl k8s_openapi::Resource for $ty {
            const API_VERSION: &'static str = common::reports::API_VERSION;
            const GROUP: &'static str = common::reports::GROUP;
            const KIND: &'static str = $kind;
            const VERSION: &'static str = common::reports::VERSION;
            const URL_PATH_SEGMENT: &'static str = $plural;
            type Scope = k8s_openapi::NamespaceResourceScope;
        }

        impl k8s_openapi::Metadata for $ty {
            type Ty = ObjectMeta;

            fn metadata(&self) -> &ObjectMeta {
                &self.metadata
            }

            fn metadata_mut(&mut self) -> &mut ObjectMeta {
                &mut self.metadata
            }
        }
    };
}

view_resource!(
    VulnerabilityView,
    kind = "VulnerabilityReport",
    plural = "vulnerabilityreports"
);
view_resource!(
    ConfigAuditView,
    kind = "ConfigAuditReport",
    plural = "configauditreports"
);

view_resource!(
    SecretView,
    kind = "ExposedSecretReport",
    plural = "exposedsecretreports"
);
// After `view_resource!`, which it uses.
mod secret_info;

const VULN_NAME: &str = "trivy_image_vulnerabilities";
const SECRET_NAME: &str = "trivy_image_exposedsecrets";
const AUDIT_NAME: &str = "trivy_resource_configaudits";
const INFRA_NAME: &str = "trivy_resource_infraassessments";
const ROLE_NAME: &str = "trivy_role_rbacassessments";
const CLUSTER_ROLE_NAME: &str = "trivy_clusterrole_clusterrbacassessments";

/// The labels and counts of one VulnerabilityReport's series.
#[derive(Debug, Clone)]
pub struct VulnRow<'a> {
    pub namespace: &'a str,
    pub name: &'a str,
    pub resource_kind: &'a str,
    pub resource_name: &'a str,
    pub container_name: &'a str,
    pub registry: &'a str,
    pub repository: &'a str,
    pub tag: &'a str,
    pub digest: &'a str,
    /// Critical, high, medium, low, unknown.
    pub counts: [u64; 5],
}

/// The labels and counts of one ConfigAuditReport's series.
#[derive(Debug, Clone)]
pub struct AuditRow<'a> {
    pub namespace: &'a str,
    pub name: &'a str,
    pub resource_kind: &'a str,
    pub resource_name: &'a str,
    /// Critical, high, medium, low.
    pub counts: [u64; 4],
}

/// The gauge families, built one report at a time.
#[derive(Debug, Default)]
pub struct ReportGauges {
    vulnerabilities: String,
    config_audits: String,
    secrets: String,
    infra: String,
    roles: String,
    cluster_roles: String,
}

impl ReportGauges {
    /// Adds the five `trivy_image_vulnerabilities` series of one listed report.
    pub fn add_vulnerability(&mut self, r: &VulnerabilityView) {
        self.add_vuln_row(&listed_row(&r.metadata, &r.report));
    }

    /// Adds the five `trivy_image_vulnerabilities` series of one report.
    pub fn add_vuln_row(&mut self, r: &VulnRow<'_>) {
        let base = image_labels(r);
        for (severity, count) in SEVERITY_LABELS.into_iter().zip(r.counts) {
            sample(&mut self.vulnerabilities, VULN_NAME, &base, severity, count);
        }
    }

    /// Adds the four `trivy_image_exposedsecrets` series of one listed report.
    pub fn add_secret(&mut self, r: &SecretView) {
        self.add_secret_row(&listed_row(&r.metadata, &r.report));
    }

    /// Adds the four `trivy_image_exposedsecrets` series of one report (`counts[4]` is
    /// ignored: secrets have no unknown severity).
    pub fn add_secret_row(&mut self, r: &VulnRow<'_>) {
        let base = image_labels(r);
        for (severity, count) in SEVERITY_LABELS.into_iter().zip(r.counts).take(4) {
            sample(&mut self.secrets, SECRET_NAME, &base, severity, count);
        }
    }

    /// Adds the four `trivy_resource_configaudits` series of one listed report.
    pub fn add_config_audit(&mut self, r: &ConfigAuditView) {
        let meta = &r.metadata;
        let s = &r.report.summary;
        self.add_audit_row(&AuditRow {
            namespace: meta.namespace.as_deref().unwrap_or(""),
            name: meta.name.as_deref().unwrap_or(""),
            resource_kind: label_of(meta, labels::RESOURCE_KIND),
            resource_name: label_of(meta, labels::RESOURCE_NAME),
            counts: [s.critical_count, s.high_count, s.medium_count, s.low_count],
        });
    }

    /// Adds the four `trivy_resource_configaudits` series of one report.
    pub fn add_audit_row(&mut self, r: &AuditRow<'_>) {
        resource_samples(&mut self.config_audits, AUDIT_NAME, r);
    }

    /// Adds the four `trivy_resource_infraassessments` series of one listed node report.
    pub fn add_infra_assessment(&mut self, r: &ClusterInfraAssessmentReport) {
        self.add_infra_row(&infra_row(&r.metadata, &r.report.summary));
    }

    /// Adds the four `trivy_resource_infraassessments` series of one listed control-plane
    /// component's report.
    pub fn add_namespaced_infra_assessment(&mut self, r: &InfraAssessmentReport) {
        self.add_infra_row(&infra_row(&r.metadata, &r.report.summary));
    }

    /// Adds the four `trivy_resource_infraassessments` series of one node report (the
    /// labels of `trivy_resource_configaudits`; the namespace is empty).
    pub fn add_infra_row(&mut self, r: &AuditRow<'_>) {
        resource_samples(&mut self.infra, INFRA_NAME, r);
    }

    /// Adds the four `trivy_role_rbacassessments` series of one listed Role report.
    pub fn add_rbac_assessment(&mut self, r: &RbacAssessmentReport) {
        self.add_role_row(&infra_row(&r.metadata, &r.report.summary));
    }

    /// Adds the four `trivy_role_rbacassessments` series of one Role report.
    pub fn add_role_row(&mut self, r: &AuditRow<'_>) {
        resource_samples(&mut self.roles, ROLE_NAME, r);
    }

    /// Adds the four `trivy_clusterrole_clusterrbacassessments` series of one listed
    /// ClusterRole report.
    pub fn add_cluster_rbac_assessment(&mut self, r: &ClusterRbacAssessmentReport) {
        self.add_cluster_role_row(&infra_row(&r.metadata, &r.report.summary));
    }

    /// Adds the four `trivy_clusterrole_clusterrbacassessments` series of one ClusterRole
    /// report (upstream's labels: no namespace).
    pub fn add_cluster_role_row(&mut self, r: &AuditRow<'_>) {
        let base = [
            ("name", r.name),
            ("resource_kind", r.resource_kind),
            ("resource_name", r.resource_name),
        ];
        severity_samples(&mut self.cluster_roles, CLUSTER_ROLE_NAME, &base, r.counts);
    }

    /// The text of both families with their `# HELP` and `# TYPE` lines (valid in the
    /// Prometheus text format and, before a closing `# EOF`, in OpenMetrics).
    pub fn finish(self) -> String {
        let mut out =
            String::with_capacity(self.vulnerabilities.len() + self.config_audits.len() + 256);
        out.push_str(
            "# HELP trivy_image_vulnerabilities Number of container image vulnerabilities\n",
        );
        out.push_str("# TYPE trivy_image_vulnerabilities gauge\n");
        out.push_str(&self.vulnerabilities);
        out.push_str(
            "# HELP trivy_resource_configaudits Number of failing resource configuration auditing checks\n",
        );
        out.push_str("# TYPE trivy_resource_configaudits gauge\n");
        out.push_str(&self.config_audits);
        out.push_str("# HELP trivy_image_exposedsecrets Number of image exposed secrets\n");
        out.push_str("# TYPE trivy_image_exposedsecrets gauge\n");
        out.push_str(&self.secrets);
        out.push_str(
            "# HELP trivy_resource_infraassessments Number of failing k8s infra assessment checks\n",
        );
        out.push_str("# TYPE trivy_resource_infraassessments gauge\n");
        out.push_str(&self.infra);
        out.push_str(
            "# HELP trivy_role_rbacassessments Number of rbac risky role assessment checks\n",
        );
        out.push_str("# TYPE trivy_role_rbacassessments gauge\n");
        out.push_str(&self.roles);
        out.push_str(
            "# HELP trivy_clusterrole_clusterrbacassessments Number of rbac risky cluster role \
             assessment checks\n",
        );
        out.push_str("# TYPE trivy_clusterrole_clusterrbacassessments gauge\n");
        out.push_str(&self.cluster_roles);
        out
    }
}

/// The series labels and counts of a listed infra assessment (a node's has no namespace).
fn infra_row<'a>(meta: &'a ObjectMeta, s: &ConfigAuditSummary) -> AuditRow<'a> {
    AuditRow {
        namespace: meta.namespace.as_deref().unwrap_or(""),
        name: meta.name.as_deref().unwrap_or(""),
        resource_kind: label_of(meta, labels::RESOURCE_KIND),
        resource_name: label_of(meta, labels::RESOURCE_NAME),
        counts: [s.critical_count, s.high_count, s.medium_count, s.low_count].map(u64::from),
    }
}

/// The four severity series of a resource's report (config audit or infra assessment).
fn resource_samples(out: &mut String, name: &str, r: &AuditRow<'_>) {
    let base = [
        ("namespace", r.namespace),
        ("name", r.name),
        ("resource_kind", r.resource_kind),
        ("resource_name", r.resource_name),
    ];
    severity_samples(out, name, &base, r.counts);
}

/// The four series of `base` labels, one per severity of an audit's summary.
fn severity_samples(out: &mut String, name: &str, base: &[(&str, &str)], counts: [u64; 4]) {
    for (severity, count) in ["Critical", "High", "Medium", "Low"]
        .into_iter()
        .zip(counts)
    {
        sample(out, name, base, severity, count);
    }
}

/// The series labels and counts of a listed VulnerabilityReport or ExposedSecretReport.
fn listed_row<'a>(meta: &'a ObjectMeta, report: &'a VulnerabilityViewData) -> VulnRow<'a> {
    let label = |key: &str| label_of(meta, key);
    let artifact = &report.artifact;
    let s = &report.summary;
    VulnRow {
        namespace: meta.namespace.as_deref().unwrap_or(""),
        name: meta.name.as_deref().unwrap_or(""),
        resource_kind: label(labels::RESOURCE_KIND),
        resource_name: label(labels::RESOURCE_NAME),
        container_name: label(labels::CONTAINER_NAME),
        registry: report.registry.as_ref().map_or("", |g| g.server.as_str()),
        repository: artifact.repository.as_str(),
        tag: artifact.tag.as_deref().unwrap_or(""),
        digest: artifact.digest.as_deref().unwrap_or(""),
        counts: [
            s.critical_count,
            s.high_count,
            s.medium_count,
            s.low_count,
            s.unknown_count,
        ],
    }
}

/// Severity label values, upstream's spelling, most severe first.
const SEVERITY_LABELS: [&str; 5] = ["Critical", "High", "Medium", "Low", "Unknown"];

/// The labels of a report's image series, before `severity`.
fn image_labels<'a>(r: &VulnRow<'a>) -> [(&'static str, &'a str); 9] {
    [
        ("namespace", r.namespace),
        ("name", r.name),
        ("resource_kind", r.resource_kind),
        ("resource_name", r.resource_name),
        ("container_name", r.container_name),
        ("image_registry", r.registry),
        ("image_repository", r.repository),
        ("image_tag", r.tag),
        ("image_digest", r.digest),
    ]
}

fn label_of<'a>(meta: &'a ObjectMeta, key: &str) -> &'a str {
    let from = |map: &'a Option<std::collections::BTreeMap<String, String>>| {
        map.as_ref().and_then(|m| m.get(key)).map(String::as_str)
    };
    // A workload name too long for a label value is kept in the annotation of the same key
    // (upstream then leaves `resource_name` empty; the full name is more useful).
    from(&meta.labels)
        .or_else(|| {
            (key == labels::RESOURCE_NAME)
                .then(|| from(&meta.annotations))
                .flatten()
        })
        .unwrap_or("")
}

/// Appends `name{base..., severity="..."} value`.
fn sample(out: &mut String, name: &str, base: &[(&str, &str)], severity: &str, value: u64) {
    out.push_str(name);
    out.push('{');
    for (key, val) in base {
        out.push_str(key);
        out.push_str("=\"");
        escape_into(out, val);
        out.push_str("\",");
    }
    // Writing into a String cannot fail.
    let _ = writeln!(out, "severity=\"{severity}\"}} {value}");
}

/// Escapes a label value: backslash, double quote and line feed.
fn escape_into(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests;

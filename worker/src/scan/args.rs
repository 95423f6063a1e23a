//! Command-line flags of vulnerability scans, flattened into the worker's arguments.

use std::time::Duration;

use clap::Args;
use common::cli::{parse_duration, valid_quantity};

/// How scan Jobs are run and their reports written.
#[derive(Debug, Clone, Args)]
pub struct ScanArgs {
    /// Container image of Trivy used by scan Jobs.
    #[arg(
        long,
        env = "TRIVY_IMAGE",
        default_value = "ghcr.io/aquasecurity/trivy:0.58.1"
    )]
    pub trivy_image: String,
    /// Trivy version written as `scanner.version` in VulnerabilityReports.
    #[arg(long, env = "TRIVY_VERSION", default_value = "0.58.1")]
    pub trivy_version: String,
    /// ClientServer mode: the URL of a Trivy server (`trivy server`) that holds the
    /// vulnerability DB; scan Jobs run `trivy image --server <url>` and download no DB.
    /// Unset: standalone (each Job downloads the DB in an init container).
    #[arg(long, env = "TRIVY_SERVER_URL", value_parser = super::server::parse_server_url)]
    pub trivy_server_url: Option<String>,
    /// ClientServer mode: the Secret in the operator namespace whose key `token` holds the
    /// Trivy server's token (passed to scan Jobs as `TRIVY_TOKEN`). Unset: no token.
    #[arg(long, env = "TRIVY_SERVER_TOKEN_SECRET", requires = "trivy_server_url")]
    pub trivy_server_token_secret: Option<String>,
    /// ClientServer mode: the HTTP header the token is sent in (Trivy's `--token-header`).
    #[arg(long, env = "TRIVY_SERVER_TOKEN_HEADER", default_value = "Trivy-Token", value_parser = super::server::parse_token_header)]
    pub trivy_server_token_header: String,
    /// How long a scan Job may run (its `activeDeadlineSeconds`) before it fails.
    #[arg(long, env = "SCAN_JOB_TIMEOUT", default_value = "5m", value_parser = parse_duration)]
    pub scan_job_timeout: Duration,
    /// Rescan interval written as the `report-ttl` annotation on reports; 0 disables it.
    #[arg(long, env = "REPORT_TTL", default_value = "24h", value_parser = parse_duration)]
    pub report_ttl: Duration,
    /// A stored SBOM is rescanned (`trivy sbom`, when the leader asks) only while it is
    /// younger than this (the BOM's own `metadata.timestamp`); an older one, or one made by
    /// another Trivy version, gives way to a scan of the image, which makes the SBOM again.
    #[arg(long, env = "SBOM_RESCAN_MAX_AGE", default_value = "168h", value_parser = parse_duration)]
    pub sbom_rescan_max_age: Duration,
    /// Compress scan output in the Job (`trivy ... | bzip2 | base64`) to stay under log size
    /// limits. Needs a shell, bzip2 and base64 in the Trivy image (the official one has them).
    #[arg(long, env = "SCAN_COMPRESS_LOGS")]
    pub scan_compress_logs: bool,
    /// CPU request of scan containers.
    #[arg(long, env = "SCAN_JOB_CPU_REQUEST", default_value = "100m", value_parser = valid_quantity)]
    pub scan_job_cpu_request: String,
    /// CPU limit of scan containers.
    #[arg(long, env = "SCAN_JOB_CPU_LIMIT", default_value = "500m", value_parser = valid_quantity)]
    pub scan_job_cpu_limit: String,
    /// Memory request of scan containers.
    #[arg(long, env = "SCAN_JOB_MEMORY_REQUEST", default_value = "100M", value_parser = valid_quantity)]
    pub scan_job_memory_request: String,
    /// Memory limit of scan containers.
    #[arg(long, env = "SCAN_JOB_MEMORY_LIMIT", default_value = "500M", value_parser = valid_quantity)]
    pub scan_job_memory_limit: String,
    /// Ephemeral-storage request of scan containers (the vulnerability DB is written there).
    #[arg(long, env = "SCAN_JOB_EPHEMERAL_STORAGE_REQUEST", default_value = "512Mi", value_parser = valid_quantity)]
    pub scan_job_ephemeral_storage_request: String,
    /// Ephemeral-storage limit of scan containers, also the size limit of their scratch
    /// volume: a scan that needs more is evicted instead of filling the node's disk.
    #[arg(long, env = "SCAN_JOB_EPHEMERAL_STORAGE_LIMIT", default_value = "4Gi", value_parser = valid_quantity)]
    pub scan_job_ephemeral_storage_limit: String,
    /// Service account of scan Jobs (its token is never mounted); default: the namespace's.
    #[arg(long, env = "SCAN_JOB_SERVICE_ACCOUNT")]
    pub scan_job_service_account: Option<String>,
    /// Which Secrets scans read for registry credentials: `workload` (the workload's image
    /// pull secrets, in its namespace: needs `get` on Secrets in every scanned namespace),
    /// `mapped` (only Secrets in the operator namespace, named per namespace by
    /// `--registry-secret-names`), or `none` (images that need credentials fail to scan).
    #[arg(long, env = "REGISTRY_SECRETS", value_enum, default_value = "workload")]
    pub registry_secrets: super::registry_secrets::RegistrySecrets,
    /// Severities kept in VulnerabilityReports (upstream's `trivy.severity`), comma-separated.
    #[arg(long, env = "TRIVY_SEVERITY", default_value = "UNKNOWN,LOW,MEDIUM,HIGH,CRITICAL", value_parser = super::detail::parse_severities)]
    pub trivy_severity: std::collections::BTreeSet<common::reports::vulnerability::Severity>,
    /// Keep only vulnerabilities that have a fixed version (upstream's `trivy.ignoreUnfixed`).
    #[arg(long, env = "TRIVY_IGNORE_UNFIXED")]
    pub trivy_ignore_unfixed: bool,
    /// Fields left out of every vulnerability to make reports smaller, comma-separated:
    /// `description`, `links`, `cvss`.
    #[arg(
        long,
        env = "VULNERABILITY_REPORT_OMIT",
        value_enum,
        value_delimiter = ','
    )]
    pub vulnerability_report_omit: Vec<super::detail::Omit>,
    /// In the per-image storage mode (the leader's `--vulnerability-report-mode per-image`):
    /// the severities whose vulnerabilities each workload's VulnerabilityReport keeps
    /// (comma-separated; `NONE` keeps none); the whole list is in the image's report.
    #[arg(long, env = "PER_IMAGE_KEEP_SEVERITIES", default_value = "CRITICAL,HIGH", value_parser = super::detail::parse_kept_severities)]
    pub per_image_keep_severities:
        std::collections::BTreeSet<common::reports::vulnerability::Severity>,
    /// With `--registry-secrets=mapped`: which Secrets of the operator namespace each
    /// namespace's scans may use, `team-a=pull-a,mirror;team-b=pull-b;*=shared`.
    #[arg(long, env = "REGISTRY_SECRET_NAMES", default_value = "", value_parser = super::registry_secrets::parse_secret_map)]
    pub registry_secret_names: super::registry_secrets::SecretMap,
}

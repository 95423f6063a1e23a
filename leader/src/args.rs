//! Command-line flags of `trivy-operator-leader`; every flag also reads an environment variable.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Parser, Subcommand};
use common::cli::{
    KubeArgs, parse_duration, parse_identity, parse_lease_duration, parse_positive_duration,
    parse_token,
};
use common::telemetry::LogArgs;

/// The leader of trivy-operator-rs: watches workloads and reports, plans config audits and
/// vulnerability scans, and shards the work by namespace over the connected workers.
#[derive(Debug, Parser)]
#[command(name = "trivy-operator-leader", version, about)]
pub struct Args {
    #[command(flatten)]
    pub log: LogArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the leader.
    Run(Box<RunArgs>),
    /// Print the CustomResourceDefinitions of the report kinds as YAML.
    Crd,
    /// Ask the running leader what it is doing.
    Status(Box<StatusArgs>),
}

/// Flags of `trivy-operator-leader status`.
#[derive(Debug, Clone, clap::Args)]
pub struct StatusArgs {
    /// gRPC address of the leader.
    #[arg(long, env = "LEADER_ADDR", default_value = "http://127.0.0.1:7070")]
    pub addr: String,
    /// Status token, when the leader requires one.
    #[arg(long, env = "STATUS_TOKEN", hide_env_values = true, value_parser = parse_token)]
    pub token: Option<String>,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
    #[command(flatten)]
    pub tls: common::tls::ClientTlsArgs,
    #[command(subcommand)]
    pub query: StatusQuery,
}

/// Output of `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
}

/// What `status` asks about.
#[derive(Debug, Clone, Subcommand)]
pub enum StatusQuery {
    /// The leader, its workers and their namespaces, the queue and failures.
    Cluster,
    /// One namespace: its worker and its tasks.
    Namespace { namespace: String },
    /// One workload: why it has no report yet (pending, in flight, failed, up to date).
    Workload {
        namespace: String,
        /// Kind: Pod, ReplicaSet, ReplicationController, StatefulSet, DaemonSet, Job, CronJob.
        kind: String,
        name: String,
    },
    /// One node: which worker its assessment went to, why it has no report yet.
    Node { name: String },
    /// One Role: which worker its RBAC assessment went to, why it has no report yet.
    Role { namespace: String, name: String },
    /// One ClusterRole: which worker its RBAC assessment went to, why it has no report yet.
    Clusterrole { name: String },
    /// One object of another audited kind (Service, ConfigMap, RoleBinding, NetworkPolicy,
    /// Ingress, ResourceQuota, LimitRange, ClusterRoleBinding, CustomResourceDefinition):
    /// which worker its config audit went to, why it has no report yet.
    Object {
        /// Its kind, e.g. Service.
        kind: String,
        name: String,
        /// Its namespace (none for a cluster-scoped kind).
        #[arg(long, short = 'n', default_value = "")]
        namespace: String,
    },
}

/// Flags of `trivy-operator-leader run`.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub kube: KubeArgs,
    /// Namespace the operator runs in; holds the plugin ConfigMap.
    #[arg(long, env = "OPERATOR_NAMESPACE", default_value = "trivy-system")]
    pub operator_namespace: String,
    /// Identity of this replica (the pod name, from the downward API); default: the host
    /// name and a random suffix, unique per process.
    #[arg(long, env = "POD_NAME", value_parser = parse_identity)]
    pub identity: Option<String>,
    /// Address of the gRPC server (WorkerService, StatusService, health).
    #[arg(long, env = "GRPC_ADDR", default_value = "0.0.0.0:7070")]
    pub grpc_addr: SocketAddr,
    /// Most gRPC connections open at once; further ones are closed when accepted.
    #[arg(long, env = "GRPC_MAX_CONNECTIONS", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=65536))]
    pub grpc_max_connections: u32,
    /// A gRPC connection that sends nothing this long is closed (longer than the workers'
    /// heartbeat interval; live connections also answer the leader's 30 s pings).
    #[arg(long, env = "GRPC_IDLE_TIMEOUT", default_value = "2m", value_parser = parse_positive_duration)]
    pub grpc_idle_timeout: Duration,
    /// Address of the admin HTTP server (`/healthz`, `/readyz`, `/metrics`).
    #[arg(long, env = "ADMIN_ADDR", default_value = "0.0.0.0:9090")]
    pub admin_addr: SocketAddr,
    #[command(flatten)]
    pub scope: ScopeArgs,
    #[command(flatten)]
    pub dispatch: DispatchArgs,
    #[command(flatten)]
    pub api_budget: ApiBudgetArgs,
    #[command(flatten)]
    pub election: ElectionArgs,
    /// Token workers must present (`authorization: Bearer`); from a Secret. Without it,
    /// any client may attach as a worker — only for tests and trusted networks.
    #[arg(long, env = "WORKER_TOKEN", hide_env_values = true, value_parser = parse_token)]
    pub worker_token: Option<String>,
    /// Authenticate each worker by its own ServiceAccount token instead of the shared
    /// worker token: the ServiceAccount, in the operator namespace, the workers run as.
    /// A worker presents a token bound to its Pod (a projected `serviceAccountToken`
    /// volume); the leader checks it with a TokenReview and accepts only the worker id
    /// that is the Pod's name.
    #[arg(long, env = "WORKER_SERVICE_ACCOUNT", value_parser = common::cli::parse_identity)]
    pub worker_service_account: Option<String>,
    /// The audience the workers' ServiceAccount tokens must be issued for.
    #[arg(
        long,
        env = "WORKER_TOKEN_AUDIENCE",
        default_value = "trivy-operator-rs"
    )]
    pub worker_token_audience: String,
    #[command(flatten)]
    pub tls: common::tls::ServerTlsArgs,
    /// Token status clients must present. Required unless `--status-open`: status lists
    /// namespaces, workloads and failure messages of every tenant.
    #[arg(long, env = "STATUS_TOKEN", hide_env_values = true, value_parser = parse_token)]
    pub status_token: Option<String>,
    /// Serve status queries without a token (read-only; only for trusted networks and tests).
    #[arg(long, env = "STATUS_OPEN")]
    pub status_open: bool,
    /// Serve gRPC server reflection (lets any client list the services); off by default.
    #[arg(long, env = "GRPC_REFLECTION")]
    pub grpc_reflection: bool,
    /// Plan vulnerability scans (`false`: config audits only).
    #[arg(long, env = "VULNERABILITY_SCANS_ENABLED", default_value_t = true, action = clap::ArgAction::Set)]
    pub vulnerability_scans: bool,
    /// Scan images for exposed secrets too, from the same scan Job (`--scanners
    /// vuln,secret`), and write an ExposedSecretReport beside each VulnerabilityReport
    /// (upstream's `exposedSecretScannerEnabled`). Needs the ExposedSecretReport CRD.
    #[arg(long, env = "EXPOSED_SECRET_SCANS_ENABLED", default_value_t = true, action = clap::ArgAction::Set)]
    pub exposed_secret_scans: bool,
    /// Record each image's software bill of materials (CycloneDX, `trivy image --format
    /// cyclonedx` in the same scan Job) and write an SbomReport beside each
    /// VulnerabilityReport (upstream's `sbomGenerationEnabled`). Needs the SbomReport CRD.
    #[arg(long, env = "SBOM_GENERATION_ENABLED", default_value_t = true, action = clap::ArgAction::Set)]
    pub sbom_generation: bool,
    /// Beyond upstream: a rescan by age of an image digest whose SbomReport this operator
    /// wrote scans that SBOM (`trivy sbom`) instead of pulling and analysing the image again;
    /// the secrets found by the earlier scan are kept. Only with `--sbom-generation`.
    #[arg(long, env = "SBOM_RESCANS_ENABLED", default_value_t = true, action = clap::ArgAction::Set)]
    pub sbom_rescans: bool,
    /// Also serve `trivy_exposedsecrets_info` (one series per secret found; upstream's
    /// `metricsExposedSecretInfo`): the scrape lists the ExposedSecretReports.
    #[arg(long, env = "METRICS_EXPOSED_SECRET_INFO_ENABLED", default_value_t = false, action = clap::ArgAction::Set)]
    pub metrics_exposed_secret_info: bool,
    /// Rescan images whose VulnerabilityReport is older than this, and reassess nodes whose
    /// ClusterInfraAssessmentReport is; `0` disables.
    #[arg(long, env = "REPORT_TTL", default_value = "24h", value_parser = parse_duration)]
    pub report_ttl: Duration,
    #[command(flatten)]
    pub nodes: crate::nodes::NodeArgs,
    /// Assess every Role and ClusterRole with the RBAC checks, written as its
    /// RbacAssessmentReport / ClusterRbacAssessmentReport (upstream's RBAC assessment).
    /// Needs both CRDs.
    #[arg(long, env = "RBAC_ASSESSMENT_SCANNER_ENABLED", default_value_t = true, action = clap::ArgAction::Set)]
    pub rbac_assessments: bool,
    /// Audit, as upstream does, the Services, ConfigMaps, RoleBindings, NetworkPolicies,
    /// Ingresses, ResourceQuotas, LimitRanges and PersistentVolumeClaims (ConfigAuditReport)
    /// and the ClusterRoleBindings, CustomResourceDefinitions and PersistentVolumes
    /// (ClusterConfigAuditReport).
    #[arg(long, env = "RESOURCE_AUDITS_ENABLED", default_value_t = true, action = clap::ArgAction::Set)]
    pub resource_audits: bool,
    /// How VulnerabilityReports are stored: `full` (upstream's: every report holds its
    /// image's whole list) or `per-image` (each image's list once, in a cluster-scoped
    /// ImageVulnerabilityReport; workloads' reports keep the summary, the most severe
    /// vulnerabilities and the image report's name). Needs the ImageVulnerabilityReport CRD.
    #[arg(
        long,
        env = "VULNERABILITY_REPORT_MODE",
        value_enum,
        default_value = "full"
    )]
    pub vulnerability_report_mode: ReportMode,
    /// Per-image mode: an ImageVulnerabilityReport that no VulnerabilityReport names is
    /// deleted once its scan is older than this (the grace lets a scan's workload reports
    /// be written after it).
    #[arg(long, env = "IMAGE_REPORT_GC_GRACE", default_value = "10m", value_parser = parse_duration)]
    pub image_report_gc_grace: Duration,
    /// Name of the plugin ConfigMap with custom policies, in the operator namespace.
    #[arg(
        long,
        env = "POLICIES_CONFIGMAP",
        default_value = "trivy-operator-policies-config"
    )]
    pub policies_configmap: String,
    /// How many outdated ConfigAuditReports to delete per batch after a policy change.
    #[arg(long, env = "CONFIG_AUDIT_DELETE_BATCH", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub config_audit_delete_batch: u32,
    /// Pause between two deletion batches after a policy change.
    #[arg(long, env = "CONFIG_AUDIT_DELETE_INTERVAL", default_value = "10s", value_parser = parse_duration)]
    pub config_audit_delete_interval: Duration,
    /// Bytes the operator's reports may occupy in the API server's storage (etcd's default
    /// quota is 2Gi for the whole cluster); at the budget, reports are written with their
    /// summaries only until they fall below nine tenths of it. `0`: no budget.
    #[arg(long, env = "REPORT_STORAGE_BUDGET", default_value = "1Gi", value_parser = parse_bytes)]
    pub report_storage_budget: u64,
    /// Memory (address space) of the process that tries custom policies when the plugin
    /// ConfigMap changes; a policy that needs more is rejected with a clear error.
    #[arg(long, env = "POLICY_MEMORY_LIMIT", default_value = "256Mi", value_parser = common::cli::parse_memory)]
    pub policy_memory_limit: u64,
}

/// How VulnerabilityReports are stored (`--vulnerability-report-mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ReportMode {
    /// Upstream's: every report holds its image's whole list.
    #[default]
    Full,
    /// Each image's list once, in its ImageVulnerabilityReport.
    PerImage,
}

/// Which namespaces are scanned.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ScopeArgs {
    /// Scan only these namespaces (comma-separated); empty means all.
    #[arg(long, env = "TARGET_NAMESPACES", value_delimiter = ',')]
    pub namespaces: Vec<String>,
    /// Skip namespaces matching these globs (comma-separated, `*` and `?`).
    #[arg(long, env = "EXCLUDE_NAMESPACES", value_delimiter = ',')]
    pub exclude_namespaces: Vec<String>,
    /// Scan only namespaces whose labels match this selector (e.g. `scan=true,env!=dev`).
    #[arg(long, env = "NAMESPACE_SELECTOR")]
    pub namespace_selector: Option<String>,
}

/// The operator's API request budget, shared by the leader and every worker.
#[derive(Debug, Clone, clap::Args)]
pub struct ApiBudgetArgs {
    /// Requests per second the whole operator (leader and all workers) may send to the
    /// Kubernetes API, on average over any 10 s; `0`: no limit (the API server's Priority
    /// and Fairness alone pushes back). Adding workers does not raise it.
    #[arg(long, env = "KUBE_API_QPS", default_value_t = 200.0, value_parser = parse_qps)]
    pub kube_api_qps: f64,
    /// Requests that may go at once above the steady rate, at most 5 s worth of the QPS;
    /// default: one second's worth.
    #[arg(long, env = "KUBE_API_BURST", value_parser = clap::value_parser!(u32).range(1..))]
    pub kube_api_burst: Option<u32>,
}

impl ApiBudgetArgs {
    /// The budget; `None`: unlimited.
    pub fn limits(&self) -> Result<Option<common::api_budget::Limits>, String> {
        if self.kube_api_qps == 0.0 {
            return Ok(None);
        }
        // A whole number of requests, at least one.
        let one_second = self.kube_api_qps.ceil().min(f64::from(u32::MAX)) as u32;
        let burst = self.kube_api_burst.unwrap_or(one_second.max(1));
        common::api_budget::Limits::new(self.kube_api_qps, burst)
            .map(Some)
            .map_err(|e| format!("--kube-api-qps/--kube-api-burst: {e}"))
    }
}

/// A size in bytes as a Kubernetes quantity (`1Gi`, `500M`, `0`).
fn parse_bytes(s: &str) -> Result<u64, String> {
    let bytes = common::cli::parse_quantity(s)?;
    if !(0.0..=u64::MAX as f64).contains(&bytes) || bytes.fract() != 0.0 {
        return Err(format!("{s} is not a whole number of bytes"));
    }
    Ok(bytes as u64)
}

fn parse_qps(s: &str) -> Result<f64, String> {
    let qps: f64 = s
        .parse()
        .map_err(|e| format!("{s:?} is not a number: {e}"))?;
    if !qps.is_finite() || qps < 0.0 {
        return Err(format!("{s} is not a request rate (0 or more per second)"));
    }
    Ok(qps)
}

/// Leader election between replicas.
#[derive(Debug, Clone, clap::Args)]
pub struct ElectionArgs {
    /// Elect one active leader among replicas with a Lease (`false`: this replica leads).
    #[arg(long, env = "LEADER_ELECTION", default_value_t = true, action = clap::ArgAction::Set)]
    pub leader_election: bool,
    /// Name of the Lease, in the operator namespace.
    #[arg(long, env = "LEASE_NAME", default_value = "trivy-operator-leader")]
    pub lease_name: String,
    /// Lease duration: a standby takes over this long after the leader stops renewing.
    #[arg(long, env = "LEASE_DURATION", default_value = "15s", value_parser = parse_lease_duration)]
    pub lease_duration: Duration,
}

/// How work is handed to workers.
#[derive(Debug, Clone, clap::Args)]
pub struct DispatchArgs {
    /// Most tasks in flight per unit of worker capacity.
    #[arg(long, env = "TASKS_PER_CAPACITY", default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub tasks_per_capacity: u32,
    /// A worker silent for this long is considered gone; its tasks move to others.
    #[arg(long, env = "WORKER_TIMEOUT", default_value = "30s", value_parser = parse_positive_duration)]
    pub worker_timeout: Duration,
    /// First retry delay of a failed task; doubles per failure.
    #[arg(long, env = "RETRY_BASE", default_value = "5s", value_parser = parse_positive_duration)]
    pub retry_base: Duration,
    /// Longest retry delay.
    #[arg(long, env = "RETRY_MAX", default_value = "5m", value_parser = parse_positive_duration)]
    pub retry_max: Duration,
    /// Most scan Jobs at once across all workers (counted by the leader, exactly).
    #[arg(long, env = "MAX_CONCURRENT_SCANS", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_concurrent_scans: u32,
    /// Most scan Jobs at once for one namespace; 0: no cap (namespaces still share the
    /// slots fairly: the one with the fewest Jobs running goes next).
    #[arg(long, env = "MAX_CONCURRENT_SCANS_PER_NAMESPACE", default_value_t = 0)]
    pub max_scans_per_namespace: u32,
    /// After a task succeeded, how long to wait for its report before sending it again.
    #[arg(long, env = "RESULT_GRACE", default_value = "60s", value_parser = parse_positive_duration)]
    pub result_grace: Duration,
}

impl RunArgs {
    /// Checks what clap cannot check flag by flag.
    pub fn validate(&self) -> Result<(), String> {
        if self.status_token.is_none() && !self.status_open {
            return Err("no --status-token: set one (status shows every tenant's namespaces, workloads and failures), or --status-open to serve status without authentication".into());
        }
        if self.status_token.is_some() && self.status_open {
            return Err("--status-open and --status-token contradict each other".into());
        }
        if self.worker_token.is_some() && self.worker_service_account.is_some() {
            return Err("--worker-token and --worker-service-account are two ways to authenticate workers: choose one".into());
        }
        let audience = &self.worker_token_audience;
        if audience.is_empty() || audience.chars().any(char::is_whitespace) {
            return Err(format!(
                "--worker-token-audience {audience:?}: an audience is a non-empty string without spaces"
            ));
        }
        self.api_budget.limits()?;
        self.nodes.settings(None)?;
        let d = &self.dispatch;
        if d.retry_base > d.retry_max {
            return Err(format!(
                "--retry-base ({:?}) is longer than --retry-max ({:?})",
                d.retry_base, d.retry_max
            ));
        }
        Ok(())
    }

    /// Sets the identity to one unique to this process when `--identity` is not given.
    pub fn resolve_identity(&mut self) {
        if self.identity.is_none() {
            self.identity = Some(common::cli::unique_identity("trivy-operator-leader"));
        }
    }

    /// This replica's identity (after [`Self::resolve_identity`]).
    pub fn identity(&self) -> String {
        self.identity.clone().unwrap_or_default()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn args_are_consistent() {
        Args::command().debug_assert();
    }

    fn run_args(extra: &[&str]) -> Result<RunArgs, String> {
        let open = if extra.contains(&"--status-token") || extra.contains(&"--no-open") {
            &[][..]
        } else {
            &["--status-open"][..]
        };
        let extra = extra.iter().filter(|a| **a != "--no-open");
        let argv = ["trivy-operator-leader", "run"]
            .iter()
            .chain(open)
            .chain(extra);
        match Args::try_parse_from(argv)
            .map_err(|e| e.to_string())?
            .command
        {
            Command::Run(args) => args.validate().map(|()| *args),
            _ => Err("not run".into()),
        }
    }

    #[test]
    fn nonsense_flags_are_refused_at_start() {
        for bad in [
            &["--lease-duration", "0s"][..],
            &["--identity", ""],
            &["--tasks-per-capacity", "0"],
            &["--worker-timeout", "0s"],
            &["--retry-base", "10m", "--retry-max", "5m"],
            &["--retry-base", "0s"],
            &["--config-audit-delete-batch", "0"],
            &["--policy-memory-limit", "lots"],
            &["--worker-token", ""],
            &["--worker-token", "short"],
            &["--status-token", "short"],
            &["--no-open"],
            &["--status-open", "--status-token", "0123456789abcdef0123"],
            &[
                "--worker-token",
                "0123456789abcdef0123",
                "--worker-service-account",
                "trivy-operator-worker",
            ],
            &["--worker-service-account", "a:b"],
            &["--worker-token-audience", ""],
            &["--worker-token-audience", "a b"],
            &["--kube-api-qps", "-1"],
            &["--kube-api-qps", "NaN"],
            &["--kube-api-qps", "10", "--kube-api-burst", "51"],
            &["--kube-api-burst", "0"],
            &["--report-storage-budget", "-1Gi"],
            &["--report-storage-budget", "lots"],
        ] {
            assert!(run_args(bad).is_err(), "{bad:?} accepted");
        }
        assert!(run_args(&[]).is_ok());
        assert!(run_args(&["--status-token", "0123456789abcdef0123"]).is_ok());
        for budget in [
            &["--kube-api-qps", "0"][..],
            &["--kube-api-qps", "0.5"],
            &["--report-storage-budget", "0"],
            &["--report-storage-budget", "60Ki"],
        ] {
            assert!(run_args(budget).is_ok(), "{budget:?} refused");
        }
        assert!(
            run_args(&[
                "--worker-service-account",
                "trivy-operator-worker",
                "--worker-token-audience",
                "https://trivy-operator.example",
            ])
            .is_ok()
        );
    }
}

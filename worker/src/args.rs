//! Command-line flags of `trivy-operator-worker`; every flag also reads an environment variable.

use std::time::Duration;

use clap::Parser;
use common::cli::{KubeArgs, parse_identity, parse_positive_duration};
use common::telemetry::LogArgs;

/// A worker of trivy-operator-rs: connects to the leader, runs the config audits and
/// vulnerability scans of the namespaces it is assigned, and writes the reports.
#[derive(Debug, Clone, Parser)]
#[command(name = "trivy-operator-worker", version, about)]
pub struct Args {
    #[command(flatten)]
    pub log: LogArgs,
    #[command(flatten)]
    pub kube: KubeArgs,
    /// gRPC address of the leader, e.g. `http://trivy-operator-leader:7070`. Several
    /// (comma-separated) are tried in turn until one is the active leader.
    #[arg(long, env = "LEADER_ADDR", value_delimiter = ',', required = true)]
    pub leader_addr: Vec<String>,
    #[command(flatten)]
    pub tls: common::tls::ClientTlsArgs,
    /// Token presented to the leader (`authorization: Bearer`); from a Secret.
    #[arg(long, env = "WORKER_TOKEN", hide_env_values = true, value_parser = common::cli::parse_token)]
    pub token: Option<String>,
    /// File holding the token presented to the leader, read at every connection: a
    /// projected ServiceAccount token (leader `--worker-service-account`), which the kubelet
    /// rotates.
    #[arg(long, env = "WORKER_TOKEN_FILE", conflicts_with = "token")]
    pub token_file: Option<std::path::PathBuf>,
    /// Address of the admin HTTP server (`/healthz`, `/readyz`, `/metrics`).
    #[arg(long, env = "ADMIN_ADDR", default_value = "0.0.0.0:9090")]
    pub admin_addr: std::net::SocketAddr,
    /// Identity of this worker (the pod name, from the downward API).
    #[arg(long, env = "POD_NAME", value_parser = parse_identity)]
    pub worker_id: String,
    /// How many tasks run at once; also this worker's weight in namespace sharding.
    #[arg(long, env = "WORKER_CAPACITY", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=i64::from(common::proto::MAX_WORKER_CAPACITY)))]
    pub capacity: u32,
    /// Namespace the operator runs in; holds the plugin ConfigMap.
    #[arg(long, env = "OPERATOR_NAMESPACE", default_value = "trivy-system")]
    pub operator_namespace: String,
    /// Name of the plugin ConfigMap with custom policies, in the operator namespace.
    #[arg(
        long,
        env = "POLICIES_CONFIGMAP",
        default_value = "trivy-operator-policies-config"
    )]
    pub policies_configmap: String,
    /// Also list passed checks in ConfigAuditReports (upstream lists failed ones only).
    #[arg(long, env = "REPORT_PASSED_CHECKS")]
    pub report_passed_checks: bool,
    /// Interval of heartbeats to the leader.
    #[arg(long, env = "HEARTBEAT_INTERVAL", default_value = "5s", value_parser = parse_positive_duration)]
    pub heartbeat_interval: Duration,
    /// Longest pause between two reconnection attempts.
    #[arg(long, env = "RECONNECT_MAX_BACKOFF", default_value = "10s", value_parser = parse_positive_duration)]
    pub reconnect_max_backoff: Duration,
    /// Memory (address space) each custom-policy evaluator process may use; an evaluation
    /// that needs more fails with a clear check entry instead of stopping the worker.
    #[arg(long, env = "POLICY_MEMORY_LIMIT", default_value = "256Mi", value_parser = common::cli::parse_memory)]
    pub policy_memory_limit: u64,
    /// Custom-policy evaluator processes (and built-in evaluations) running at once.
    #[arg(long, env = "POLICY_EVALUATORS", default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=16))]
    pub policy_evaluators: u16,
    #[command(flatten)]
    pub scan: crate::scan::ScanArgs,
    #[command(flatten)]
    pub node: crate::node::NodeArgs,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn args_are_consistent() {
        Args::command().debug_assert();
    }

    #[test]
    fn nonsense_flags_are_refused_at_start() {
        let base = ["w", "--leader-addr", "http://l:7070", "--worker-id", "w-0"];
        for bad in [
            &["--worker-id", ""][..],
            &["--heartbeat-interval", "0s"],
            &["--capacity", "0"],
            &["--capacity", "100000"],
            &["--scan-job-memory-limit", "lots"],
            &["--scan-job-cpu-request", "fast"],
            &["--policy-memory-limit", "1Ki"],
            &["--policy-evaluators", "0"],
            &["--token", ""],
            &["--token", "too-short"],
        ] {
            let argv = base.iter().chain(bad);
            assert!(Args::try_parse_from(argv).is_err(), "{bad:?} accepted");
        }
        assert!(Args::try_parse_from(base).is_ok());
    }
}

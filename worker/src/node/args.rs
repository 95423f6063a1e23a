//! Flags of node assessments.

use std::time::Duration;

use common::cli::parse_positive_duration;

/// How node-collector Jobs run.
#[derive(Debug, Clone, clap::Args)]
pub struct NodeArgs {
    /// Namespace of the node-collector Jobs. They need host namespaces and host paths, which
    /// the operator namespace's `restricted` Pod Security profile refuses: a namespace of
    /// their own, labelled `privileged`.
    #[arg(
        long,
        env = "NODE_COLLECTOR_NAMESPACE",
        default_value = "trivy-system-nodes"
    )]
    pub node_collector_namespace: String,
    /// The node-collector image.
    #[arg(
        long,
        env = "NODE_COLLECTOR_IMAGE",
        default_value = "ghcr.io/aquasecurity/node-collector:0.3.1"
    )]
    pub node_collector_image: String,
    /// ServiceAccount of the node-collector Jobs (it reads the kubelet's configuration).
    #[arg(
        long,
        env = "NODE_COLLECTOR_SERVICE_ACCOUNT",
        default_value = "trivy-operator-node-collector"
    )]
    pub node_collector_service_account: String,
    /// Deadline of a node-collector Job.
    #[arg(long, env = "NODE_COLLECTOR_TIMEOUT", default_value = "5m", value_parser = parse_positive_duration)]
    pub node_collector_timeout: Duration,
}

impl NodeArgs {
    /// The settings of node assessments.
    pub fn settings(&self, include_passed: bool) -> super::NodeSettings {
        super::NodeSettings {
            namespace: self.node_collector_namespace.clone(),
            image: self.node_collector_image.clone(),
            service_account: (!self.node_collector_service_account.is_empty())
                .then(|| self.node_collector_service_account.clone()),
            timeout: self.node_collector_timeout,
            include_passed,
            recorder: None,
        }
    }
}

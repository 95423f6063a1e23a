//! How a scenario runs the operator: which programs, which namespaces, how many workers,
//! which extra flags.

use crate::Cluster;

/// Paths of the operator's programs. Only integration tests know them at compile time, so
/// they pass them in with [`binaries!`](crate::binaries).
#[derive(Debug, Clone, Copy)]
pub struct Binaries {
    pub leader: &'static str,
    pub worker: &'static str,
}

/// The [`Binaries`] of this package, for use in its integration tests.
#[macro_export]
macro_rules! binaries {
    () => {
        $crate::operator::Binaries {
            leader: env!("CARGO_BIN_EXE_e2e-leader"),
            worker: env!("CARGO_BIN_EXE_e2e-worker"),
        }
    };
}

/// How to run the operator.
#[derive(Debug, Clone)]
pub struct OperatorOptions {
    /// The programs to run: `e2e::binaries!()`.
    pub binaries: Binaries,
    /// Namespace holding the plugin ConfigMap (created if missing).
    pub operator_namespace: String,
    /// Namespaces the leader scans (its `--namespaces`): a scenario only touches its own.
    pub namespaces: Vec<String>,
    pub workers: usize,
    pub worker_capacity: u32,
    /// Extra leader flags.
    pub leader_args: Vec<String>,
    /// Extra worker flags.
    pub worker_args: Vec<String>,
}

impl OperatorOptions {
    /// A scenario's operator: its namespace on `cluster` (`trivy-system` plus the cluster's
    /// suffix), scanning `namespaces`, one worker of capacity 2, no extra flags. On a real
    /// cluster, scan Jobs run the Trivy double's image named by `E2E_TRIVY_IMAGE` (built and
    /// loaded by `scripts/kind-e2e`); kube-sim's kubelet runs the double for any Trivy image.
    pub fn new(binaries: Binaries, cluster: &Cluster, namespaces: Vec<String>) -> Self {
        let worker_args = match std::env::var("E2E_TRIVY_IMAGE") {
            Ok(image) if cluster.real && !image.is_empty() => {
                vec!["--trivy-image".to_owned(), image]
            }
            _ => Vec::new(),
        };
        Self {
            binaries,
            operator_namespace: cluster.ns("trivy-system"),
            namespaces,
            workers: 1,
            worker_capacity: 2,
            leader_args: Vec::new(),
            worker_args,
        }
    }

    /// `count` workers started with the operator, each of `capacity`.
    pub fn workers(mut self, count: usize, capacity: u32) -> Self {
        self.workers = count;
        self.worker_capacity = capacity;
        self
    }

    /// Another operator namespace than the cluster's default.
    pub fn operator_namespace(mut self, namespace: String) -> Self {
        self.operator_namespace = namespace;
        self
    }

    /// Extra leader flags.
    pub fn leader_args(mut self, args: Vec<String>) -> Self {
        self.leader_args.extend(args);
        self
    }

    /// Extra worker flags.
    pub fn worker_args(mut self, args: Vec<String>) -> Self {
        self.worker_args.extend(args);
        self
    }
}

/// Leader flags for scenarios about config audits only: no vulnerability scans.
pub fn audits_only() -> Vec<String> {
    vec!["--vulnerability-scans".into(), "false".into()]
}

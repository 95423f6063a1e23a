//! Shared helpers for the end-to-end scenarios: a cluster (kube-sim, or a real one when
//! `E2E_REAL_CLUSTER=1` and `KUBECONFIG` are set), the operator's processes, `kubectl`, and
//! waiting for conditions with generous deadlines.

pub mod cluster;
pub mod jobs;
pub mod operator;
pub mod rbac;
pub mod reports;
pub mod wait;
pub mod workloads;

pub use cluster::Cluster;
pub use operator::{Operator, OperatorOptions, audits_only};
pub use wait::eventually;

/// The repository root, for `deploy/` files.
pub fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

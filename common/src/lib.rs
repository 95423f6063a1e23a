//! The domain of trivy-operator-rs, shared by the leader and the workers: upstream-compatible
//! report types, report names and labels, hashes, the workload model, namespace sharding,
//! Trivy output parsing, plugin policies and the generated gRPC contract.

pub mod admin;
pub mod api_budget;
pub mod audit;
pub mod cli;
pub mod hash;
pub mod labels;
pub mod names;
pub mod nodes;
pub mod objects;
pub mod owner;
pub mod policy_config;
pub mod proto;
pub mod reports;
pub mod resources;
pub mod retry;
pub mod sharding;
pub mod telemetry;
pub mod tls;
pub mod trivy;
pub mod workload;

//! The kube-sim binary: a Kubernetes API server for tests.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    kube_sim::cli::run(kube_sim::cli::Args::parse()).await
}

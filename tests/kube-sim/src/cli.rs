//! The `kube-sim` command line.

use std::path::PathBuf;

use clap::Parser;

use crate::authz::Authorization;
use crate::{SimConfig, start};

/// A Kubernetes API server for tests, in memory, on 127.0.0.1.
#[derive(Debug, Clone, Parser)]
#[command(name = "kube-sim", version)]
pub struct Args {
    /// Port to listen on (0 picks a free one).
    #[arg(long, env = "KUBE_SIM_PORT", default_value_t = 0)]
    pub port: u16,
    /// Where to write a kubeconfig for this server.
    #[arg(long, env = "KUBE_SIM_KUBECONFIG_OUT")]
    pub kubeconfig_out: Option<PathBuf>,
    /// Bearer token clients must present.
    #[arg(long, env = "KUBE_SIM_TOKEN")]
    pub token: Option<String>,
    /// How requests are authorized: every one (always-allow) or by the RBAC objects (rbac).
    #[arg(long, env = "KUBE_SIM_AUTHORIZATION", value_enum, default_value_t = Authorization::AlwaysAllow)]
    pub authorization: Authorization,
    /// Static token file: lines `token,user[,uid[,"group1,group2"]]`.
    #[arg(long, env = "KUBE_SIM_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    /// Requests without a token are `system:anonymous` (group `system:unauthenticated`).
    #[arg(long, env = "KUBE_SIM_ANONYMOUS_AUTH")]
    pub anonymous_auth: bool,
    /// Fake node names, comma-separated.
    #[arg(
        long,
        env = "KUBE_SIM_NODES",
        value_delimiter = ',',
        default_value = "kube-sim-node-1"
    )]
    pub nodes: Vec<String>,
    /// Image → program map for the simulated kubelet.
    #[arg(long, env = "KUBE_SIM_RUNTIME_MAP")]
    pub runtime_map: Option<PathBuf>,
    /// Events kept per resource for watches from older versions.
    #[arg(long, env = "KUBE_SIM_HISTORY", default_value_t = crate::store::DEFAULT_HISTORY)]
    pub history: usize,
    /// Fraction of requests to fail (fault injection).
    #[arg(long, env = "KUBE_SIM_ERROR_RATE", default_value_t = 0.0)]
    pub error_rate: f64,
    /// Status codes for injected failures, comma-separated.
    #[arg(long, env = "KUBE_SIM_ERROR_CODES", value_delimiter = ',')]
    pub error_codes: Vec<u16>,
    /// Latency added to every request, in milliseconds.
    #[arg(long, env = "KUBE_SIM_LATENCY_MS", default_value_t = 0)]
    pub latency_ms: u64,
}

/// Runs the server until Ctrl-C; prints `listening on http://127.0.0.1:PORT` on stdout.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let config = SimConfig {
        port: args.port,
        kubeconfig_out: args.kubeconfig_out,
        token: args.token,
        authorization: args.authorization,
        tokens: match &args.token_file {
            Some(path) => crate::authz::read_token_file(path)?,
            None => Default::default(),
        },
        anonymous: args.anonymous_auth,
        nodes: args.nodes,
        runtime_map: args.runtime_map,
        history_limit: args.history,
        faults: crate::faults::FaultConfig {
            error_rate: args.error_rate,
            error_codes: args.error_codes,
            latency_ms: args.latency_ms,
            ..Default::default()
        },
        ..SimConfig::default()
    };
    // Handlers first: a SIGTERM right after the kubeconfig appears must stop it cleanly.
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let handle = start(config).await?;
    println!("listening on {}", handle.url());
    println!("kubeconfig {}", handle.kubeconfig_path.display());
    // SIGINT (Ctrl-C) or SIGTERM (how a supervisor or `kill` stops a server).
    tokio::select! {
        _ = interrupt.recv() => {},
        _ = terminate.recv() => {},
    }
    handle.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn args_are_consistent() {
        super::Args::command().debug_assert();
    }
}

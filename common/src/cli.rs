//! Command-line pieces shared by the leader and the worker: how to reach the cluster.

use std::path::PathBuf;
use std::time::Duration;

mod flags;
pub use flags::*;

/// The allocator of the operator's programs (their binaries declare
/// `#[global_allocator] static A: Allocator = Allocator;`): jemalloc.
///
/// The leader keeps a large long-lived state (compact records of every workload and report)
/// built while transient data (list pages, queued tasks, JSON) comes and goes; glibc's
/// malloc kept those freed pages resident: at the 10× benchmark the leader peaked at
/// 435 MiB, 346 MiB with jemalloc (and used 43 s of CPU against 29–33 s). A worker spent
/// about a quarter of its CPU in glibc's malloc and free (Rego evaluation allocates much);
/// with jemalloc the 10× benchmark's workers used 31–33 s of CPU each against 35–43 s, for a
/// few MiB more (37–40 MiB against 32–33 MiB). Libraries and tests linking these crates keep
/// their own allocator.
pub use tikv_jemallocator::Jemalloc as Allocator;

/// Errors while connecting to the Kubernetes API.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No usable kubeconfig or in-cluster configuration was found.
    #[error(
        "no Kubernetes configuration found (set --kubeconfig or KUBECONFIG, or run in a cluster): {0}"
    )]
    LoadConfig(String),
    /// The configuration was found, but the API server did not answer.
    #[error("no Kubernetes cluster reachable at {url}: {reason}")]
    Unreachable {
        /// The API server URL from the configuration.
        url: String,
        /// Why the version request failed.
        reason: String,
    },
}

/// Pause between two attempts to reach the API server at start-up.
const CONNECT_RETRY: Duration = Duration::from_millis(500);

/// How to reach the cluster, flattened into each binary's arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct KubeArgs {
    /// Path of a kubeconfig file; without it, `KUBECONFIG`, `~/.kube/config` or the
    /// in-cluster service account are used, in that order.
    #[arg(long, env = "TRIVY_OPERATOR_KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// How long to wait for the API server's first answer at start-up.
    #[arg(long, env = "KUBE_CONNECT_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub connect_timeout: Duration,
}

impl KubeArgs {
    /// Loads the configuration and checks that the API server answers, so that a process
    /// without a cluster exits at once with a clear message instead of retrying forever.
    ///
    /// `user_agent` names this process in the API server's logs (and lets tests single it
    /// out), e.g. `trivy-operator-leader/0.1.0 (leader-0)`. Every request goes through
    /// `throttle`, the process's share of the API request budget.
    pub async fn connect(
        &self,
        user_agent: &str,
        throttle: &crate::api_budget::ThrottleLayer,
    ) -> Result<kube::Client, Error> {
        Ok(self.connect_versioned(user_agent, throttle).await?.0)
    }

    /// [`Self::connect`], also giving the API server's `gitVersion` its reachability check
    /// read (e.g. `v1.32.0`).
    pub async fn connect_versioned(
        &self,
        user_agent: &str,
        throttle: &crate::api_budget::ThrottleLayer,
    ) -> Result<(kube::Client, String), Error> {
        let config = match &self.kubeconfig {
            Some(path) => {
                let kubeconfig = kube::config::Kubeconfig::read_from(path)
                    .map_err(|e| Error::LoadConfig(format!("{}: {e}", path.display())))?;
                kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
                    .await
                    .map_err(|e| Error::LoadConfig(e.to_string()))?
            }
            None => kube::Config::infer()
                .await
                .map_err(|e| Error::LoadConfig(e.to_string()))?,
        };
        let mut config = config;
        let agent = http::HeaderValue::from_str(user_agent)
            .map_err(|e| Error::LoadConfig(format!("invalid user agent {user_agent:?}: {e}")))?;
        config.headers.push((http::header::USER_AGENT, agent));
        let url = config.cluster_url.to_string();
        // The reachability check goes around the throttle: a worker gets its budget from the
        // leader, which it reaches only after this. One request per process start.
        let check =
            kube::Client::try_from(config.clone()).map_err(|e| Error::LoadConfig(e.to_string()))?;
        // Transient errors (a busy API server, a 5xx) are retried until the timeout, so only a
        // cluster that stays unreachable stops the process.
        let deadline = tokio::time::Instant::now() + self.connect_timeout;
        let mut last = String::from("no answer");
        let version = loop {
            match tokio::time::timeout_at(deadline, check.apiserver_version()).await {
                Ok(Ok(info)) => break info.git_version,
                Ok(Err(e)) => last = e.to_string(),
                Err(_) => {}
            }
            if tokio::time::Instant::now() + CONNECT_RETRY >= deadline {
                let reason = format!("{last} (for {:?})", self.connect_timeout);
                return Err(Error::Unreachable { url, reason });
            }
            tokio::time::sleep(CONNECT_RETRY).await;
        };
        // The throttle retries 429s, 503s and 504s itself, each attempt within the budget;
        // kube's own retries under it would not wait for a token.
        let mut config = config;
        config.default_retry = false;
        let client = kube::client::ClientBuilder::try_from(config)
            .map_err(|e| Error::LoadConfig(e.to_string()))?
            // The throttle sends a request again after a 429, so the stack under it must be
            // shareable between concurrent requests.
            .with_layer(&tower::buffer::BufferLayer::new(1024))
            .with_layer(throttle)
            .build();
        Ok((client, version))
    }
}

/// Runs a binary's entry point on a multi-threaded runtime; an error is logged, printed as
/// `error: ...` on stderr and turned into a failing exit code.
pub fn block_on_main<E: std::fmt::Display>(
    program: &str,
    entry: impl Future<Output = Result<(), E>>,
) -> std::process::ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: could not start the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(entry);
    // Whatever still runs (a blocking task, a request in flight) must not hold the exit:
    // Kubernetes waits for it, and a rolling update or drain with it.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "{program} failed");
            eprintln!("error: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// A token cancelled by the first SIGTERM or SIGINT. The handlers are installed before this
/// returns, so a signal at any later moment — connecting, reconnecting, backing off — is
/// seen; call it first thing in a program.
pub fn shutdown_token() -> tokio_util::sync::CancellationToken {
    let token = tokio_util::sync::CancellationToken::new();
    let ctrl_c = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt());
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
    let cancel = token.clone();
    tokio::spawn(async move {
        match (ctrl_c, term) {
            (Ok(mut int), Ok(mut term)) => {
                tokio::select! {
                    _ = int.recv() => {},
                    _ = term.recv() => {},
                }
            }
            _ => shutdown_signal().await,
        }
        tracing::info!("shutting down");
        cancel.cancel();
    });
    token
}

/// Resolves on SIGINT or SIGTERM, the signals a user or the kubelet stops a process with
/// (handlers installed when first polled).
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = ctrl_c => {},
                _ = term.recv() => {},
            }
        }
        Err(_) => {
            let _ = ctrl_c.await;
        }
    }
}

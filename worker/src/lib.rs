//! A worker of trivy-operator-rs: attaches to the leader, runs the config audits of the
//! namespaces it owns, and writes the reports. Reconnects with backoff when the leader goes.

pub mod args;
pub mod budget;
pub mod config_audit;
pub mod metrics;
pub mod node;
pub mod object_audit;
pub mod policies;
pub mod report;
pub mod report_trim;
pub mod scan;
pub mod session;
pub mod task;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::admin::AdminState;
use tokio::sync::Semaphore;

use crate::args::Args;
use crate::policies::PolicyCache;

/// Why the worker stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The cluster could not be reached.
    #[error(transparent)]
    Connect(#[from] common::cli::Error),
    /// The TLS files are unusable.
    #[error(transparent)]
    Tls(#[from] common::tls::Error),
    /// The admin HTTP server could not start.
    #[error(transparent)]
    Admin(#[from] common::admin::Error),
    /// The policy evaluation cannot be set up.
    #[error("{0}")]
    Policies(String),
    /// The flags contradict each other.
    #[error("invalid flags: {0}")]
    Flags(String),
    /// The leader refuses this worker as configured; retrying cannot help.
    #[error(transparent)]
    Session(#[from] session::Error),
}

/// What a session needs from the flags.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Leader addresses, tried in turn.
    pub leader_addrs: Vec<String>,
    /// What this worker presents to the leader.
    pub token: session::Credential,
    /// TLS towards the leader; `None`: plaintext.
    pub tls: Option<tonic::transport::ClientTlsConfig>,
    /// How vulnerability scans run.
    pub scan: scan::ScanSettings,
    /// How node assessments run.
    pub node: node::NodeSettings,
    pub metrics: Arc<metrics::WorkerMetrics>,
    pub worker_id: String,
    pub capacity: u32,
    pub report_passed_checks: bool,
    pub heartbeat_interval: Duration,
    /// Tokens of the API request budget granted by the leader.
    pub budget: Arc<budget::Granted>,
}

const FIRST_BACKOFF: Duration = Duration::from_millis(200);

/// Runs the worker until SIGINT/SIGTERM.
pub async fn run(args: Args) -> Result<(), Error> {
    let agent = format!(
        "trivy-operator-worker/{} ({})",
        env!("CARGO_PKG_VERSION"),
        args.worker_id
    );
    let tls = args.tls.config()?;
    common::cli::check_tls_scheme(tls.is_some(), &args.leader_addr).map_err(Error::Flags)?;
    let shutdown = common::cli::shutdown_token();
    // Every API request waits for a token the leader granted, once it limits requests.
    let budget = Arc::new(budget::Granted::default());
    let api_stats = common::api_budget::ThrottleStats::default();
    let throttle = common::api_budget::ThrottleLayer::new(budget.clone(), api_stats.clone());
    // The reachability check reads the cluster's version, which the checks read as upstream's
    // do (`data.k8s.version`).
    let (client, cluster_version) = tokio::select! {
        () = shutdown.cancelled() => return Ok(()),
        connected = args.kube.connect_versioned(&agent, &throttle) => connected?,
    };
    tracing::info!(version = %cluster_version, "the API server answers");
    // Ready while attached to a leader; metrics from this worker's counters.
    let metrics = Arc::new(metrics::WorkerMetrics::with_api(&api_stats));
    let ready = Arc::new(AtomicBool::new(false));
    let render = {
        let metrics = metrics.clone();
        move || {
            let metrics = metrics.clone();
            async move { metrics.encode() }
        }
    };
    let admin = AdminState::new(ready.clone(), render);
    let (admin_addr, admin) =
        common::admin::serve(args.admin_addr, admin, shutdown.clone()).await?;
    tracing::info!(%admin_addr, "admin server listening");
    tokio::spawn(async move {
        if let Err(error) = admin.await {
            tracing::error!(%error, "admin server failed");
        }
    });
    let sandbox = common::audit::sandbox::Settings::new(
        args.policy_memory_limit,
        args.policy_evaluators.into(),
    )
    .map_err(Error::Policies)?;
    let evaluation = policies::Evaluation::new(
        sandbox,
        args.policy_evaluators.into(),
        Some(&cluster_version),
    )
    .map_err(Error::Policies)?;
    let cache = PolicyCache::spawn(
        client.clone(),
        &args.operator_namespace,
        &args.policies_configmap,
        evaluation,
        shutdown.clone(),
    );
    let scan_settings = scan::ScanSettings::new(&args.scan, args.operator_namespace.clone());
    scan_settings
        .registry_secrets
        .validate()
        .map_err(Error::Flags)?;
    let scan_settings = scan_settings.with_reporting_instance(&client, args.worker_id.clone());
    // One Event recorder for the process: scans' and nodes' Events form series.
    let scan_settings_recorder = scan_settings.recorder.clone();
    let settings = Settings {
        leader_addrs: args.leader_addr.clone(),
        token: match (&args.token, &args.token_file) {
            (Some(token), _) => session::Credential::Token(token.clone()),
            (None, Some(path)) => session::Credential::File(path.clone()),
            (None, None) => session::Credential::None,
        },
        tls,
        scan: scan_settings,
        node: node::NodeSettings {
            recorder: scan_settings_recorder,
            ..args.node.settings(args.report_passed_checks)
        },
        metrics: metrics.clone(),
        worker_id: args.worker_id.clone(),
        capacity: args.capacity,
        report_passed_checks: args.report_passed_checks,
        heartbeat_interval: args.heartbeat_interval,
        budget,
    };
    let shared = Arc::new(session::Shared::default());
    let slots = Arc::new(Semaphore::new(args.capacity as usize));
    let mut backoff = FIRST_BACKOFF;
    let mut next_addr = 0usize;
    loop {
        let attached = std::cell::Cell::new(false);
        let addr = settings.leader_addrs[next_addr % settings.leader_addrs.len().max(1)].clone();
        let session = session::run(&settings, &addr, &client, &cache, &shared, &slots, || {
            attached.set(true);
            ready.store(true, Ordering::Relaxed);
            metrics.set_connected(true);
        });
        let outcome = tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            outcome = session => outcome,
        };
        ready.store(false, Ordering::Relaxed);
        metrics.set_connected(false);
        if attached.get() {
            backoff = FIRST_BACKOFF;
        } else {
            next_addr += 1; // not (or no longer) the leader there: try the next address
        }
        match outcome {
            Ok(()) => tracing::info!("the leader closed the stream; reconnecting"),
            Err(error) if error.is_fatal() => return Err(error.into()),
            Err(error) => tracing::warn!(%error, retry_in = ?backoff, "no leader session"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(args.reconnect_max_backoff);
    }
}

/// The whole `trivy-operator-worker` program: parse flags, set up logging, run, and turn an
/// error into a clear message and a failing exit code. `main.rs` only calls this, so the
/// end-to-end tests can build the same program.
pub fn main() -> std::process::ExitCode {
    use clap::Parser;
    if let Some(code) = common::audit::sandbox::serve_if_asked() {
        return code;
    }
    let args = args::Args::parse();
    common::telemetry::init(&args.log);
    common::cli::block_on_main("worker", run(args))
}

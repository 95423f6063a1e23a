//! The leader of trivy-operator-rs: observes the cluster, plans config audits, and shards
//! them by namespace over the workers connected to its gRPC server.

pub mod args;
pub mod budget;
pub mod cleanup;
pub mod ctl;
pub mod dispatch;
pub mod election;
pub mod grpc;
pub mod image_report_gc;
pub mod metrics;
pub mod nodes;
pub mod objects;
pub mod observed;
pub mod plan;
pub mod plan_scans;
pub mod planner;
pub mod policy;
pub mod report_metrics;
pub mod scope;
pub mod state;
pub mod storage_events;
pub mod storage_guard;
pub mod watch;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::admin::AdminState;
use kube::runtime::events::{Recorder, Reporter};
use tokio_util::sync::CancellationToken;

use crate::args::{Args, Command, OutputFormat, RunArgs, StatusQuery};
use crate::dispatch::DispatchConfig;
use crate::state::{ScanSettings, Shared};

/// Why the leader stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The cluster could not be reached.
    #[error(transparent)]
    Connect(#[from] common::cli::Error),
    /// The flags are inconsistent.
    #[error(transparent)]
    Scope(#[from] scope::Error),
    /// The gRPC server failed.
    #[error(transparent)]
    Grpc(#[from] grpc::Error),
    /// The TLS files are unusable.
    #[error(transparent)]
    Tls(#[from] common::tls::Error),
    /// A status query failed.
    #[error(transparent)]
    Status(#[from] ctl::Error),
    /// The admin HTTP server failed.
    #[error(transparent)]
    Admin(#[from] common::admin::Error),
    /// The flags contradict each other.
    #[error("invalid flags: {0}")]
    Flags(String),
    /// The CRDs could not be rendered.
    #[error("could not render the CRDs: {0}")]
    Crd(String),
}

/// Runs the chosen subcommand.
pub async fn run(args: Args) -> Result<(), Error> {
    match args.command {
        Command::Crd => {
            let yaml =
                common::reports::crd::all_crds_yaml().map_err(|e| Error::Crd(e.to_string()))?;
            print!("{yaml}");
            Ok(())
        }
        Command::Run(run_args) => {
            let mut run_args = *run_args;
            run_args.validate().map_err(Error::Flags)?;
            run_args.resolve_identity();
            run_leader(run_args).await
        }
        Command::Status(status) => {
            let query = match status.query {
                StatusQuery::Cluster => ctl::Query::Cluster,
                StatusQuery::Namespace { namespace } => ctl::Query::Namespace(namespace),
                StatusQuery::Workload {
                    namespace,
                    kind,
                    name,
                } => ctl::Query::Workload {
                    namespace,
                    kind,
                    name,
                },
                // A node is asked about as the cluster-scoped object of kind Node.
                StatusQuery::Node { name } => ctl::Query::Workload {
                    namespace: String::new(),
                    kind: common::policy_config::NODE_KIND.to_owned(),
                    name,
                },
                StatusQuery::Role { namespace, name } => ctl::Query::Workload {
                    namespace,
                    kind: "Role".to_owned(),
                    name,
                },
                StatusQuery::Clusterrole { name } => ctl::Query::Workload {
                    namespace: String::new(),
                    kind: "ClusterRole".to_owned(),
                    name,
                },
                StatusQuery::Object {
                    kind,
                    name,
                    namespace,
                } => ctl::Query::Workload {
                    namespace,
                    kind,
                    name,
                },
            };
            let output = match status.output {
                OutputFormat::Table => ctl::Output::Table,
                OutputFormat::Json => ctl::Output::Json,
            };
            let tls = status.tls.config()?;
            common::cli::check_tls_scheme(tls.is_some(), std::iter::once(&status.addr))
                .map_err(Error::Flags)?;
            let text = ctl::run(&status.addr, status.token.as_deref(), tls, query, output).await?;
            println!("{}", text.trim_end());
            Ok(())
        }
    }
}

/// How often the control loop runs without being woken.
const TICK: Duration = Duration::from_secs(1);
/// Pause after a wake-up so a burst of watch events makes one round.
const DEBOUNCE: Duration = Duration::from_millis(50);

async fn run_leader(args: RunArgs) -> Result<(), Error> {
    let scope = scope::Scope::new(&args.scope)?;
    let agent = format!(
        "trivy-operator-leader/{} ({})",
        env!("CARGO_PKG_VERSION"),
        args.identity()
    );
    let shutdown = common::cli::shutdown_token();
    // One budget for the process's life: the leader's own requests take from it, workers
    // ask it for grants.
    let budget = Arc::new(budget::Budget::new(
        args.api_budget.limits().map_err(Error::Flags)?,
    ));
    let api_stats = common::api_budget::ThrottleStats::default();
    let throttle = common::api_budget::ThrottleLayer::new(budget.clone(), api_stats.clone());
    let client = tokio::select! {
        () = shutdown.cancelled() => return Ok(()),
        client = args.kube.connect(&agent, &throttle) => client?,
    };
    // Both servers run on a standby too: gRPC answers UNAVAILABLE and health NOT_SERVING,
    // the admin server is healthy but not ready, without report gauges.
    let slot = grpc::LeaderSlot::default();
    let metrics = Arc::new(metrics::LeaderMetrics::with_api(&api_stats));
    let ready = Arc::new(AtomicBool::new(false));
    let render = metrics_renderer(client.clone(), &args, metrics.clone(), slot.clone());
    let admin = AdminState::new(ready.clone(), render);
    let (admin_addr, admin) =
        common::admin::serve(args.admin_addr, admin, shutdown.clone()).await?;
    tracing::info!(%admin_addr, "admin server listening");
    tokio::spawn(async move {
        if let Err(error) = admin.await {
            tracing::error!(%error, "admin server failed");
        }
    });
    let auth_refusals = Arc::new(AtomicU64::new(0));
    let worker_auth = grpc::WorkerAuth::from_args(&args, &client, auth_refusals.clone());
    let tokens = grpc::Tokens {
        worker: worker_auth,
        status: grpc::TokenCheck::new(args.status_token.clone(), auth_refusals.clone()),
    };
    let tls = args.tls.config()?;
    if tls.is_some() {
        let mutual = args.tls.tls_client_ca_file.is_some();
        tracing::info!(mutual, "gRPC over TLS");
    }
    let listener = grpc::bind(args.grpc_addr).await?;
    let (addr, health, server) = grpc::serve(
        listener,
        slot.clone(),
        tokens,
        tls,
        args.grpc_reflection,
        (
            grpc::connections::Limits {
                max: args.grpc_max_connections as usize,
                idle: args.grpc_idle_timeout,
            },
            grpc::connections::Refused(metrics.connections_refused()),
        ),
        shutdown.clone(),
    )
    .await?;
    tracing::info!(%addr, "gRPC server listening");
    let mut server = std::pin::pin!(server);
    let terms = Terms {
        args: &args,
        scope,
        client,
        budget,
        metrics,
        auth_refusals,
        slot,
        health,
        ready,
    };
    tokio::select! {
        () = terms.run(&shutdown) => {
            shutdown.cancel();
            server.await.map_err(Error::from)
        }
        served = &mut server => {
            shutdown.cancel();
            served.map_err(Error::from)
        }
    }
}

/// What every term of this replica shares: it stands by, leads while it holds the Lease,
/// and stands by again when it loses it.
struct Terms<'a> {
    args: &'a RunArgs,
    scope: scope::Scope,
    client: kube::Client,
    budget: Arc<budget::Budget>,
    metrics: Arc<metrics::LeaderMetrics>,
    auth_refusals: Arc<AtomicU64>,
    slot: grpc::LeaderSlot,
    health: tonic_health::server::HealthReporter,
    ready: Arc<AtomicBool>,
}

impl Terms<'_> {
    /// Without leader election: one term until `shutdown`. With it: acquire, lead, and on a
    /// lost lease stop every write at once and stand by again (the process keeps running, so
    /// a brief API outage costs a term, not a restart).
    async fn run(&self, shutdown: &CancellationToken) {
        let args = &self.args.election;
        if !args.leader_election {
            let leading = shutdown.child_token();
            self.begin(election::new_epoch(0), &leading).await;
            leading.cancelled().await;
            self.end(&leading, false).await;
            return;
        }
        let config = election::ElectionConfig {
            namespace: self.args.operator_namespace.clone(),
            lease_name: args.lease_name.clone(),
            identity: self.args.identity(),
            lease_duration: args.lease_duration,
        };
        loop {
            let Some(term) = election::acquire(self.client.clone(), config.clone(), shutdown).await
            else {
                return;
            };
            let leading = shutdown.child_token();
            self.begin(term.epoch, &leading).await;
            let held = term.hold(shutdown).await;
            self.end(&leading, held.is_err()).await;
            match held {
                Ok(()) => return,
                Err(error) => {
                    tracing::error!(%error, "lost the lease: stopped leading; standing by");
                }
            }
        }
    }

    /// Starts a term: its work, then the services and readiness.
    async fn begin(&self, epoch: u64, leading: &CancellationToken) {
        let shared = lead(
            self.args,
            self.scope.clone(),
            self.client.clone(),
            epoch,
            self.metrics.clone(),
            self.auth_refusals.clone(),
            (self.budget.clone(), leading),
        );
        self.slot.set(shared);
        grpc::mark_leading(&self.health).await;
        self.ready.store(true, Ordering::Relaxed);
    }

    /// Ends a term: not ready, services UNAVAILABLE, all work cancelled, worker streams
    /// closed so the workers look for the new leader.
    async fn end(&self, leading: &CancellationToken, lost: bool) {
        self.ready.store(false, Ordering::Relaxed);
        leading.cancel();
        if let Ok(shared) = self.slot.get() {
            self.metrics
                .end_term(&shared.snapshot(Instant::now()), lost);
        }
        self.slot.clear();
        grpc::mark_standby(&self.health).await;
    }
}

/// Starts the leader's work for one term (watches, policy follower, cleanup, control loop),
/// all stopping when `leading` is cancelled; returns the term's state for the services.
fn lead(
    args: &RunArgs,
    scope: scope::Scope,
    client: kube::Client,
    epoch: u64,
    metrics: Arc<metrics::LeaderMetrics>,
    auth_refusals: Arc<AtomicU64>,
    (budget, leading): (Arc<budget::Budget>, &CancellationToken),
) -> Arc<Shared> {
    tracing::info!(epoch, "leading");
    let dispatch = DispatchConfig {
        tasks_per_capacity: args.dispatch.tasks_per_capacity,
        worker_timeout: args.dispatch.worker_timeout,
        retry_base: args.dispatch.retry_base,
        retry_max: args.dispatch.retry_max,
        result_grace: args.dispatch.result_grace,
        max_concurrent_scans: args.dispatch.max_concurrent_scans as usize,
        max_scans_per_namespace: args.dispatch.max_scans_per_namespace as usize,
    };
    let per_image = args.vulnerability_report_mode == crate::args::ReportMode::PerImage;
    let scans = args.vulnerability_scans.then(|| ScanSettings {
        ttl: (!args.report_ttl.is_zero()).then_some(args.report_ttl),
        per_image,
        companions: observed::Companions {
            secret: args.exposed_secret_scans,
            sbom: args.sbom_generation,
        },
        sbom_rescans: args.sbom_rescans,
    });
    let identity = args.identity();
    let ttl = (!args.report_ttl.is_zero()).then_some(args.report_ttl);
    // Checked at start (`RunArgs::validate`): an error here is not possible.
    let nodes = args.nodes.settings(ttl).ok().flatten();
    let shared = Shared::new(
        identity.clone(),
        epoch,
        scope,
        dispatch,
        scans,
        metrics,
        auth_refusals,
    )
    .with_term(leading.clone())
    .with_budget(budget)
    .with_storage_budget(args.report_storage_budget);
    let shared = shared.with_object_kinds(crate::objects::audited_kinds(
        args.rbac_assessments,
        args.resource_audits,
    ));
    let shared = Arc::new(match nodes {
        Some(nodes) => shared.with_nodes(nodes),
        None => shared,
    });
    let reporter = Reporter {
        controller: "trivy-operator-leader".into(),
        instance: Some(identity),
    };
    let recorder = Recorder::new(client.clone(), reporter);
    let recorder_for_storage = recorder.clone();
    let sandbox = common::audit::sandbox::Settings::new(args.policy_memory_limit, 1)
        .unwrap_or_else(|error| {
            tracing::warn!(%error, "policies will be tried by /proc/self/exe");
            common::audit::sandbox::Settings {
                program: common::audit::sandbox::Program {
                    path: "/proc/self/exe".into(),
                    args: Vec::new(),
                },
                memory_limit: args.policy_memory_limit,
                processes: 1,
            }
        });
    watch::spawn_all(&client, &shared, leading);
    policy::spawn(
        client.clone(),
        &args.operator_namespace,
        &args.policies_configmap,
        recorder,
        sandbox,
        shared.clone(),
        leading.clone(),
    );
    if per_image {
        image_report_gc::spawn(
            client.clone(),
            shared.clone(),
            args.image_report_gc_grace,
            leading.clone(),
        );
    }
    cleanup::spawn(
        client,
        shared.clone(),
        args.config_audit_delete_batch as usize,
        args.config_audit_delete_interval,
        leading.clone(),
    );
    let storage_events = storage_events::StorageEvents::new(
        recorder_for_storage,
        &args.operator_namespace,
        &args.election.lease_name,
    );
    tokio::spawn(control_loop(
        shared.clone(),
        storage_events,
        leading.clone(),
    ));
    shared
}

/// Renders `/metrics`: the leader's own series from its state, plus — on the active
/// leader only — the upstream-compatible report gauges listed from the API.
fn metrics_renderer(
    client: kube::Client,
    args: &RunArgs,
    metrics: Arc<metrics::LeaderMetrics>,
    slot: grpc::LeaderSlot,
) -> impl Fn() -> std::pin::Pin<Box<dyn Future<Output = String> + Send>> + Send + Sync + 'static {
    let namespaces = args.scope.namespaces.clone();
    let secrets = args.vulnerability_scans && args.exposed_secret_scans;
    let info = secrets && args.metrics_exposed_secret_info;
    let gauges = Arc::new(report_metrics::CachedGauges::default());
    let info_gauges = Arc::new(report_metrics::CachedGauges::default());
    move || {
        let (client, metrics, namespaces) = (client.clone(), metrics.clone(), namespaces.clone());
        let (gauges, info_gauges) = (gauges.clone(), info_gauges.clone());
        let shared = slot.get();
        Box::pin(async move {
            let Ok(shared) = shared else {
                metrics.set_snapshot(&metrics::Snapshot::default());
                return metrics.encode();
            };
            metrics.set_snapshot(&shared.snapshot(Instant::now()));
            let from_state =
                || report_metrics::render_observed(&shared.lock().observed, &namespaces, secrets);
            let limits = (report_metrics::MAX_AGE, secrets);
            let mut reports = gauges
                .render(&client, &namespaces, limits, from_state)
                .await
                .unwrap_or_else(|error| {
                    tracing::warn!(%error, "could not list reports for metrics");
                    String::new()
                });
            if info {
                let listed = report_metrics::render_secret_info(&client, &namespaces);
                match info_gauges.cached(report_metrics::MAX_AGE, listed).await {
                    Ok(text) => reports.push_str(&text),
                    Err(error) => {
                        tracing::warn!(%error, "could not list exposed secret reports for metrics")
                    }
                }
            }
            metrics.encode_with(&reports)
        })
    }
}

/// Runs a round after every change (debounced) and every [`TICK`]. After a wake-up it waits
/// at least twice the last round's duration, so that under constant churn in a large
/// cluster planning takes at most about a third of a core and never starves the watchers.
async fn control_loop(
    shared: Arc<Shared>,
    events: storage_events::StorageEvents,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = Duration::ZERO;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = shared.wake.notified() => tokio::time::sleep(DEBOUNCE.max(last * 2)).await,
            _ = tick.tick() => {}
        }
        let started = Instant::now();
        if let Some(change) = shared.round(started) {
            events.publish(change);
        }
        last = started.elapsed();
        shared.metrics.observe_round(last);
    }
}

/// The whole `trivy-operator-leader` program: parse flags, set up logging, run, and turn an
/// error into a clear message and a failing exit code. `main.rs` only calls this, so the
/// end-to-end tests can build the same program.
pub fn main() -> std::process::ExitCode {
    use clap::Parser;
    if let Some(code) = common::audit::sandbox::serve_if_asked() {
        return code;
    }
    let args = args::Args::parse();
    common::telemetry::init(&args.log);
    common::cli::block_on_main("leader", run(args))
}

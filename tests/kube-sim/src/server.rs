//! Starting and stopping a simulated API server: bind, write a kubeconfig, serve, run the
//! namespace reaper and the controllers.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::SimState;
use crate::authz::{Authorization, Authz, UserInfo};
use crate::controllers::{self, ControllerConfig};
use crate::faults::{FaultConfig, Faults};
use crate::http::{App, Stats, router};
use crate::store::Store;

/// Errors of [`start`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Could not bind the listening socket.
    #[error("binding 127.0.0.1:{port}")]
    Bind {
        /// Requested port.
        port: u16,
        /// Cause.
        source: std::io::Error,
    },
    /// Could not write the kubeconfig.
    #[error("writing kubeconfig {path}")]
    WriteKubeconfig {
        /// Path.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
}

/// How to run a simulated API server.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Where to write the kubeconfig; `None`: `$TMPDIR/kube-sim-<port>/kubeconfig`.
    pub kubeconfig_out: Option<PathBuf>,
    /// Bearer token written to the kubeconfig; `None`: none. Clients must send it (or one of
    /// `tokens`) when any token is configured; with RBAC it is an admin (`system:masters`).
    pub token: Option<String>,
    /// AlwaysAllow (default) or RBAC by the Role/ClusterRole/(Cluster)RoleBinding objects.
    pub authorization: Authorization,
    /// More bearer tokens and their users (e.g. from `--token-file`).
    pub tokens: BTreeMap<String, UserInfo>,
    /// Requests without a token are `system:anonymous` (group `system:unauthenticated`)
    /// instead of 401 (kubectl sends no token over plain HTTP).
    pub anonymous: bool,
    /// Fake node names: the kubelet registers a Node object for each and runs pods on them
    /// (with `controllers`).
    pub nodes: Vec<String>,
    /// Image → program map for the simulated kubelet.
    pub runtime_map: Option<PathBuf>,
    /// Events kept per resource for watches from an older resourceVersion.
    pub history_limit: usize,
    /// Interval of BOOKMARK events on watches that allow them.
    pub bookmark_interval: Duration,
    /// Initial fault injection.
    pub faults: FaultConfig,
    /// Start the controllers (GC, workloads, kubelet); false serves only the API.
    pub controllers: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            port: 0,
            kubeconfig_out: None,
            token: None,
            authorization: Authorization::AlwaysAllow,
            tokens: BTreeMap::new(),
            anonymous: false,
            nodes: vec!["kube-sim-node-1".to_owned()],
            runtime_map: None,
            history_limit: crate::store::DEFAULT_HISTORY,
            bookmark_interval: Duration::from_secs(5),
            faults: FaultConfig::default(),
            controllers: true,
        }
    }
}

/// A running simulated API server. Dropping it stops the background tasks; call
/// [`SimHandle::shutdown`] to also wait for the server to stop.
#[derive(Debug)]
pub struct SimHandle {
    /// The bound address (127.0.0.1:PORT).
    pub addr: SocketAddr,
    /// The kubeconfig written for this server.
    pub kubeconfig_path: PathBuf,
    /// Shared state: store, logs, kubelet switch.
    pub state: Arc<SimState>,
    app: Arc<App>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
    tasks: Vec<JoinHandle<()>>,
}

impl SimHandle {
    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The store (for direct inspection and setup in tests).
    pub fn store(&self) -> &Arc<Store> {
        &self.state.store
    }

    /// Replaces the fault-injection settings (same as `POST /_sim/faults`).
    pub fn set_faults(&self, faults: FaultConfig) {
        self.app.faults.set(faults);
    }

    /// Closes every open watch now (same as `POST /_sim/close-watches`).
    pub fn close_watches(&self) {
        self.app.close_watches.send_modify(|n| *n += 1);
    }

    /// Counters (watches started, watches answered 410 Gone, injected faults).
    pub fn stats(&self) -> &Stats {
        &self.app.stats
    }

    /// Pauses (true) or resumes (false) the simulated kubelet.
    pub fn pause_kubelet(&self, paused: bool) {
        self.state.kubelet_paused.store(paused, Ordering::SeqCst);
    }

    /// Stops serving and waits for the server task to end.
    pub async fn shutdown(mut self) {
        self.stop_tasks();
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }

    fn stop_tasks(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.close_watches();
        for t in self.tasks.drain(..) {
            t.abort();
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.stop_tasks();
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

/// A kubeconfig for a server URL and optional token, as YAML.
pub fn kubeconfig_yaml(url: &str, token: Option<&str>) -> String {
    let user = match token {
        Some(t) => format!("  user:\n    token: {t}\n"),
        None => "  user: {}\n".to_owned(),
    };
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: kube-sim\n  cluster:\n    server: {url}\n\
         contexts:\n- name: kube-sim\n  context:\n    cluster: kube-sim\n    user: kube-sim\n    \
         namespace: default\ncurrent-context: kube-sim\nusers:\n- name: kube-sim\n{user}"
    )
}

fn write_kubeconfig(path: &Path, url: &str, token: Option<&str>) -> Result<(), Error> {
    let err = |source| Error::WriteKubeconfig {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    std::fs::write(path, kubeconfig_yaml(url, token)).map_err(err)
}

/// Starts a simulated API server on 127.0.0.1 (must be called inside a tokio runtime).
pub async fn start(config: SimConfig) -> Result<SimHandle, Error> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", config.port))
        .await
        .map_err(|source| Error::Bind {
            port: config.port,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| Error::Bind {
        port: config.port,
        source,
    })?;
    let url = format!("http://{addr}");
    let kubeconfig_path = config.kubeconfig_out.clone().unwrap_or_else(|| {
        std::env::temp_dir()
            .join(format!("kube-sim-{}", addr.port()))
            .join("kubeconfig")
    });
    write_kubeconfig(&kubeconfig_path, &url, config.token.as_deref())?;

    let store = Arc::new(Store::new());
    store.set_history_limit(config.history_limit);
    let state = Arc::new(SimState::new(store.clone()));
    if config.authorization == Authorization::Rbac {
        crate::authz::seed(&store);
    }
    let app = Arc::new(App {
        state: state.clone(),
        authz: Authz::new(
            config.authorization,
            config.token.as_deref(),
            &config.tokens,
            config.anonymous,
        ),
        faults: Faults::new(config.faults.clone()),
        close_watches: tokio::sync::watch::channel(0).0,
        bookmark_interval: config.bookmark_interval,
        addr: addr.to_string(),
        stats: Stats::default(),
        service_account_tokens: Default::default(),
    });
    let mut tasks = Vec::new();
    let reaper_store = store.clone();
    tasks.push(tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        loop {
            tick.tick().await;
            reaper_store.reap_namespaces();
        }
    }));
    if config.controllers {
        let cc = ControllerConfig {
            nodes: config.nodes.clone(),
            runtime_map: config.runtime_map.clone(),
        };
        tasks.extend(controllers::spawn_all(state.clone(), cc));
    }
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let svc = router(app.clone());
    let server = tokio::spawn(async move {
        let serve = axum::serve(listener, svc).with_graceful_shutdown(async {
            let _ = stopped.await;
        });
        if let Err(e) = serve.await {
            tracing::error!(error = %e, "kube-sim server failed");
        }
    });
    tracing::info!(%url, "kube-sim listening");
    Ok(SimHandle {
        addr,
        kubeconfig_path,
        state,
        app,
        stop: Some(stop),
        server: Some(server),
        tasks,
    })
}

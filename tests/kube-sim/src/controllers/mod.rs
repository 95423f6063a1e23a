//! Controllers of the simulated cluster, in-process over the store: the garbage collector,
//! Deployment, ReplicaSet/ReplicationController/StatefulSet/DaemonSet, Job and CronJob
//! controllers (one manager task, see [`manager`]), and the simulated kubelet
//! ([`crate::kubelet`]). The server only calls [`spawn_all`].

pub mod cache;
pub mod cronjob;
pub mod deployment;
pub mod gc;
pub mod job;
pub mod manager;
pub mod pods_owner;
pub mod util;

use std::path::PathBuf;
use std::sync::Arc;

use crate::SimState;
use crate::kubelet::{self, KubeletConfig, RuntimeMap};

pub use cronjob::trigger_now;

/// Configuration of the controllers, from the `kube-sim` command line or [`crate::SimConfig`].
#[derive(Debug, Clone, Default)]
pub struct ControllerConfig {
    /// Names of the fake nodes (DaemonSets place one pod per node; pods are spread over
    /// them). Empty: one node, [`kubelet::DEFAULT_NODE`].
    pub nodes: Vec<String>,
    /// The image → program map for the simulated kubelet (`--runtime-map FILE`).
    pub runtime_map: Option<PathBuf>,
}

/// Registers the fake nodes' Node objects, then starts every controller as a tokio task on
/// the shared state. Called once by [`crate::start`]; the returned tasks are aborted on
/// shutdown. An unreadable runtime map is logged and treated as empty (every image then runs
/// its command on the host).
pub fn spawn_all(
    state: Arc<SimState>,
    config: ControllerConfig,
) -> Vec<tokio::task::JoinHandle<()>> {
    let nodes = if config.nodes.is_empty() {
        vec![kubelet::DEFAULT_NODE.to_string()]
    } else {
        config.nodes
    };
    if let Err(e) = kubelet::node::register(&state.store, &nodes) {
        tracing::error!(error = %e, "nodes not registered");
    }
    let runtime_map = match config.runtime_map.as_deref().map(RuntimeMap::load) {
        None => RuntimeMap::default(),
        Some(Ok(map)) => map,
        Some(Err(e)) => {
            let source = std::error::Error::source(&e)
                .map(ToString::to_string)
                .unwrap_or_default();
            tracing::error!(error = %e, %source, "runtime map not loaded");
            RuntimeMap::default()
        }
    };
    let kubelet = kubelet::spawn(
        state.clone(),
        KubeletConfig {
            nodes: nodes.clone(),
            runtime_map,
        },
    );
    let manager = tokio::spawn(manager::run(state, nodes));
    vec![manager, kubelet]
}

//! kube-sim: a Kubernetes API server for tests, in memory, on loopback.
//!
//! [`start`] serves the Kubernetes REST API on `127.0.0.1` over plain HTTP (kubectl and
//! kube-rs work against it) and starts the controllers; [`SimState`] is the shared state the
//! HTTP layer and the in-process controllers use: the [`store::Store`], captured pod logs
//! ([`logs::LogStore`]), the kubelet pause switch and the fault-injection settings.

pub mod authz;
pub mod cli;
pub mod controllers;
pub mod faults;
pub mod http;
pub mod kubelet;
pub mod logs;
mod server;
pub mod store;

pub use server::{Error, SimConfig, SimHandle, kubeconfig_yaml, start};

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// State shared by the HTTP server and the controllers.
#[derive(Debug)]
pub struct SimState {
    /// All API objects.
    pub store: Arc<store::Store>,
    /// Pod logs written by the kubelet, served by `pods/log`.
    pub logs: logs::LogStore,
    /// When true the simulated kubelet starts no new containers (`POST /_sim/kubelet/pause`).
    pub kubelet_paused: AtomicBool,
}

impl SimState {
    /// State around a store.
    pub fn new(store: Arc<store::Store>) -> Self {
        Self {
            store,
            logs: logs::LogStore::default(),
            kubelet_paused: AtomicBool::new(false),
        }
    }
}

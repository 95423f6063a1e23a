//! The simulated kubelet (and scheduler): registers the fake nodes' Node objects ([`node`]),
//! binds every pod to a node ([`schedule`]: honouring `nodeSelector`), then
//! - pods with `restartPolicy: Always` (Deployments, ReplicaSets, StatefulSets, DaemonSets,
//!   bare pods by default) are marked Running and ready without executing anything;
//! - pods with `restartPolicy: Never` or `OnFailure` (Jobs) are executed: each container runs
//!   as a local process through the runtime map ([`runtime`]), its output becomes the pod log,
//!   its exit code the container state, and the pod ends `Succeeded` or `Failed`; its Secret
//!   and ConfigMap volumes are projected into a host directory ([`volumes`]).
//!
//! A deleted pod's processes are killed (a Job's deadline kills pods by deleting them), and
//! its logs are dropped. While `kubelet_paused` is set no pod is started or marked Running;
//! pods already running continue.

pub mod env;
pub mod image;
pub mod node;
mod pod;
pub mod process;
pub mod runtime;
pub mod schedule;
pub mod status;
pub mod volumes;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};

use crate::SimState;
use crate::store::{EventType, GroupResource, WatchFrom};
pub use runtime::RuntimeMap;

/// The default fake node when none is configured.
pub const DEFAULT_NODE: &str = "kube-sim-node";

/// Kubelet settings.
#[derive(Debug, Clone, Default)]
pub struct KubeletConfig {
    /// Fake node names; pods are spread over them by name hash (DaemonSet pods come bound).
    pub nodes: Vec<String>,
    /// Image → program.
    pub runtime_map: RuntimeMap,
}

/// Starts the kubelet task.
pub fn spawn(state: Arc<SimState>, config: KubeletConfig) -> tokio::task::JoinHandle<()> {
    tokio::spawn(Kubelet::new(state, config).run())
}

struct Kubelet {
    state: Arc<SimState>,
    nodes: Vec<String>,
    map: Arc<RuntimeMap>,
    running: HashMap<String, watch::Sender<bool>>,
    /// Pods (by uid) already started: a pod runs once, even when an older watch event that
    /// still shows it Pending arrives after its run has ended.
    started: HashSet<String>,
    done_tx: mpsc::UnboundedSender<String>,
    done_rx: mpsc::UnboundedReceiver<String>,
}

fn pods() -> GroupResource {
    GroupResource::new("", "pods")
}

impl Kubelet {
    fn new(state: Arc<SimState>, config: KubeletConfig) -> Self {
        let nodes = if config.nodes.is_empty() {
            vec![DEFAULT_NODE.to_string()]
        } else {
            config.nodes
        };
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        Self {
            state,
            nodes,
            map: Arc::new(config.runtime_map),
            running: HashMap::new(),
            started: HashSet::new(),
            done_tx,
            done_rx,
        }
    }

    async fn run(mut self) {
        loop {
            let Ok(mut watch) = self.state.store.watch(&pods(), None, WatchFrom::Snapshot) else {
                return;
            };
            // A Node added or relabelled may fit a pod left unschedulable: resync.
            let Ok(mut node_watch) = self.state.store.watch(&node::nodes(), None, WatchFrom::Now)
            else {
                return;
            };
            let mut tick = tokio::time::interval(Duration::from_millis(500));
            let mut was_paused = self.paused();
            loop {
                tokio::select! {
                    ev = watch.next() => match ev {
                        Ok(ev) => self.on_event(ev.type_, &ev.object),
                        Err(crate::store::WatchError::Lagged) => break,
                        Err(crate::store::WatchError::Closed) => return,
                    },
                    ev = node_watch.next() => match ev {
                        Ok(_) | Err(crate::store::WatchError::Lagged) => break,
                        Err(crate::store::WatchError::Closed) => return,
                    },
                    Some(uid) = self.done_rx.recv() => { self.running.remove(&uid); }
                    _ = tick.tick() => {
                        let paused = self.paused();
                        if was_paused && !paused {
                            was_paused = paused;
                            break; // resync: start what waited while paused
                        }
                        was_paused = paused;
                    }
                }
            }
        }
    }

    fn paused(&self) -> bool {
        self.state.kubelet_paused.load(Ordering::Relaxed)
    }

    fn on_event(&mut self, type_: EventType, pod: &Arc<Value>) {
        let uid = pod
            .pointer("/metadata/uid")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let ns = pod
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("");
        let name = pod
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        if type_ == EventType::Deleted || pod.pointer("/metadata/deletionTimestamp").is_some() {
            if let Some(kill) = self.running.remove(&uid) {
                let _ = kill.send(true);
            }
            if type_ == EventType::Deleted {
                self.state.logs.remove_pod(ns, name);
                self.started.remove(&uid);
            }
            return;
        }
        if self.started.contains(&uid) || self.paused() {
            return;
        }
        let phase = pod
            .pointer("/status/phase")
            .and_then(Value::as_str)
            .unwrap_or("Pending");
        if phase != "Pending" {
            return;
        }
        let Some((node, pod)) = self.bind(pod, ns, name) else {
            return;
        };
        let pod = &pod;
        let host_ip = self.host_ip(&node);
        let policy = pod
            .pointer("/spec/restartPolicy")
            .and_then(Value::as_str)
            .unwrap_or("Always");
        if policy == "Always" {
            let status = status::PodModel::all_running(pod).to_status(&host_ip);
            let _ = self.state.store.modify(&pods(), ns, name, true, |obj| {
                obj["status"] = status.clone()
            });
            return;
        }
        let (kill_tx, kill_rx) = watch::channel(false);
        self.running.insert(uid.clone(), kill_tx);
        self.started.insert(uid.clone());
        let run = pod::PodRun {
            state: self.state.clone(),
            map: self.map.clone(),
            pod: pod.clone(),
            host_ip,
        };
        let done = self.done_tx.clone();
        tokio::spawn(async move {
            pod::run(run, kill_rx).await;
            let _ = done.send(uid);
        });
    }

    /// The pod's node and the pod as bound, binding it to one if it has none (`None`: not
    /// bound, e.g. unschedulable).
    fn bind(&self, pod: &Arc<Value>, ns: &str, name: &str) -> Option<(String, Arc<Value>)> {
        if let Some(node) = pod
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
        {
            return Some((node.to_string(), pod.clone()));
        }
        let selector = pod.pointer("/spec/nodeSelector").and_then(Value::as_object);
        let tolerations = pod
            .pointer("/spec/tolerations")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        // The Node objects: their labels for a selector, their taints either way.
        let nodes = self
            .state
            .store
            .list(&node::nodes(), None)
            .map(|page| page.items)
            .unwrap_or_default();
        let node = match schedule::choose(name, selector, tolerations, &self.nodes, &nodes) {
            schedule::Placement::Node(node) => node,
            schedule::Placement::Unschedulable(message) => {
                if let Some(status) = schedule::unschedulable_status(pod.get("status"), &message) {
                    let _ = self.state.store.modify(&pods(), ns, name, true, |obj| {
                        obj["status"] = status.clone();
                    });
                }
                return None;
            }
        };
        let bound = self.state.store.modify(&pods(), ns, name, false, |obj| {
            obj["spec"]["nodeName"] = json!(node);
        });
        bound.ok().map(|pod| (node, pod))
    }

    fn host_ip(&self, node: &str) -> String {
        node::host_ip(self.nodes.iter().position(|n| n == node).unwrap_or(0))
    }
}

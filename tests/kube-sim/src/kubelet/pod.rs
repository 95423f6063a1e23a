//! Runs one executed pod (`restartPolicy` `Never` or `OnFailure`): init containers one after
//! the other, then all containers at once; writes the pod status after every change and ends
//! with phase `Succeeded` (every container exited 0) or `Failed`. With `OnFailure` a failed
//! container is restarted in place (`restartCount`, `lastState`) after a short backoff, as the
//! real kubelet does; its log keeps growing (no `--previous` log).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::watch;

use super::env::{container_env, expand};
use super::process::{self, ProcessSpec};
use super::runtime::{RuntimeMap, plan};
use super::status::{PodModel, State, terminated};
use super::volumes;
use crate::SimState;
use crate::store::meta::now_rfc3339;
use crate::store::{GroupResource, StoreError};

/// Everything a pod run needs.
#[derive(Clone)]
pub struct PodRun {
    /// Shared sim state (store, logs).
    pub state: Arc<SimState>,
    /// Image → program.
    pub map: Arc<RuntimeMap>,
    /// The pod as first seen.
    pub pod: Arc<Value>,
    /// The node's IP.
    pub host_ip: String,
}

struct Shared {
    run: PodRun,
    model: Mutex<PodModel>,
    namespace: String,
    name: String,
    /// Where the pod's Secret and ConfigMap volumes are projected (removed at its end).
    volumes: VolumeDir,
}

/// A pod's volume directory on the host, removed when the pod's run ends.
struct VolumeDir(std::path::PathBuf);

impl Drop for VolumeDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Shared {
    /// Applies `f` to the model and writes the resulting status. `false` when the pod is gone.
    fn update(&self, f: impl FnOnce(&mut PodModel)) -> bool {
        let status = {
            let mut model = self.model.lock().unwrap_or_else(|e| e.into_inner());
            f(&mut model);
            model.to_status(&self.run.host_ip)
        };
        let pods = GroupResource::new("", "pods");
        let res = self
            .run
            .state
            .store
            .modify(&pods, &self.namespace, &self.name, true, |obj| {
                obj["status"] = status.clone();
            });
        !matches!(res, Err(StoreError::NotFound { .. }))
    }
}

/// Runs the pod to completion, or until `kill` becomes true (pod deleted, deadline).
pub async fn run(run: PodRun, mut kill: watch::Receiver<bool>) {
    let pod = run.pod.clone();
    let namespace = pod
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let name = pod
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let uid = pod
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let volumes = VolumeDir(
        std::env::temp_dir()
            .join("kube-sim-volumes")
            .join(format!("{namespace}-{name}-{uid}")),
    );
    let shared = Arc::new(Shared {
        model: Mutex::new(PodModel::pending(&pod)),
        run,
        namespace,
        name,
        volumes,
    });
    if !shared.update(|_| {}) {
        return;
    }
    let restart = pod.pointer("/spec/restartPolicy").and_then(Value::as_str) == Some("OnFailure");
    let spec_list = |field: &str| -> Vec<Value> {
        pod.pointer(&format!("/spec/{field}"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    for (i, spec) in spec_list("initContainers").iter().enumerate() {
        let code = run_container(&shared, true, i, spec, restart, kill.clone()).await;
        if code != Some(0) {
            if code.is_some() {
                shared.update(|m| m.phase = "Failed");
            }
            return;
        }
    }
    shared.update(|m| {
        m.phase = "Running";
        for c in &mut m.containers {
            c.state = State::Waiting {
                reason: "ContainerCreating".into(),
                message: String::new(),
            };
        }
    });
    let specs = spec_list("containers");
    let futures = specs
        .iter()
        .enumerate()
        .map(|(i, spec)| run_container(&shared, false, i, spec, restart, kill.clone()))
        .collect::<Vec<_>>();
    let codes = futures::future::join_all(futures).await;
    if codes.iter().any(Option::is_none) || *kill.borrow_and_update() {
        return;
    }
    let ok = codes.iter().all(|c| *c == Some(0));
    shared.update(|m| m.phase = if ok { "Succeeded" } else { "Failed" });
}

/// Runs one container (restarting it on failure when `restart`); its final exit code, or
/// `None` when killed or the pod is gone.
async fn run_container(
    shared: &Arc<Shared>,
    init: bool,
    index: usize,
    spec: &Value,
    restart: bool,
    mut kill: watch::Receiver<bool>,
) -> Option<i32> {
    let cname = spec
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let set = |state: State, restarted: bool| {
        shared.update(|m| {
            let list = if init { &mut m.init } else { &mut m.containers };
            if let Some(c) = list.get_mut(index) {
                if restarted {
                    c.last_state = Some(std::mem::replace(&mut c.state, state));
                    c.restart_count += 1;
                } else {
                    c.state = state;
                }
            }
        })
    };
    let mut backoff = Duration::from_secs(1);
    let mut restarted = false;
    loop {
        if *kill.borrow() {
            return None;
        }
        let store = &shared.run.state.store;
        let configured = container_env(store, &shared.run.pod, spec).and_then(|env| {
            let mounts = volumes::project(store, &shared.run.pod, spec, &shared.volumes.0)?;
            Ok((env, mounts))
        });
        let (env, mounts) = match configured {
            Ok(configured) => configured,
            Err(e) => {
                // Like the kubelet: wait for the Secret/ConfigMap to appear (a volume's keeps
                // the container being created; an environment's is a config error).
                let reason = if e.0.starts_with("MountVolume") {
                    "ContainerCreating"
                } else {
                    "CreateContainerConfigError"
                };
                let waiting = State::Waiting {
                    reason: reason.into(),
                    message: e.0,
                };
                if !set(waiting, false) {
                    return None;
                }
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    _ = kill.changed() => return None,
                }
            }
        };
        let strings = |field: &str| -> Vec<String> {
            spec.get(field)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .map(|v| mounts.translate(&expand(v.as_str().unwrap_or(""), &env)))
                        .collect()
                })
                .unwrap_or_default()
        };
        let image = spec.get("image").and_then(Value::as_str).unwrap_or("");
        let started_at = now_rfc3339();
        let started = plan(
            &shared.run.map,
            image,
            &strings("command"),
            &strings("args"),
        )
        .map_err(|e| e.to_string())
        .and_then(|launch| {
            let working_dir = spec
                .get("workingDir")
                .and_then(Value::as_str)
                .map(Into::into);
            let logs = (
                shared.run.state.clone(),
                shared.namespace.clone(),
                shared.name.clone(),
            );
            logs.0.logs.start(&logs.1, &logs.2, &cname);
            let c = cname.clone();
            let log = Box::new(move |b: &[u8]| logs.0.logs.append(&logs.1, &logs.2, &c, b));
            process::start(
                &ProcessSpec {
                    launch,
                    env,
                    working_dir,
                },
                log,
            )
        });
        let exit_code = match started {
            Err(message) => {
                let mut state = terminated(128, "StartError", started_at.clone(), now_rfc3339());
                if let State::Terminated { message: m, .. } = &mut state {
                    *m = message;
                }
                if !set(state, restarted) {
                    return None;
                }
                128
            }
            Ok(running) => {
                if !set(
                    State::Running {
                        started_at: started_at.clone(),
                    },
                    restarted,
                ) {
                    let (tx, mut rx) = watch::channel(true);
                    running.wait(&mut rx).await;
                    drop(tx);
                    return None;
                }
                let exit = running.wait(&mut kill).await;
                if exit.killed {
                    return None;
                }
                let state = terminated(exit.code, "", started_at, now_rfc3339());
                if !set(state, false) {
                    return None;
                }
                exit.code
            }
        };
        if exit_code == 0 || !restart {
            return Some(exit_code);
        }
        restarted = true;
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            _ = kill.changed() => return None,
        }
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}

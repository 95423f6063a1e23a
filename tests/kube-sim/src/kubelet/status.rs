//! Pod status as the kubelet reports it, built from a small model of each container's state:
//! phase, conditions, IPs, `containerStatuses`/`initContainerStatuses` with `imageID` (see
//! [`super::image`]) and containerd-style `containerID`s.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::image::image_id;
use crate::store::meta::now_rfc3339;

/// The state of one container.
#[derive(Debug, Clone, PartialEq)]
pub enum State {
    /// Not started: `ContainerCreating`, `PodInitializing`, `CreateContainerConfigError`...
    Waiting {
        /// Reason.
        reason: String,
        /// Message (may be empty).
        message: String,
    },
    /// Running since.
    Running {
        /// RFC 3339.
        started_at: String,
    },
    /// Ended.
    Terminated {
        /// Exit code (128 for a start error).
        exit_code: i32,
        /// `Completed`, `Error` or `StartError`.
        reason: String,
        /// Message (start errors).
        message: String,
        /// RFC 3339.
        started_at: String,
        /// RFC 3339.
        finished_at: String,
    },
}

/// One container of the pod.
#[derive(Debug, Clone, PartialEq)]
pub struct Container {
    /// Container name.
    pub name: String,
    /// Image as written in the spec.
    pub image: String,
    /// Current state.
    pub state: State,
    /// The previous run's end, after a restart.
    pub last_state: Option<State>,
    /// Restarts so far.
    pub restart_count: u32,
}

impl Container {
    /// A container of the spec, waiting with `reason`.
    pub fn waiting(spec: &Value, reason: &str) -> Container {
        Container {
            name: spec
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            image: spec
                .get("image")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            state: State::Waiting {
                reason: reason.to_string(),
                message: String::new(),
            },
            last_state: None,
            restart_count: 0,
        }
    }

    /// The exit code if terminated.
    pub fn exit_code(&self) -> Option<i32> {
        match self.state {
            State::Terminated { exit_code, .. } => Some(exit_code),
            _ => None,
        }
    }
}

/// The kubelet's view of a pod.
#[derive(Debug, Clone, PartialEq)]
pub struct PodModel {
    /// `Pending`, `Running`, `Succeeded` or `Failed`.
    pub phase: &'static str,
    /// When the kubelet took the pod.
    pub start_time: String,
    /// The fake pod IP.
    pub pod_ip: String,
    /// The pod uid (for container IDs).
    pub uid: String,
    /// Init containers.
    pub init: Vec<Container>,
    /// Regular containers.
    pub containers: Vec<Container>,
}

impl PodModel {
    /// A pending pod with every container waiting.
    pub fn pending(pod: &Value) -> PodModel {
        let list = |field: &str, reason: &str| -> Vec<Container> {
            pod.pointer(&format!("/spec/{field}"))
                .and_then(Value::as_array)
                .map(|cs| cs.iter().map(|c| Container::waiting(c, reason)).collect())
                .unwrap_or_default()
        };
        let has_init = pod
            .pointer("/spec/initContainers")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty());
        let main_reason = if has_init {
            "PodInitializing"
        } else {
            "ContainerCreating"
        };
        let uid = pod
            .pointer("/metadata/uid")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        PodModel {
            phase: "Pending",
            start_time: now_rfc3339(),
            pod_ip: fake_ip(&uid),
            uid,
            init: list("initContainers", "PodInitializing"),
            containers: list("containers", main_reason),
        }
    }

    /// A pod whose containers all run (pods that are not executed: `restartPolicy: Always`).
    pub fn all_running(pod: &Value) -> PodModel {
        let mut model = PodModel::pending(pod);
        let now = now_rfc3339();
        for c in &mut model.init {
            c.state = terminated(0, "", now.clone(), now.clone());
        }
        for c in &mut model.containers {
            c.state = State::Running {
                started_at: now.clone(),
            };
        }
        model.phase = "Running";
        model
    }

    /// The `.status` object.
    pub fn to_status(&self, host_ip: &str) -> Value {
        let all_running = self
            .containers
            .iter()
            .all(|c| matches!(c.state, State::Running { .. }));
        let ready = self.phase == "Running" && all_running;
        let initialized = self.init.iter().all(|c| c.exit_code() == Some(0));
        let done = matches!(self.phase, "Succeeded" | "Failed");
        let cond = |type_: &str, ok: bool, reason: Option<&str>| {
            let mut c = json!({"type": type_, "status": if ok { "True" } else { "False" },
                               "lastProbeTime": null, "lastTransitionTime": self.start_time});
            if let Some(r) = reason.filter(|_| !ok) {
                c["reason"] = json!(r);
            }
            c
        };
        let not_ready = if done {
            "PodCompleted"
        } else {
            "ContainersNotReady"
        };
        json!({
            "phase": self.phase,
            "conditions": [
                cond("PodReadyToStartContainers", true, None),
                cond("Initialized", initialized || done, Some("ContainersNotInitialized")),
                cond("Ready", ready, Some(not_ready)),
                cond("ContainersReady", ready, Some(not_ready)),
                cond("PodScheduled", true, None),
            ],
            "hostIP": host_ip,
            "hostIPs": [{"ip": host_ip}],
            "podIP": self.pod_ip,
            "podIPs": [{"ip": self.pod_ip}],
            "startTime": self.start_time,
            "qosClass": "BestEffort",
            "initContainerStatuses": self.init.iter().map(|c| self.container_status(c)).collect::<Vec<_>>(),
            "containerStatuses": self.containers.iter().map(|c| self.container_status(c)).collect::<Vec<_>>(),
        })
    }

    fn container_status(&self, c: &Container) -> Value {
        let running = matches!(c.state, State::Running { .. });
        let mut status = json!({
            "name": c.name,
            "image": c.image,
            "imageID": "",
            "ready": running && self.phase == "Running",
            "started": running,
            "restartCount": c.restart_count,
            "state": state_json(&c.state),
            "lastState": c.last_state.as_ref().map_or(json!({}), state_json),
        });
        if !matches!(c.state, State::Waiting { .. }) || c.last_state.is_some() {
            status["imageID"] = json!(image_id(&c.image));
            status["containerID"] = json!(format!(
                "containerd://{}",
                hex(&Sha256::digest(format!(
                    "{}/{}/{}",
                    self.uid, c.name, c.restart_count
                )))
            ));
        }
        status
    }
}

/// A terminated state; the reason follows the exit code (`Completed` for 0, else `Error`)
/// unless given.
pub fn terminated(exit_code: i32, reason: &str, started_at: String, finished_at: String) -> State {
    let reason = match (reason, exit_code) {
        ("", 0) => "Completed",
        ("", _) => "Error",
        (r, _) => r,
    };
    State::Terminated {
        exit_code,
        reason: reason.to_string(),
        message: String::new(),
        started_at,
        finished_at,
    }
}

fn state_json(state: &State) -> Value {
    match state {
        State::Waiting { reason, message } if message.is_empty() => {
            json!({"waiting": {"reason": reason}})
        }
        State::Waiting { reason, message } => {
            json!({"waiting": {"reason": reason, "message": message}})
        }
        State::Running { started_at } => json!({"running": {"startedAt": started_at}}),
        State::Terminated {
            exit_code,
            reason,
            message,
            started_at,
            finished_at,
        } => {
            let mut t = json!({"exitCode": exit_code, "reason": reason,
                               "startedAt": started_at, "finishedAt": finished_at});
            if !message.is_empty() {
                t["message"] = json!(message);
            }
            json!({"terminated": t})
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A deterministic pod IP in 10.244.0.0/16 from the pod uid.
fn fake_ip(uid: &str) -> String {
    let h = Sha256::digest(uid.as_bytes());
    format!("10.244.{}.{}", h[0], h[1].max(2))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn running_pod_status_has_image_ids_and_ready() {
        let pod = json!({"metadata": {"uid": "u"}, "spec": {"containers": [
            {"name": "app", "image": "alpine:3.10"}]}});
        let status = PodModel::all_running(&pod).to_status("172.18.0.2");
        assert_eq!(status["phase"], "Running");
        let cs = &status["containerStatuses"][0];
        assert_eq!(cs["ready"], true);
        assert_eq!(cs["imageID"], image_id("alpine:3.10"));
        assert!(cs["state"]["running"]["startedAt"].is_string());
        assert!(
            status["conditions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        );
    }

    #[test]
    fn terminated_states() {
        assert!(
            matches!(terminated(0, "", String::new(), String::new()), State::Terminated { ref reason, .. } if reason == "Completed")
        );
        assert!(
            matches!(terminated(2, "", String::new(), String::new()), State::Terminated { ref reason, .. } if reason == "Error")
        );
    }
}

//! Shared helpers of the controller/kubelet integration tests: a kube-sim per test (port 0,
//! its own temp dir and kubeconfig), the real `kubectl` against it, and polling.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use kube_sim::{SimConfig, SimHandle};
use serde_json::Value;
use tokio::io::AsyncWriteExt;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Generous: the machine is shared and busy.
pub const DEADLINE: Duration = Duration::from_secs(90);

/// A running kube-sim with its own directory.
pub struct Sim {
    pub handle: SimHandle,
    pub dir: PathBuf,
}

/// The output of one kubectl run.
#[derive(Debug)]
pub struct Out {
    pub ok: bool,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Out {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Starts a sim with these nodes and runtime map (YAML text), if any.
pub async fn start(nodes: &[&str], runtime_map: Option<String>) -> Sim {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("h4-sim-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let map_path = runtime_map.map(|text| {
        let p = dir.join("runtime-map.yaml");
        std::fs::write(&p, text).unwrap();
        p
    });
    let mut config = SimConfig {
        port: 0,
        kubeconfig_out: Some(dir.join("kubeconfig")),
        runtime_map: map_path,
        ..SimConfig::default()
    };
    if !nodes.is_empty() {
        config.nodes = nodes.iter().map(|s| s.to_string()).collect();
    }
    let handle = kube_sim::start(config).await.expect("start kube-sim");
    Sim { handle, dir }
}

impl Sim {
    /// Runs kubectl with this sim's kubeconfig, feeding `stdin` if given.
    pub async fn kubectl_in(&self, args: &[&str], stdin: Option<&str>) -> Out {
        let mut cmd = tokio::process::Command::new("kubectl");
        cmd.args(args)
            .env("KUBECONFIG", &self.handle.kubeconfig_path)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("run kubectl");
        if let Some(text) = stdin {
            let mut pipe = child.stdin.take().unwrap();
            pipe.write_all(text.as_bytes()).await.unwrap();
            drop(pipe);
        }
        let out = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
            .await
            .expect("kubectl hung")
            .unwrap();
        Out {
            ok: out.status.success(),
            stdout: out.stdout,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    pub async fn kubectl(&self, args: &[&str]) -> Out {
        self.kubectl_in(args, None).await
    }

    /// kubectl that must succeed; its stdout.
    pub async fn ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args).await;
        assert!(
            out.ok,
            "kubectl {args:?} failed: {}\n{}",
            out.stderr,
            out.text()
        );
        out.text()
    }

    /// `kubectl apply -f -` with this YAML in a namespace.
    pub async fn apply(&self, ns: &str, yaml: &str) {
        let out = self
            .kubectl_in(&["apply", "-n", ns, "-f", "-"], Some(yaml))
            .await;
        assert!(out.ok, "apply failed: {}\n{yaml}", out.stderr);
    }

    /// A fresh namespace.
    pub async fn namespace(&self, name: &str) -> String {
        let yaml = format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n");
        let out = self.kubectl_in(&["apply", "-f", "-"], Some(&yaml)).await;
        assert!(out.ok, "create namespace {name}: {}", out.stderr);
        name.to_string()
    }

    /// `kubectl get ... -o json`, or None when it fails (e.g. NotFound).
    pub async fn get_json(&self, args: &[&str]) -> Option<Value> {
        let mut all: Vec<&str> = vec!["get"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["-o", "json"]);
        let out = self.kubectl(&all).await;
        if !out.ok {
            return None;
        }
        serde_json::from_slice(&out.stdout).ok()
    }

    /// Items of a list `kubectl get`.
    pub async fn items(&self, args: &[&str]) -> Vec<Value> {
        self.get_json(args)
            .await
            .and_then(|v| v.get("items").and_then(Value::as_array).cloned())
            .unwrap_or_default()
    }
}

/// Polls `f` every 250 ms until it returns Some, or panics after [`DEADLINE`] with `what`.
/// Polls `check` until it returns `Some` or the deadline passes.
pub async fn eventually<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    test_support::eventually(what, DEADLINE, Duration::from_millis(250), check).await
}

/// `obj.status.conditions[type=t]`.
pub fn condition<'a>(obj: &'a Value, t: &str) -> Option<&'a Value> {
    obj.pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c["type"] == t)
}

/// Names of objects.
pub fn names(items: &[Value]) -> Vec<String> {
    let mut v: Vec<String> = items
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap_or("").to_string())
        .collect();
    v.sort();
    v
}

//! Helpers of the API-server integration tests: one kube-sim per test (port 0, its own temp
//! dir, kubeconfig and kubectl cache), the real `kubectl` against it, a kube-rs client, and
//! polling with generous deadlines.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use kube_sim::{SimConfig, SimHandle};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Generous: the machine is shared and busy.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// A running kube-sim with its own directory (removed on drop).
pub struct Sim {
    pub handle: SimHandle,
    pub dir: PathBuf,
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The result of one kubectl run.
#[derive(Debug)]
pub struct Out {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Starts a sim; `tweak` adjusts the config (the kubeconfig path is set here).
pub async fn start_with(tweak: impl FnOnce(&mut SimConfig)) -> Sim {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("kube-sim-api-test-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut config = SimConfig {
        kubeconfig_out: Some(dir.join("kubeconfig")),
        controllers: false,
        ..SimConfig::default()
    };
    tweak(&mut config);
    let handle = kube_sim::start(config).await.expect("start kube-sim");
    Sim { handle, dir }
}

/// Starts a sim serving only the API (no controllers).
pub async fn start() -> Sim {
    start_with(|_| {}).await
}

impl Sim {
    /// Runs kubectl against this sim, with stdin, killed after the deadline.
    pub async fn kubectl_in(&self, args: &[&str], stdin: Option<&str>) -> Out {
        use tokio::io::AsyncWriteExt;
        let mut cmd = tokio::process::Command::new("kubectl");
        cmd.args(args)
            .env("KUBECONFIG", &self.handle.kubeconfig_path)
            .env("KUBECACHEDIR", self.dir.join("kubectl-cache"))
            .env("HOME", &self.dir)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("run kubectl");
        let mut input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).await.unwrap();
        }
        drop(input);
        let out = tokio::time::timeout(DEADLINE, child.wait_with_output())
            .await
            .expect("kubectl finished in time")
            .unwrap();
        Out {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs kubectl and asserts it succeeded; returns stdout.
    pub async fn kubectl(&self, args: &[&str]) -> String {
        let out = self.kubectl_in(args, None).await;
        assert!(out.ok, "kubectl {args:?} failed: {}", out.stderr);
        out.stdout
    }

    /// `kubectl apply -f -` with this YAML; returns stdout.
    pub async fn apply(&self, yaml: &str, extra: &[&str]) -> String {
        let mut args = vec!["apply", "-f", "-"];
        args.extend_from_slice(extra);
        let out = self.kubectl_in(&args, Some(yaml)).await;
        assert!(out.ok, "kubectl apply failed: {}", out.stderr);
        out.stdout
    }

    /// A kube-rs client for this sim, from its kubeconfig.
    pub async fn client(&self) -> kube::Client {
        let kc = kube::config::Kubeconfig::read_from(&self.handle.kubeconfig_path).unwrap();
        let opts = kube::config::KubeConfigOptions::default();
        let config = kube::Config::from_custom_kubeconfig(kc, &opts)
            .await
            .unwrap();
        kube::Client::try_from(config).unwrap()
    }

    /// Creates a namespace directly in the store.
    pub fn namespace(&self, name: &str) {
        let gr = kube_sim::store::GroupResource::new("", "namespaces");
        self.handle
            .store()
            .create(&gr, serde_json::json!({"metadata": {"name": name}}))
            .unwrap();
    }
}

/// Polls `check` until it returns `Some` or the deadline passes.
pub async fn eventually<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    test_support::eventually(what, DEADLINE, Duration::from_millis(50), check).await
}

/// A raw HTTP/1.1 GET; returns (status code, body).
pub async fn raw_get(
    addr: std::net::SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(DEADLINE, s.read_to_end(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (code, body)
}

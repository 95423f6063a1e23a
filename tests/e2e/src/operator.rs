//! The operator's processes for a scenario: one leader and some workers, each a child
//! process with its log in the test's scratch directory, all killed when dropped.

use std::fs::File;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use anyhow::Context;

use crate::Cluster;

mod net;
mod options;
pub use net::{grpc_channel, http_get, wait_for_series};
pub use options::{Binaries, OperatorOptions, audits_only};

/// Running leader and workers.
pub struct Operator {
    /// gRPC port of the first leader replica.
    pub grpc_port: u16,
    /// gRPC ports of all leader replicas (`leader-0`, `leader-1`, ...).
    pub leader_ports: Vec<u16>,
    /// Admin (health, metrics) ports of the leader replicas, in the same order.
    pub leader_admin_ports: Vec<u16>,
    /// Admin ports of the workers, by id.
    pub worker_admin_ports: std::collections::BTreeMap<String, u16>,
    /// The token workers present to the leader.
    pub token: String,
    /// The token status clients present to the leader.
    pub status_token: String,
    leader_kubeconfig: PathBuf,
    worker_kubeconfig: PathBuf,
    dir: PathBuf,
    options: OperatorOptions,
    leaders: Vec<(String, Child)>,
    workers: Vec<(String, Child)>,
}

/// A free loopback port (bound and released; the child binds it right after).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Operator {
    /// Starts the leader and `options.workers` workers.
    pub fn start(cluster: &Cluster, options: OperatorOptions) -> anyhow::Result<Self> {
        Self::start_replicated(cluster, options, 1)
    }

    /// Starts `leaders` leader replicas (one wins the Lease) and the workers.
    pub fn start_replicated(
        cluster: &Cluster,
        options: OperatorOptions,
        leaders: usize,
    ) -> anyhow::Result<Self> {
        let _ = cluster.kubectl(&["create", "namespace", &options.operator_namespace]);
        // The node-collector Jobs' namespace and account (on kube-sim the shipped RBAC made
        // them already).
        let nodes_ns = crate::rbac::nodes_namespace(&options.operator_namespace);
        let _ = cluster.kubectl(&["create", "namespace", &nodes_ns]);
        let _ = cluster.kubectl(&[
            "create",
            "serviceaccount",
            "trivy-operator-node-collector",
            "-n",
            &nodes_ns,
        ]);
        let leader_ports = (0..leaders.max(1))
            .map(|_| free_port())
            .collect::<anyhow::Result<Vec<_>>>()?;
        let leader_admin_ports = leader_ports
            .iter()
            .map(|_| free_port())
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mut op = Self {
            grpc_port: leader_ports[0],
            leader_admin_ports,
            worker_admin_ports: Default::default(),
            leader_ports,
            token: format!("worker-token-{}-{}", std::process::id(), cluster.suffix),
            status_token: format!("status-token-{}-{}", std::process::id(), cluster.suffix),
            leader_kubeconfig: cluster.leader_kubeconfig.clone(),
            worker_kubeconfig: cluster.worker_kubeconfig.clone(),
            dir: cluster.dir.clone(),
            options: options.clone(),
            leaders: Vec::new(),
            workers: Vec::new(),
        };
        for i in 0..op.leader_ports.len() {
            op.start_leader(i)?;
        }
        for i in 0..options.workers {
            op.add_worker(&format!("worker-{i}"))?;
        }
        Ok(op)
    }

    /// Starts one more leader replica without `--identity` (its default applies); returns
    /// its name.
    pub fn add_anonymous_leader(&mut self) -> anyhow::Result<String> {
        let index = self.leader_ports.len();
        self.leader_ports.push(free_port()?);
        self.leader_admin_ports.push(free_port()?);
        self.launch_leader(index, false)?;
        Ok(format!("leader-{index}"))
    }

    fn start_leader(&mut self, index: usize) -> anyhow::Result<()> {
        self.launch_leader(index, true)
    }

    fn launch_leader(&mut self, index: usize, with_identity: bool) -> anyhow::Result<()> {
        let name = format!("leader-{index}");
        let identity = if with_identity {
            vec!["--identity".to_string(), name.clone()]
        } else {
            Vec::new()
        };
        let mut args = vec!["run".to_string()];
        args.extend(identity);
        args.extend([
            "--grpc-addr".into(),
            format!("127.0.0.1:{}", self.leader_ports[index]),
            "--admin-addr".into(),
            format!("127.0.0.1:{}", self.leader_admin_ports[index]),
            "--status-token".into(),
            self.status_token.clone(),
            "--operator-namespace".into(),
            self.options.operator_namespace.clone(),
            "--namespaces".into(),
            self.options.namespaces.join(","),
            "--lease-duration".into(),
            "6s".into(),
            "--retry-base".into(),
            "1s".into(),
            "--retry-max".into(),
            "5s".into(),
            "--result-grace".into(),
            "10s".into(),
            "--worker-timeout".into(),
            "10s".into(),
            "--config-audit-delete-interval".into(),
            "1s".into(),
        ]);
        // Workers authenticate with the shared token unless the scenario chose their
        // ServiceAccount tokens.
        if !self.service_account_auth() {
            args.extend(["--worker-token".into(), self.token.clone()]);
        }
        // Node assessments only where a scenario asks for them.
        let nodes_chosen = self
            .options
            .leader_args
            .iter()
            .any(|a| a == "--node-collector" || a.starts_with("--node-collector="));
        if !nodes_chosen {
            args.extend(["--node-collector".into(), "false".into()]);
        }
        // RBAC assessments too: every scenario's operator would otherwise assess the
        // cluster's ClusterRoles, which all scenarios share.
        // The same for the audits of Services, ConfigMaps, bindings, CRDs...: they would
        // write reports into every scenario's namespace and audit the shared CRDs.
        for flag in ["--rbac-assessments", "--resource-audits"] {
            let chosen = self
                .options
                .leader_args
                .iter()
                .any(|a| a == flag || a.starts_with(&format!("{flag}=")));
            if !chosen {
                args.extend([flag.into(), "false".into()]);
            }
        }
        args.extend(self.options.leader_args.iter().cloned());
        let kubeconfig = self.leader_kubeconfig.clone();
        let child = self.spawn(self.options.binaries.leader, &args, &name, &kubeconfig)?;
        self.leaders.push((name, child));
        Ok(())
    }

    /// Kills a leader replica at once (SIGKILL).
    pub fn kill_leader(&mut self, name: &str) -> anyhow::Result<()> {
        let index = self
            .leaders
            .iter()
            .position(|(l, _)| l == name)
            .context("no such leader")?;
        let (_, mut child) = self.leaders.remove(index);
        child.kill()?;
        child.wait()?;
        Ok(())
    }

    /// Starts one more worker.
    pub fn add_worker(&mut self, id: &str) -> anyhow::Result<()> {
        let token = self.token.clone();
        self.add_worker_with_token(id, &token)
    }

    /// Whether the leaders authenticate workers by ServiceAccount tokens
    /// (`--worker-service-account` among the leader flags).
    fn service_account_auth(&self) -> bool {
        self.options
            .leader_args
            .iter()
            .any(|a| a.starts_with("--worker-service-account"))
    }

    /// Starts a worker that presents `token` (the right one, or not).
    pub fn add_worker_with_token(&mut self, id: &str, token: &str) -> anyhow::Result<()> {
        self.launch_worker(id, ["--token".into(), token.to_string()])
    }

    /// Starts a worker that reads the token it presents from `path` at every connection.
    pub fn add_worker_with_token_file(
        &mut self,
        id: &str,
        path: &std::path::Path,
    ) -> anyhow::Result<()> {
        self.launch_worker(id, ["--token-file".into(), path.display().to_string()])
    }

    fn launch_worker(&mut self, id: &str, credential: [String; 2]) -> anyhow::Result<()> {
        // A worker that exited leaves its id free for the next one.
        self.workers
            .retain_mut(|(w, child)| w != id || child.try_wait().ok().flatten().is_none());
        // Workers given a CA to trust talk TLS to the leader.
        let tls = self
            .options
            .worker_args
            .iter()
            .any(|a| a == "--tls-ca-file");
        let scheme = if tls { "https" } else { "http" };
        let addrs: Vec<String> = self
            .leader_ports
            .iter()
            .map(|p| format!("{scheme}://127.0.0.1:{p}"))
            .collect();
        let admin_port = free_port()?;
        self.worker_admin_ports.insert(id.to_string(), admin_port);
        let args = vec![
            "--admin-addr".to_string(),
            format!("127.0.0.1:{admin_port}"),
            "--leader-addr".to_string(),
            addrs.join(","),
            "--worker-id".into(),
            id.to_string(),
            "--capacity".into(),
            self.options.worker_capacity.to_string(),
            "--operator-namespace".into(),
            self.options.operator_namespace.clone(),
            "--heartbeat-interval".into(),
            "1s".into(),
            "--reconnect-max-backoff".into(),
            "2s".into(),
            "--node-collector-namespace".into(),
            crate::rbac::nodes_namespace(&self.options.operator_namespace),
        ];
        let mut args = args;
        args.extend(credential);
        args.extend(self.options.worker_args.iter().cloned());
        let kubeconfig = self.worker_kubeconfig.clone();
        let child = self.spawn(self.options.binaries.worker, &args, id, &kubeconfig)?;
        self.workers.push((id.to_string(), child));
        Ok(())
    }

    /// Kills a worker at once (SIGKILL), as a crash would.
    pub fn kill_worker(&mut self, id: &str) -> anyhow::Result<()> {
        let index = self
            .workers
            .iter()
            .position(|(w, _)| w == id)
            .context("no such worker")?;
        let (_, mut child) = self.workers.remove(index);
        child.kill()?;
        child.wait()?;
        Ok(())
    }

    /// Sends SIGTERM to a leader or worker and waits up to `within` for it to exit; returns
    /// its exit status (`None`: still running, then killed) and how long it took.
    pub fn terminate(
        &mut self,
        name: &str,
        within: std::time::Duration,
    ) -> anyhow::Result<(Option<std::process::ExitStatus>, std::time::Duration)> {
        let list = if self.leaders.iter().any(|(n, _)| n == name) {
            &mut self.leaders
        } else {
            &mut self.workers
        };
        let index = list
            .iter()
            .position(|(n, _)| n == name)
            .context("no such process")?;
        let (_, mut child) = list.remove(index);
        let started = std::time::Instant::now();
        let sent = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()?;
        anyhow::ensure!(sent.success(), "kill -TERM failed");
        loop {
            if let Some(status) = child.try_wait()? {
                return Ok((Some(status), started.elapsed()));
            }
            if started.elapsed() > within {
                let _ = child.kill();
                let _ = child.wait();
                return Ok((None, started.elapsed()));
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Process ids of the running leaders and workers, by name.
    pub fn pids(&self) -> Vec<(String, u32)> {
        self.leaders
            .iter()
            .chain(self.workers.iter())
            .map(|(n, c)| (n.clone(), c.id()))
            .collect()
    }

    /// The exit status of process `name` if it has ended.
    pub fn exited(&mut self, name: &str) -> Option<std::process::ExitStatus> {
        self.leaders
            .iter_mut()
            .chain(self.workers.iter_mut())
            .find(|(n, _)| n == name)
            .and_then(|(_, child)| child.try_wait().ok().flatten())
    }

    /// Whether every started leader and worker process is still running.
    pub fn all_running(&mut self) -> bool {
        self.leaders
            .iter_mut()
            .chain(self.workers.iter_mut())
            .all(|(_, child)| matches!(child.try_wait(), Ok(None)))
    }

    /// The log file of a process (`leader-0`, or a worker id).
    pub fn log_path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.log"))
    }

    /// The whole log of a process.
    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.log_path(name)).unwrap_or_default()
    }

    /// `status ... -o json` through the leader program against the first leader replica,
    /// as a user runs it.
    pub fn status(&self, args: &[&str]) -> Result<serde_json::Value, String> {
        let addr = format!("http://127.0.0.1:{}", self.grpc_port);
        let out = Command::new(self.options.binaries.leader)
            .args(["status", "--addr", &addr, "-o", "json"])
            .args(["--token", &self.status_token])
            .args(args)
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())
    }

    /// A plaintext gRPC channel to the first leader replica.
    pub async fn grpc_channel(&self) -> Result<tonic::transport::Channel, tonic::transport::Error> {
        grpc_channel(self.grpc_port).await
    }

    /// Ids of the workers started so far and still running.
    pub fn worker_ids(&self) -> Vec<String> {
        self.workers.iter().map(|(id, _)| id.clone()).collect()
    }

    fn spawn(
        &self,
        program: &str,
        args: &[String],
        name: &str,
        kubeconfig: &std::path::Path,
    ) -> anyhow::Result<Child> {
        let log = File::create(self.log_path(name))?;
        Command::new(program)
            .args(args)
            .env("KUBECONFIG", kubeconfig)
            .env("RUST_LOG", "info,kube=warn,tower=warn,h2=warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {program}"))
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        let mut children: Vec<(String, Child)> = self.workers.drain(..).collect();
        children.append(&mut self.leaders);
        for (name, mut child) in children {
            let _ = child.kill();
            let _ = child.wait();
            if std::thread::panicking() {
                let log = std::fs::read_to_string(self.log_path(&name)).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(40).collect();
                eprintln!("---- last lines of {name}.log ----");
                for line in tail.into_iter().rev() {
                    eprintln!("{line}");
                }
            }
        }
    }
}

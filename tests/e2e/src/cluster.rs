//! The cluster a scenario runs against: a fresh kube-sim per test, or — opt-in with
//! `E2E_REAL_CLUSTER=1` — the real cluster `KUBECONFIG` points at. Scenarios only use what
//! kubectl and the API show, so both behave the same.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::{Context, bail};

use crate::rbac::{self, Identities};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Longest a single kubectl request may take (a stalled server is an error, not a hang).
const KUBECTL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Images kube-sim runs as the Trivy test double (the workers' default Trivy image).
const TRIVY_IMAGE_PREFIX: &str = "ghcr.io/aquasecurity/trivy";

/// Images kube-sim runs as the node-collector test double (upstream's node collector).
const NODE_COLLECTOR_IMAGE_PREFIX: &str = "ghcr.io/aquasecurity/node-collector";

/// `target/<profile>/<name>`: a binary of the kube-sim package, built by
/// `cargo test --workspace` / `scripts/test` (or `cargo build -p kube-sim --bins`).
fn kube_sim_bin(name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    exe.parent()
        .and_then(|deps| deps.parent())
        .map(|dir| dir.join(name))
        .context("no target directory")
}

/// `target/<profile>/trivy-double`.
fn trivy_double() -> anyhow::Result<PathBuf> {
    let path = kube_sim_bin("trivy-double")?;
    if !path.is_file() {
        bail!(
            "{} is missing: build it with `cargo build -p kube-sim --bins`",
            path.display()
        );
    }
    Ok(path)
}

/// How to start a [`Cluster`]. Both fields apply to kube-sim only: a real cluster has its
/// own nodes and images.
#[derive(Debug, Clone, Default)]
pub struct ClusterOptions {
    /// Extra images known to the Trivy test double (see [`Cluster::start_with_images`]).
    pub images: Option<serde_json::Value>,
    /// kube-sim's fake nodes (each gets a Node object), e.g. kind's
    /// `["kind-control-plane", "kind-worker", "kind-worker2"]`; empty: kube-sim's default,
    /// one node `kube-sim-node-1`.
    pub nodes: Vec<String>,
}

/// A cluster with the report CRDs installed.
pub struct Cluster {
    /// The administrator's kubeconfig (the harness's kubectl and client).
    pub kubeconfig: PathBuf,
    /// Kubeconfigs the leader and worker processes use: on kube-sim their ServiceAccounts'
    /// tokens (authorized by the shipped RBAC); on a real cluster the administrator's.
    pub leader_kubeconfig: PathBuf,
    pub worker_kubeconfig: PathBuf,
    pub client: kube::Client,
    /// Scratch directory of this test (logs, kubeconfig, maps).
    pub dir: PathBuf,
    /// Whether this is a real cluster rather than kube-sim.
    pub real: bool,
    /// Suffix that makes this test's namespaces unique on a shared real cluster.
    pub suffix: String,
    created: std::sync::Mutex<Vec<String>>,
    _sim: Option<kube_sim::SimHandle>,
}

impl Cluster {
    /// Starts kube-sim (or connects to the real cluster) and installs the CRDs.
    pub async fn start(test: &str) -> anyhow::Result<Self> {
        Self::start_with(test, ClusterOptions::default()).await
    }

    /// Like [`start`](Self::start), with extra images known to the Trivy test double on
    /// kube-sim: `{"image:tag": "<path to a Trivy JSON>" or a special entry such as
    /// "!sleep 3 /path/x.json"}` (see the trivy-double's image map).
    pub async fn start_with_images(
        test: &str,
        images: Option<serde_json::Value>,
    ) -> anyhow::Result<Self> {
        let options = ClusterOptions {
            images,
            ..ClusterOptions::default()
        };
        Self::start_with(test, options).await
    }

    /// Like [`start`](Self::start), with these fake nodes on kube-sim (e.g.
    /// `&["kind-control-plane", "kind-worker", "kind-worker2"]`); node-collector Jobs there
    /// answer from [`node_info_dir`](Self::node_info_dir).
    pub async fn start_with_nodes(test: &str, nodes: &[&str]) -> anyhow::Result<Self> {
        let options = ClusterOptions {
            nodes: nodes.iter().map(|n| (*n).to_owned()).collect(),
            ..ClusterOptions::default()
        };
        Self::start_with(test, options).await
    }

    /// Starts kube-sim with `options` (or connects to the real cluster, where they do not
    /// apply) and installs the CRDs.
    pub async fn start_with(test: &str, options: ClusterOptions) -> anyhow::Result<Self> {
        let ClusterOptions { images, nodes } = options;
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let suffix = format!("{}-{n}", std::process::id() % 100_000);
        let dir = std::env::temp_dir().join(format!("e2e-{test}-{suffix}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let node_info = dir.join(NODE_INFO_DIR);
        std::fs::create_dir_all(&node_info)
            .with_context(|| format!("creating {}", node_info.display()))?;
        let real = std::env::var("E2E_REAL_CLUSTER").is_ok_and(|v| v == "1");
        let (kubeconfig, sim) = if real {
            let path = std::env::var("KUBECONFIG")
                .context("E2E_REAL_CLUSTER=1 needs KUBECONFIG pointing at the cluster")?;
            (PathBuf::from(path), None)
        } else {
            let kubeconfig = dir.join("kubeconfig");
            let runtime_map = dir.join("runtime-map.json");
            let program = match images {
                None => trivy_double()?,
                Some(images) => trivy_wrapper(&dir, &images)?,
            };
            let collector = node_collector_wrapper(&dir, &node_info)?;
            let map = serde_json::json!({
                TRIVY_IMAGE_PREFIX: program,
                NODE_COLLECTOR_IMAGE_PREFIX: collector,
            });
            std::fs::write(&runtime_map, map.to_string())?;
            let ids = Identities::new(&format!("trivy-system-{suffix}"), &suffix);
            let mut config = kube_sim::SimConfig {
                kubeconfig_out: Some(kubeconfig.clone()),
                runtime_map: Some(runtime_map),
                authorization: kube_sim::authz::Authorization::Rbac,
                token: Some(ids.admin_token.clone()),
                tokens: ids.tokens(),
                anonymous: true,
                ..kube_sim::SimConfig::default()
            };
            if !nodes.is_empty() {
                config.nodes = nodes;
            }
            let sim = kube_sim::start(config).await.context("starting kube-sim")?;
            (kubeconfig, Some((sim, ids)))
        };
        let client = client_for(&kubeconfig).await?;
        let (sim, ids) = sim.unzip();
        if sim.is_some() {
            rbac::bind_anonymous_to_cluster_admin(&client).await?;
        }
        let mut cluster = Self {
            leader_kubeconfig: kubeconfig.clone(),
            worker_kubeconfig: kubeconfig.clone(),
            kubeconfig,
            client,
            dir,
            real,
            suffix,
            created: Default::default(),
            _sim: sim,
        };
        if let (Some(ids), Some(url)) = (ids, cluster._sim.as_ref().map(|s| s.url())) {
            // The operator runs as its ServiceAccounts, under the RBAC of deploy/.
            cluster.kubectl(&["create", "namespace", &ids.operator_ns])?;
            // The node-collector Jobs' namespace beside it (deploy/node-collector/).
            let nodes_ns = rbac::nodes_namespace(&ids.operator_ns);
            cluster.kubectl(&["create", "namespace", &nodes_ns])?;
            cluster.apply(&rbac::shipped_rbac(&cluster, &ids.operator_ns)?)?;
            cluster.leader_kubeconfig =
                rbac::write_kubeconfig(&cluster.dir, "leader", &url, &ids.leader_token)?;
            cluster.worker_kubeconfig =
                rbac::write_kubeconfig(&cluster.dir, "worker", &url, &ids.worker_token)?;
        }
        let crds = crate::repo_root().join("deploy/crds");
        cluster.kubectl(&["apply", "-f", &crds.to_string_lossy()])?;
        for crd in [
            "vulnerabilityreports.aquasecurity.github.io",
            "configauditreports.aquasecurity.github.io",
            "imagevulnerabilityreports.trivy-operator-rs.dev",
            "exposedsecretreports.aquasecurity.github.io",
            "sbomreports.aquasecurity.github.io",
            "clusterinfraassessmentreports.aquasecurity.github.io",
            "infraassessmentreports.aquasecurity.github.io",
            "rbacassessmentreports.aquasecurity.github.io",
            "clusterrbacassessmentreports.aquasecurity.github.io",
            "clusterconfigauditreports.aquasecurity.github.io",
        ] {
            cluster.kubectl(&[
                "wait",
                "--for=condition=established",
                "--timeout=60s",
                &format!("crd/{crd}"),
            ])?;
        }
        Ok(cluster)
    }

    /// The in-process kube-sim, for fault injection; `None` on a real cluster.
    pub fn sim(&self) -> Option<&kube_sim::SimHandle> {
        self._sim.as_ref()
    }

    /// A namespace name unique to this test run.
    pub fn ns(&self, base: &str) -> String {
        format!("{base}-{}", self.suffix)
    }

    /// Creates namespaces.
    pub fn create_namespaces(&self, names: &[String]) -> anyhow::Result<()> {
        for name in names {
            self.kubectl(&["create", "namespace", name])?;
            self.created
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(name.clone());
        }
        Ok(())
    }

    /// Runs kubectl against this cluster; an error carries kubectl's stderr.
    pub fn kubectl(&self, args: &[&str]) -> anyhow::Result<String> {
        self.kubectl_with_input(args, None)
    }

    /// Runs kubectl with `input` on stdin (e.g. `apply -f -`).
    pub fn kubectl_with_input(&self, args: &[&str], input: Option<&str>) -> anyhow::Result<String> {
        let mut child = Command::new("kubectl")
            .arg(format!("--request-timeout={}s", KUBECTL_TIMEOUT.as_secs()))
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("running kubectl (is it on PATH?)")?;
        if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
            stdin.write_all(text.as_bytes())?;
        }
        // kubectl waits for kube-sim, which runs on this process's runtime: let the runtime
        // move its other tasks off this thread while kubectl runs.
        let out = match tokio::runtime::Handle::try_current() {
            Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(|| child.wait_with_output())?
            }
            _ => child.wait_with_output()?,
        };
        if !out.status.success() {
            bail!(
                "kubectl {} failed ({}): {}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `kubectl apply -f -` of a manifest.
    pub fn apply(&self, manifest: &str) -> anyhow::Result<String> {
        self.kubectl_with_input(&["apply", "-f", "-"], Some(manifest))
    }

    /// `kubectl get ... -o json`, parsed.
    pub fn get_json(&self, args: &[&str]) -> anyhow::Result<serde_json::Value> {
        let mut all: Vec<&str> = vec!["get"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["-o", "json"]);
        Ok(serde_json::from_str(&self.kubectl(&all)?)?)
    }

    /// Items of a `kubectl get -o json` list.
    pub fn list(&self, args: &[&str]) -> anyhow::Result<Vec<serde_json::Value>> {
        let list = self.get_json(args)?;
        Ok(list["items"].as_array().cloned().unwrap_or_default())
    }

    /// The kubeconfig path as a string, for child processes.
    pub fn kubeconfig_str(&self) -> String {
        self.kubeconfig.to_string_lossy().into_owned()
    }

    /// Path of a file in this test's scratch directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// `<dir>/node-info`: on kube-sim, what node-collector Jobs answer per node. Write
    /// `<node>.json` (an object of NodeInfo items replacing or adding to the node-collector
    /// double's built-in ones, e.g. `{"kubeletAnonymousAuthArgumentSet":{"values":["true"]}}`)
    /// or `<node>.error` (the collector prints `Error: <content>` and exits 1). Read when a
    /// collector runs; no effect on a real cluster.
    pub fn node_info_dir(&self) -> PathBuf {
        self.dir.join(NODE_INFO_DIR)
    }
}

/// The node-collector double's per-node answers, under the test directory.
const NODE_INFO_DIR: &str = "node-info";

/// A script that runs the node-collector double with `NODE_COLLECTOR_DOUBLE_DIR` set to
/// `node_info` (the kubelet clears the environment of the processes it starts). A missing
/// double fails only the collector Jobs, not the clusters that run none.
fn node_collector_wrapper(dir: &Path, node_info: &Path) -> anyhow::Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let double = kube_sim_bin("node-collector-double")?;
    let script = dir.join("node-collector");
    let body = format!(
        "#!/bin/sh\ndouble='{}'\n[ -x \"$double\" ] || {{ echo \"Error: $double is missing: build it \
         with cargo build -p kube-sim --bins\" >&2; exit 1; }}\n\
         NODE_COLLECTOR_DOUBLE_DIR='{}' exec \"$double\" \"$@\"\n",
        double.display(),
        node_info.display()
    );
    std::fs::write(&script, body)?;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))?;
    Ok(script)
}

/// A script that runs the Trivy double with `images` added to its image map (the double
/// reads `TRIVY_DOUBLE_MAP`; the wrapper sets it for scan containers only).
fn trivy_wrapper(dir: &Path, images: &serde_json::Value) -> anyhow::Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let map = dir.join("trivy-images.json");
    std::fs::write(&map, images.to_string())?;
    let script = dir.join("trivy");
    let body = format!(
        "#!/bin/sh\nTRIVY_DOUBLE_MAP='{}' exec '{}' \"$@\"\n",
        map.display(),
        trivy_double()?.display()
    );
    std::fs::write(&script, body)?;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))?;
    Ok(script)
}

async fn client_for(path: &Path) -> anyhow::Result<kube::Client> {
    let kubeconfig = kube::config::Kubeconfig::read_from(path)?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
    Ok(kube::Client::try_from(config)?)
}

impl Drop for Cluster {
    /// On a real cluster, removes this test's namespaces (kube-sim just goes away).
    fn drop(&mut self) {
        if self.real {
            let created = self
                .created
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            for ns in created {
                let _ = self.kubectl(&["delete", "namespace", &ns, "--wait=false"]);
            }
        }
    }
}

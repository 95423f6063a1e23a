//! Helpers of the scan integration tests: one in-process kube-sim per test, whose kubelet
//! runs the Trivy image as the `trivy-double` test binary; workloads, tasks, a Job-creation
//! counter, and expected results computed from the golden Trivy files.
//!
//! `trivy-double` is a binary of the kube-sim package, which `cargo test -p worker` does not
//! build: build it with `cargo build -p kube-sim --bins` (workspace-wide builds and nextest
//! runs of the whole workspace build it too).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::{Value, json};
use worker::scan::{JobResources, ScanSettings};
use worker::task::{ScanSource, ScanTask, Subscriber, Workload};

/// Generous: the machine is shared and busy.
pub const DEADLINE: Duration = Duration::from_secs(120);
pub const OPERATOR_NS: &str = "trivy-system";
pub const TRIVY_IMAGE: &str = "ghcr.io/aquasecurity/trivy:0.58.1";
const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/data/trivy-json");

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A kube-sim with its own directory (removed on drop) and a client.
pub struct Sim {
    pub handle: kube_sim::SimHandle,
    pub client: kube::Client,
    pub dir: PathBuf,
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `target/<profile>/trivy-double`, next to this test's `deps/` directory.
fn trivy_double() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|dir| dir.join("trivy-double"))
        .unwrap();
    assert!(
        path.is_file(),
        "{} is missing: build it with `cargo build -p kube-sim --bins`",
        path.display()
    );
    path
}

/// Starts kube-sim with the Trivy image mapped to `trivy-double`, the vulnerability report CRDs,
/// the operator namespace and `namespaces`.
pub async fn start(namespaces: &[&str]) -> Sim {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("worker-scan-test-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let map = dir.join("runtime-map.json");
    let entries = json!({ "ghcr.io/aquasecurity/trivy": trivy_double() });
    std::fs::write(&map, entries.to_string()).unwrap();
    let handle = kube_sim::start(kube_sim::SimConfig {
        kubeconfig_out: Some(dir.join("kubeconfig")),
        runtime_map: Some(map),
        ..kube_sim::SimConfig::default()
    })
    .await
    .expect("start kube-sim");
    let kc = kube::config::Kubeconfig::read_from(&handle.kubeconfig_path).unwrap();
    let config =
        kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
            .await
            .unwrap();
    let client = kube::Client::try_from(config).unwrap();
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in [
        common::reports::crd::vulnerability_crd().unwrap(),
        common::reports::crd::image_vulnerability_crd().unwrap(),
        common::reports::crd::exposed_secret_crd().unwrap(),
        common::reports::crd::sbom_crd().unwrap(),
    ] {
        crds.create(&PostParams::default(), &crd).await.unwrap();
    }
    let sim = Sim {
        handle,
        client,
        dir,
    };
    for ns in std::iter::once(&OPERATOR_NS).chain(namespaces) {
        sim.create_namespace(ns).await;
    }
    sim
}

impl Sim {
    pub async fn create_namespace(&self, name: &str) {
        let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(self.client.clone());
        let ns = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
        api.create(&PostParams::default(), &ns).await.unwrap();
    }

    /// A ReplicaSet with no replicas (so kube-sim runs no pods of it) and these containers.
    pub async fn replicaset(&self, ns: &str, name: &str, containers: &[(&str, &str)]) -> Workload {
        let containers: Vec<Value> = containers
            .iter()
            .map(|(n, image)| json!({"name": n, "image": image}))
            .collect();
        let rs: ReplicaSet = serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": ns},
            "spec": {
                "replicas": 0,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {"containers": containers},
                },
            },
        }))
        .unwrap();
        let api: Api<ReplicaSet> = Api::namespaced(self.client.clone(), ns);
        let created = api.create(&PostParams::default(), &rs).await.unwrap();
        Workload {
            kind: common::workload::WorkloadKind::ReplicaSet,
            namespace: ns.to_owned(),
            name: name.to_owned(),
            uid: created.metadata.uid.unwrap(),
        }
    }

    pub fn jobs(&self) -> Api<Job> {
        Api::namespaced(self.client.clone(), OPERATOR_NS)
    }

    /// Counts the distinct Jobs that ever exist in the operator namespace from now on.
    pub async fn job_counter(&self) -> JobCounter {
        let seen = Arc::new(Mutex::new(BTreeMap::new()));
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        // With backoff, a failing watch (the sim is gone at the end of the test) waits between
        // retries, so the task yields and its abort takes effect; without, it spins forever
        // and the runtime never finishes shutting down.
        let stream = watcher(self.jobs(), watcher::Config::default()).default_backoff();
        let seen2 = seen.clone();
        let task = tokio::spawn(async move {
            let mut ready = Some(ready_tx);
            let mut stream = std::pin::pin!(stream);
            while let Some(event) = stream.next().await {
                match event {
                    Ok(
                        watcher::Event::Apply(job)
                        | watcher::Event::InitApply(job)
                        | watcher::Event::Delete(job),
                    ) => {
                        let meta = job.metadata;
                        let scanners = meta
                            .annotations
                            .unwrap_or_default()
                            .remove(worker::scan::job::SCANNERS_ANNOTATION)
                            .unwrap_or_default();
                        seen2
                            .lock()
                            .unwrap()
                            .insert(meta.uid.unwrap(), (meta.name.unwrap(), scanners));
                    }
                    Ok(watcher::Event::InitDone) => {
                        if let Some(tx) = ready.take() {
                            let _ = tx.send(());
                        }
                    }
                    _ => {}
                }
            }
        });
        tokio::time::timeout(DEADLINE, ready_rx)
            .await
            .unwrap()
            .unwrap();
        JobCounter { seen, task }
    }

    /// Waits until no Job is left in the operator namespace.
    pub async fn no_jobs_left(&self) {
        let jobs = self.jobs();
        eventually("scan jobs to be gone", || {
            let jobs = jobs.clone();
            async move {
                let list = jobs.list(&Default::default()).await.unwrap();
                list.items
                    .iter()
                    .all(|j| {
                        j.metadata
                            .name
                            .as_deref()
                            .unwrap_or("")
                            .starts_with(SENTINEL_PREFIX)
                    })
                    .then_some(())
            }
        })
        .await;
    }
}

/// Distinct Job uids seen by a watcher.
pub struct JobCounter {
    /// uid → (name, the Trivy scanners it runs).
    seen: Arc<Mutex<BTreeMap<String, (String, String)>>>,
    task: tokio::task::JoinHandle<()>,
}

static SENTINELS: AtomicUsize = AtomicUsize::new(0);
const SENTINEL_PREFIX: &str = "counter-sentinel-";

impl JobCounter {
    /// The uids of every scan Job that existed up to now. A suspended sentinel Job created
    /// now is a barrier: the watch is ordered, so once the watcher has seen the sentinel it
    /// has seen every earlier Job event.
    pub async fn uids(&self, sim: &Sim) -> BTreeSet<String> {
        self.jobs(sim).await.into_keys().collect()
    }

    /// The scanners annotation of every scan Job that existed up to now, by uid.
    pub async fn jobs(&self, sim: &Sim) -> BTreeMap<String, String> {
        let name = format!(
            "{SENTINEL_PREFIX}{}",
            SENTINELS.fetch_add(1, Ordering::Relaxed)
        );
        let job: Job = serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {
                "suspend": true,
                "template": {"spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "c", "image": "none", "command": ["true"]}],
                }},
            },
        }))
        .unwrap();
        sim.jobs()
            .create(&PostParams::default(), &job)
            .await
            .unwrap();
        eventually("the counter to see the sentinel job", || {
            let found = self.seen.lock().unwrap().values().any(|(n, _)| *n == name);
            async move { found.then_some(()) }
        })
        .await;
        sim.jobs().delete(&name, &Default::default()).await.unwrap();
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, (n, _))| !n.starts_with(SENTINEL_PREFIX))
            .map(|(uid, (_, scanners))| (uid.clone(), scanners.clone()))
            .collect()
    }
}

impl Drop for JobCounter {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Settings as the flags' defaults, with a shorter deadline.
pub fn settings(timeout: Duration) -> ScanSettings {
    ScanSettings {
        namespace: OPERATOR_NS.into(),
        trivy_image: TRIVY_IMAGE.into(),
        trivy_version: "0.58.1".into(),
        timeout,
        report_ttl: Duration::from_secs(24 * 3600),
        sbom_rescan_max_age: Duration::from_secs(7 * 24 * 3600),
        compress_logs: false,
        resources: JobResources {
            cpu_request: "100m".into(),
            cpu_limit: "500m".into(),
            memory_request: "100M".into(),
            memory_limit: "500M".into(),
            ephemeral_storage_request: "1Mi".into(),
            ephemeral_storage_limit: "1Gi".into(),
        },
        service_account: None,
        server: None,
        registry_secrets: Default::default(),
        detail: Default::default(),
        reporting_instance: Some("worker-test".into()),
        recorder: None,
    }
}

pub fn subscriber(workload: &Workload, container: &str, image: &str) -> Subscriber {
    Subscriber {
        workload: workload.clone(),
        container_name: container.into(),
        spec_hash: "spec-hash-1".into(),
        image: image.into(),
        pull_secrets: Vec::new(),
        report_name: None,
    }
}

/// A scan task with a Job source; the scan key is the normalized image.
pub fn task(image: &str, subscribers: Vec<Subscriber>) -> ScanTask {
    let key = common::trivy::ImageRef::parse(image)
        .map(|r| r.normalized())
        .unwrap_or_else(|_| image.to_owned());
    ScanTask {
        task_id: format!("t-{image}"),
        scan_key: key,
        image: image.into(),
        subscribers,
        source: ScanSource::Job,
        summary_only: false,
        per_image: false,
        secrets: false,
        sbom: false,
    }
}

/// Runs a scan, bounded by the deadline.
pub async fn run(
    sim: &Sim,
    settings: &ScanSettings,
    task: &ScanTask,
) -> Result<Vec<String>, worker::scan::Error> {
    tokio::time::timeout(DEADLINE, worker::scan::run(&sim.client, settings, task))
        .await
        .expect("scan finished in time")
}

/// Runs a scan with two-minute Jobs and returns everything it achieved (the reports
/// written, with those beside them, and the first failure), bounded by the deadline.
pub async fn run_task(sim: &Sim, task: &ScanTask) -> worker::scan::Outcome {
    let settings = settings(Duration::from_secs(120));
    tokio::time::timeout(
        DEADLINE,
        worker::scan::run_task(&sim.client, &settings, task),
    )
    .await
    .expect("scan finished in time")
}

/// Polls `check` until it returns `Some` or the deadline passes.
pub async fn eventually<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    test_support::eventually(what, DEADLINE, Duration::from_millis(100), check).await
}

/// What a golden Trivy file says, read independently of `common::trivy`: each vulnerability
/// ID with its severity (`VendorSeverity[SeveritySource]`, UNKNOWN when absent) and the count
/// per severity.
pub struct Expected {
    pub vulnerabilities: Vec<(String, String)>,
    pub counts: BTreeMap<String, u64>,
}

pub fn expected(golden: &str) -> Expected {
    let text = std::fs::read_to_string(format!("{DATA}/{golden}")).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let mut vulnerabilities = Vec::new();
    for result in doc["Results"].as_array().into_iter().flatten() {
        for v in result["Vulnerabilities"].as_array().into_iter().flatten() {
            let source = v["SeveritySource"].as_str().unwrap_or("");
            let level = v["VendorSeverity"][source].as_i64().unwrap_or(0);
            let severity = ["UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL"]
                .get(level as usize)
                .unwrap_or(&"UNKNOWN");
            let id = v["VulnerabilityID"].as_str().unwrap().to_owned();
            vulnerabilities.push((id, severity.to_string()));
        }
    }
    let mut counts = BTreeMap::new();
    for (_, s) in &vulnerabilities {
        *counts.entry(s.clone()).or_insert(0) += 1;
    }
    Expected {
        vulnerabilities,
        counts,
    }
}

/// The events.k8s.io Events regarding `name` in `ns`, as (reason, note).
pub async fn events_for(sim: &Sim, ns: &str, name: &str) -> Vec<(String, String)> {
    let api: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(sim.client.clone(), ns);
    let list = api.list(&Default::default()).await.unwrap();
    list.items
        .into_iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
        .map(|e| (e.reason.unwrap_or_default(), e.note.unwrap_or_default()))
        .collect()
}

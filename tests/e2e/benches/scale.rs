//! Scale benchmark (not a test), at the shape of upstream issue #230 and its multiples:
//! namespaces each holding Deployments (with replicas) and StatefulSets over a set of
//! distinct images, all created **before** the operator starts, as a new user meets it.
//! Then one leader and N workers run against kube-sim with the Trivy double, and the
//! benchmark prints time to full coverage per report kind (ExposedSecretReports and
//! SbomReports too, unless `BENCH_LEADER_ARGS` turns them off), scan Jobs against distinct
//! images, API requests per workload (counted by kube-sim's `/_sim/stats`, operator user
//! agents only) and the peak RSS of every process.
//!
//! Run: `cargo bench -p e2e --bench scale` (release). Parameters (environment):
//! `BENCH_NAMESPACES` (1125), `BENCH_DEPLOYMENTS` per namespace (3), `BENCH_REPLICAS` (3),
//! `BENCH_STATEFULSETS` per namespace (1), `BENCH_IMAGES` (300), `BENCH_WORKERS` (4),
//! `BENCH_CAPACITY` per worker (4), `BENCH_MAX_SCANS` (10), `BENCH_TIMEOUT_SECS` (1800);
//! `BENCH_RESCAN_TTL_SECS`: a report TTL, then a rescan round is measured after coverage (see
//! `scale/rescan.rs`); `BENCH_VULNS`: vulnerabilities per image (default: the 4 of a real alpine 3.10 output;
//! N: N real records repeated under new IDs); `BENCH_API_QPS`: the operator's `--kube-api-qps` (default: the operator's default; `0`:
//! no budget); `BENCH_WORKER_ARGS`: extra worker flags, space-separated (e.g.
//! `--vulnerability-report-omit description,links`); `BENCH_LEADER_ARGS`: extra leader
//! flags, space-separated (e.g. `--vulnerability-report-mode per-image`); `BENCH_LEADER_WRAPPER`: a program to run in the leader's place with its arguments (to
//! profile it; the benchmark prints the leader's path).
//! The default is the #230 shape (1,125 namespaces, 4,500 workloads, 11,250 pods); ten
//! times it is `BENCH_NAMESPACES=11250 BENCH_IMAGES=3000`.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use e2e::{Cluster, Operator, OperatorOptions};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, ListParams, PostParams};
use kube::core::PartialObjectMeta;
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::{Value, json};

#[path = "scale/realistic.rs"]
mod realistic;
#[path = "scale/rescan.rs"]
mod rescan;

/// A directory of this run for generated files.
fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("scale-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The cluster to build.
#[derive(Debug, Clone, Copy)]
struct Shape {
    namespaces: usize,
    deployments: usize,
    replicas: usize,
    statefulsets: usize,
    images: usize,
    workers: usize,
    capacity: usize,
    max_scans: usize,
}

impl Shape {
    fn from_env() -> Self {
        Self {
            namespaces: env("BENCH_NAMESPACES", 1125).max(1),
            deployments: env("BENCH_DEPLOYMENTS", 3),
            replicas: env("BENCH_REPLICAS", 3),
            statefulsets: env("BENCH_STATEFULSETS", 1),
            images: env("BENCH_IMAGES", 300).max(1),
            workers: env("BENCH_WORKERS", 4).max(1),
            capacity: env("BENCH_CAPACITY", 4).max(1),
            max_scans: env("BENCH_MAX_SCANS", 10).max(1),
        }
    }

    /// Scanned workloads: each Deployment's current ReplicaSet, each StatefulSet.
    fn workloads(&self) -> usize {
        self.namespaces * (self.deployments + self.statefulsets)
    }

    fn pods(&self) -> usize {
        self.namespaces * (self.deployments * self.replicas + self.statefulsets)
    }
}

/// Peak resident set size of a process, from /proc (VmHWM), in MiB.
fn peak_rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// CPU time (user + system) a process used so far, in seconds, from /proc (clock ticks of
/// 1/100 s, the Linux default).
fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command (which may contain spaces) start at state, field 3.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

fn image(i: usize) -> String {
    format!("bench{i}:1.0")
}

/// Creates the namespaces and their workloads, 32 requests at a time.
async fn fill(cluster: &Cluster, shape: Shape, label: &str) -> anyhow::Result<Vec<String>> {
    let client = cluster.client.clone();
    let namespaces: Vec<String> = (0..shape.namespaces)
        .map(|i| cluster.ns(&format!("b{i}")))
        .collect();
    let ns_api: Api<Namespace> = Api::all(client.clone());
    futures::stream::iter(namespaces.iter().map(|ns| {
        let api = ns_api.clone();
        let object: Namespace = serde_json::from_value(json!({
            "metadata": {"name": ns, "labels": {"bench": label}}
        }))
        .unwrap_or_default();
        async move {
            api.create(&PostParams::default(), &object)
                .await
                .map(|_| ())
        }
    }))
    .buffer_unordered(32)
    .try_collect::<Vec<()>>()
    .await?;
    let mut objects: Vec<(String, &'static str, Value)> = Vec::new();
    let mut n = 0;
    for ns in &namespaces {
        for d in 0..shape.deployments {
            let name = format!("app{d}");
            let spec = json!({
                "replicas": shape.replicas,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": "main", "image": image(n % shape.images)}]}
                }
            });
            n += 1;
            objects.push((
                ns.clone(),
                "Deployment",
                json!({"metadata": {"name": name}, "spec": spec}),
            ));
        }
        for s in 0..shape.statefulsets {
            let name = format!("db{s}");
            let spec = json!({
                "replicas": 1,
                "serviceName": name,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": "main", "image": image(n % shape.images)}]}
                }
            });
            n += 1;
            objects.push((
                ns.clone(),
                "StatefulSet",
                json!({"metadata": {"name": name}, "spec": spec}),
            ));
        }
    }
    futures::stream::iter(objects.into_iter().map(|(ns, kind, object)| {
        let client = client.clone();
        async move {
            let params = PostParams::default();
            if kind == "Deployment" {
                let d: Deployment = serde_json::from_value(object)?;
                Api::<Deployment>::namespaced(client, &ns)
                    .create(&params, &d)
                    .await?;
            } else {
                let s: StatefulSet = serde_json::from_value(object)?;
                Api::<StatefulSet>::namespaced(client, &ns)
                    .create(&params, &s)
                    .await?;
            }
            anyhow::Ok(())
        }
    }))
    .buffer_unordered(32)
    .try_collect::<Vec<()>>()
    .await?;
    Ok(namespaces)
}

/// Waits until kube-sim's controllers created every ReplicaSet and Pod.
async fn settled(cluster: &Cluster, shape: Shape) -> anyhow::Result<()> {
    let rs: Api<PartialObjectMeta<ReplicaSet>> = Api::all(cluster.client.clone());
    let pods: Api<PartialObjectMeta<Pod>> = Api::all(cluster.client.clone());
    let deadline = Instant::now() + Duration::from_secs(1800);
    loop {
        let params = ListParams::default();
        let r = rs.list_metadata(&params).await?.items.len();
        let p = pods.list_metadata(&params).await?.items.len();
        if r >= shape.namespaces * shape.deployments && p >= shape.pods() {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "cluster not settled: {r} ReplicaSets, {p} pods"
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// Counts distinct objects seen by a metadata watch and when the count reached `target`.
fn count_until<K>(
    api: Api<PartialObjectMeta<K>>,
    target: usize,
) -> Arc<Mutex<(HashSet<String>, Option<Instant>)>>
where
    K: kube::Resource + Clone + std::fmt::Debug + Send + Sync + 'static,
    PartialObjectMeta<K>: kube::Resource<DynamicType = ()>,
    K::DynamicType: Default,
{
    let state: Arc<Mutex<(HashSet<String>, Option<Instant>)>> = Arc::default();
    let seen = state.clone();
    tokio::spawn(async move {
        let mut stream = std::pin::pin!(watcher(api, watcher::Config::default()).default_backoff());
        while let Some(event) = stream.next().await {
            if let Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o)) = event {
                let mut s = seen.lock().unwrap_or_else(|p| p.into_inner());
                let key = format!(
                    "{}/{}",
                    o.metadata.namespace.unwrap_or_default(),
                    o.metadata.name.unwrap_or_default()
                );
                s.0.insert(key);
                if s.0.len() >= target && s.1.is_none() {
                    s.1 = Some(Instant::now());
                }
            }
        }
    });
    state
}

/// Requests by the operator's processes, from kube-sim's counters.
fn operator_requests(cluster: &Cluster) -> anyhow::Result<(u64, Value)> {
    let sim = cluster
        .sim()
        .ok_or_else(|| anyhow::anyhow!("needs kube-sim"))?;
    let stats = sim.stats().requests.to_json();
    let total = ["trivy-operator-leader", "trivy-operator-worker"]
        .iter()
        .map(|a| stats["byUserAgent"][a].as_u64().unwrap_or(0))
        .sum();
    Ok((total, stats))
}

/// Extra flags of a process from a space-separated environment variable, printed.
fn extra_args(variable: &str, process: &str) -> Vec<String> {
    let args: Vec<String> = std::env::var(variable)
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    if !args.is_empty() {
        println!("{process} flags         {}", args.join(" "));
    }
    args
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let shape = Shape::from_env();
    let timeout = Duration::from_secs(env("BENCH_TIMEOUT_SECS", 1800) as u64);
    let workloads = shape.workloads();
    println!(
        "shape: {shape:?}: {workloads} workloads, {} pods",
        shape.pods()
    );
    let vulns = env("BENCH_VULNS", 0);
    let output_dir = tempfile_dir()?;
    let golden = if vulns == 0 {
        e2e::repo_root().join("tests/data/trivy-json/alpine-310.json.golden")
    } else {
        realistic::trivy_output(&e2e::repo_root(), &output_dir, vulns)?
    };
    println!(
        "Trivy output         {} ({} bytes)",
        golden.display(),
        std::fs::metadata(&golden)?.len()
    );
    let map: serde_json::Map<String, Value> = (0..shape.images)
        .map(|i| (image(i), json!(golden.to_string_lossy())))
        .collect();
    let cluster = Cluster::start_with_images("bench", Some(Value::Object(map))).await?;
    let label = cluster.suffix.clone();
    let started = Instant::now();
    fill(&cluster, shape, &label).await?;
    settled(&cluster, shape).await?;
    println!(
        "cluster filled in    {:.1}s",
        started.elapsed().as_secs_f64()
    );
    if let Some(sim) = cluster.sim() {
        sim.stats().requests.reset();
    }

    let operator_namespace = cluster.ns("trivy-system");
    let audits = count_until(
        Api::<PartialObjectMeta<common::reports::config_audit::ConfigAuditReport>>::all(
            cluster.client.clone(),
        ),
        workloads,
    );
    let vulns = count_until(
        Api::<PartialObjectMeta<common::reports::vulnerability::VulnerabilityReport>>::all(
            cluster.client.clone(),
        ),
        workloads,
    );
    let secrets = count_until(
        Api::<PartialObjectMeta<common::reports::exposed_secret::ExposedSecretReport>>::all(
            cluster.client.clone(),
        ),
        workloads,
    );
    let sboms = count_until(
        Api::<PartialObjectMeta<common::reports::sbom::SbomReport>>::all(cluster.client.clone()),
        workloads,
    );
    let jobs = count_until(
        Api::<PartialObjectMeta<Job>>::namespaced(cluster.client.clone(), &operator_namespace),
        usize::MAX,
    );
    let mut binaries = e2e::binaries!();
    if let Ok(wrapper) = std::env::var("BENCH_LEADER_WRAPPER") {
        // A program run in the leader's place with the leader's arguments, e.g. a script that
        // runs the leader (path printed here) under a heap profiler. Leaked: it lives as long
        // as the benchmark.
        println!("leader {} run through {wrapper}", binaries.leader);
        binaries.leader = Box::leak(wrapper.into_boxed_str());
    }
    let mut leader_args = vec![
        "--max-concurrent-scans".into(),
        shape.max_scans.to_string(),
        "--namespace-selector".into(),
        format!("bench={label}"),
    ];
    let budget = std::env::var("BENCH_API_QPS").ok();
    if let Some(qps) = &budget {
        leader_args.extend(["--kube-api-qps".into(), qps.clone()]);
    }
    println!(
        "API request budget   {}",
        budget.as_deref().map_or("the default".into(), |q| match q {
            "0" => "none".to_string(),
            q => format!("{q} requests/s"),
        })
    );
    leader_args.extend(extra_args("BENCH_LEADER_ARGS", "leader"));
    // The kinds written beside VulnerabilityReports count towards coverage unless turned off.
    let off = |flag: &str| {
        leader_args
            .windows(2)
            .any(|w| w[0] == flag && w[1] == "false")
            || leader_args.iter().any(|a| *a == format!("{flag}=false"))
    };
    let (want_secrets, want_sboms) = (!off("--exposed-secret-scans"), !off("--sbom-generation"));
    let mut worker_args = extra_args("BENCH_WORKER_ARGS", "worker");
    // A rescan round after coverage, with this report TTL.
    let rescan_ttl = env("BENCH_RESCAN_TTL_SECS", 0);
    if rescan_ttl > 0 {
        let ttl = ["--report-ttl".to_owned(), format!("{rescan_ttl}s")];
        leader_args.extend(ttl.clone());
        worker_args.extend(ttl);
        println!("report TTL           {rescan_ttl}s (a rescan round follows coverage)");
    }
    let rounds =
        (rescan_ttl > 0).then(|| rescan::Watch::start(&cluster.client, &operator_namespace));
    let options = OperatorOptions::new(binaries, &cluster, Vec::new())
        .workers(shape.workers, shape.capacity as u32)
        .operator_namespace(operator_namespace)
        .leader_args(leader_args)
        .worker_args(worker_args);
    let sim_cpu_before = cpu_seconds("self").unwrap_or(0.0);
    let op = Operator::start(&cluster, options)?;
    let t0 = Instant::now();
    let deadline = t0 + timeout;
    let done = |s: &Arc<Mutex<(HashSet<String>, Option<Instant>)>>| {
        let s = s.lock().unwrap_or_else(|p| p.into_inner());
        (s.0.len(), s.1)
    };
    while Instant::now() < deadline {
        if done(&audits).1.is_some()
            && done(&vulns).1.is_some()
            && (!want_secrets || done(&secrets).1.is_some())
            && (!want_sboms || done(&sboms).1.is_some())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let (requests, stats) = operator_requests(&cluster)?;
    let since = |at: Option<Instant>| {
        at.map_or("not reached".to_string(), |at| {
            format!("{:.1}s", at.duration_since(t0).as_secs_f64())
        })
    };
    let (n_audits, t_audits) = done(&audits);
    let (n_vulns, t_vulns) = done(&vulns);
    println!(
        "ConfigAuditReports   {n_audits}/{workloads} after {}",
        since(t_audits)
    );
    println!(
        "VulnerabilityReports {n_vulns}/{workloads} after {}",
        since(t_vulns)
    );
    let (n_secrets, t_secrets) = done(&secrets);
    let (n_sboms, t_sboms) = done(&sboms);
    if want_secrets {
        println!(
            "ExposedSecretReports {n_secrets}/{workloads} after {}",
            since(t_secrets)
        );
    }
    if want_sboms {
        println!(
            "SbomReports          {n_sboms}/{workloads} after {}",
            since(t_sboms)
        );
    }
    println!(
        "scan Jobs            {} for {} distinct images",
        done(&jobs).0,
        shape.images.min(workloads)
    );
    println!(
        "API requests         {requests} by the operator = {:.2} per workload",
        requests as f64 / workloads as f64
    );
    if let Some(sim) = cluster.sim() {
        let window = Duration::from_secs(10);
        let busiest = &sim.stats().requests.window_json("trivy-operator", window)["max"];
        println!("busiest 10 s         {busiest} operator requests");
        let storage = sim.store().storage();
        let mut total = 0;
        for kind in [
            "aquasecurity.github.io/vulnerabilityreports",
            "aquasecurity.github.io/configauditreports",
            "aquasecurity.github.io/exposedsecretreports",
            "aquasecurity.github.io/sbomreports",
            "trivy-operator-rs.dev/imagevulnerabilityreports",
        ] {
            let usage = storage.get(kind).copied().unwrap_or_default();
            total += usage.bytes;
            let kind = kind.split_once('/').map_or(kind, |(_, k)| k);
            println!(
                "stored {kind:<25} {} objects, {:.1} MiB, {:.1} KiB each",
                usage.objects,
                usage.bytes as f64 / 1048576.0,
                usage.bytes as f64 / 1024.0 / usage.objects.max(1) as f64
            );
        }
        println!(
            "stored reports       {:.1} MiB = {:.1} KiB per workload",
            total as f64 / 1048576.0,
            total as f64 / 1024.0 / workloads as f64
        );
    }
    if std::env::var("BENCH_SHOW_REQUESTS").is_ok_and(|v| v == "1") {
        for row in stats["requests"].as_array().into_iter().flatten() {
            if row["userAgent"]
                .as_str()
                .is_some_and(|a| a.starts_with("trivy-operator"))
            {
                println!(
                    "  {:<22} {:<6} {:<45} {}",
                    row["userAgent"].as_str().unwrap_or(""),
                    row["verb"].as_str().unwrap_or(""),
                    row["resource"].as_str().unwrap_or(""),
                    row["count"]
                );
            }
        }
    }
    for (name, pid) in op.pids() {
        let cpu = cpu_seconds(&pid.to_string()).unwrap_or(0.0);
        match peak_rss_mib(pid) {
            Some(rss) => println!("peak RSS {name:<11} {rss:.1} MiB, CPU {cpu:.1} s"),
            None => println!("peak RSS {name:<11} (exited)"),
        }
    }
    if let Some(rounds) = rounds.filter(|_| t_vulns.is_some()) {
        let since = rounds.snapshot();
        let (before, _) = operator_requests(&cluster)?;
        let round = rounds.round(&since, Instant::now() + timeout).await;
        let (after, _) = operator_requests(&cluster)?;
        println!(
            "rescan round         {}/{} VulnerabilityReports written again in {}",
            round.rewritten,
            round.of,
            round.took.map_or("-".into(), |t| format!(
                "{:.1}s (first to last)",
                t.as_secs_f64()
            ))
        );
        for (scanners, n) in &round.jobs {
            println!("rescan Jobs          {n} running {scanners}");
        }
        println!(
            "rescan API requests  {} = {:.2} per workload",
            after - before,
            (after - before) as f64 / workloads as f64
        );
    }
    let sim_cpu = cpu_seconds("self").unwrap_or(0.0) - sim_cpu_before;
    println!("CPU of kube-sim and this benchmark while the operator ran: {sim_cpu:.1} s");
    let _ = std::fs::remove_dir_all(&output_dir);
    if t_audits.is_none()
        || t_vulns.is_none()
        || (want_secrets && t_secrets.is_none())
        || (want_sboms && t_sboms.is_none())
    {
        anyhow::bail!("coverage not reached within {timeout:?}");
    }
    Ok(())
}

//! Scale benchmark (not a test): 1,000 Deployments over 100 distinct images in 10
//! namespaces, one leader and three workers against kube-sim with the Trivy double. Reports
//! time to full coverage (every workload with its ConfigAuditReport and VulnerabilityReport),
//! scan Jobs created, and the peak RSS of each process.
//!
//! Run: `cargo bench -p e2e --bench scale` (release) or add `--profile dev` for a quick look.
//! Sizes: `BENCH_WORKLOADS` (default 1000), `BENCH_IMAGES` (default 100).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use e2e::{Cluster, Operator, OperatorOptions};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use kube::api::{Api, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::{Value, json};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Peak resident set size of a process, from /proc (VmHWM), in MiB.
fn peak_rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

async fn count(cluster: &Cluster, resource: &str) -> usize {
    cluster
        .kubectl(&["get", resource, "-A", "--no-headers", "-o", "name"])
        .map(|out| out.lines().count())
        .unwrap_or(0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let workloads = env("BENCH_WORKLOADS", 1000);
    let images = env("BENCH_IMAGES", 100).max(1);
    let golden = e2e::repo_root().join("../shared/data/trivy-json/alpine-310.json.golden");
    let map: serde_json::Map<String, Value> = (0..images)
        .map(|i| (format!("bench{i}:1.0"), json!(golden.to_string_lossy())))
        .collect();
    let cluster = Cluster::start_with_images("bench", Some(Value::Object(map))).await?;
    let namespaces: Vec<String> = (0..10).map(|i| cluster.ns(&format!("bench{i}"))).collect();
    cluster.create_namespaces(&namespaces)?;
    let options = OperatorOptions {
        binaries: e2e::binaries!(),
        operator_namespace: cluster.ns("trivy-system"),
        namespaces: namespaces.clone(),
        workers: 3,
        worker_capacity: 4,
        leader_args: vec!["--max-concurrent-scans".into(), "10".into()],
        worker_args: Vec::new(),
    };
    let jobs: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    let seen = jobs.clone();
    let job_api: Api<Job> = Api::namespaced(cluster.client.clone(), &options.operator_namespace);
    tokio::spawn(async move {
        let mut stream =
            std::pin::pin!(watcher(job_api, watcher::Config::default()).default_backoff());
        while let Some(event) = stream.next().await {
            if let Ok(watcher::Event::Apply(job) | watcher::Event::InitApply(job)) = event {
                let mut seen = seen.lock().unwrap_or_else(|p| p.into_inner());
                seen.insert(job.metadata.uid.unwrap_or_default());
            }
        }
    });
    let op = Operator::start(&cluster, options)?;
    let started = Instant::now();
    for i in 0..workloads {
        let ns = &namespaces[i % namespaces.len()];
        let name = format!("app{i}");
        let deployment: Deployment = serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": ns},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": "main", "image": format!("bench{}:1.0", i % images)}]}
                }
            }
        }))?;
        Api::<Deployment>::namespaced(cluster.client.clone(), ns)
            .create(&PostParams::default(), &deployment)
            .await?;
    }
    let created = started.elapsed();
    let deadline = Instant::now() + Duration::from_secs(1800);
    let (mut audits, mut vulns) = (0, 0);
    while Instant::now() < deadline {
        audits = count(&cluster, "configauditreports").await;
        vulns = count(&cluster, "vulnerabilityreports").await;
        if audits >= workloads && vulns >= workloads {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let coverage = started.elapsed();
    println!("workloads            {workloads} Deployments over {images} images in 10 namespaces");
    println!("created in           {:.1}s", created.as_secs_f64());
    println!(
        "full coverage after  {:.1}s ({audits} ConfigAuditReports, {vulns} VulnerabilityReports)",
        coverage.as_secs_f64()
    );
    println!(
        "scan Jobs created    {}",
        jobs.lock().unwrap_or_else(|p| p.into_inner()).len()
    );
    for (name, pid) in op.pids() {
        match peak_rss_mib(pid) {
            Some(rss) => println!("peak RSS {name:<11} {rss:.1} MiB"),
            None => println!("peak RSS {name:<11} (exited)"),
        }
    }
    if audits < workloads || vulns < workloads {
        anyhow::bail!("coverage not reached within 30 minutes");
    }
    Ok(())
}

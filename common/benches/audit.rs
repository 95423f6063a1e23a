//! Benchmark (not a test) of one config audit: the built-in checks evaluated against a
//! typical ReplicaSet, the per-workload CPU cost that bounds how fast workers audit.
//!
//! `cargo bench -p common --bench audit`. `AUDIT_ROUNDS` (default 200).

use std::time::Instant;

use common::audit::{PolicyEngine, audit};
use common::policy_config::PolicyConfig;
use serde_json::json;

fn main() {
    let rounds: usize = std::env::var("AUDIT_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let rss_before = rss_kib();
    let compiling = Instant::now();
    let engine = match PolicyEngine::compile(&PolicyConfig::default(), true) {
        Ok(engine) => engine,
        Err(error) => {
            eprintln!("the built-in checks do not compile: {error}");
            std::process::exit(1);
        }
    };
    let compiled_in = compiling.elapsed();
    let compiled_kib = rss_kib().saturating_sub(rss_before);
    let rs = json!({
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": "web-5d9c7b6f4", "namespace": "shop", "uid": "u1",
                     "labels": {"app": "web"}},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [
                    {"name": "web", "image": "nginx:1.16", "ports": [{"containerPort": 80}]},
                    {"name": "sidecar", "image": "busybox:1.36", "command": ["sleep", "3600"]}
                ]}
            }
        }
    });
    let started = Instant::now();
    let mut failed = 0;
    for _ in 0..rounds {
        failed = audit(&engine, "ReplicaSet", &rs, false).len();
    }
    let each = started.elapsed() / rounds as u32;
    println!(
        "{} built-in policies (compiled in {compiled_in:.2?}, {:.1} MiB), {failed} failed \
         checks: {each:.2?} per audit ({rounds} rounds)",
        engine.policy_count(),
        compiled_kib as f64 / 1024.0
    );
}

/// This process's resident set size in KiB (0 where `/proc` cannot tell).
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}

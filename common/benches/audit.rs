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
    let compiling = Instant::now();
    let engine = match PolicyEngine::compile(&PolicyConfig::default(), true) {
        Ok(engine) => engine,
        Err(error) => {
            eprintln!("the built-in checks do not compile: {error}");
            std::process::exit(1);
        }
    };
    let compiled_in = compiling.elapsed();
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
        "{} built-in policies (compiled in {compiled_in:.2?}), {failed} failed checks: \
         {each:.2?} per audit ({rounds} rounds)",
        engine.policy_count()
    );
}

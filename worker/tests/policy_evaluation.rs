//! Policy evaluation as the worker runs it: the built-in checks on the blocking pool (the
//! runtime thread stays free during a long evaluation), custom policies in evaluator
//! processes whose stderr — regorus' warnings, `print` — reaches the worker's log as events
//! (so `--log-format json` stays JSON).

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::audit::sandbox::{self, CustomPolicies};
use common::workload::WorkloadKind;
use serde_json::json;
use worker::policies::{Evaluation, Policies};

fn settings() -> sandbox::Settings {
    sandbox::Settings {
        program: sandbox::Program {
            path: env!("CARGO_BIN_EXE_trivy-operator-worker").into(),
            args: Vec::new(),
        },
        memory_limit: sandbox::DEFAULT_MEMORY_LIMIT,
        processes: 1,
    }
}

/// A ReplicaSet of `containers` containers with a few env vars each (about 1.3 MB at 2,500).
fn big_replicaset(containers: usize) -> kube::api::DynamicObject {
    let containers: Vec<_> = (0..containers)
        .map(|i| {
            let env: Vec<_> = (0..8)
                .map(|j| json!({"name": format!("VARIABLE_{j}"), "value": format!("value-{i}-{j}-{}", "x".repeat(40))}))
                .collect();
            json!({"name": format!("container-{i}"), "image": format!("registry.example.com/team/app-{i}:1.0"), "env": env})
        })
        .collect();
    serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": "big", "namespace": "ns", "uid": "u1"},
        "spec": {"template": {"spec": {"containers": containers}}},
    }))
    .unwrap()
}

#[tokio::test(flavor = "current_thread")]
async fn a_long_builtin_evaluation_leaves_the_runtime_thread_free() {
    let evaluation = Evaluation::new(settings(), 1, None).unwrap();
    let policies = Policies::compile(&BTreeMap::new(), &evaluation)
        .await
        .unwrap();
    let workload = big_replicaset(2500);
    let size = serde_json::to_vec(&workload).unwrap().len();
    assert!(size > 1_000_000, "{size} bytes");
    // On this single runtime thread, a ticker stands for heartbeats and probes.
    let ticks = Arc::new(Mutex::new(vec![Instant::now()]));
    let ticker = {
        let ticks = ticks.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(10)).await;
                ticks.lock().unwrap().push(Instant::now());
            }
        })
    };
    let started = Instant::now();
    let checks = policies
        .audit(WorkloadKind::ReplicaSet, workload, false)
        .await
        .unwrap();
    let took = started.elapsed();
    ticker.abort();
    assert!(checks.iter().any(|c| c.check_id == "KSV001"), "{checks:?}");
    let ticks = ticks.lock().unwrap();
    let longest_gap = ticks.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(took);
    assert!(
        took > Duration::from_millis(200),
        "the evaluation takes long enough to tell ({took:?})"
    );
    assert!(
        longest_gap < took / 2,
        "the runtime thread waited {longest_gap:?} during a {took:?} evaluation"
    );
}

/// A writer into a shared buffer, for a capturing subscriber.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn evaluator_warnings_and_prints_become_log_events() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let policy = "package user.chatty\nimport input\n__rego_metadata__ := {\"id\": \"CHATTY-1\"}\ndeny[m] {\n  print(\"hello from the policy\")\n  m := \"chatty\"\n}\n";
    let data: BTreeMap<String, String> = [
        ("policy.chatty.rego".to_string(), policy.to_string()),
        ("policy.chatty.kinds".to_string(), "*".to_string()),
    ]
    .into();
    let custom = CustomPolicies::compile(settings(), data).await.unwrap();
    let checks = custom
        .evaluate(
            "Pod",
            &json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}),
        )
        .await;
    assert_eq!(checks.len(), 1, "{checks:?}");
    assert_eq!(checks[0].messages, ["chatty"]);
    // The evaluator's stderr is forwarded by a task of this runtime: give it a moment.
    let deadline = Instant::now() + Duration::from_secs(60);
    let text = loop {
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        if text.contains("hello from the policy") && text.contains("redundant import") {
            break text;
        }
        assert!(Instant::now() < deadline, "not forwarded: {text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    for line in text.lines() {
        let event: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        assert_eq!(event["level"], "WARN", "{line}");
    }
}

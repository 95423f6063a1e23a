//! Fault injection and the `/_sim` control endpoints: injected 429 (with Retry-After) and 500
//! errors as Status objects, path matching, latency, close-watches, kubelet pause/resume, and
//! discovery/error shapes.
#![allow(clippy::unwrap_used)]

mod sim_support;

use std::sync::atomic::Ordering;

use sim_support::{raw_get, start};

async fn post(addr: std::net::SocketAddr, path: &str, body: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_errors_latency_and_controls() {
    let sim = start().await;
    let addr = sim.handle.addr;
    let (code, _) = post(
        addr,
        "/_sim/faults",
        r#"{"error_rate": 1.0, "error_codes": [429], "path_prefix": "/api/v1/namespaces"}"#,
    )
    .await;
    assert_eq!(code, 200);
    let (code, text) = post(addr, "/api/v1/namespaces", "{}").await;
    assert_eq!(code, 429);
    assert!(
        text.to_ascii_lowercase().contains("retry-after: 1"),
        "{text}"
    );
    assert!(text.contains(r#""reason":"TooManyRequests""#) && text.contains(r#""kind":"Status""#));
    // Other paths are untouched.
    assert_eq!(raw_get(addr, "/api/v1/pods", &[]).await.0, 200);
    sim.handle.set_faults(kube_sim::faults::FaultConfig {
        error_rate: 1.0,
        error_codes: vec![500],
        ..Default::default()
    });
    let (code, body) = raw_get(addr, "/api/v1/pods", &[]).await;
    assert_eq!(code, 500);
    assert!(body.contains(r#""reason":"InternalError""#), "{body}");
    assert!(sim.handle.stats().faults_injected.load(Ordering::Relaxed) >= 2);
    // Latency only.
    sim.handle.set_faults(kube_sim::faults::FaultConfig {
        latency_ms: 300,
        ..Default::default()
    });
    let t = std::time::Instant::now();
    assert_eq!(raw_get(addr, "/api/v1/pods", &[]).await.0, 200);
    assert!(t.elapsed() >= std::time::Duration::from_millis(300));
    sim.handle.set_faults(Default::default());
    // Kubelet switch.
    assert_eq!(post(addr, "/_sim/kubelet/pause", "").await.0, 200);
    assert!(sim.handle.state.kubelet_paused.load(Ordering::SeqCst));
    assert_eq!(post(addr, "/_sim/kubelet/resume", "").await.0, 200);
    assert!(!sim.handle.state.kubelet_paused.load(Ordering::SeqCst));
    // close-watches ends an open watch.
    let watch = tokio::spawn(raw_get(addr, "/api/v1/pods?watch=1", &[]));
    sim_support::eventually("watch registered", || {
        let n = sim.handle.stats().watches_started.load(Ordering::Relaxed);
        async move { (n > 0).then_some(()) }
    })
    .await;
    assert_eq!(post(addr, "/_sim/close-watches", "").await.0, 200);
    let (code, _) = tokio::time::timeout(sim_support::DEADLINE, watch)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(code, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_and_error_shapes() {
    let sim = start().await;
    let addr = sim.handle.addr;
    let (code, body) = raw_get(addr, "/apis/apps/v1", &[]).await;
    assert_eq!(code, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let names: Vec<&str> = v["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"deployments") && names.contains(&"deployments/status"),
        "{names:?}"
    );
    let (_, body) = raw_get(addr, "/api/v1", &[]).await;
    assert!(body.contains(r#""name":"pods/log""#), "{body}");
    let (code, body) = raw_get(
        addr,
        "/apis/apps/v1/namespaces/default/deployments/nope",
        &[],
    )
    .await;
    assert_eq!(code, 404);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["message"], "deployments.apps \"nope\" not found");
    assert_eq!(
        v["details"],
        serde_json::json!({"name": "nope", "group": "apps", "kind": "deployments"})
    );
    // A watch from a version older than the history is an ERROR event with a 410 Status.
    let store = sim.handle.store();
    store.set_history_limit(1);
    let gr = kube_sim::store::GroupResource::new("", "configmaps");
    for i in 0..3 {
        store
            .create(
                &gr,
                serde_json::json!({"metadata": {"name": format!("c{i}"), "namespace": "default"}}),
            )
            .unwrap();
    }
    let (code, body) = raw_get(addr, "/api/v1/configmaps?watch=1&resourceVersion=1", &[]).await;
    assert_eq!(code, 200);
    assert!(
        body.contains(r#""type":"ERROR""#) && body.contains(r#""code":410"#),
        "{body}"
    );
    assert!(body.contains(r#""reason":"Expired""#), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_give_a_clients_busiest_window_and_the_bytes_stored() {
    let sim = start().await;
    let addr = sim.handle.addr;
    let agent = [("User-Agent", "bench-client/1.0")];
    for _ in 0..5 {
        assert_eq!(raw_get(addr, "/api/v1/namespaces", &agent).await.0, 200);
    }
    let body = format!(
        r#"{{"metadata":{{"name":"big"}},"data":{{"k":"{}"}}}}"#,
        "x".repeat(5000)
    );
    let (code, _) = post(addr, "/api/v1/namespaces/default/configmaps", &body).await;
    assert_eq!(code, 201);
    let (code, text) = raw_get(
        addr,
        "/_sim/stats?window=10&agentPrefix=bench-&storage=true",
        &[],
    )
    .await;
    assert_eq!(code, 200, "{text}");
    let stats: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(stats["window"]["max"], 5, "{stats:#}");
    assert_eq!(stats["window"]["agentPrefix"], "bench-");
    let configmaps = &stats["storage"]["configmaps"];
    assert_eq!(configmaps["objects"], 1, "{stats:#}");
    assert!(configmaps["bytes"].as_u64().unwrap() > 5000, "{stats:#}");
    let (code, _) = raw_get(addr, "/_sim/stats?window=soon", &[]).await;
    assert_eq!(code, 400);
}

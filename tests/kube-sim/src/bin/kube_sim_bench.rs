//! kube-sim-bench: create/list/watch throughput and memory of kube-sim with many objects.
//! A report, not a test: it asserts nothing about timings. Build with `--release`.
//!
//! `kube-sim-bench [--objects 100000] [--watchers 10] [--watch-events 20000]`

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use kube_sim::store::GroupResource;
use kube_sim::{SimConfig, start};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Debug, Parser)]
struct Args {
    /// Objects created in the store before listing.
    #[arg(long, default_value_t = 100_000)]
    objects: usize,
    /// Concurrent watch connections.
    #[arg(long, default_value_t = 10)]
    watchers: usize,
    /// Objects created while the watchers are connected.
    #[arg(long, default_value_t = 20_000)]
    watch_events: usize,
    /// Objects created through HTTP POST.
    #[arg(long, default_value_t = 5_000)]
    http_creates: usize,
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn rate(n: usize, d: Duration) -> String {
    format!(
        "{n} in {:.2}s = {:.0}/s",
        d.as_secs_f64(),
        n as f64 / d.as_secs_f64()
    )
}

async fn http(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: &str,
) -> anyhow::Result<(u16, Vec<u8>)> {
    let mut s = TcpStream::connect(addr).await?;
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\n\
         Accept: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await?;
    let code = buf
        .get(9..12)
        .and_then(|c| std::str::from_utf8(c).ok())
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Ok((code, buf))
}

/// Opens a watch and counts ADDED events until `want` arrived.
async fn watch_count(addr: std::net::SocketAddr, rv: u64, want: usize) -> anyhow::Result<Duration> {
    let mut s = TcpStream::connect(addr).await?;
    let req = format!(
        "GET /api/v1/namespaces/bench-w/configmaps?watch=1&resourceVersion={rv} HTTP/1.1\r\nHost: {addr}\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await?;
    let pattern = b"\"type\":\"ADDED\"";
    let (mut seen, mut carry, mut buf) = (0usize, Vec::new(), vec![0u8; 1 << 16]);
    let started = Instant::now();
    while seen < want {
        let n = s.read(&mut buf).await?;
        if n == 0 {
            bail!("watch closed after {seen} events");
        }
        carry.extend_from_slice(&buf[..n]);
        seen += carry
            .windows(pattern.len())
            .filter(|w| *w == pattern)
            .count();
        let keep = carry.len().saturating_sub(pattern.len() - 1);
        carry.drain(..keep);
    }
    Ok(started.elapsed())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "kube-sim-bench: {} objects, {} watchers, {cores} cores",
        args.objects, args.watchers
    );
    let dir = std::env::temp_dir().join(format!("kube-sim-bench-{}", std::process::id()));
    let sim = start(SimConfig {
        kubeconfig_out: Some(dir.join("kubeconfig")),
        controllers: false,
        ..SimConfig::default()
    })
    .await?;
    let store = sim.store().clone();
    let addr = sim.addr;
    let ns = GroupResource::new("", "namespaces");
    for i in 0..10 {
        store.create(&ns, json!({"metadata": {"name": format!("bench-{i}")}}))?;
    }
    store.create(&ns, json!({"metadata": {"name": "bench-w"}}))?;
    println!("rss at start: {:.1} MiB", rss_mib());

    let cms = GroupResource::new("", "configmaps");
    let t = Instant::now();
    for i in 0..args.objects {
        let obj = json!({"metadata": {"name": format!("cm-{i}"), "namespace": format!("bench-{}", i % 10),
            "labels": {"app": format!("a{}", i % 100)}}, "data": {"key": "value"}});
        store.create(&cms, obj)?;
    }
    println!(
        "store create (in-process):   {}",
        rate(args.objects, t.elapsed())
    );
    println!("rss with {} objects: {:.1} MiB", args.objects, rss_mib());

    let t = Instant::now();
    let workers = 8;
    let per = args.http_creates / workers;
    let mut tasks = Vec::new();
    for w in 0..workers {
        tasks.push(tokio::spawn(async move {
            for i in 0..per {
                let body =
                    format!(r#"{{"metadata":{{"name":"http-{w}-{i}"}},"data":{{"k":"v"}}}}"#);
                let (code, _) =
                    http(addr, "POST", "/api/v1/namespaces/bench-0/configmaps", &body).await?;
                if code != 201 {
                    bail!("POST answered {code}");
                }
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    println!(
        "HTTP create (8 clients):     {}",
        rate(per * workers, t.elapsed())
    );

    let t = Instant::now();
    let (code, body) = http(addr, "GET", "/api/v1/configmaps", "").await?;
    let d = t.elapsed();
    if code != 200 {
        bail!("list answered {code}");
    }
    println!(
        "HTTP list all ({} objects):  {:.2}s, {:.1} MiB JSON",
        args.objects + per * workers,
        d.as_secs_f64(),
        body.len() as f64 / (1 << 20) as f64
    );
    let t = Instant::now();
    let (mut pages, mut token) = (0, String::new());
    loop {
        let path = if token.is_empty() {
            "/api/v1/configmaps?limit=500".to_owned()
        } else {
            format!("/api/v1/configmaps?limit=500&continue={token}")
        };
        let (_, body) = http(addr, "GET", &path, "").await?;
        pages += 1;
        let text = String::from_utf8_lossy(&body);
        let json_start = text.find("\r\n\r\n").context("no body")? + 4;
        let v: serde_json::Value = serde_json::from_str(&text[json_start..])?;
        match v.pointer("/metadata/continue").and_then(|c| c.as_str()) {
            Some(c) => token = c.to_owned(),
            None => break,
        }
    }
    println!(
        "HTTP paginated list (500/page): {pages} pages in {:.2}s",
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let (_, body) = http(
        addr,
        "GET",
        "/api/v1/namespaces/bench-3/configmaps?labelSelector=app%3Da3",
        "",
    )
    .await?;
    println!(
        "HTTP list one namespace + label selector: {:.3}s ({} bytes)",
        t.elapsed().as_secs_f64(),
        body.len()
    );

    let rv = store.resource_version();
    let mut watchers = Vec::new();
    for _ in 0..args.watchers {
        watchers.push(tokio::spawn(watch_count(addr, rv, args.watch_events)));
    }
    // Watch requests must be registered before writing: wait for the server to count them.
    let deadline = Instant::now() + Duration::from_secs(30);
    while sim
        .stats()
        .watches_started
        .load(std::sync::atomic::Ordering::Relaxed)
        < args.watchers as u64
    {
        if Instant::now() > deadline {
            bail!("watchers did not connect");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let t = Instant::now();
    for i in 0..args.watch_events {
        let obj = json!({"metadata": {"name": format!("w-{i}"), "namespace": "bench-w"}, "data": {"k": "v"}});
        store.create(&cms, obj)?;
        if i % 1000 == 999 {
            tokio::task::yield_now().await;
        }
    }
    let produced = t.elapsed();
    for w in watchers {
        w.await??;
    }
    let all = t.elapsed();
    println!(
        "watch: {} events to each of {} watchers: writes {:.2}s, all delivered after {:.2}s = {:.0} events/s delivered",
        args.watch_events,
        args.watchers,
        produced.as_secs_f64(),
        all.as_secs_f64(),
        (args.watch_events * args.watchers) as f64 / all.as_secs_f64()
    );
    println!("rss at end: {:.1} MiB", rss_mib());
    sim.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
    Ok(())
}

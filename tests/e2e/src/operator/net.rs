//! Talking to the operator's ports from a test: gRPC channels and plain HTTP GETs.

use anyhow::Context;

/// A plaintext gRPC channel to `127.0.0.1:{port}`.
pub async fn grpc_channel(port: u16) -> Result<tonic::transport::Channel, tonic::transport::Error> {
    tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))?
        .connect()
        .await
}

/// `GET http://127.0.0.1:{port}{path}` with a plain HTTP/1.1 request: (status, body).
pub async fn http_get(port: u16, path: &str) -> anyhow::Result<(u16, String)> {
    tokio::time::timeout(
        std::time::Duration::from_secs(60),
        http_get_inner(port, path),
    )
    .await
    .map_err(|_| anyhow::anyhow!("GET {path} on port {port}: no answer within 60s"))?
}

async fn http_get_inner(port: u16, path: &str) -> anyhow::Result<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").context("no HTTP header end")?;
    let status = head
        .split_whitespace()
        .nth(1)
        .context("no status")?
        .parse()?;
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    Ok((status, body))
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || tail.len() < size {
            break;
        }
        out.push_str(&tail[..size]);
        rest = tail[size..].trim_start_matches("\r\n");
    }
    out
}

/// Waits up to `timeout` until the `/metrics` page on `port` has every line of `series`.
pub async fn wait_for_series(
    port: u16,
    series: &[String],
    timeout: std::time::Duration,
) -> anyhow::Result<()> {
    crate::wait::eventually("the metric series", timeout, || async {
        let (_, metrics) = http_get(port, "/metrics")
            .await
            .map_err(|e| e.to_string())?;
        let missing: Vec<&String> = series
            .iter()
            .filter(|s| !metrics.lines().any(|l| l == s.as_str()))
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(format!("no series yet: {missing:?}"))
        }
    })
    .await
}

//! `--server`: Trivy's ClientServer mode, as far as the client can tell.

use std::time::Duration;

/// ClientServer mode (`--server URL`): the client sends its first RPC to the server, as
/// Trivy does; the double only opens a TCP connection to the URL's host and port (2 s at
/// most) and fails with Trivy's client error when it cannot.
pub fn reach(url: &str) -> Result<(), String> {
    let (default_port, rest) = match url.split_once("://") {
        Some(("http", rest)) => (80, rest),
        Some(("https", rest)) => (443, rest),
        _ => {
            return Err(format!(
                "invalid argument \"server\": {url:?} is not an http(s) URL"
            ));
        }
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let address = match authority.rsplit_once(':') {
        Some((_, port)) if port.parse::<u16>().is_ok() => authority.to_owned(),
        _ => format!("{authority}:{default_port}"),
    };
    let rpc = format!(
        "{}/twirp/trivy.cache.v1.Cache/MissingBlobs",
        url.trim_end_matches('/')
    );
    let failed = |why: String| {
        format!(
            "run error: image scan error: scan error: scan failed: failed analysis: analyze error: pipeline error: failed to analyze layer: unable to get missing layers: twirp error internal: failed to do request: Post \"{rpc}\": dial tcp {address}: {why}"
        )
    };
    use std::net::ToSocketAddrs;
    let resolved: Vec<std::net::SocketAddr> = address
        .to_socket_addrs()
        .map_err(|e| failed(format!("lookup: {e}")))?
        .collect();
    let timeout = Duration::from_secs(2);
    for addr in &resolved {
        if std::net::TcpStream::connect_timeout(addr, timeout).is_ok() {
            return Ok(());
        }
    }
    Err(failed("connect: connection refused".to_owned()))
}

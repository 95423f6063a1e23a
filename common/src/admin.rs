//! The admin HTTP server of both binaries: `GET /healthz` (the process runs), `GET /readyz`
//! (it should receive traffic: for the leader, it holds the lease) and `GET /metrics`
//! (Prometheus/OpenMetrics text, rendered on each scrape by a caller-given function).

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio_util::sync::CancellationToken;

/// Content type of `/metrics`: prometheus-client's text encoder writes OpenMetrics 1.0.
pub const METRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A boxed, sendable future yielding the metrics text.
pub type MetricsFuture = Pin<Box<dyn Future<Output = String> + Send + 'static>>;

/// Renders the whole `/metrics` body on each scrape (it may call the API, so it is async).
pub type RenderMetrics = Arc<dyn Fn() -> MetricsFuture + Send + Sync + 'static>;

/// What the admin server reports on.
#[derive(Clone)]
pub struct AdminState {
    /// `/readyz` answers 200 while this is true, 503 otherwise.
    pub ready: Arc<AtomicBool>,
    /// Produces the `/metrics` body.
    pub metrics: RenderMetrics,
}

impl std::fmt::Debug for AdminState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminState")
            .field("ready", &self.ready.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl AdminState {
    /// A state whose `/metrics` calls `render` on each scrape, e.g.
    /// `AdminState::new(ready, move || { let m = m.clone(); async move { m.encode() } })`.
    pub fn new<F, Fut>(ready: Arc<AtomicBool>, render: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = String> + Send + 'static,
    {
        Self {
            ready,
            metrics: Arc::new(move || Box::pin(render()) as MetricsFuture),
        }
    }
}

/// Errors of the admin server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The listening socket could not be bound.
    #[error("could not listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    /// The server stopped with an error.
    #[error("admin server failed: {0}")]
    Serve(#[source] std::io::Error),
}

/// The routes, without a listener (for tests and for embedding).
pub fn router(state: AdminState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// Binds `addr` (port 0 picks a free one); returns the bound address and the future that
/// serves until `shutdown` is cancelled. Spawn or await the future.
pub async fn serve(
    addr: SocketAddr,
    state: AdminState,
    shutdown: CancellationToken,
) -> Result<(SocketAddr, impl Future<Output = Result<(), Error>>), Error> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Bind { addr, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| Error::Bind { addr, source })?;
    let server = axum::serve(listener, router(state))
        .with_graceful_shutdown(async move { shutdown.cancelled_owned().await });
    Ok((local, async move { server.await.map_err(Error::Serve) }))
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<AdminState>) -> Response {
    if state.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "ok").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready").into_response()
    }
}

async fn metrics(State(state): State<AdminState>) -> Response {
    let body = (state.metrics)().await;
    ([(header::CONTENT_TYPE, METRICS_CONTENT_TYPE)], body).into_response()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::atomic::AtomicU64;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// One HTTP/1.1 GET over a plain socket; returns (status code, headers, body).
    async fn get(addr: SocketAddr, path: &str) -> (u16, String, String) {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut raw = String::new();
        stream.read_to_string(&mut raw).await.unwrap();
        let (head, body) = raw.split_once("\r\n\r\n").unwrap();
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        (status, head.to_lowercase(), body.to_string())
    }

    #[tokio::test]
    async fn probes_and_metrics_over_http() {
        let ready = Arc::new(AtomicBool::new(false));
        let scrapes = Arc::new(AtomicU64::new(0));
        let counter = scrapes.clone();
        let state = AdminState::new(ready.clone(), move || {
            let n = counter.fetch_add(1, Ordering::Relaxed) + 1;
            async move { format!("# TYPE scrapes gauge\nscrapes {n}\n# EOF\n") }
        });
        let shutdown = CancellationToken::new();
        let (addr, server) = serve("127.0.0.1:0".parse().unwrap(), state, shutdown.clone())
            .await
            .unwrap();
        assert_ne!(addr.port(), 0);
        let server = tokio::spawn(server);

        assert_eq!(get(addr, "/healthz").await.0, 200);
        assert_eq!(get(addr, "/healthz").await.2, "ok");
        let (code, _, body) = get(addr, "/readyz").await;
        assert_eq!((code, body.as_str()), (503, "not ready"));
        ready.store(true, Ordering::Relaxed);
        let (code, _, body) = get(addr, "/readyz").await;
        assert_eq!((code, body.as_str()), (200, "ok"));

        let (code, head, body) = get(addr, "/metrics").await;
        assert_eq!(code, 200);
        assert!(
            head.contains("content-type: application/openmetrics-text"),
            "{head}"
        );
        assert_eq!(body, "# TYPE scrapes gauge\nscrapes 1\n# EOF\n");
        // Rendered anew on each scrape.
        assert!(get(addr, "/metrics").await.2.contains("scrapes 2"));
        assert_eq!(get(addr, "/nope").await.0, 404);

        shutdown.cancel();
        server.await.unwrap().unwrap();
        assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    }

    #[tokio::test]
    async fn a_taken_port_is_a_bind_error() {
        let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = taken.local_addr().unwrap();
        let state = AdminState::new(Arc::new(AtomicBool::new(true)), || async { String::new() });
        let err = serve(addr, state, CancellationToken::new())
            .await
            .err()
            .unwrap();
        assert!(matches!(err, Error::Bind { .. }), "{err}");
    }
}

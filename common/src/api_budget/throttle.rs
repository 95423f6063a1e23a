//! The tower layer on a process's kube client that makes every request wait for a token of
//! the budget, and that backs off and retries when the API server answers 429.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response, StatusCode};
use kube::client::Body;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;
use tokio::time::Instant;
use tower::{Layer, Service, ServiceExt};

/// Where a process gets permission to send one request.
pub trait TokenSource: Send + Sync + 'static {
    /// Waits until one request may go.
    fn acquire(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;

    /// Counts a request that goes at once (a Lease renewal, which must not wait behind the
    /// work or its term ends): the requests after it wait for it instead.
    fn take_now(&self) {}
}

/// No budget: every request goes at once.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unlimited;

impl TokenSource for Unlimited {
    fn acquire(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(std::future::ready(()))
    }
}

/// A 429, 503 or 504 is retried this many times before the caller sees it. (kube's own
/// retry layer is off under this one: its retries would not wait for the budget.)
const MAX_RETRIES: u32 = 8;
/// Back-off of a 503 or 504 without `Retry-After`: doubling from this, up to the maximum.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// `Retry-After` is honoured between these bounds (a missing one counts as the least).
const MIN_RETRY_AFTER: Duration = Duration::from_secs(1);
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// What the throttle did: counters a process registers with its metrics.
#[derive(Debug, Clone, Default)]
pub struct ThrottleStats {
    /// Requests sent (retries included).
    pub requests: Counter,
    /// Time requests spent waiting for a token or for a pause the API server asked for.
    pub waited_seconds: Counter<f64, AtomicU64>,
    /// 429 answers received.
    pub too_many_requests: Counter,
}

impl ThrottleStats {
    /// Registers the counters (`api_requests_total`, `api_throttled_seconds_total`,
    /// `api_too_many_requests_total` under the registry's prefix).
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "api_requests",
            "Requests sent to the Kubernetes API server, retries included",
            self.requests.clone(),
        );
        registry.register(
            "api_throttled_seconds",
            "Time requests waited for the API request budget or a Retry-After",
            self.waited_seconds.clone(),
        );
        registry.register(
            "api_too_many_requests",
            "429 (Too Many Requests) answers from the API server, each retried after its Retry-After",
            self.too_many_requests.clone(),
        );
    }
}

/// Adds the throttle to a client's service stack.
#[derive(Clone)]
pub struct ThrottleLayer {
    source: Arc<dyn TokenSource>,
    stats: ThrottleStats,
    /// Nothing is sent before this instant: the API server asked us to wait.
    paused_until: Arc<Mutex<Option<Instant>>>,
}

impl std::fmt::Debug for ThrottleLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThrottleLayer")
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl ThrottleLayer {
    /// Requests wait for `source`; what happens is counted in `stats`.
    pub fn new(source: Arc<dyn TokenSource>, stats: ThrottleStats) -> Self {
        Self {
            source,
            stats,
            paused_until: Arc::default(),
        }
    }
}

impl<S> Layer<S> for ThrottleLayer {
    type Service = Throttle<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Throttle {
            inner,
            layer: self.clone(),
        }
    }
}

/// The throttled service.
#[derive(Clone)]
pub struct Throttle<S> {
    inner: S,
    layer: ThrottleLayer,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B> Service<Request<Body>> for Throttle<S>
where
    S: Service<Request<Body>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Send + 'static,
{
    type Response = Response<B>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Response<B>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        // The clone is not ready yet; the one polled ready serves this call.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        Box::pin(send(inner, layer, request))
    }
}

async fn send<S, B>(
    mut inner: S,
    layer: ThrottleLayer,
    request: Request<Body>,
) -> Result<Response<B>, S::Error>
where
    S: Service<Request<Body>, Response = Response<B>>,
{
    let (parts, body) = request.into_parts();
    if is_lease(parts.uri.path()) {
        // Sent at once and never retried here: leader election retries on its own clock,
        // and a renewal that sleeps through a Retry-After loses the term.
        layer.source.take_now();
        layer.stats.requests.inc();
        let response = inner
            .ready()
            .await?
            .call(Request::from_parts(parts, body))
            .await?;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            layer.stats.too_many_requests.inc();
        }
        return Ok(response);
    }
    // kube's bodies are buffered; one that is not is sent once, without retries.
    let mut body = Some(body);
    let mut attempt = 0;
    loop {
        wait_turn(&layer).await;
        let this_body = match body.as_ref().and_then(Body::try_clone) {
            Some(copy) if attempt < MAX_RETRIES => copy,
            _ => body.take().unwrap_or_else(Body::empty),
        };
        let retryable = body.is_some();
        let mut request = Request::new(this_body);
        *request.method_mut() = parts.method.clone();
        *request.uri_mut() = parts.uri.clone();
        *request.version_mut() = parts.version;
        *request.headers_mut() = parts.headers.clone();
        *request.extensions_mut() = parts.extensions.clone();
        layer.stats.requests.inc();
        let response = inner.ready().await?.call(request).await?;
        let delay = match response.status() {
            // API Priority and Fairness: this client's priority level is full. Everything
            // this process sends waits.
            StatusCode::TOO_MANY_REQUESTS => {
                layer.stats.too_many_requests.inc();
                let delay = retry_after(&response).unwrap_or(MIN_RETRY_AFTER);
                pause(&layer, delay);
                // The pause is waited for with the next turn (and counted there).
                Duration::ZERO
            }
            // The API server (or what is in front of it) is overloaded: this request backs off.
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT => retry_after(&response)
                .unwrap_or_else(|| (FIRST_BACKOFF * 2u32.pow(attempt.min(8))).min(MAX_BACKOFF)),
            _ => return Ok(response),
        };
        if !retryable {
            return Ok(response);
        }
        attempt += 1;
        tracing::debug!(uri = %parts.uri, status = %response.status(), attempt, "retrying");
        drop(response);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
    }
}

/// Lease requests (leader election) go ahead of everything: a renewal that waits loses the
/// term.
fn is_lease(path: &str) -> bool {
    path.starts_with("/apis/coordination.k8s.io/") && path.contains("/leases")
}

/// Waits for the pause the API server asked for, then for a token.
async fn wait_turn(layer: &ThrottleLayer) {
    let started = Instant::now();
    loop {
        let until = *layer.paused_until.lock().unwrap_or_else(|p| p.into_inner());
        match until {
            Some(until) if until > Instant::now() => tokio::time::sleep_until(until).await,
            _ => break,
        }
    }
    layer.source.acquire().await;
    layer
        .stats
        .waited_seconds
        .inc_by(started.elapsed().as_secs_f64());
}

fn pause(layer: &ThrottleLayer, delay: Duration) {
    let until = Instant::now() + delay;
    let mut paused = layer.paused_until.lock().unwrap_or_else(|p| p.into_inner());
    if paused.is_none_or(|p| p < until) {
        *paused = Some(until);
    }
}

/// The `Retry-After` of an answer (whole seconds, as the API server sends it), within bounds.
fn retry_after<B>(response: &Response<B>) -> Option<Duration> {
    response
        .headers()
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|s| Duration::from_secs(s).clamp(MIN_RETRY_AFTER, MAX_RETRY_AFTER))
}

#[cfg(test)]
#[path = "throttle_tests.rs"]
mod tests;

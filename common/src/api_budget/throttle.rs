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
#[allow(clippy::unwrap_used)]
mod tests {
    use std::convert::Infallible;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    /// Answers `code` (429 with `Retry-After: 2`) to the first `rejections` requests, then
    /// 200 with the request body.
    #[derive(Clone)]
    struct Server {
        rejections: u32,
        code: StatusCode,
        seen: Arc<AtomicU32>,
    }

    impl Service<Request<Body>> for Server {
        type Response = Response<Vec<u8>>;
        type Error = Infallible;
        type Future = BoxFuture<Result<Response<Vec<u8>>, Infallible>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, request: Request<Body>) -> Self::Future {
            let n = self.seen.fetch_add(1, Ordering::SeqCst);
            let (rejections, code) = (self.rejections, self.code);
            Box::pin(async move {
                let body = request
                    .into_body()
                    .collect_bytes()
                    .await
                    .map(|b| b.to_vec())
                    .unwrap_or_default();
                let mut response = Response::new(body);
                if n < rejections {
                    *response.status_mut() = code;
                    if code == StatusCode::TOO_MANY_REQUESTS {
                        response.headers_mut().insert(
                            http::header::RETRY_AFTER,
                            http::HeaderValue::from_static("2"),
                        );
                    }
                }
                Ok(response)
            })
        }
    }

    fn throttled(rejections: u32) -> (Throttle<Server>, Arc<AtomicU32>, ThrottleStats) {
        failing(rejections, StatusCode::TOO_MANY_REQUESTS)
    }

    fn failing(
        rejections: u32,
        code: StatusCode,
    ) -> (Throttle<Server>, Arc<AtomicU32>, ThrottleStats) {
        let seen = Arc::new(AtomicU32::new(0));
        let stats = ThrottleStats::default();
        let layer = ThrottleLayer::new(Arc::new(Unlimited), stats.clone());
        let server = Server {
            rejections,
            code,
            seen: seen.clone(),
        };
        (layer.layer(server), seen, stats)
    }

    fn post(body: &str) -> Request<Body> {
        let mut r = Request::new(Body::from(body.as_bytes().to_vec()));
        *r.method_mut() = http::Method::POST;
        r
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_is_retried_after_its_retry_after_with_the_same_body() {
        let (mut svc, seen, stats) = throttled(2);
        let started = Instant::now();
        let response = svc
            .ready()
            .await
            .unwrap()
            .call(post("{\"a\":1}"))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.body(), b"{\"a\":1}");
        assert_eq!(seen.load(Ordering::SeqCst), 3);
        assert_eq!(stats.too_many_requests.get(), 2);
        assert_eq!(stats.requests.get(), 3);
        assert!(stats.waited_seconds.get() >= 4.0);
        assert!(started.elapsed() >= Duration::from_secs(4));
    }

    #[tokio::test(start_paused = true)]
    async fn an_overloaded_server_is_retried_with_backoff_and_a_400_is_not() {
        let (mut svc, seen, stats) = failing(3, StatusCode::SERVICE_UNAVAILABLE);
        let started = Instant::now();
        let response = svc.ready().await.unwrap().call(post("x")).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(seen.load(Ordering::SeqCst), 4);
        // 0.5 + 1 + 2 s of back-off, no 429 counted.
        assert_eq!(started.elapsed(), Duration::from_millis(3500));
        assert_eq!(stats.too_many_requests.get(), 0);
        let (mut svc, seen, _) = failing(1, StatusCode::BAD_REQUEST);
        let response = svc.ready().await.unwrap().call(post("x")).await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(seen.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_server_that_keeps_refusing_is_answered_with_its_429() {
        let (mut svc, seen, _) = throttled(u32::MAX);
        let response = svc.ready().await.unwrap().call(post("x")).await.unwrap();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(seen.load(Ordering::SeqCst), MAX_RETRIES + 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_lease_request_goes_at_once_and_its_429_is_not_retried() {
        let (mut svc, seen, stats) = throttled(1);
        let mut renew = post("{}");
        *renew.uri_mut() = "/apis/coordination.k8s.io/v1/namespaces/x/leases/l"
            .parse()
            .unwrap();
        let started = Instant::now();
        let response = svc.ready().await.unwrap().call(renew).await.unwrap();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(seen.load(Ordering::SeqCst), 1);
        assert_eq!(stats.too_many_requests.get(), 1);
        assert_eq!(started.elapsed(), Duration::ZERO);
    }

    #[test]
    fn only_lease_requests_are_urgent() {
        assert!(is_lease(
            "/apis/coordination.k8s.io/v1/namespaces/trivy-system/leases/trivy-operator-leader"
        ));
        assert!(!is_lease("/api/v1/namespaces/leases/configmaps/x"));
        assert!(!is_lease("/apis/apps/v1/replicasets"));
    }

    #[test]
    fn retry_after_is_bounded() {
        let with = |v: &'static str| {
            let mut r = Response::new(());
            r.headers_mut()
                .insert(http::header::RETRY_AFTER, http::HeaderValue::from_static(v));
            retry_after(&r)
        };
        assert_eq!(with("3"), Some(Duration::from_secs(3)));
        assert_eq!(with("0"), Some(MIN_RETRY_AFTER));
        assert_eq!(with("3600"), Some(MAX_RETRY_AFTER));
        assert_eq!(with("soon"), None);
        assert_eq!(retry_after(&Response::new(())), None);
    }
}

#![allow(clippy::unwrap_used)]

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

fn failing(rejections: u32, code: StatusCode) -> (Throttle<Server>, Arc<AtomicU32>, ThrottleStats) {
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

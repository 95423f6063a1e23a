//! How workers prove who they are: the shared worker token, or (with
//! `--worker-service-account`) each worker's own ServiceAccount token, bound to its Pod and
//! checked with a TokenReview. In the second mode a worker can only attach under its own
//! Pod's name, so it cannot take over another worker's id, and a stolen token stops working
//! when its Pod is gone.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec, TokenReviewStatus};
use sha2::{Digest, Sha256};
use tonic::metadata::MetadataMap;
use tonic::{Request, Status};

use super::TokenCheck;

/// The extra field of a Pod-bound ServiceAccount token naming its Pod.
const POD_NAME_EXTRA: &str = "authentication.kubernetes.io/pod-name";
/// How long a reviewed token is trusted without asking the API server again.
const CACHE_TTL: Duration = Duration::from_secs(30);
/// Reviewed tokens remembered at most (one per worker Pod in practice).
const CACHE_CAPACITY: usize = 1024;
/// TokenReviews in flight at once: a flood of attach attempts cannot flood the API server.
const CONCURRENT_REVIEWS: usize = 4;
/// How long an attach waits for a free review slot.
const REVIEW_QUEUE_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest API-server error text passed on to a refused worker.
const MAX_ERROR_ECHO: usize = 200;

/// How workers authenticate.
#[derive(Clone)]
pub enum WorkerAuth {
    /// The shared token (or none: anyone may attach).
    Shared(TokenCheck),
    /// Pod-bound ServiceAccount tokens, checked with TokenReviews.
    ServiceAccount(Arc<Reviewer>),
}

impl std::fmt::Debug for WorkerAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Shared(check) => f.debug_tuple("Shared").field(check).finish(),
            Self::ServiceAccount(r) => f
                .debug_struct("ServiceAccount")
                .field("username", &r.username)
                .field("audience", &r.audience)
                .finish(),
        }
    }
}

impl WorkerAuth {
    /// The authentication the flags choose: ServiceAccount tokens with
    /// `--worker-service-account`, else the shared `--worker-token` (or none, warned).
    pub fn from_args(
        args: &crate::args::RunArgs,
        client: &kube::Client,
        refused: Arc<AtomicU64>,
    ) -> Self {
        match &args.worker_service_account {
            Some(account) => {
                tracing::info!(%account, audience = %args.worker_token_audience, "workers authenticate with their ServiceAccount tokens (TokenReview)");
                Self::ServiceAccount(Arc::new(Reviewer::new(
                    client.clone(),
                    &args.operator_namespace,
                    account,
                    &args.worker_token_audience,
                    refused,
                )))
            }
            None => {
                if args.worker_token.is_none() {
                    tracing::warn!(
                        "no --worker-token or --worker-service-account: any client can attach as a worker"
                    );
                }
                Self::Shared(TokenCheck::new(args.worker_token.clone(), refused))
            }
        }
    }

    /// The interceptor: the shared token is checked here; in ServiceAccount mode a bearer
    /// token must be present (it is reviewed when the stream opens).
    pub fn intercept(&self, request: Request<()>) -> Result<Request<()>, Status> {
        match self {
            Self::Shared(check) => check.check(request),
            Self::ServiceAccount(reviewer) => match bearer(request.metadata()) {
                Some(_) => Ok(request),
                None => {
                    reviewer.refused.fetch_add(1, Ordering::Relaxed);
                    Err(Status::unauthenticated("missing bearer token"))
                }
            },
        }
    }

    /// The worker id the caller may use: `None` when any id goes (shared token), else the
    /// name of the Pod its token is bound to.
    pub async fn allowed_id(&self, metadata: &MetadataMap) -> Result<Option<String>, Status> {
        match self {
            Self::Shared(_) => Ok(None),
            Self::ServiceAccount(reviewer) => {
                let token = bearer(metadata)
                    .ok_or_else(|| Status::unauthenticated("missing bearer token"))?;
                reviewer.pod_of(token).await.map(Some)
            }
        }
    }
}

fn bearer(metadata: &MetadataMap) -> Option<&str> {
    metadata
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .filter(|t| !t.is_empty())
}

/// Checks worker tokens with TokenReviews, remembering accepted ones for a while.
pub struct Reviewer {
    api: kube::Api<TokenReview>,
    username: String,
    audience: String,
    cache: Mutex<HashMap<[u8; 32], (String, Instant)>>,
    reviews: tokio::sync::Semaphore,
    refused: Arc<AtomicU64>,
}

impl Reviewer {
    /// Accepts tokens of `system:serviceaccount:<namespace>:<service_account>` issued for
    /// `audience`.
    pub fn new(
        client: kube::Client,
        namespace: &str,
        service_account: &str,
        audience: &str,
        refused: Arc<AtomicU64>,
    ) -> Self {
        Self {
            api: kube::Api::all(client),
            username: format!("system:serviceaccount:{namespace}:{service_account}"),
            audience: audience.to_owned(),
            cache: Mutex::default(),
            reviews: tokio::sync::Semaphore::new(CONCURRENT_REVIEWS),
            refused,
        }
    }

    /// The Pod `token` is bound to, if the API server vouches for it.
    async fn pod_of(&self, token: &str) -> Result<String, Status> {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(pod) = self.cached(&key, Instant::now()) {
            return Ok(pod);
        }
        let _permit = tokio::time::timeout(REVIEW_QUEUE_TIMEOUT, self.reviews.acquire())
            .await
            .map_err(|_| Status::unavailable("too many worker logins in progress; retry"))?
            .map_err(|_| Status::unavailable("shutting down"))?;
        let review = TokenReview {
            spec: TokenReviewSpec {
                token: Some(token.to_owned()),
                audiences: Some(vec![self.audience.clone()]),
            },
            ..Default::default()
        };
        let answer = self
            .api
            .create(&Default::default(), &review)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "TokenReview of a worker's token failed");
                Status::unavailable(format!(
                    "the leader could not check the token: {}",
                    bounded(&e.to_string())
                ))
            })?;
        match pod_of_review(answer.status.unwrap_or_default(), &self.username) {
            Ok(pod) => {
                self.remember(key, pod.clone(), Instant::now());
                Ok(pod)
            }
            Err(status) => {
                self.refused.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%status, "worker token refused");
                Err(status)
            }
        }
    }

    fn cached(&self, key: &[u8; 32], now: Instant) -> Option<String> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .get(key)
            .filter(|(_, at)| now.duration_since(*at) < CACHE_TTL)
            .map(|(pod, _)| pod.clone())
    }

    fn remember(&self, key: [u8; 32], pod: String, now: Instant) {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= CACHE_CAPACITY {
            cache.retain(|_, (_, at)| now.duration_since(*at) < CACHE_TTL);
            if cache.len() >= CACHE_CAPACITY {
                cache.clear();
            }
        }
        cache.insert(key, (pod, now));
    }
}

/// The Pod name an answered TokenReview vouches for, or why the worker is refused.
fn pod_of_review(status: TokenReviewStatus, username: &str) -> Result<String, Status> {
    if status.authenticated != Some(true) {
        let why = status.error.unwrap_or_else(|| "not authenticated".into());
        return Err(Status::unauthenticated(format!(
            "the API server refused the worker's token: {}",
            bounded(&why)
        )));
    }
    let user = status.user.unwrap_or_default();
    let name = user.username.unwrap_or_default();
    if name != username {
        return Err(Status::permission_denied(format!(
            "the token belongs to {}; workers must run as {username}",
            bounded(&name)
        )));
    }
    user.extra
        .unwrap_or_default()
        .remove(POD_NAME_EXTRA)
        .and_then(|mut pods| pods.pop())
        .filter(|pod| !pod.is_empty())
        .ok_or_else(|| {
            Status::permission_denied(
                "the token is not bound to a Pod: give the worker a projected serviceAccountToken volume",
            )
        })
}

/// `text` cut to a length safe to echo in a gRPC status.
fn bounded(text: &str) -> String {
    match text.char_indices().nth(MAX_ERROR_ECHO) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// Checks that a worker announcing `id` may use it; `allowed` from [`WorkerAuth::allowed_id`].
pub fn check_id(allowed: Option<&str>, id: &str) -> Result<(), Status> {
    match allowed {
        Some(pod) if pod != id => Err(Status::permission_denied(format!(
            "worker id {:?} is not the Pod its token is bound to ({pod:?}); a worker's id is its Pod name",
            bounded(id)
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use k8s_openapi::api::authentication::v1::UserInfo;
    use std::collections::BTreeMap;

    const USER: &str = "system:serviceaccount:trivy-system:trivy-operator-worker";

    fn status(authenticated: bool, user: &str, pod: Option<&str>) -> TokenReviewStatus {
        let mut extra = BTreeMap::new();
        if let Some(p) = pod {
            extra.insert(POD_NAME_EXTRA.to_owned(), vec![p.to_owned()]);
        }
        TokenReviewStatus {
            authenticated: authenticated.then_some(true),
            user: Some(UserInfo {
                username: Some(user.into()),
                extra: Some(extra),
                ..Default::default()
            }),
            error: (!authenticated).then(|| "token has expired".into()),
            ..Default::default()
        }
    }

    #[test]
    fn a_review_yields_the_pod_of_the_right_service_account_only() {
        assert_eq!(
            pod_of_review(status(true, USER, Some("w-0")), USER).unwrap(),
            "w-0"
        );
        let expired = pod_of_review(status(false, USER, Some("w-0")), USER).unwrap_err();
        assert_eq!(expired.code(), tonic::Code::Unauthenticated);
        assert!(expired.message().contains("expired"), "{expired:?}");
        let other = pod_of_review(
            status(true, "system:serviceaccount:team-a:default", Some("x")),
            USER,
        )
        .unwrap_err();
        assert_eq!(other.code(), tonic::Code::PermissionDenied);
        let unbound = pod_of_review(status(true, USER, None), USER).unwrap_err();
        assert!(
            unbound.message().contains("not bound to a Pod"),
            "{unbound:?}"
        );
    }

    #[test]
    fn the_id_must_be_the_pod_name() {
        assert!(check_id(None, "anything").is_ok());
        assert!(check_id(Some("w-0"), "w-0").is_ok());
        let err = check_id(Some("w-0"), "w-1").unwrap_err();
        assert_eq!(err.code(), tonic::Code::PermissionDenied);
        let long = "x".repeat(20_000);
        assert!(check_id(Some("w-0"), &long).unwrap_err().message().len() < 400);
    }

    #[tokio::test]
    async fn accepted_tokens_are_remembered_for_a_while_and_the_cache_is_bounded() {
        let client =
            kube::Client::try_from(kube::Config::new("http://127.0.0.1:1".parse().unwrap()))
                .unwrap();
        let r = Reviewer::new(client, "ns", "sa", "aud", Arc::default());
        let t0 = Instant::now();
        r.remember([1; 32], "w-0".into(), t0);
        assert_eq!(
            r.cached(&[1; 32], t0 + Duration::from_secs(5)).as_deref(),
            Some("w-0")
        );
        assert_eq!(r.cached(&[1; 32], t0 + CACHE_TTL), None);
        for i in 0..CACHE_CAPACITY * 2 {
            let mut key = [0u8; 32];
            key[..8].copy_from_slice(&(i as u64).to_le_bytes());
            r.remember(key, "w".into(), t0);
        }
        assert!(r.cache.lock().unwrap().len() <= CACHE_CAPACITY);
    }
}

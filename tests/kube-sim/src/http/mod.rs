//! The HTTP front end: routing of Kubernetes API paths, bearer-token authentication, fault
//! injection, and the `/_sim/...` control endpoints.

#![allow(clippy::result_large_err)] // handlers return a ready error Response

mod crud;
mod delete;
pub mod discovery;
pub mod errors;
mod field_validation;
mod logs;
pub mod openapi;
mod patch;
mod patch_ops;
mod protobuf;
pub mod request;
pub mod requests;
pub mod selectors;
pub mod table;
pub mod tokens;
pub mod versions;
mod watch;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, Uri, header};
use axum::response::Response;
use axum::routing::{get, post};

use crate::SimState;
use crate::faults::{FaultConfig, Faults, describe};
use crate::store::ResourceInfo;
use errors::{json_response, not_found, status_error};
use request::{ApiPath, Output, Query};

/// Everything the handlers share.
#[derive(Debug)]
pub struct App {
    /// Store, logs, kubelet switch.
    pub state: Arc<SimState>,
    /// Authentication (bearer tokens) and authorization (AlwaysAllow or RBAC).
    pub authz: crate::authz::Authz,
    /// Fault injection settings.
    pub faults: Faults,
    /// Incremented to close every open watch.
    pub close_watches: tokio::sync::watch::Sender<u64>,
    /// How often watches with `allowWatchBookmarks` get a BOOKMARK.
    pub bookmark_interval: Duration,
    /// `127.0.0.1:PORT`, for `/api`.
    pub addr: String,
    /// Counters, for tests.
    pub stats: Stats,
    /// ServiceAccount tokens issued by TokenRequests, for TokenReviews.
    pub service_account_tokens: tokens::IssuedTokens,
}

/// Counters of notable events, for tests that must prove a path was taken.
#[derive(Debug, Default)]
pub struct Stats {
    /// Watches answered with 410 Gone (too old resourceVersion).
    pub watches_gone: std::sync::atomic::AtomicU64,
    /// Watches started.
    pub watches_started: std::sync::atomic::AtomicU64,
    /// Requests failed by fault injection.
    pub faults_injected: std::sync::atomic::AtomicU64,
    /// Every request, by verb, resource and user agent (`/_sim/stats`).
    pub requests: requests::RequestCounts,
}

/// The router: `/_sim/*` control endpoints and every Kubernetes path.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/_sim/faults", post(set_faults).get(get_faults))
        .route("/_sim/close-watches", post(close_watches))
        .route("/_sim/kubelet/pause", post(pause_kubelet))
        .route("/_sim/kubelet/resume", post(resume_kubelet))
        .route("/_sim/stats", get(get_stats).delete(reset_stats))
        .fallback(dispatch)
        .with_state(app)
}

async fn set_faults(State(app): State<Arc<App>>, body: Bytes) -> Response {
    match serde_json::from_slice::<FaultConfig>(&body) {
        Ok(cfg) => {
            app.faults.set(cfg);
            json_response(200, &serde_json::json!(app.faults.get()))
        }
        Err(e) => errors::bad_request(&format!("invalid fault config: {e}")),
    }
}

async fn get_faults(State(app): State<Arc<App>>) -> Response {
    json_response(200, &serde_json::json!(app.faults.get()))
}

async fn close_watches(State(app): State<Arc<App>>) -> Response {
    app.close_watches.send_modify(|n| *n += 1);
    json_response(200, &serde_json::json!({"closed": true}))
}

/// `GET /_sim/stats[?window=SECONDS&agentPrefix=P][&storage=true]`: the counts; with a
/// window the most requests of the agents whose product starts with P (all: empty) in any
/// such window; with `storage` the objects and bytes (as JSON) stored per resource.
async fn get_stats(State(app): State<Arc<App>>, uri: Uri) -> Response {
    let query = crate::http::request::Query::parse(uri.query());
    let mut stats = app.stats.requests.to_json();
    if query.get("storage") == Some("true") {
        let store = app.state.store.clone();
        let storage = tokio::task::spawn_blocking(move || store.storage())
            .await
            .unwrap_or_default();
        stats["storage"] = serde_json::to_value(storage).unwrap_or_default();
    }
    if let Some(window) = query.get("window") {
        let Some(seconds) = window
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s > 0.0)
        else {
            return status_error(
                400,
                "BadRequest",
                "window must be a positive number of seconds",
            );
        };
        let prefix = query.get("agentPrefix").unwrap_or_default();
        stats["window"] = app
            .stats
            .requests
            .window_json(prefix, std::time::Duration::from_secs_f64(seconds));
    }
    json_response(200, &stats)
}

async fn reset_stats(State(app): State<Arc<App>>) -> Response {
    app.stats.requests.reset();
    json_response(200, &serde_json::json!({"reset": true}))
}

async fn pause_kubelet(State(app): State<Arc<App>>) -> Response {
    app.state.kubelet_paused.store(true, Ordering::SeqCst);
    json_response(200, &serde_json::json!({"kubeletPaused": true}))
}

async fn resume_kubelet(State(app): State<Arc<App>>) -> Response {
    app.state.kubelet_paused.store(false, Ordering::SeqCst);
    json_response(200, &serde_json::json!({"kubeletPaused": false}))
}

/// One request to a resource, after routing.
pub(crate) struct Req {
    pub method: Method,
    pub path: ApiPath,
    pub query: Query,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub info: ResourceInfo,
    pub output: Output,
}

impl Req {
    pub fn header(&self, name: header::HeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

async fn dispatch(
    State(app): State<Arc<App>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    app.stats.requests.record(&method, &uri, &headers);
    if let Some(resp) = app.authz.admit(&app.state.store, &method, &uri, &headers) {
        return resp;
    }
    let path = uri.path();
    let ua = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if let Some(inj) = app.faults.decide(method.as_str(), path, ua) {
        if !inj.latency.is_zero() {
            tokio::time::sleep(inj.latency).await;
        }
        if let Some(code) = inj.error_code {
            app.stats.faults_injected.fetch_add(1, Ordering::Relaxed);
            let (reason, message) = describe(code);
            let mut resp = status_error(code, reason, message);
            if code == 429 {
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            return resp;
        }
    }
    tracing::debug!(%method, %uri, "request");
    if let Some(resp) = discovery_route(&app, &method, path) {
        return resp;
    }
    let Some(api_path) = ApiPath::parse(path) else {
        return not_found();
    };
    let info = {
        let reg = app.state.store.registry();
        reg.by_plural(&api_path.group, &api_path.version, &api_path.resource)
            .cloned()
    };
    let Some(info) = info else { return not_found() };
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let Some(output) = request::negotiate(accept) else {
        return status_error(
            406,
            "NotAcceptable",
            "only the following media types are accepted: application/json, application/yaml",
        );
    };
    let query = Query::parse(uri.query());
    let req = Req {
        method,
        path: api_path,
        query,
        headers,
        body,
        info,
        output,
    };
    crud::handle(&app, req).await
}

fn discovery_route(app: &App, method: &Method, path: &str) -> Option<Response> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let ok = |v: serde_json::Value| Some(json_response(200, &v));
    let doc = match segs.as_slice() {
        ["version"] => return ok(discovery::version()),
        ["healthz" | "readyz" | "livez"] => {
            return Some(errors::bytes_response(
                200,
                b"ok".to_vec(),
                "text/plain; charset=utf-8",
            ));
        }
        ["api"] => return ok(discovery::core_versions(&app.addr)),
        ["apis"] => discovery::group_list(&app.state.store.registry()),
        ["api", v] => discovery::resource_list(&app.state.store.registry(), "", v)?,
        ["apis", g] => discovery::group(&app.state.store.registry(), g)?,
        ["apis", g, v] => discovery::resource_list(&app.state.store.registry(), g, v)?,
        ["openapi", "v3"] => openapi::index(&app.state.store.registry()),
        ["openapi", "v3", "api", v] => openapi::document(&app.state.store.registry(), "", v)?,
        ["openapi", "v3", "apis", g, v] => openapi::document(&app.state.store.registry(), g, v)?,
        ["openapi", ..] => {
            return Some(errors::bytes_response(
                404,
                b"404 page not found\n".to_vec(),
                "text/plain; charset=utf-8",
            ));
        }
        _ => return None,
    };
    if method != Method::GET {
        return Some(errors::method_not_allowed(method.as_str()));
    }
    Some(json_response(200, &doc))
}

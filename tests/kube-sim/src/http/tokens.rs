//! ServiceAccount tokens, as the API server issues and checks them:
//!
//! - `POST /api/v1/namespaces/NS/serviceaccounts/NAME/token` (a TokenRequest, what
//!   `kubectl create token` sends) issues a JWT-shaped token for the ServiceAccount, for the
//!   requested audiences (default: the API server's), valid `expirationSeconds` (600 s to
//!   2^32 s, default 3600), optionally bound to a Pod (its uid is filled in; a wrong uid is a
//!   409 Conflict, a missing Pod a 404).
//! - `POST /apis/authentication.k8s.io/v1/tokenreviews` checks a token as the ServiceAccount
//!   authenticator does: known, not expired, one of its audiences among the requested ones
//!   (default: the API server's), its ServiceAccount and bound Pod still there with the same
//!   uids. An authenticated review carries the user `system:serviceaccount:NS:NAME`, its
//!   groups and, for a Pod-bound token, `authentication.kubernetes.io/pod-name` and
//!   `pod-uid` in `extra`.
//!
//! Tokens are looked up, not verified cryptographically: their signature part is random.
//! Only Pods can be bound (the API server also binds Secrets and Nodes). Issued tokens do
//! not authenticate requests to kube-sim itself.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::errors::{bad_request, json_response, status_error, store_error};
use super::request::decode_body;
use super::{App, Req};
use crate::store::{GroupResource, StoreError, meta};

/// The API server's own audience (kind's and kubeadm's default `--api-audiences`).
pub const API_AUDIENCE: &str = "https://kubernetes.default.svc.cluster.local";
/// Shortest and longest lifetime a TokenRequest may ask for.
const MIN_EXPIRATION_SECONDS: i64 = 600;
const MAX_EXPIRATION_SECONDS: i64 = 1 << 32;
const DEFAULT_EXPIRATION_SECONDS: i64 = 3600;

/// Tokens issued so far, by token string.
#[derive(Debug, Default)]
pub struct IssuedTokens {
    tokens: Mutex<HashMap<String, Issued>>,
    salt: RandomState,
}

#[derive(Debug, Clone)]
struct Issued {
    namespace: String,
    service_account: String,
    service_account_uid: String,
    pod: Option<(String, String)>,
    audiences: Vec<String>,
    expires: jiff::Timestamp,
    id: String,
}

impl IssuedTokens {
    fn issue(&self, issued: Issued) -> String {
        let claims = json!({
            "aud": issued.audiences,
            "exp": issued.expires.as_second(),
            "iss": API_AUDIENCE,
            "jti": issued.id,
            "sub": format!("system:serviceaccount:{}:{}", issued.namespace, issued.service_account),
        });
        let signature: Vec<u8> = (0..4u64)
            .flat_map(|i| self.salt.hash_one((&issued.id, i)).to_le_bytes())
            .collect();
        let token = format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","kid":"kube-sim"}"#),
            URL_SAFE_NO_PAD.encode(claims.to_string()),
            URL_SAFE_NO_PAD.encode(signature)
        );
        self.lock().insert(token.clone(), issued);
        token
    }

    fn lookup(&self, token: &str) -> Option<Issued> {
        let mut tokens = self.lock();
        let now = jiff::Timestamp::now();
        tokens.retain(|_, t| t.expires > now);
        tokens.get(token).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Issued>> {
        self.tokens.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn core(resource: &str) -> GroupResource {
    GroupResource::new("", resource)
}

fn string_list(v: &Value) -> Vec<String> {
    meta::strings(Some(v))
}

fn body(req: &Req) -> Result<Value, axum::response::Response> {
    let ct = req.header(axum::http::header::CONTENT_TYPE);
    let body = decode_body(ct, &req.body).map_err(|(code, msg)| {
        status_error(
            code,
            if code == 415 {
                "UnsupportedMediaType"
            } else {
                "BadRequest"
            },
            &msg,
        )
    })?;
    if !body.is_object() {
        return Err(bad_request("the body of the request was not a JSON object"));
    }
    Ok(body)
}

fn invalid_request(name: &str, field: &str, detail: String) -> axum::response::Response {
    store_error(&StoreError::invalid(
        GroupResource::new("authentication.k8s.io", "tokenrequests"),
        "TokenRequest.authentication.k8s.io".into(),
        name,
        field,
        detail,
    ))
}

/// `POST .../serviceaccounts/NAME/token`.
pub(crate) fn request(app: &App, req: &Req) -> axum::response::Response {
    let (Some(ns), Some(name)) = (&req.path.namespace, &req.path.name) else {
        return super::errors::not_found();
    };
    let store = &app.state.store;
    let sa = match store.get(&core("serviceaccounts"), ns, name) {
        Ok(sa) => sa,
        Err(e) => return store_error(&e),
    };
    let body = match body(req) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let spec = &body["spec"];
    let mut audiences = string_list(&spec["audiences"]);
    if audiences.is_empty() {
        audiences.push(API_AUDIENCE.to_owned());
    }
    let seconds = match &spec["expirationSeconds"] {
        Value::Null => DEFAULT_EXPIRATION_SECONDS,
        v => v.as_i64().unwrap_or(-1),
    };
    if seconds < MIN_EXPIRATION_SECONDS {
        return invalid_request(
            name,
            "spec.expirationSeconds",
            format!("Invalid value: {seconds}: may not specify a duration less than 10 minutes"),
        );
    }
    if seconds > MAX_EXPIRATION_SECONDS {
        return invalid_request(
            name,
            "spec.expirationSeconds",
            format!(
                "Invalid value: {seconds}: may not specify a duration larger than 2^32 seconds"
            ),
        );
    }
    let mut bound = spec["boundObjectRef"].clone();
    let pod = match bound_pod(app, ns, name, &mut bound) {
        Ok(pod) => pod,
        Err(r) => return r,
    };
    let now = jiff::Timestamp::now();
    let expires = now + jiff::SignedDuration::from_secs(seconds);
    let token = app.service_account_tokens.issue(Issued {
        namespace: ns.clone(),
        service_account: name.clone(),
        service_account_uid: meta::uid(&sa).to_owned(),
        pod,
        audiences: audiences.clone(),
        expires,
        id: meta::new_uid(),
    });
    let mut spec_out = json!({"audiences": audiences, "expirationSeconds": seconds});
    if !bound.is_null() {
        spec_out["boundObjectRef"] = bound;
    }
    json_response(
        201,
        &json!({
            "kind": "TokenRequest",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": name, "namespace": ns, "creationTimestamp": now.to_string()},
            "spec": spec_out,
            "status": {"token": token, "expirationTimestamp": expires.to_string()},
        }),
    )
}

/// The Pod a TokenRequest binds its token to, with its uid filled in `bound`.
#[allow(clippy::type_complexity)]
fn bound_pod(
    app: &App,
    ns: &str,
    name: &str,
    bound: &mut Value,
) -> Result<Option<(String, String)>, axum::response::Response> {
    if bound.is_null() {
        return Ok(None);
    }
    let kind = bound["kind"].as_str().unwrap_or_default();
    if kind != "Pod" {
        return Err(invalid_request(
            name,
            "spec.boundObjectRef.kind",
            format!(
                "Unsupported value: \"{kind}\": supported values: \"Pod\" (kube-sim binds tokens to Pods only)"
            ),
        ));
    }
    let pod_name = bound["name"].as_str().unwrap_or_default().to_owned();
    let pod = app
        .state
        .store
        .get(&core("pods"), ns, &pod_name)
        .map_err(|e| store_error(&e))?;
    let uid = meta::uid(&pod).to_owned();
    match bound["uid"].as_str() {
        Some(given) if !given.is_empty() && given != uid => {
            return Err(status_error(
                409,
                "Conflict",
                &format!(
                    "Operation cannot be fulfilled on pods \"{pod_name}\": the UID in the bound object reference ({given}) does not match the UID in record ({uid}). The object might have been deleted and then recreated"
                ),
            ));
        }
        _ => {}
    }
    bound["uid"] = json!(uid);
    bound["apiVersion"] = json!("v1");
    Ok(Some((pod_name, uid)))
}

/// `POST /apis/authentication.k8s.io/v1/tokenreviews`.
pub(crate) fn review(app: &App, req: &Req) -> axum::response::Response {
    let mut body = match body(req) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let token = body["spec"]["token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if token.is_empty() {
        return bad_request("token is required for TokenReview in authentication");
    }
    let mut wanted = string_list(&body["spec"]["audiences"]);
    if wanted.is_empty() {
        wanted.push(API_AUDIENCE.to_owned());
    }
    let status = match authenticate(app, &token, &wanted) {
        Ok((user, audiences)) => {
            json!({"authenticated": true, "user": user, "audiences": audiences})
        }
        Err(error) => json!({"user": {}, "error": error}),
    };
    body["apiVersion"] = json!("authentication.k8s.io/v1");
    body["kind"] = json!("TokenReview");
    body["metadata"] = json!({"creationTimestamp": null});
    body["status"] = status;
    json_response(201, &body)
}

/// The user and matched audiences of a valid token, or why it is not.
fn authenticate(app: &App, token: &str, wanted: &[String]) -> Result<(Value, Vec<String>), String> {
    let invalid = |why: &str| format!("[invalid bearer token, {why}]");
    let Some(issued) = app.service_account_tokens.lookup(token) else {
        return Err(invalid(
            "token is not one kube-sim issued, or it has expired",
        ));
    };
    let audiences: Vec<String> = issued
        .audiences
        .iter()
        .filter(|a| wanted.contains(a))
        .cloned()
        .collect();
    if audiences.is_empty() {
        return Err(invalid(&format!(
            "token audiences {:?} is invalid for the target audiences {:?}",
            issued.audiences, wanted
        )));
    }
    let store = &app.state.store;
    let sa_uid = store
        .get(
            &core("serviceaccounts"),
            &issued.namespace,
            &issued.service_account,
        )
        .map(|sa| meta::uid(&sa).to_owned())
        .unwrap_or_default();
    if sa_uid != issued.service_account_uid {
        return Err(invalid(&format!(
            "service account {}/{} has been deleted",
            issued.namespace, issued.service_account
        )));
    }
    let mut extra = serde_json::Map::new();
    if let Some((pod, uid)) = &issued.pod {
        let current = store
            .get(&core("pods"), &issued.namespace, pod)
            .map(|p| meta::uid(&p).to_owned())
            .unwrap_or_default();
        if &current != uid {
            return Err(invalid(&format!(
                "pod {}/{pod} (uid {uid}) the token is bound to no longer exists",
                issued.namespace
            )));
        }
        extra.insert("authentication.kubernetes.io/pod-name".into(), json!([pod]));
        extra.insert("authentication.kubernetes.io/pod-uid".into(), json!([uid]));
    }
    extra.insert(
        "authentication.kubernetes.io/credential-id".into(),
        json!([format!("JTI={}", issued.id)]),
    );
    let user = json!({
        "username": format!("system:serviceaccount:{}:{}", issued.namespace, issued.service_account),
        "uid": issued.service_account_uid,
        "groups": [
            "system:serviceaccounts",
            format!("system:serviceaccounts:{}", issued.namespace),
            "system:authenticated",
        ],
        "extra": extra,
    });
    Ok((user, audiences))
}

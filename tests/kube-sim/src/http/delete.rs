//! DELETE of one object (DeleteOptions from the body or the query, preconditions,
//! propagation policy, the API server's response shapes) and deletecollection.

use std::sync::Arc;

use axum::response::Response;
use serde_json::{Value, json};

use super::crud::{gr, namespace, render, selector};
use super::errors::{bad_request, json_response, status_error, store_error, success_status};
use super::{App, Req};
use crate::store::{DeleteOptions, DeleteOutcome, ListOptions, PropagationPolicy, meta};

fn delete_options(req: &Req) -> Result<DeleteOptions, Response> {
    let body: Value = if req.body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&req.body)
            .map_err(|e| bad_request(&format!("invalid DeleteOptions: {e}")))?
    };
    let policy = body
        .get("propagationPolicy")
        .and_then(Value::as_str)
        .or_else(|| req.query.get("propagationPolicy"));
    let mut propagation_policy = match policy {
        Some(p) => Some(PropagationPolicy::parse(p).ok_or_else(|| {
            status_error(
                422,
                "Invalid",
                &format!("propagationPolicy: Unsupported value: {p:?}"),
            )
        })?),
        None => None,
    };
    let orphan = body
        .get("orphanDependents")
        .and_then(Value::as_bool)
        .unwrap_or(req.query.flag("orphanDependents"));
    if orphan && propagation_policy.is_none() {
        propagation_policy = Some(PropagationPolicy::Orphan);
    }
    let dry = body
        .get("dryRun")
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|v| v == "All"));
    Ok(DeleteOptions {
        propagation_policy,
        precondition_uid: body
            .pointer("/preconditions/uid")
            .and_then(Value::as_str)
            .map(str::to_owned),
        precondition_resource_version: body
            .pointer("/preconditions/resourceVersion")
            .and_then(Value::as_str)
            .map(str::to_owned),
        grace_period_seconds: body
            .get("gracePeriodSeconds")
            .and_then(Value::as_i64)
            .or_else(|| {
                req.query
                    .get("gracePeriodSeconds")
                    .and_then(|g| g.parse().ok())
            }),
        dry_run: dry || req.query.dry_run(),
    })
}

pub(crate) fn delete(app: &Arc<App>, req: &Req) -> Response {
    let ns = match namespace(req) {
        Ok(ns) => ns,
        Err(r) => return r,
    };
    let opts = match delete_options(req) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let name = req.path.name.as_deref().unwrap_or("");
    let gr = gr(req);
    match app.state.store.delete(&gr, &ns, name, &opts) {
        Ok(DeleteOutcome::Deleted(obj)) => {
            // Like the API server: most built-ins answer with a Success Status, custom
            // resources and pods with the last state of the object.
            if req.info.custom || req.info.plural == "pods" {
                render(req, &obj, 200)
            } else {
                let details = json!({"name": name, "group": gr.group, "kind": gr.resource,
                                     "uid": meta::meta_str(&obj, "uid")});
                json_response(200, &success_status(details))
            }
        }
        Ok(DeleteOutcome::Pending(obj)) => {
            let code = if req.info.plural == "namespaces" {
                200
            } else {
                202
            };
            if req.info.plural == "namespaces" {
                app.state.store.reap_namespaces();
            }
            render(req, &obj, code)
        }
        Err(e) => store_error(&e),
    }
}

pub(crate) fn delete_collection(app: &Arc<App>, req: &Req) -> Response {
    let ns = match namespace(req) {
        Ok(ns) => ns,
        Err(r) => return r,
    };
    let (pred, opts) = match (selector(req), delete_options(req)) {
        (Ok(p), Ok(o)) => (p, o),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let gr = gr(req);
    let lopts = ListOptions {
        namespace: (!ns.is_empty()).then_some(ns.clone()),
        ..Default::default()
    };
    let page = match app.state.store.list_where(&gr, &lopts, pred) {
        Ok(p) => p,
        Err(e) => return store_error(&e),
    };
    let mut items = Vec::new();
    for obj in page.items {
        let ons = meta::namespace(&obj).to_owned();
        if let Ok(out) = app.state.store.delete(&gr, &ons, meta::name(&obj), &opts) {
            items.push((**out.object()).clone());
        }
    }
    json_response(
        200,
        &json!({"kind": format!("{}List", req.info.kind),
        "apiVersion": req.info.api_version_for(&req.path.version),
        "metadata": {"resourceVersion": app.state.store.resource_version().to_string()},
        "items": items}),
    )
}

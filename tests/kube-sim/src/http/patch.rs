//! PATCH: merge, JSON, strategic merge and server-side apply (create if absent, merge,
//! `fieldManager` required, managed fields per manager so re-applying without a field removes
//! it), retried internally on concurrent writes like the API server does.

use std::borrow::Cow;
use std::sync::Arc;

use axum::http::header;
use axum::response::Response;
use serde_json::{Value, json};

use super::crud::{body_object, gr, namespace, render, write_options};
use super::errors::{bad_request, status_error, store_error};
use super::patch_ops::{
    field_paths, field_set, json_patch, merge_patch, remove_path, strategic_merge,
};
use super::{App, Req, field_validation, versions};
use crate::store::{StoreError, meta};

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Merge,
    Json,
    Strategic,
    Apply,
}

const ACCEPTED: &str = "application/json-patch+json, application/merge-patch+json, \
                        application/apply-patch+yaml";

pub(crate) fn patch(app: &Arc<App>, req: &Req, status: bool) -> Response {
    let ns = match namespace(req) {
        Ok(ns) => ns,
        Err(r) => return r,
    };
    let ct = req.header(header::CONTENT_TYPE).unwrap_or("");
    let kind = match ct.split(';').next().unwrap_or("").trim() {
        "application/merge-patch+json" => Kind::Merge,
        "application/json-patch+json" => Kind::Json,
        "application/strategic-merge-patch+json" if !req.info.custom => Kind::Strategic,
        "application/apply-patch+yaml" => Kind::Apply,
        other => {
            return status_error(
                415,
                "UnsupportedMediaType",
                &format!(
                    "the body of the request was in an unknown format - accepted media types include: {ACCEPTED}{} (got {other:?})",
                    if req.info.custom {
                        ""
                    } else {
                        ", application/strategic-merge-patch+json"
                    }
                ),
            );
        }
    };
    let body: Value = if kind == Kind::Apply {
        match body_object(req, &ns) {
            Ok(v) => v,
            Err(r) => return r,
        }
    } else {
        match serde_json::from_slice(&req.body) {
            Ok(v) => v,
            Err(e) => return bad_request(&format!("error decoding patch: {e}")),
        }
    };
    let mode = match field_validation::Mode::of(req) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let manager = req.query.get("fieldManager").map(str::to_owned);
    if kind == Kind::Apply && manager.is_none() {
        return status_error(
            422,
            "Invalid",
            "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
        );
    }
    let gr = gr(req);
    let name = req.path.name.as_deref().unwrap_or("");
    let mut opts = write_options(req);
    if kind == Kind::Apply {
        opts.field_manager = None;
    }
    let store = &app.state.store;
    for _ in 0..20 {
        let current = match store.get(&gr, &ns, name) {
            Ok(c) => c,
            Err(StoreError::NotFound { .. }) if kind == Kind::Apply && !status => {
                let mut obj = body.clone();
                record_apply(
                    &mut obj,
                    None,
                    &body,
                    manager.as_deref().unwrap_or(""),
                    status,
                );
                let checked = match field_validation::check(app, req, mode, &mut obj) {
                    Ok(c) => c,
                    Err(r) => return r,
                };
                let obj = versions::to_stored(&req.info, obj);
                return match store.create_opts(&gr, obj, &opts) {
                    Ok(o) => checked.warn(render(req, &o, 201)),
                    Err(StoreError::AlreadyExists { .. }) => continue,
                    Err(e) => store_error(&e),
                };
            }
            Err(e) => return store_error(&e),
        };
        // Patches are written against the requested API's form of the object.
        let current = versions::to_served(&req.info, &current);
        let mut new = current.as_ref().clone();
        match kind {
            Kind::Merge => merge_patch(&mut new, &body),
            Kind::Strategic => strategic_merge(&mut new, &body),
            Kind::Json => {
                if let Err(e) = json_patch(&mut new, &body) {
                    return status_error(422, "Invalid", &e);
                }
            }
            Kind::Apply => {
                // managedFields in an apply patch are ignored (copied only when it has them).
                let applied = match body.pointer("/metadata/managedFields") {
                    None => Cow::Borrowed(&body),
                    Some(_) => {
                        let mut applied = body.clone();
                        if let Some(m) = applied.get_mut("metadata").and_then(Value::as_object_mut)
                        {
                            m.remove("managedFields");
                        }
                        Cow::Owned(applied)
                    }
                };
                strategic_merge(&mut new, &applied);
                record_apply(
                    &mut new,
                    Some(&current),
                    &body,
                    manager.as_deref().unwrap_or(""),
                    status,
                );
            }
        }
        let user_rv =
            meta::meta_str(&new, "resourceVersion") != meta::meta_str(&current, "resourceVersion");
        let checked = match field_validation::check(app, req, mode, &mut new) {
            Ok(c) => c,
            Err(r) => return r,
        };
        let new = versions::to_stored(&req.info, new);
        match store.update_opts(&gr, new, status, &opts) {
            Err(StoreError::Conflict { .. }) if !user_rv => continue,
            Ok(o) => return checked.warn(render(req, &o, 200)),
            Err(e) => return store_error(&e),
        }
    }
    store_error(&StoreError::Conflict {
        gr,
        name: name.to_owned(),
        reason: "too many concurrent writes".into(),
    })
}

/// Records `manager`'s Apply entry and removes the fields it applied before but not now
/// (unless another manager also owns them).
fn record_apply(
    obj: &mut Value,
    current: Option<&Value>,
    applied: &Value,
    manager: &str,
    status: bool,
) {
    let new_set = field_set(applied, true);
    let entries: Vec<Value> = current
        .and_then(|c| c.pointer("/metadata/managedFields"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let is_mine = |e: &Value| {
        e["manager"] == manager
            && e["operation"] == "Apply"
            && (e.get("subresource").is_some() == status)
    };
    if let Some(prev) = entries.iter().find(|e| is_mine(e)) {
        let (mut old_paths, mut new_paths, mut others) = (Vec::new(), Vec::new(), Vec::new());
        field_paths(&prev["fieldsV1"], &mut Vec::new(), &mut old_paths);
        field_paths(&new_set, &mut Vec::new(), &mut new_paths);
        for e in entries.iter().filter(|e| !is_mine(e)) {
            field_paths(&e["fieldsV1"], &mut Vec::new(), &mut others);
        }
        for p in old_paths {
            if !new_paths.contains(&p) && !others.contains(&p) {
                remove_path(obj, &p);
            }
        }
    }
    let api_version = obj.get("apiVersion").cloned().unwrap_or(Value::Null);
    let mut entry = json!({"manager": manager, "operation": "Apply", "apiVersion": api_version,
        "time": meta::now_rfc3339(), "fieldsType": "FieldsV1", "fieldsV1": new_set});
    if status {
        entry["subresource"] = json!("status");
    }
    let mut list: Vec<Value> = entries.into_iter().filter(|e| !is_mine(e)).collect();
    list.push(entry);
    meta::metadata_mut(obj).insert("managedFields".into(), Value::Array(list));
}

//! Get, list, create, update, delete and deletecollection on resources and the `status`
//! subresource, with list pagination and Table/metadata-only renderings.

use std::sync::Arc;

use axum::http::{Method, header};
use axum::response::Response;
use serde_json::{Value, json};

use super::errors::{
    bad_request, bytes_response, json_response, method_not_allowed, not_found, status_error,
    store_error,
};
use super::request::{Output, decode_body};
use super::selectors::{FieldSelector, LabelSelector};
use super::{App, Req, field_validation, table, versions};
use crate::store::{GroupResource, ListOptions, Store, StoreError, WriteOptions, meta};

pub(crate) async fn handle(app: &Arc<App>, req: Req) -> Response {
    let sub = req.path.subresource.clone();
    if req.info.create_only {
        return match (&req.method, req.path.name.is_some(), sub) {
            (&Method::POST, false, None) => super::tokens::review(app, &req),
            (m, _, _) => method_not_allowed(m.as_str()),
        };
    }
    match (&req.method, req.path.name.is_some(), sub.as_deref()) {
        (&Method::GET, false, None) => {
            if req.path.watch_prefix || req.query.flag("watch") {
                super::watch::serve(app, req).await
            } else {
                list(app, &req)
            }
        }
        (&Method::GET, true, None | Some("status")) if !req.path.watch_prefix => get(app, &req),
        (&Method::GET, true, None) => super::watch::serve(app, req).await,
        (&Method::GET, true, Some("log"))
            if req.info.other_subresources.iter().any(|s| s == "log") =>
        {
            super::logs::serve(app, &req).await
        }
        (&Method::POST, false, None) => create(app, &req),
        (&Method::POST, true, Some("token"))
            if req.info.other_subresources.iter().any(|s| s == "token") =>
        {
            super::tokens::request(app, &req)
        }
        (&Method::PUT, true, None) => update(app, &req, false),
        (&Method::PUT, true, Some("status")) if req.info.status_subresource => {
            update(app, &req, true)
        }
        (&Method::PATCH, true, None) => super::patch::patch(app, &req, false),
        (&Method::PATCH, true, Some("status")) if req.info.status_subresource => {
            super::patch::patch(app, &req, true)
        }
        (&Method::DELETE, true, None) => super::delete::delete(app, &req),
        (&Method::DELETE, false, None) => super::delete::delete_collection(app, &req),
        (_, _, Some(s)) if s != "status" && s != "log" && s != "token" => not_found(),
        (_, _, Some("status")) if !req.info.status_subresource => not_found(),
        (m, _, _) => method_not_allowed(m.as_str()),
    }
}

/// The storage of the requested resource (its own, or the one it is served over).
pub(crate) fn gr(req: &Req) -> GroupResource {
    req.info
        .stored_as
        .clone()
        .unwrap_or_else(|| req.info.group_resource())
}

/// Namespace of the request: from the URL for namespaced kinds, `""` for cluster-scoped.
pub(crate) fn namespace(req: &Req) -> Result<String, Response> {
    match (&req.path.namespace, req.info.namespaced) {
        (Some(ns), true) => Ok(ns.clone()),
        (None, false) => Ok(String::new()),
        (Some(_), false) => Err(not_found()),
        (None, true) if req.path.name.is_none() && req.method == Method::GET => Ok(String::new()),
        (None, true) => Err(not_found()),
    }
}

/// Renders one object per the negotiated output.
pub(crate) fn render(req: &Req, obj: &Value, code: u16) -> Response {
    match req.output {
        Output::Json => json_response(code, &versions::to_served(&req.info, obj)),
        Output::Metadata(v) => json_response(code, &table::partial_metadata(obj, v)),
        Output::Table(v) => {
            let t = table::table(
                &req.info,
                vec![table::row(&req.info, obj, "v1")],
                json!({}),
                v,
            );
            json_response(code, &t)
        }
    }
}

fn get(app: &Arc<App>, req: &Req) -> Response {
    let ns = match namespace(req) {
        Ok(ns) => ns,
        Err(r) => return r,
    };
    let name = req.path.name.as_deref().unwrap_or("");
    match app.state.store.get(&gr(req), &ns, name) {
        Ok(obj) => render(req, &obj, 200),
        Err(e) => store_error(&e),
    }
}

/// Label and field selectors from the query as one predicate.
pub(crate) fn selector(req: &Req) -> Result<impl Fn(&Value) -> bool + use<>, Response> {
    let labels = LabelSelector::parse(req.query.get("labelSelector").unwrap_or(""))
        .map_err(|e| bad_request(&e))?;
    let fields = FieldSelector::parse(
        req.query.get("fieldSelector").unwrap_or(""),
        &req.info.group,
        &req.info.plural,
    )
    .map_err(|e| bad_request(&e))?
    .stored_as(|field| versions::stored_field(&req.info, field));
    Ok(move |o: &Value| labels.matches(o) && fields.matches(o))
}

fn encode_continue(rv: u64, key: &(String, String)) -> String {
    let raw = format!("{rv}/{}/{}", key.0, key.1);
    raw.bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode_continue(token: &str) -> Option<(u64, (String, String))> {
    let bytes: Option<Vec<u8>> = (0..token.len())
        .step_by(2)
        .map(|i| {
            token
                .get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect();
    let raw = String::from_utf8(bytes?).ok()?;
    let mut it = raw.splitn(3, '/');
    let rv = it.next()?.parse().ok()?;
    Some((rv, (it.next()?.to_owned(), it.next()?.to_owned())))
}

fn list(app: &Arc<App>, req: &Req) -> Response {
    let ns = match namespace(req) {
        Ok(ns) => ns,
        Err(r) => return r,
    };
    let pred = match selector(req) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let mut opts = ListOptions {
        namespace: (!ns.is_empty()).then_some(ns),
        limit: req.query.get("limit").and_then(|l| l.parse().ok()),
        after: None,
    };
    let mut snapshot_rv = None;
    if let Some(token) = req.query.get("continue") {
        match decode_continue(token) {
            Some((rv, key)) => {
                snapshot_rv = Some(rv);
                opts.after = Some(key);
            }
            None => return bad_request("continue key is not valid: invalid token"),
        }
    }
    let page = match app.state.store.list_where(&gr(req), &opts, pred) {
        Ok(p) => p,
        Err(e) => return store_error(&e),
    };
    // Continued pages report the first page's version: a watch from it replays anything
    // that changed meanwhile, so nothing is missed.
    let rv = snapshot_rv.unwrap_or(page.resource_version);
    let mut list_meta = json!({"resourceVersion": rv.to_string()});
    if let Some(next) = &page.next {
        list_meta["continue"] = json!(encode_continue(rv, next));
    }
    match req.output {
        Output::Table(v) => {
            let rows = page
                .items
                .iter()
                .map(|o| table::row(&req.info, o, "v1"))
                .collect();
            json_response(200, &table::table(&req.info, rows, list_meta, v))
        }
        Output::Metadata(v) => {
            let items: Vec<Value> = page
                .items
                .iter()
                .map(|o| table::partial_metadata(o, v))
                .collect();
            json_response(
                200,
                &json!({"kind": "PartialObjectMetadataList",
                "apiVersion": format!("meta.k8s.io/{v}"), "metadata": list_meta, "items": items}),
            )
        }
        Output::Json => {
            // Written item by item: no intermediate Value for big lists.
            let head = json!({"kind": format!("{}List", req.info.kind),
                "apiVersion": req.info.api_version_for(&req.path.version), "metadata": list_meta});
            let mut out = serde_json::to_vec(&head).unwrap_or_default();
            out.pop();
            out.extend_from_slice(b",\"items\":[");
            for (i, item) in page.items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                let _ = serde_json::to_writer(&mut out, &*versions::to_served(&req.info, item));
            }
            out.extend_from_slice(b"]}");
            bytes_response(200, out, "application/json")
        }
    }
}

/// The body of a create or update: decoded, checked against the URL, its unknown fields
/// refused or dropped per `fieldValidation`, in its stored form.
fn validated_body(
    app: &Arc<App>,
    req: &Req,
    ns: &str,
) -> Result<(Value, field_validation::Checked), Response> {
    let mode = field_validation::Mode::of(req)?;
    let mut obj = body_object(req, ns)?;
    let checked = field_validation::check(app, req, mode, &mut obj)?;
    Ok((versions::to_stored(&req.info, obj), checked))
}

/// Decodes the body and checks it against the URL (kind, apiVersion, namespace, name).
pub(crate) fn body_object(req: &Req, ns: &str) -> Result<Value, Response> {
    let ct = req.header(header::CONTENT_TYPE);
    let mut obj = decode_body(ct, &req.body).map_err(|(code, msg)| {
        let reason = if code == 415 {
            "UnsupportedMediaType"
        } else {
            "BadRequest"
        };
        status_error(code, reason, &msg)
    })?;
    if !obj.is_object() {
        return Err(bad_request("the body of the request was not a JSON object"));
    }
    let want_av = req.info.api_version_for(&req.path.version);
    match obj.get("apiVersion").and_then(Value::as_str) {
        Some(av) if !av.is_empty() && av != want_av && req.path.subresource.is_none() => {
            return Err(bad_request(&format!(
                "the API version in the data ({av}) does not match the expected API version ({want_av})"
            )));
        }
        _ => obj["apiVersion"] = json!(want_av),
    }
    match obj.get("kind").and_then(Value::as_str) {
        Some(k) if !k.is_empty() && k != req.info.kind => {
            return Err(bad_request(&format!(
                "the kind in the data ({k}) does not match the expected kind ({})",
                req.info.kind
            )));
        }
        _ => obj["kind"] = json!(req.info.kind),
    }
    let md = meta::metadata_mut(&mut obj);
    if req.info.namespaced {
        match md.get("namespace").and_then(Value::as_str) {
            Some(n) if !n.is_empty() && n != ns => {
                return Err(bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            _ => {
                md.insert("namespace".into(), json!(ns));
            }
        }
    }
    if let Some(name) = &req.path.name {
        match md.get("name").and_then(Value::as_str) {
            Some(n) if !n.is_empty() && n != name => {
                return Err(bad_request(&format!(
                    "the name of the object ({n}) does not match the name on the URL ({name})"
                )));
            }
            _ => {
                md.insert("name".into(), json!(name));
            }
        }
    }
    Ok(obj)
}

/// Write options from the query.
pub(crate) fn write_options(req: &Req) -> WriteOptions {
    WriteOptions {
        dry_run: req.query.dry_run(),
        field_manager: req
            .query
            .get("fieldManager")
            .map(str::to_owned)
            .or_else(|| {
                req.header(header::USER_AGENT)
                    .map(|ua| ua.split('/').next().unwrap_or(ua).to_owned())
            }),
        keep_status: false,
    }
}

fn create(app: &Arc<App>, req: &Req) -> Response {
    write(app, req, 201, |store, gr, obj, opts| {
        store.create_opts(gr, obj, opts)
    })
}

fn update(app: &Arc<App>, req: &Req, status: bool) -> Response {
    write(app, req, 200, |store, gr, obj, opts| {
        store.update_opts(gr, obj, status, opts)
    })
}

/// A create or update: the validated body written by `op`, answered with `code`.
fn write(
    app: &Arc<App>,
    req: &Req,
    code: u16,
    op: impl FnOnce(&Store, &GroupResource, Value, &WriteOptions) -> Result<Arc<Value>, StoreError>,
) -> Response {
    let ns = match namespace(req) {
        Ok(ns) => ns,
        Err(r) => return r,
    };
    let (obj, checked) = match validated_body(app, req, &ns) {
        Ok(found) => found,
        Err(r) => return r,
    };
    checked.warn(
        match op(&app.state.store, &gr(req), obj, &write_options(req)) {
            Ok(o) => render(req, &o, code),
            Err(e) => store_error(&e),
        },
    )
}

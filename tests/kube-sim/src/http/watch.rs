//! Watch: newline-delimited JSON events over a chunked response, starting from a
//! resourceVersion (replayed from history; too old → an ERROR event with a 410 Status), from
//! a snapshot, or with `sendInitialEvents`; selectors turn updates into ADDED/DELETED when
//! objects enter or leave the selection; BOOKMARKs; `timeoutSeconds`; closed on demand.

use std::borrow::Cow;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::response::Response;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::crud::{gr, namespace, selector};
use super::errors::{bad_request, store_error, store_error_body};
use super::request::Output;
use super::{App, Req, table};
use crate::store::{EventType, ResourceInfo, StoreError, WatchEvent, WatchFrom, meta};

/// What one watcher needs to turn store events into lines.
struct Encoder {
    info: ResourceInfo,
    output: Output,
    api_version: String,
}

impl Encoder {
    fn line(&self, type_: &str, obj: &Value) -> Bytes {
        // Serialized from borrowed parts: every watcher of every event would otherwise copy
        // the whole object first.
        #[derive(serde::Serialize)]
        struct Line<'a, T: serde::Serialize> {
            #[serde(rename = "type")]
            type_: &'a str,
            object: T,
        }
        #[derive(serde::Serialize)]
        #[serde(rename_all = "camelCase")]
        struct PartialMetadata<'a> {
            kind: &'a str,
            api_version: String,
            metadata: &'a Value,
        }
        let empty = json!({});
        let out = match self.output {
            Output::Json => {
                let object = super::versions::to_served(&self.info, obj);
                serde_json::to_vec(&Line {
                    type_,
                    object: object.as_ref(),
                })
            }
            Output::Metadata(v) => serde_json::to_vec(&Line {
                type_,
                object: PartialMetadata {
                    kind: "PartialObjectMetadata",
                    api_version: format!("meta.k8s.io/{v}"),
                    metadata: obj.get("metadata").unwrap_or(&empty),
                },
            }),
            Output::Table(v) => serde_json::to_vec(&Line {
                type_,
                object: table::table(
                    &self.info,
                    vec![table::row(&self.info, obj, "v1")],
                    json!({}),
                    v,
                ),
            }),
        };
        let mut out = out.unwrap_or_default();
        out.push(b'\n');
        Bytes::from(out)
    }

    fn bookmark(&self, rv: u64, initial_end: bool) -> Bytes {
        let mut md = json!({"resourceVersion": rv.to_string()});
        if initial_end {
            md["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let (kind, av) = match self.output {
            Output::Json => (self.info.kind.clone(), self.api_version.clone()),
            Output::Metadata(v) => (
                "PartialObjectMetadata".to_owned(),
                format!("meta.k8s.io/{v}"),
            ),
            Output::Table(v) => ("Table".to_owned(), format!("meta.k8s.io/{v}")),
        };
        let mut out = serde_json::to_vec(&json!({"type": "BOOKMARK",
            "object": {"kind": kind, "apiVersion": av, "metadata": md}}))
        .unwrap_or_default();
        out.push(b'\n');
        Bytes::from(out)
    }

    /// The line for an event as seen through the selector, if the watcher sees it at all.
    fn event(
        &self,
        ev: &WatchEvent,
        pred: &dyn Fn(&Value) -> bool,
        filtered: bool,
    ) -> Option<Bytes> {
        let now = pred(&ev.object);
        let before = ev.previous.as_deref().map(pred);
        let (type_, obj): (&str, Cow<'_, Value>) = match (ev.type_, now, before) {
            (EventType::Added, true, _) => ("ADDED", Cow::Borrowed(&*ev.object)),
            (EventType::Modified, true, Some(false)) => ("ADDED", Cow::Borrowed(&*ev.object)),
            (EventType::Modified, true, _) => ("MODIFIED", Cow::Borrowed(&*ev.object)),
            (EventType::Modified, false, Some(true)) => {
                let mut old = ev.previous.as_deref().cloned().unwrap_or_default();
                meta::metadata_mut(&mut old).insert(
                    "resourceVersion".into(),
                    json!(ev.resource_version.to_string()),
                );
                ("DELETED", Cow::Owned(old))
            }
            (EventType::Deleted, true, _) => ("DELETED", Cow::Borrowed(&*ev.object)),
            _ => return None,
        };
        if !filtered && self.output == Output::Json && type_ == ev.type_.as_str() {
            return Some(ev.json_line());
        }
        Some(self.line(type_, &obj))
    }
}

pub(crate) async fn serve(app: &Arc<App>, req: Req) -> Response {
    let ns = match namespace(&req) {
        Ok(ns) => ns,
        Err(r) => return r,
    };
    let pred = match selector(&req) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let mut filtered =
        req.query.get("labelSelector").is_some() || req.query.get("fieldSelector").is_some();
    let name_filter = req.path.name.clone();
    if name_filter.is_some() {
        filtered = true;
    }
    let pred =
        move |o: &Value| pred(o) && name_filter.as_deref().is_none_or(|n| meta::name(o) == n);
    let q = &req.query;
    let initial_events = q.flag("sendInitialEvents");
    let bookmarks = q.flag("allowWatchBookmarks");
    if initial_events && (q.get("resourceVersionMatch") != Some("NotOlderThan") || !bookmarks) {
        return bad_request(
            "sendInitialEvents requires resourceVersionMatch=NotOlderThan and allowWatchBookmarks=true",
        );
    }
    let from = match q.get("resourceVersion") {
        _ if initial_events => WatchFrom::Snapshot,
        None | Some("0") => WatchFrom::Snapshot,
        Some(rv) => match rv.parse() {
            Ok(n) => WatchFrom::Version(n),
            Err(_) => return bad_request(&format!("resourceVersion: Invalid value: {rv:?}")),
        },
    };
    let enc = Encoder {
        api_version: req.info.api_version_for(&req.path.version),
        info: req.info.clone(),
        output: req.output,
    };
    let timeout = [
        q.get("timeoutSeconds")
            .and_then(|t| t.parse::<u64>().ok())
            .map(Duration::from_secs),
        q.get("timeout").and_then(parse_go_duration),
    ]
    .into_iter()
    .flatten()
    .min();
    let (tx, rx) = mpsc::channel::<Result<Bytes, Infallible>>(256);
    let store = app.state.store.clone();
    let ns_filter = (!ns.is_empty()).then_some(ns);
    match store.watch(&gr(&req), ns_filter.as_deref(), from) {
        Err(e @ StoreError::Gone { .. }) => {
            app.stats
                .watches_gone
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let line =
                serde_json::to_vec(&json!({"type": "ERROR", "object": store_error_body(&e)}));
            let mut line = line.unwrap_or_default();
            line.push(b'\n');
            let _ = tx.try_send(Ok(Bytes::from(line)));
        }
        Err(e) => return store_error(&e),
        Ok(mut watch) => {
            app.stats
                .watches_started
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let mut closer = app.close_watches.subscribe();
            let interval = app.bookmark_interval;
            let deadline = timeout.map(|t| Instant::now() + t);
            tokio::spawn(async move {
                let start_rv = watch.start_resource_version;
                let mut last_rv = match from {
                    WatchFrom::Version(v) => v,
                    _ => start_rv,
                };
                if initial_events {
                    while watch.pending_initial() > 0 {
                        let Some(Ok(ev)) = watch.try_next() else {
                            break;
                        };
                        if let Some(line) = enc.event(&ev, &pred, filtered)
                            && tx.send(Ok(line)).await.is_err()
                        {
                            return;
                        }
                    }
                    if tx.send(Ok(enc.bookmark(start_rv, true))).await.is_err() {
                        return;
                    }
                }
                let mut tick = tokio::time::interval_at(Instant::now() + interval, interval);
                let sleep_until =
                    deadline.unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400 * 365));
                loop {
                    tokio::select! {
                        ev = watch.next() => {
                            let Ok(ev) = ev else { break };
                            if !matches!(from, WatchFrom::Snapshot) || watch.pending_initial() == 0 {
                                last_rv = last_rv.max(ev.resource_version);
                            }
                            if let Some(line) = enc.event(&ev, &pred, filtered)
                                && tx.send(Ok(line)).await.is_err()
                            {
                                break;
                            }
                        }
                        _ = tick.tick(), if bookmarks => {
                            // Everything up to `now` is already in our channel: drain it, then
                            // the bookmark promises nothing older is still to come.
                            let now = store.resource_version();
                            let mut failed = false;
                            while let Some(next) = watch.try_next() {
                                let Ok(ev) = next else { failed = true; break };
                                last_rv = last_rv.max(ev.resource_version);
                                if let Some(line) = enc.event(&ev, &pred, filtered)
                                    && tx.send(Ok(line)).await.is_err()
                                {
                                    failed = true;
                                    break;
                                }
                            }
                            if failed {
                                break;
                            }
                            last_rv = last_rv.max(now);
                            if tx.send(Ok(enc.bookmark(last_rv, false))).await.is_err() {
                                break;
                            }
                        }
                        _ = closer.changed() => break,
                        _ = tokio::time::sleep_until(sleep_until) => break,
                        _ = tx.closed() => break,
                    }
                }
            });
        }
    }
    let stream = tokio_stream::wrappers::ReceiverStream::new(rx);
    let mut resp = Response::new(Body::from_stream(stream));
    resp.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    resp
}

/// Parses Go durations as kubectl sends them in `?timeout=` (`3s`, `1m0s`, `500ms`).
fn parse_go_duration(s: &str) -> Option<Duration> {
    let mut total = Duration::ZERO;
    let mut num = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let mut unit = c.to_string();
        if c == 'm' && chars.peek() == Some(&'s') {
            unit.push('s');
            chars.next();
        }
        let n: f64 = num.parse().ok()?;
        num.clear();
        let secs = match unit.as_str() {
            "h" => n * 3600.0,
            "m" => n * 60.0,
            "s" => n,
            "ms" => n / 1000.0,
            _ => return None,
        };
        total += Duration::from_secs_f64(secs);
    }
    (num.is_empty() && !total.is_zero()).then_some(total)
}

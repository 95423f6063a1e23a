//! `pods/log`: a container's captured output from the [`crate::logs::LogStore`], with
//! `container`, `tailLines`, `limitBytes` and `follow`, and the API server's errors for a
//! missing container name or a container that has not started.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use serde_json::Value;

use super::crud::{gr, namespace};
use super::errors::{bad_request, bytes_response, store_error};
use super::{App, Req};

fn names(pod: &Value, field: &str) -> Vec<String> {
    pod.pointer(&format!("/spec/{field}"))
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .filter_map(|c| c["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn container_state<'a>(pod: &'a Value, container: &str) -> Option<&'a Value> {
    ["containerStatuses", "initContainerStatuses"]
        .iter()
        .find_map(|f| {
            pod.pointer(&format!("/status/{f}"))
                .and_then(Value::as_array)?
                .iter()
                .find(|s| s["name"] == container)
                .and_then(|s| s.get("state"))
        })
}

fn tail(log: &[u8], lines: Option<usize>) -> &[u8] {
    let Some(n) = lines else { return log };
    if n == 0 {
        return &[];
    }
    let body = log.strip_suffix(b"\n").unwrap_or(log);
    let mut seen = 0;
    for (i, b) in body.iter().enumerate().rev() {
        if *b == b'\n' {
            seen += 1;
            if seen == n {
                return &log[i + 1..];
            }
        }
    }
    log
}

pub(crate) async fn serve(app: &Arc<App>, req: &Req) -> Response {
    let ns = match namespace(req) {
        Ok(ns) => ns,
        Err(r) => return r,
    };
    let name = req.path.name.clone().unwrap_or_default();
    let pod = match app.state.store.get(&gr(req), &ns, &name) {
        Ok(p) => p,
        Err(e) => return store_error(&e),
    };
    let containers = names(&pod, "containers");
    let init = names(&pod, "initContainers");
    let container = match req.query.get("container") {
        Some(c) => c.to_owned(),
        None if containers.len() == 1 => containers[0].clone(),
        None => {
            let mut msg = format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                containers.join(" ")
            );
            if !init.is_empty() {
                msg.push_str(&format!(
                    " or one of the init containers: [{}]",
                    init.join(" ")
                ));
            }
            return bad_request(&msg);
        }
    };
    if !containers.contains(&container) && !init.contains(&container) {
        return bad_request(&format!(
            "container {container} is not valid for pod {name}"
        ));
    }
    let logs = &app.state.logs;
    let Some(log) = logs.get(&ns, &name, &container) else {
        let reason = container_state(&pod, &container)
            .and_then(|s| s.pointer("/waiting/reason"))
            .and_then(Value::as_str)
            .unwrap_or("ContainerCreating");
        return bad_request(&format!(
            "container \"{container}\" in pod \"{name}\" is waiting to start: {reason}"
        ));
    };
    let lines = req.query.get("tailLines").and_then(|t| t.parse().ok());
    let limit = req
        .query
        .get("limitBytes")
        .and_then(|t| t.parse::<usize>().ok());
    let mut first = tail(&log, lines).to_vec();
    if let Some(l) = limit {
        first.truncate(l);
    }
    if !req.query.flag("follow") {
        return bytes_response(200, first, "text/plain");
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, Infallible>>(16);
    let state = app.state.clone();
    let gr = gr(req);
    let mut sent = log.len();
    tokio::spawn(async move {
        if tx.send(Ok(Bytes::from(first))).await.is_err() {
            return;
        }
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let done = match state.store.get(&gr, &ns, &name) {
                Ok(p) => {
                    container_state(&p, &container).is_some_and(|s| s.get("terminated").is_some())
                }
                Err(_) => true,
            };
            let now = state.logs.get(&ns, &name, &container).unwrap_or_default();
            if now.len() > sent {
                if tx
                    .send(Ok(Bytes::copy_from_slice(&now[sent..])))
                    .await
                    .is_err()
                {
                    return;
                }
                sent = now.len();
            }
            if done {
                return;
            }
        }
    });
    let mut resp = Response::new(Body::from_stream(
        tokio_stream::wrappers::ReceiverStream::new(rx),
    ));
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    resp
}

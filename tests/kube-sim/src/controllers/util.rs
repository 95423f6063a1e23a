//! Small helpers shared by the workload controllers: owner references, pods from templates,
//! status conditions that keep their transition time, field accessors.

use serde_json::{Map, Value, json};

use super::cache::ObjRef;
use crate::store::{GroupResource, meta};

/// The key of an object of `gr`.
pub fn key_of(gr: &GroupResource, obj: &Value) -> ObjRef {
    (
        gr.clone(),
        meta::namespace(obj).to_string(),
        meta::name(obj).to_string(),
    )
}

/// A controller owner reference to `owner` (`controller` and `blockOwnerDeletion` true).
pub fn controller_ref(owner: &Value) -> Value {
    json!({
        "apiVersion": owner.get("apiVersion").and_then(Value::as_str).unwrap_or(""),
        "kind": owner.get("kind").and_then(Value::as_str).unwrap_or(""),
        "name": meta::name(owner),
        "uid": meta::meta_str(owner, "uid"),
        "controller": true,
        "blockOwnerDeletion": true,
    })
}

/// An integer field, with a default.
pub fn int(obj: &Value, pointer: &str, default: i64) -> i64 {
    obj.pointer(pointer)
        .and_then(Value::as_i64)
        .unwrap_or(default)
}

/// A string→string map field (labels, annotations, matchLabels), empty when missing.
pub fn string_map(obj: &Value, pointer: &str) -> Map<String, Value> {
    obj.pointer(pointer)
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

/// Whether the object is being deleted.
pub fn deleting(obj: &Value) -> bool {
    obj.pointer("/metadata/deletionTimestamp").is_some()
}

/// A Pod from a pod template: the template's labels (plus `extra_labels`) and annotations,
/// an owner reference to `owner`, and the template's spec.
pub fn pod_from_template(
    owner: &Value,
    template: &Value,
    name: Option<&str>,
    extra_labels: &Map<String, Value>,
) -> Value {
    let mut labels = string_map(template, "/metadata/labels");
    labels.extend(extra_labels.clone());
    let mut metadata = json!({
        "namespace": meta::namespace(owner),
        "labels": labels,
        "ownerReferences": [controller_ref(owner)],
    });
    match name {
        Some(n) => metadata["name"] = json!(n),
        None => metadata["generateName"] = json!(format!("{}-", meta::name(owner))),
    }
    let annotations = string_map(template, "/metadata/annotations");
    if !annotations.is_empty() {
        metadata["annotations"] = Value::Object(annotations);
    }
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": template.get("spec").cloned().unwrap_or_else(|| json!({})),
    })
}

/// A status condition; its `lastTransitionTime` (and `lastUpdateTime`, when `with_update`) is
/// kept from `previous` when type, status and reason are unchanged, so rewriting the same
/// status changes nothing.
pub fn condition(
    previous: Option<&Value>,
    type_: &str,
    status: bool,
    reason: &str,
    message: &str,
    with_update: bool,
) -> Value {
    let status = if status { "True" } else { "False" };
    let old = previous
        .and_then(|s| s.get("conditions"))
        .and_then(Value::as_array)
        .and_then(|cs| {
            cs.iter()
                .find(|c| c.get("type").and_then(Value::as_str) == Some(type_))
        });
    let same = old.is_some_and(|c| {
        c.get("status").and_then(Value::as_str) == Some(status)
            && c.get("reason").and_then(Value::as_str) == Some(reason)
    });
    let time = match old {
        Some(c) if same => c.get("lastTransitionTime").cloned().unwrap_or(Value::Null),
        _ => json!(meta::now_rfc3339()),
    };
    let mut c = json!({"type": type_, "status": status, "reason": reason, "message": message,
                       "lastTransitionTime": time});
    if with_update {
        c["lastUpdateTime"] = match old {
            Some(o) if same => o.get("lastUpdateTime").cloned().unwrap_or(time),
            _ => time,
        };
    } else {
        c["lastProbeTime"] = match old {
            Some(o) if same => o.get("lastProbeTime").cloned().unwrap_or(time),
            _ => time,
        };
    }
    c
}

/// Whether a pod counts as ready (the kubelet sets phase Running and the Ready condition).
pub fn pod_ready(pod: &Value) -> bool {
    pod.pointer("/status/phase").and_then(Value::as_str) == Some("Running")
        && pod
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .is_some_and(|cs| {
                cs.iter()
                    .any(|c| c["type"] == "Ready" && c["status"] == "True")
            })
}

/// `status.phase` of a pod.
pub fn phase(pod: &Value) -> &str {
    pod.pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("Pending")
}

//! Server-side printing: `Table` rows for `kubectl get` (CRD printer columns evaluated from
//! their JSONPaths, built-in columns), and `PartialObjectMetadata` for metadata-only clients.

use serde_json::{Value, json};

use crate::store::{PrinterColumn, ResourceInfo};

/// `{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/<v>","metadata":...}`.
pub fn partial_metadata(obj: &Value, version: &str) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": format!("meta.k8s.io/{version}"),
        "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

/// The column definitions of a Table: Name, then the resource's printer columns.
pub fn column_definitions(info: &ResourceInfo) -> Value {
    let mut cols = vec![json!({"name": "Name", "type": "string", "format": "name",
        "description": "Name must be unique within a namespace.", "priority": 0})];
    for c in &info.printer_columns {
        cols.push(
            json!({"name": c.name, "type": if c.type_ == "date" { "string" } else { &c.type_ },
            "format": c.format, "description": c.description, "priority": c.priority}),
        );
    }
    Value::Array(cols)
}

/// One Table row for an object.
pub fn row(info: &ResourceInfo, obj: &Value, meta_version: &str) -> Value {
    let mut cells = vec![json!(crate::store::meta::name(obj))];
    for c in &info.printer_columns {
        cells.push(cell(c, obj));
    }
    json!({"cells": cells, "object": partial_metadata(obj, meta_version)})
}

/// A whole Table.
pub fn table(info: &ResourceInfo, rows: Vec<Value>, list_meta: Value, version: &str) -> Value {
    json!({"kind": "Table", "apiVersion": format!("meta.k8s.io/{version}"),
           "metadata": list_meta, "columnDefinitions": column_definitions(info), "rows": rows})
}

fn cell(c: &PrinterColumn, obj: &Value) -> Value {
    let v = match c.json_path.as_str() {
        "#podReady" => {
            let total = obj
                .pointer("/spec/containers")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            let ready = statuses(obj)
                .filter(|s| s.get("ready") == Some(&json!(true)))
                .count();
            json!(format!("{ready}/{total}"))
        }
        "#podRestarts" => json!(
            statuses(obj)
                .filter_map(|s| s.get("restartCount").and_then(Value::as_i64))
                .sum::<i64>()
        ),
        "#readyOfReplicas" => {
            let ready = obj
                .pointer("/status/readyReplicas")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            let want = obj
                .pointer("/spec/replicas")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            json!(format!("{ready}/{want}"))
        }
        "#jobStatus" => json!(job_status(obj)),
        "#nodeStatus" => json!(node_status(obj)),
        "#nodeRoles" => json!(node_roles(obj)),
        "#nodeInternalIP" => json!(node_address(obj, "InternalIP")),
        "#nodeExternalIP" => json!(node_address(obj, "ExternalIP")),
        "#podStatus" => json!(pod_status(obj)),
        "#suspend" => json!(
            obj.pointer("/spec/suspend")
                .and_then(Value::as_bool)
                .unwrap_or(false)
        ),
        "#jobCompletions" => {
            let done = obj
                .pointer("/status/succeeded")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            let want = obj
                .pointer("/spec/completions")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            json!(format!("{done}/{want}"))
        }
        // kubectl's "LAST SEEN": the deprecated lastTimestamp, else the series' last
        // observation, else the event time (events.k8s.io recorders set only those).
        "#eventLastSeen" => ["/lastTimestamp", "/series/lastObservedTime", "/eventTime"]
            .iter()
            .find_map(|p| obj.pointer(p).filter(|v| v.is_string()))
            .cloned()
            .unwrap_or(Value::Null),
        path => jsonpath(obj, path).cloned().unwrap_or(Value::Null),
    };
    if c.type_ == "date" {
        return match v.as_str().and_then(|s| s.parse::<jiff::Timestamp>().ok()) {
            Some(t) => json!(human_duration(
                jiff::Timestamp::now().as_second() - t.as_second()
            )),
            None => json!("<unknown>"),
        };
    }
    v
}

fn statuses(obj: &Value) -> impl Iterator<Item = &Value> {
    obj.pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// The STATUS column of `kubectl get pods`: a container's waiting/terminated reason, or
/// the phase (`Completed` for Succeeded), or `Terminating`.
fn pod_status(obj: &Value) -> String {
    if obj.pointer("/metadata/deletionTimestamp").is_some() {
        return "Terminating".into();
    }
    let phase = obj
        .pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("Pending");
    let reason = statuses(obj).find_map(|s| {
        ["/state/waiting/reason", "/state/terminated/reason"]
            .iter()
            .find_map(|p| s.pointer(p).and_then(Value::as_str))
    });
    match (phase, reason) {
        ("Succeeded", _) => "Completed".into(),
        (_, Some(r)) => r.to_owned(),
        (p, None) => p.to_owned(),
    }
}

/// The STATUS column of `kubectl get nodes`: `Ready`, `NotReady` or `Unknown`, plus
/// `,SchedulingDisabled` when cordoned.
fn node_status(obj: &Value) -> String {
    let ready = obj
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
        .and_then(|c| c["status"].as_str());
    let mut status = match ready {
        Some("True") => "Ready",
        Some("False") => "NotReady",
        _ => "Unknown",
    }
    .to_owned();
    if obj.pointer("/spec/unschedulable") == Some(&json!(true)) {
        status.push_str(",SchedulingDisabled");
    }
    status
}

/// The ROLES column: the `node-role.kubernetes.io/<role>` labels, or `<none>`.
fn node_roles(obj: &Value) -> String {
    let roles: Vec<&str> = obj
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, _)| k.strip_prefix("node-role.kubernetes.io/"))
        .filter(|r| !r.is_empty())
        .collect();
    if roles.is_empty() {
        "<none>".into()
    } else {
        roles.join(",")
    }
}

/// The first address of a type, or `<none>`.
fn node_address(obj: &Value, type_: &str) -> String {
    obj.pointer("/status/addresses")
        .and_then(Value::as_array)
        .and_then(|a| a.iter().find(|x| x["type"] == type_))
        .and_then(|x| x["address"].as_str())
        .unwrap_or("<none>")
        .to_owned()
}

fn job_status(obj: &Value) -> &'static str {
    let conds = obj.pointer("/status/conditions").and_then(Value::as_array);
    let has = |t: &str| {
        conds.is_some_and(|cs| cs.iter().any(|c| c["type"] == t && c["status"] == "True"))
    };
    if has("Complete") {
        "Complete"
    } else if has("Failed") {
        "Failed"
    } else {
        "Running"
    }
}

/// Evaluates a simple JSONPath: `.a.b`, `[0]`, `[*]` (first element), and
/// `[?(@.key=="value")]` filters; returns the first match.
#[allow(clippy::cmp_owned)] // numbers and booleans compare by their JSON text
pub fn jsonpath<'a>(obj: &'a Value, path: &str) -> Option<&'a Value> {
    let path = path.trim().trim_start_matches('{').trim_end_matches('}');
    let path = path.strip_prefix('$').unwrap_or(path);
    let mut cur = obj;
    let mut rest = path;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            if end > 0 {
                cur = cur.get(&r[..end])?;
            }
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let inner = &r[..end];
            rest = &r[end + 1..];
            let arr = cur.as_array();
            cur = if inner == "*" {
                arr?.first()?
            } else if let Ok(i) = inner.parse::<usize>() {
                arr?.get(i)?
            } else if let Some(filter) =
                inner.strip_prefix("?(@.").and_then(|f| f.strip_suffix(')'))
            {
                let (key, want) = filter.split_once("==")?;
                let want = want.trim().trim_matches(|c| c == '"' || c == '\'');
                arr?.iter().find(|e| {
                    jsonpath(e, &format!(".{}", key.trim())).is_some_and(|v| match v {
                        Value::String(s) => s == want,
                        other => {
                            *other == Value::String(want.to_owned()) || other.to_string() == want
                        }
                    })
                })?
            } else {
                cur.get(inner.trim_matches(|c| c == '"' || c == '\''))?
            };
        } else {
            return None;
        }
    }
    Some(cur)
}

/// The API server's short age format (`45s`, `3m12s`, `5h`, `2d3h`, ...).
pub fn human_duration(secs: i64) -> String {
    if secs < -1 {
        return "<invalid>".into();
    }
    let s = secs.max(0);
    let (m, h, d) = (s / 60, s / 3600, s / 86400);
    match () {
        _ if s < 120 => format!("{s}s"),
        _ if m < 10 => match s % 60 {
            0 => format!("{m}m"),
            r => format!("{m}m{r}s"),
        },
        _ if m < 180 => format!("{m}m"),
        _ if h < 8 => match m % 60 {
            0 => format!("{h}h"),
            r => format!("{h}h{r}m"),
        },
        _ if h < 48 => format!("{h}h"),
        _ if h < 192 => match h % 24 {
            0 => format!("{d}d"),
            r => format!("{d}d{r}h"),
        },
        _ if d < 730 => format!("{d}d"),
        _ => format!("{}y", d / 365),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn jsonpaths() {
        let o = json!({"report": {"summary": {"criticalCount": 3}},
            "status": {"conditions": [{"type": "A", "status": "False"}, {"type": "Ready", "status": "True"}]}});
        assert_eq!(
            jsonpath(&o, ".report.summary.criticalCount"),
            Some(&json!(3))
        );
        assert_eq!(
            jsonpath(&o, ".status.conditions[?(@.type==\"Ready\")].status"),
            Some(&json!("True"))
        );
        assert_eq!(
            jsonpath(&o, ".status.conditions[0].type"),
            Some(&json!("A"))
        );
        assert_eq!(jsonpath(&o, ".nope.x"), None);
    }

    #[test]
    fn durations() {
        assert_eq!(human_duration(5), "5s");
        assert_eq!(human_duration(190), "3m10s");
        assert_eq!(human_duration(3600 * 5), "5h");
        assert_eq!(human_duration(86400 * 3 + 3600), "3d1h");
    }
}

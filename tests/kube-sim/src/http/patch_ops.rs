//! Patch algorithms: JSON merge patch (RFC 7386), JSON patch (RFC 6902), strategic merge
//! patch (merge by key for the well-known lists of the core types), and managed-field sets
//! for server-side apply.

use serde_json::{Map, Value, json};

/// RFC 7386: maps merge recursively, `null` deletes, everything else replaces.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(t) = target {
        for (k, v) in p {
            if v.is_null() {
                t.remove(k);
            } else {
                merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}

fn unescape(s: &str) -> String {
    s.replace("~1", "/").replace("~0", "~")
}

fn split_pointer(path: &str) -> Result<(String, String), String> {
    if !path.starts_with('/') {
        return Err(format!("invalid JSON pointer {path:?}"));
    }
    let idx = path.rfind('/').unwrap_or(0);
    Ok((path[..idx].to_owned(), unescape(&path[idx + 1..])))
}

fn add(doc: &mut Value, path: &str, value: Value) -> Result<(), String> {
    if path.is_empty() {
        *doc = value;
        return Ok(());
    }
    let (parent, key) = split_pointer(path)?;
    let target = doc
        .pointer_mut(&parent)
        .ok_or_else(|| format!("doc is missing path: {path:?}"))?;
    match target {
        Value::Object(m) => {
            m.insert(key, value);
        }
        Value::Array(a) => {
            let idx = if key == "-" {
                a.len()
            } else {
                key.parse().map_err(|_| format!("invalid index {key:?}"))?
            };
            if idx > a.len() {
                return Err(format!("index out of range: {path:?}"));
            }
            a.insert(idx, value);
        }
        _ => return Err(format!("doc is missing path: {path:?}")),
    }
    Ok(())
}

fn remove(doc: &mut Value, path: &str) -> Result<Value, String> {
    let (parent, key) = split_pointer(path)?;
    let missing = || format!("doc is missing path: {path:?}");
    match doc.pointer_mut(&parent).ok_or_else(missing)? {
        Value::Object(m) => m.remove(&key).ok_or_else(missing),
        Value::Array(a) => {
            let idx: usize = key.parse().map_err(|_| missing())?;
            if idx >= a.len() {
                return Err(missing());
            }
            Ok(a.remove(idx))
        }
        _ => Err(missing()),
    }
}

/// RFC 6902 on `doc`; all-or-nothing (the caller discards `doc` on error).
pub fn json_patch(doc: &mut Value, ops: &Value) -> Result<(), String> {
    let ops = ops
        .as_array()
        .ok_or("json patch must be an array of operations")?;
    for op in ops {
        let kind = op
            .get("op")
            .and_then(Value::as_str)
            .ok_or("operation is missing \"op\"")?;
        let path = op
            .get("path")
            .and_then(Value::as_str)
            .ok_or("operation is missing \"path\"")?;
        let value = || {
            op.get("value")
                .cloned()
                .ok_or_else(|| format!("{kind} operation is missing \"value\""))
        };
        let from = || {
            op.get("from")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("{kind} operation is missing \"from\""))
        };
        match kind {
            "add" => add(doc, path, value()?)?,
            "remove" => {
                remove(doc, path)?;
            }
            "replace" => {
                remove(doc, path)?;
                add(doc, path, value()?)?;
            }
            "move" => {
                let v = remove(doc, from()?)?;
                add(doc, path, v)?;
            }
            "copy" => {
                let v = doc
                    .pointer(from()?)
                    .cloned()
                    .ok_or_else(|| format!("doc is missing from path: {path:?}"))?;
                add(doc, path, v)?;
            }
            "test" => {
                let want = value()?;
                if doc.pointer(path) != Some(&want) {
                    return Err(format!("testing value {path} failed: test failed"));
                }
            }
            other => return Err(format!("unexpected kind: {other}")),
        }
    }
    Ok(())
}

/// The merge key of a well-known list field (strategic merge patch), if it has one.
fn merge_key(field: &str, sample: Option<&Value>) -> Option<&'static str> {
    Some(match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "env"
        | "imagePullSecrets" => "name",
        "ports" => {
            if sample.is_some_and(|s| s.get("containerPort").is_some()) {
                "containerPort"
            } else {
                "port"
            }
        }
        "volumeMounts" => "mountPath",
        "volumeDevices" => "devicePath",
        "ownerReferences" => "uid",
        "conditions" => "type",
        "hostAliases" => "ip",
        "topologySpreadConstraints" => "topologyKey",
        _ => return None,
    })
}

/// Strategic merge patch: merge patch, plus merge-by-key for lists with a known merge key,
/// `$patch: delete|replace` directives, and `$setElementOrder`/`$retainKeys`/
/// `$deleteFromPrimitiveList` directives (order is not enforced).
pub fn strategic_merge(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = strip_directives(patch);
        return;
    };
    if p.get("$patch").and_then(Value::as_str) == Some("replace") {
        let mut v = patch.clone();
        if let Some(m) = v.as_object_mut() {
            m.remove("$patch");
        }
        *target = strip_directives(&v);
        return;
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(t) = target else { return };
    for (k, v) in p {
        if k.starts_with("$setElementOrder/") || k == "$retainKeys" || k == "$patch" {
            continue;
        }
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(list)), Some(del)) = (t.get_mut(field), v.as_array()) {
                list.retain(|x| !del.contains(x));
            }
            continue;
        }
        if v.is_null() {
            t.remove(k);
            continue;
        }
        match (t.get_mut(k), v) {
            (Some(Value::Array(cur)), Value::Array(items)) => {
                match merge_key(k, items.first().or(cur.first())) {
                    Some(key) if items.iter().all(Value::is_object) => merge_list(cur, items, key),
                    _ => {
                        t.insert(k.clone(), strip_directives(v));
                    }
                }
            }
            (Some(cur), Value::Object(_)) if cur.is_object() => strategic_merge(cur, v),
            _ => {
                t.insert(k.clone(), strip_directives(v));
            }
        }
    }
}

fn merge_list(cur: &mut Vec<Value>, items: &[Value], key: &str) {
    for item in items {
        let id = item.get(key);
        let pos = cur.iter().position(|c| id.is_some() && c.get(key) == id);
        let delete = item.get("$patch").and_then(Value::as_str) == Some("delete");
        match (pos, delete) {
            (Some(i), true) => {
                cur.remove(i);
            }
            (None, true) => {}
            (Some(i), false) => strategic_merge(&mut cur[i], item),
            (None, false) => cur.push(strip_directives(item)),
        }
    }
}

/// Removes `$...` directive keys from a value that is inserted as a whole.
fn strip_directives(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !k.starts_with('$'))
                .map(|(k, v)| (k.clone(), strip_directives(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(strip_directives).collect()),
        other => other.clone(),
    }
}

/// The `fieldsV1` set of an applied configuration: `f:<key>` for map keys, lists as leaves.
/// `metadata.name/namespace/...` identity fields are not owned, as on the API server.
pub fn field_set(v: &Value, top: bool) -> Value {
    let Value::Object(m) = v else {
        return json!({});
    };
    let mut out = Map::new();
    for (k, child) in m {
        if top && (k == "apiVersion" || k == "kind") {
            continue;
        }
        let sub = if top && k == "metadata" {
            let mut md = child.clone();
            if let Some(mm) = md.as_object_mut() {
                for f in [
                    "name",
                    "namespace",
                    "uid",
                    "resourceVersion",
                    "generation",
                    "creationTimestamp",
                    "managedFields",
                ] {
                    mm.remove(f);
                }
            }
            if md.as_object().is_some_and(Map::is_empty) {
                continue;
            }
            field_set(&md, false)
        } else if child.is_object() && !child.as_object().is_some_and(Map::is_empty) {
            let mut s = field_set(child, false);
            if let Some(sm) = s.as_object_mut() {
                sm.insert(".".into(), json!({}));
            }
            s
        } else {
            json!({})
        };
        out.insert(format!("f:{k}"), sub);
    }
    Value::Object(out)
}

/// Leaf paths of a `fieldsV1` set.
pub fn field_paths(set: &Value, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    let Value::Object(m) = set else { return };
    let children: Vec<(&String, &Value)> = m.iter().filter(|(k, _)| k.starts_with("f:")).collect();
    if children.is_empty() && !prefix.is_empty() {
        out.push(prefix.clone());
    }
    for (k, v) in children {
        prefix.push(k[2..].to_owned());
        field_paths(v, prefix, out);
        prefix.pop();
    }
}

/// Removes the field at `path` from `obj` (and maps left empty by it).
pub fn remove_path(obj: &mut Value, path: &[String]) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    let Some(m) = obj.as_object_mut() else { return };
    if rest.is_empty() {
        m.remove(first);
        return;
    }
    if let Some(child) = m.get_mut(first) {
        remove_path(child, rest);
        if child.as_object().is_some_and(Map::is_empty) {
            m.remove(first);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn merge_and_json_patch() {
        let mut d = json!({"a": {"b": 1, "c": 2}, "l": [1]});
        merge_patch(&mut d, &json!({"a": {"b": null, "d": 3}, "l": [2]}));
        assert_eq!(d, json!({"a": {"c": 2, "d": 3}, "l": [2]}));
        json_patch(
            &mut d,
            &json!([{"op": "add", "path": "/l/-", "value": 5},
                                   {"op": "test", "path": "/a/c", "value": 2},
                                   {"op": "replace", "path": "/a/c", "value": 9}]),
        )
        .unwrap();
        assert_eq!(d, json!({"a": {"c": 9, "d": 3}, "l": [2, 5]}));
        assert!(json_patch(&mut d, &json!([{"op": "test", "path": "/a/c", "value": 1}])).is_err());
    }

    #[test]
    fn strategic_merges_containers_by_name() {
        let mut d = json!({"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}});
        strategic_merge(
            &mut d,
            &json!({"spec": {
            "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
            "containers": [{"name": "b", "image": "z"}, {"name": "a", "$patch": "delete"}]}}),
        );
        assert_eq!(
            d,
            json!({"spec": {"containers": [{"name": "b", "image": "z"}]}})
        );
    }
}

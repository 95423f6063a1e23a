//! A container's environment the way the kubelet builds it: `envFrom`, then `env` in order
//! (`value` with `$(VAR)` expansion, `valueFrom.secretKeyRef`, `configMapKeyRef`, and
//! `fieldRef` for the pod's name, namespace, uid, node, service account and IP), plus the
//! `$(VAR)` expansion of command and args.
//!
//! The base environment is not the image's (there is no image): it is the host's `PATH`,
//! `LANG` and `TMPDIR`, every `TRIVY_DOUBLE_*` variable of the kube-sim process (so a test can
//! point the Trivy double at its map), and `HOSTNAME` = the pod name.

use serde_json::Value;

use crate::store::{GroupResource, Store};

/// A missing Secret/ConfigMap/key: the kubelet reports `CreateContainerConfigError`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// The environment of one container of `pod`, in order (later entries win).
pub fn container_env(
    store: &Store,
    pod: &Value,
    container: &Value,
) -> Result<Vec<(String, String)>, ConfigError> {
    let mut vars: Vec<(String, String)> = base_env();
    set(
        &mut vars,
        "HOSTNAME",
        pod_field(pod, "metadata.name").unwrap_or_default(),
    );
    let namespace = pod_field(pod, "metadata.namespace").unwrap_or_default();
    for from in container
        .get("envFrom")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let prefix = from.get("prefix").and_then(Value::as_str).unwrap_or("");
        let (gr, source) = match (from.get("configMapRef"), from.get("secretRef")) {
            (Some(r), _) => (GroupResource::new("", "configmaps"), r),
            (None, Some(r)) => (GroupResource::new("", "secrets"), r),
            _ => continue,
        };
        let name = source.get("name").and_then(Value::as_str).unwrap_or("");
        let optional = source
            .get("optional")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        match store.get(&gr, &namespace, name) {
            Ok(obj) => {
                for (k, v) in data_entries(&obj) {
                    set(&mut vars, &format!("{prefix}{k}"), v);
                }
            }
            Err(_) if optional => {}
            Err(_) => return Err(missing(&gr, name)),
        }
    }
    for entry in container
        .get("env")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(name) = entry.get("name").and_then(Value::as_str) else {
            continue;
        };
        let value = match (entry.get("value"), entry.get("valueFrom")) {
            (Some(v), _) => expand(v.as_str().unwrap_or(""), &vars),
            (None, Some(from)) => match value_from(store, pod, &namespace, from)? {
                Some(v) => v,
                None => continue,
            },
            (None, None) => String::new(),
        };
        set(&mut vars, name, value);
    }
    Ok(vars)
}

fn value_from(
    store: &Store,
    pod: &Value,
    namespace: &str,
    from: &Value,
) -> Result<Option<String>, ConfigError> {
    if let Some(field) = from.pointer("/fieldRef/fieldPath").and_then(Value::as_str) {
        return Ok(Some(pod_field(pod, field).unwrap_or_default()));
    }
    let (gr, sel) = match (from.get("secretKeyRef"), from.get("configMapKeyRef")) {
        (Some(s), _) => (GroupResource::new("", "secrets"), s),
        (None, Some(c)) => (GroupResource::new("", "configmaps"), c),
        _ => return Ok(None),
    };
    let name = sel.get("name").and_then(Value::as_str).unwrap_or("");
    let key = sel.get("key").and_then(Value::as_str).unwrap_or("");
    let optional = sel
        .get("optional")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let found = match store.get(&gr, namespace, name) {
        Ok(obj) => data_entries(&obj)
            .into_iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v),
        Err(_) if optional => return Ok(None),
        Err(_) => return Err(missing(&gr, name)),
    };
    match found {
        Some(v) => Ok(Some(v)),
        None if optional => Ok(None),
        None => Err(ConfigError(format!(
            "couldn't find key {key} in {} {namespace}/{name}",
            kind(&gr)
        ))),
    }
}

fn missing(gr: &GroupResource, name: &str) -> ConfigError {
    ConfigError(format!("{} \"{name}\" not found", kind(gr).to_lowercase()))
}

fn kind(gr: &GroupResource) -> &'static str {
    if gr.resource == "secrets" {
        "Secret"
    } else {
        "ConfigMap"
    }
}

/// `data` (base64-decoded for Secrets), `stringData` and `binaryData` entries as strings.
fn data_entries(obj: &Value) -> Vec<(String, String)> {
    data_bytes(obj)
        .into_iter()
        .map(|(k, b)| (k, String::from_utf8_lossy(&b).into_owned()))
        .collect()
}

/// The entries of a Secret or ConfigMap (`data`, `binaryData`, `stringData`), decoded; an
/// entry that is not valid base64 is left out.
pub fn data_bytes(obj: &Value) -> Vec<(String, Vec<u8>)> {
    let is_secret = obj.get("kind").and_then(Value::as_str) == Some("Secret");
    let mut out = Vec::new();
    for field in ["data", "binaryData", "stringData"] {
        let encoded = field == "binaryData" || (field == "data" && is_secret);
        for (k, v) in obj
            .get(field)
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let text = v.as_str().unwrap_or("");
            let value = if encoded {
                decode_base64(text)
            } else {
                Some(text.as_bytes().to_vec())
            };
            if let Some(value) = value {
                out.push((k.clone(), value));
            }
        }
    }
    out
}

/// The value of a `fieldRef.fieldPath` the downward API supports.
pub fn pod_field(pod: &Value, path: &str) -> Option<String> {
    let pointer = match path {
        "metadata.name" => "/metadata/name",
        "metadata.namespace" => "/metadata/namespace",
        "metadata.uid" => "/metadata/uid",
        "spec.nodeName" => "/spec/nodeName",
        "spec.serviceAccountName" => "/spec/serviceAccountName",
        "status.podIP" => "/status/podIP",
        "status.hostIP" => "/status/hostIP",
        _ => return None,
    };
    pod.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_string)
}

fn base_env() -> Vec<(String, String)> {
    std::env::vars()
        .filter(|(k, _)| {
            matches!(k.as_str(), "PATH" | "LANG" | "TMPDIR") || k.starts_with("TRIVY_DOUBLE_")
        })
        .collect()
}

fn set(vars: &mut Vec<(String, String)>, name: &str, value: String) {
    vars.retain(|(k, _)| k != name);
    vars.push((name.to_string(), value));
}

/// Kubernetes `$(VAR)` expansion: a defined variable is replaced, `$$` is a literal `$`, and
/// an undefined reference is left as written.
pub fn expand(text: &str, vars: &[(String, String)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some((name, tail)) = after.strip_prefix('(').and_then(|a| a.split_once(')')) {
            match vars.iter().rev().find(|(k, _)| k == name) {
                Some((_, v)) => out.push_str(v),
                None => {
                    out.push_str("$(");
                    out.push_str(name);
                    out.push(')');
                }
            }
            rest = tail;
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// Standard base64 (with or without padding); `None` on invalid input.
pub fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
    {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn expansion() {
        let vars = vec![
            ("A".to_string(), "1".to_string()),
            ("B".to_string(), "x y".to_string()),
        ];
        assert_eq!(expand("$(A)-$(B)", &vars), "1-x y");
        assert_eq!(expand("$$(A) $(C) $A $", &vars), "$(A) $(C) $A $");
    }

    #[test]
    fn base64() {
        assert_eq!(decode_base64("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(decode_base64("aGVsbG8").unwrap(), b"hello");
        assert_eq!(decode_base64("aGk=").unwrap(), b"hi");
        assert_eq!(decode_base64("!!"), None);
    }

    #[test]
    fn resolves_values_secrets_and_fields() {
        let store = Store::new();
        let secrets = GroupResource::new("", "secrets");
        store
            .create(
                &secrets,
                json!({"apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": "s", "namespace": "default"}, "data": {"token": "c2VjcmV0"}}),
            )
            .unwrap();
        let pod = json!({"metadata": {"name": "p", "namespace": "default", "uid": "u1"}});
        let container = json!({"env": [
            {"name": "A", "value": "a"},
            {"name": "B", "value": "$(A)-b"},
            {"name": "T", "valueFrom": {"secretKeyRef": {"name": "s", "key": "token"}}},
            {"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "O", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "k", "optional": true}}},
        ]});
        let env = container_env(&store, &pod, &container).unwrap();
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("B"), Some("a-b"));
        assert_eq!(get("T"), Some("secret"));
        assert_eq!(get("N"), Some("p"));
        assert_eq!(get("HOSTNAME"), Some("p"));
        assert_eq!(get("O"), None);
        let bad = json!({"env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "k"}}}]});
        assert!(container_env(&store, &pod, &bad).is_err());
    }
}

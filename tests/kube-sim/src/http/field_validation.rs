//! Server-side field validation (`?fieldValidation=Strict|Warn|Ignore`, `Warn` when absent),
//! as the API server does it: a field the kind's schema lacks is an error under `Strict`
//! (400 `strict decoding error: unknown field "spec.foo"`), a `Warning` header under `Warn`,
//! and under every mode it is dropped before the object is stored — a real server cannot
//! keep what its types do not have, and prunes what a CRD's structural schema does not
//! declare.
//!
//! Built-in kinds are checked against the Kubernetes types themselves (`k8s-openapi`): the
//! object is decoded and encoded again, and what did not survive is unknown. Custom
//! resources are checked against their CRD's `openAPIV3Schema` for the requested version
//! (`properties`, `additionalProperties`, `items`, `x-kubernetes-preserve-unknown-fields`),
//! their `metadata` against `ObjectMeta`. An object the types cannot decode at all is left
//! to the other checks.

use axum::http::HeaderValue;
use axum::response::Response;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::errors::{bad_request, status_error};
use super::{App, Req};
use crate::store::GroupResource;

/// `?fieldValidation=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Strict,
    Warn,
    Ignore,
}

impl Mode {
    /// The request's mode; an unknown value is refused.
    pub fn of(req: &Req) -> Result<Self, Response> {
        match req.query.get("fieldValidation") {
            None | Some("") | Some("Warn") => Ok(Self::Warn),
            Some("Strict") => Ok(Self::Strict),
            Some("Ignore") => Ok(Self::Ignore),
            Some(other) => Err(bad_request(&format!(
                "fieldValidation: Unsupported value: \"{other}\": supported values: \"Ignore\", \"Strict\", \"Warn\""
            ))),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Key(String),
    Index(usize),
}

fn display(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// Keys of `input` (recursively) that `output` lost; nulls are absent fields.
fn lost(input: &Value, output: &Value, path: &mut Vec<Seg>, out: &mut Vec<Vec<Seg>>) {
    match (input, output) {
        (Value::Object(i), Value::Object(o)) => {
            for (k, v) in i {
                if v.is_null() {
                    continue;
                }
                path.push(Seg::Key(k.clone()));
                match o.get(k) {
                    Some(ov) => lost(v, ov, path, out),
                    None => out.push(path.clone()),
                }
                path.pop();
            }
        }
        (Value::Array(i), Value::Array(o)) if i.len() == o.len() => {
            for (n, (iv, ov)) in i.iter().zip(o).enumerate() {
                path.push(Seg::Index(n));
                lost(iv, ov, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

/// Unknown fields of `obj` for the Kubernetes type `T`; `None` if `T` cannot decode it.
fn typed<T: DeserializeOwned + Serialize>(obj: &Value) -> Option<Vec<Vec<Seg>>> {
    let decoded: T = serde_json::from_value(obj.clone()).ok()?;
    let encoded = serde_json::to_value(&decoded).ok()?;
    let mut out = Vec::new();
    lost(obj, &encoded, &mut Vec::new(), &mut out);
    Some(out)
}

fn builtin(group: &str, kind: &str, obj: &Value) -> Option<Vec<Vec<Seg>>> {
    use k8s_openapi::api::{apps, batch, coordination, core, events, networking, policy, rbac};
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiextensions;
    match (group, kind) {
        ("", "Namespace") => typed::<core::v1::Namespace>(obj),
        ("", "Node") => typed::<core::v1::Node>(obj),
        ("", "Pod") => typed::<core::v1::Pod>(obj),
        ("", "ConfigMap") => typed::<core::v1::ConfigMap>(obj),
        ("", "ResourceQuota") => typed::<core::v1::ResourceQuota>(obj),
        ("", "LimitRange") => typed::<core::v1::LimitRange>(obj),
        ("", "PersistentVolumeClaim") => typed::<core::v1::PersistentVolumeClaim>(obj),
        ("", "PersistentVolume") => typed::<core::v1::PersistentVolume>(obj),
        ("", "Secret") => typed::<core::v1::Secret>(obj),
        ("", "ServiceAccount") => typed::<core::v1::ServiceAccount>(obj),
        ("", "Event") => typed::<core::v1::Event>(obj),
        ("", "Service") => typed::<core::v1::Service>(obj),
        ("", "ReplicationController") => typed::<core::v1::ReplicationController>(obj),
        ("apps", "Deployment") => typed::<apps::v1::Deployment>(obj),
        ("apps", "ReplicaSet") => typed::<apps::v1::ReplicaSet>(obj),
        ("apps", "StatefulSet") => typed::<apps::v1::StatefulSet>(obj),
        ("apps", "DaemonSet") => typed::<apps::v1::DaemonSet>(obj),
        ("apps", "ControllerRevision") => typed::<apps::v1::ControllerRevision>(obj),
        ("batch", "Job") => typed::<batch::v1::Job>(obj),
        ("batch", "CronJob") => typed::<batch::v1::CronJob>(obj),
        ("coordination.k8s.io", "Lease") => typed::<coordination::v1::Lease>(obj),
        ("events.k8s.io", "Event") => typed::<events::v1::Event>(obj),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            typed::<apiextensions::CustomResourceDefinition>(obj)
        }
        ("rbac.authorization.k8s.io", "Role") => typed::<rbac::v1::Role>(obj),
        ("rbac.authorization.k8s.io", "ClusterRole") => typed::<rbac::v1::ClusterRole>(obj),
        ("rbac.authorization.k8s.io", "RoleBinding") => typed::<rbac::v1::RoleBinding>(obj),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding") => {
            typed::<rbac::v1::ClusterRoleBinding>(obj)
        }
        ("networking.k8s.io", "NetworkPolicy") => typed::<networking::v1::NetworkPolicy>(obj),
        ("networking.k8s.io", "Ingress") => typed::<networking::v1::Ingress>(obj),
        ("policy", "PodDisruptionBudget") => typed::<policy::v1::PodDisruptionBudget>(obj),
        _ => None,
    }
}

/// Fields of `v` its structural schema `s` does not declare.
fn by_schema(v: &Value, s: &Value, path: &mut Vec<Seg>, out: &mut Vec<Vec<Seg>>) {
    match v {
        Value::Object(fields) => fields_by_schema(fields.iter(), s, path, out),
        Value::Array(items) => {
            if let Some(item_schema) = s.get("items") {
                for (n, item) in items.iter().enumerate() {
                    path.push(Seg::Index(n));
                    by_schema(item, item_schema, path, out);
                    path.pop();
                }
            }
        }
        _ => {}
    }
}

/// Fields of an object (`fields`) its structural schema `s` does not declare.
fn fields_by_schema<'v>(
    fields: impl Iterator<Item = (&'v String, &'v Value)>,
    s: &Value,
    path: &mut Vec<Seg>,
    out: &mut Vec<Vec<Seg>>,
) {
    let preserve = s.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
    let props = s.get("properties").and_then(Value::as_object);
    let additional = s.get("additionalProperties");
    let embedded = s.get("x-kubernetes-embedded-resource") == Some(&Value::Bool(true));
    let typed_object = props.is_some() || s.get("type").and_then(Value::as_str) == Some("object");
    for (k, val) in fields {
        path.push(Seg::Key(k.clone()));
        if let Some(ps) = props.and_then(|p| p.get(k)) {
            by_schema(val, ps, path, out);
        } else if let Some(ap) = additional.filter(|a| a.is_object()) {
            by_schema(val, ap, path, out);
        } else if embedded && matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
        } else if !preserve && additional != Some(&Value::Bool(true)) && typed_object {
            out.push(path.clone());
        }
        path.pop();
    }
}

/// Unknown fields of a custom resource, from its CRD's schema for `version`.
fn custom(app: &App, group: &str, plural: &str, version: &str, obj: &Value) -> Vec<Vec<Seg>> {
    let crds = GroupResource::new("apiextensions.k8s.io", "customresourcedefinitions");
    let Ok(crd) = app.state.store.get(&crds, "", &format!("{plural}.{group}")) else {
        return Vec::new();
    };
    let schema = crd["spec"]["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|v| v["name"] == version)
        .and_then(|v| v.pointer("/schema/openAPIV3Schema"));
    let Some(schema) = schema else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let Some(fields) = obj.as_object() else {
        by_schema(obj, schema, &mut Vec::new(), &mut out);
        return out;
    };
    if let Some(meta) = fields.get("metadata") {
        for mut p in typed::<k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>(meta)
            .unwrap_or_default()
        {
            p.insert(0, Seg::Key("metadata".into()));
            out.push(p);
        }
    }
    // apiVersion, kind and metadata are checked above, not against the schema; the rest is
    // walked in place (a report is large: a copy without them cost more than the walk).
    let rest = fields
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "apiVersion" | "kind" | "metadata"));
    fields_by_schema(rest, schema, &mut Vec::new(), &mut out);
    out
}

fn remove(obj: &mut Value, path: &[Seg]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = obj;
    for seg in parents {
        let next = match seg {
            Seg::Key(k) => cur.get_mut(k.as_str()),
            Seg::Index(i) => cur.get_mut(*i),
        };
        match next {
            Some(n) => cur = n,
            None => return,
        }
    }
    if let (Seg::Key(k), Some(fields)) = (last, cur.as_object_mut()) {
        fields.remove(k);
    }
}

/// What validation did to an object that may be written.
#[derive(Debug, Default)]
pub struct Checked {
    /// `Warning` header values to send.
    pub warnings: Vec<String>,
}

impl Checked {
    /// Adds the warnings to a response.
    pub fn warn(&self, mut response: Response) -> Response {
        for w in &self.warnings {
            let text = format!("299 - \"{}\"", w.replace('"', "\\\""));
            if let Ok(value) = HeaderValue::from_str(&text) {
                response.headers_mut().append("warning", value);
            }
        }
        response
    }
}

/// Checks `obj` (in the requested API's form) for fields its kind does not have: refuses
/// it under `Strict`, else drops them (and warns under `Warn`).
pub fn check(app: &App, req: &Req, mode: Mode, obj: &mut Value) -> Result<Checked, Response> {
    let info = &req.info;
    let unknown = if info.custom {
        custom(app, &info.group, &info.plural, &req.path.version, obj)
    } else {
        builtin(&info.group, &info.kind, obj).unwrap_or_default()
    };
    if unknown.is_empty() {
        return Ok(Checked::default());
    }
    let described: Vec<String> = unknown
        .iter()
        .map(|p| format!("unknown field \"{}\"", display(p)))
        .collect();
    if mode == Mode::Strict {
        let kind = &info.kind;
        return Err(status_error(
            400,
            "BadRequest",
            &format!(
                "{kind} in version \"{}\" cannot be handled as a {kind}: strict decoding error: {}",
                req.path.version,
                described.join(", ")
            ),
        ));
    }
    // Deepest first, so that indexes stay valid.
    for path in unknown.iter().rev() {
        remove(obj, path);
    }
    Ok(Checked {
        warnings: if mode == Mode::Warn {
            described
        } else {
            Vec::new()
        },
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn paths(found: Option<Vec<Vec<Seg>>>) -> Vec<String> {
        found.unwrap().iter().map(|p| display(p)).collect()
    }

    #[test]
    fn unknown_fields_of_builtin_kinds_are_found_where_they_are() {
        let deployment = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labelz": {"a": "b"}},
            "spec": {"foo": 1, "replicas": null, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "a", "image": "x"},
                                            {"name": "b", "image": "y", "imagePullPolcy": "Always"}]}}},
        });
        assert_eq!(
            paths(builtin("apps", "Deployment", &deployment)),
            [
                "metadata.labelz",
                "spec.foo",
                "spec.template.spec.containers[1].imagePullPolcy"
            ]
        );
        let fine = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
                          "data": {"k": "v"}, "immutable": false});
        assert!(paths(builtin("", "ConfigMap", &fine)).is_empty());
        // Not decodable at all: left to the other checks.
        assert!(builtin("", "ConfigMap", &json!({"data": 3})).is_none());
    }

    #[test]
    fn structural_schemas_declare_or_preserve_fields() {
        let schema = json!({"type": "object", "properties": {
            "spec": {"type": "object", "properties": {
                "size": {"type": "integer"},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "items": {"type": "array", "items": {"type": "object", "properties": {"n": {"type": "string"}}}},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}}});
        let obj = json!({"spec": {"size": 1, "colour": "red", "labels": {"any": "x"},
            "items": [{"n": "a"}, {"n": "b", "m": 1}], "free": {"anything": {"goes": 1}}}});
        let mut out = Vec::new();
        by_schema(&obj, &schema, &mut Vec::new(), &mut out);
        let found: Vec<String> = out.iter().map(|p| display(p)).collect();
        assert_eq!(found, ["spec.colour", "spec.items[1].m"]);
        let mut pruned = obj.clone();
        for p in out.iter().rev() {
            remove(&mut pruned, p);
        }
        assert!(pruned["spec"].get("colour").is_none());
        assert_eq!(pruned["spec"]["items"][1], json!({"n": "b"}));
    }
}

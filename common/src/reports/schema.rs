//! Turns a schemars JSON schema into a Kubernetes *structural* schema: every subschema
//! inlined (no `$ref`), every node typed, no `nullable`, `anyOf`/`oneOf` of an `Option` or of
//! documented enum variants collapsed, no defaults, titles or non-standard formats.

use schemars::{JsonSchema, generate::SchemaSettings};
use serde_json::{Map, Value};

use super::crd::Error;

/// Keys dropped everywhere: they either have no meaning in a CRD or would change behaviour
/// (`default` makes the API server default fields; upstream sets none).
const DROPPED_KEYS: [&str; 9] = [
    "$schema",
    "$id",
    "title",
    "default",
    "nullable",
    "examples",
    "example",
    "$defs",
    "definitions",
];

/// Formats kept; others (`uint32`, `double`, ...) carry nothing the API server uses.
const KEPT_FORMATS: [&str; 1] = ["date-time"];

/// The structural schema of `T`.
pub(crate) fn structural_schema<T: JsonSchema>() -> Result<Value, Error> {
    let generator = SchemaSettings::openapi3()
        .with(|s| {
            s.inline_subschemas = true;
            s.meta_schema = None;
        })
        .into_generator();
    let mut value = generator.into_root_schema_for::<T>().to_value();
    clean(&mut value);
    check_structural(&value, "")?;
    Ok(value)
}

/// Whether a subschema only admits `null` (what `Option` adds next to the real schema).
fn is_null_only(value: &Value) -> bool {
    let Some(obj) = value.as_object() else {
        return false;
    };
    obj.get("type").is_some_and(|t| t == "null")
        || (obj.get("const") == Some(&Value::Null) && !obj.contains_key("type"))
        || (obj.get("enum") == Some(&Value::Array(vec![Value::Null])))
}

fn clean(value: &mut Value) {
    let Some(obj) = value.as_object_mut() else {
        return;
    };
    collapse_alternatives(obj);
    for key in DROPPED_KEYS {
        obj.remove(key);
    }
    if obj
        .get("format")
        .and_then(Value::as_str)
        .is_some_and(|f| !KEPT_FORMATS.contains(&f))
    {
        obj.remove("format");
    }
    if let Some(Value::Array(types)) = obj.get_mut("type") {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            let single = types.remove(0);
            obj.insert("type".to_owned(), single);
        }
    }
    if let Some(Value::Object(props)) = obj.get_mut("properties") {
        props.values_mut().for_each(clean);
    }
    for key in ["items", "additionalProperties"] {
        if let Some(sub) = obj.get_mut(key) {
            clean(sub);
        }
    }
    if obj.get("additionalProperties") == Some(&Value::Bool(true)) {
        obj.remove("additionalProperties");
    }
}

/// Collapses `anyOf`/`oneOf`: null-only alternatives are dropped; a single remaining one is
/// merged into the node; several alternatives that are each a string enum become one enum.
fn collapse_alternatives(obj: &mut Map<String, Value>) {
    for key in ["anyOf", "oneOf"] {
        let Some(Value::Array(mut alternatives)) = obj.remove(key) else {
            continue;
        };
        alternatives.retain(|a| !is_null_only(a));
        if alternatives.len() == 1 {
            if let Some(Value::Object(single)) = alternatives.pop() {
                for (k, v) in single {
                    // The outer node's own description wins over the inner type's.
                    obj.entry(k).or_insert(v);
                }
            }
            collapse_alternatives(obj);
        } else if let Some(values) = string_enum_values(&alternatives) {
            obj.insert("type".to_owned(), Value::from("string"));
            obj.insert("enum".to_owned(), Value::Array(values));
        } else {
            obj.insert(key.to_owned(), Value::Array(alternatives));
        }
    }
    if let Some(Value::Array(values)) = obj.get_mut("enum") {
        values.retain(|v| !v.is_null());
    }
}

fn string_enum_values(alternatives: &[Value]) -> Option<Vec<Value>> {
    let mut values = Vec::new();
    for alternative in alternatives {
        let variants = alternative.get("enum")?.as_array()?;
        if !variants.iter().all(Value::is_string) {
            return None;
        }
        values.extend(variants.iter().cloned());
    }
    (!values.is_empty()).then_some(values)
}

/// Fails unless `value` is structural: typed nodes, no references or alternatives.
pub(crate) fn check_structural(value: &Value, path: &str) -> Result<(), Error> {
    let not_structural = |reason: &str| Error::NotStructural {
        path: if path.is_empty() {
            ".".to_owned()
        } else {
            path.to_owned()
        },
        reason: reason.to_owned(),
    };
    let obj = value
        .as_object()
        .ok_or_else(|| not_structural("not an object"))?;
    for key in [
        "$ref", "anyOf", "oneOf", "allOf", "not", "nullable", "const",
    ] {
        if obj.contains_key(key) {
            return Err(not_structural(&format!("has {key}")));
        }
    }
    let preserve = obj.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
    let ty = obj.get("type").and_then(Value::as_str);
    if ty.is_none() && !preserve {
        return Err(not_structural("has no single type"));
    }
    if let Some(props) = obj.get("properties") {
        if ty != Some("object") {
            return Err(not_structural("has properties but is not an object"));
        }
        let props = props
            .as_object()
            .ok_or_else(|| not_structural("bad properties"))?;
        for (name, sub) in props {
            check_structural(sub, &format!("{path}.{name}"))?;
        }
    }
    if let Some(items) = obj.get("items") {
        check_structural(items, &format!("{path}[]"))?;
    }
    if let Some(Value::Object(_)) = obj.get("additionalProperties") {
        if obj.contains_key("properties") {
            return Err(not_structural(
                "has both properties and additionalProperties",
            ));
        }
        check_structural(&obj["additionalProperties"], &format!("{path}{{}}"))?;
    }
    Ok(())
}

/// The subschema at `path`: property names, `[]` for array items, `{}` for map values.
pub(crate) fn node_mut<'a>(root: &'a mut Value, path: &[&str]) -> Result<&'a mut Value, Error> {
    let mut node = root;
    for (i, step) in path.iter().enumerate() {
        let next = match *step {
            "[]" => node.get_mut("items"),
            "{}" => node.get_mut("additionalProperties"),
            name => node.get_mut("properties").and_then(|p| p.get_mut(name)),
        };
        node = next.ok_or_else(|| Error::NoSuchPath {
            path: path[..=i].join("."),
        })?;
    }
    Ok(node)
}

/// Removes `required` from every node, so that only the explicit contract applies.
pub(crate) fn clear_required(value: &mut Value) {
    let Some(obj) = value.as_object_mut() else {
        return;
    };
    obj.remove("required");
    if let Some(Value::Object(props)) = obj.get_mut("properties") {
        props.values_mut().for_each(clear_required);
    }
    for key in ["items", "additionalProperties"] {
        if let Some(sub) = obj.get_mut(key) {
            clear_required(sub);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};
    use std::collections::BTreeMap;

    /// An enum.
    #[derive(Serialize, Deserialize, JsonSchema)]
    #[allow(dead_code)]
    enum Level {
        /// First.
        A,
        /// Second.
        B,
    }

    /// Inner.
    #[derive(Serialize, Deserialize, JsonSchema)]
    #[allow(dead_code)]
    struct Inner {
        x: Option<f64>,
    }

    /// Outer.
    #[derive(Serialize, Deserialize, JsonSchema)]
    #[serde(rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Outer {
        /// The inner one.
        inner: Option<Inner>,
        list: Vec<Inner>,
        map: BTreeMap<String, Inner>,
        level: Level,
        maybe_level: Option<Level>,
        #[serde(default)]
        count: u32,
        name: Option<String>,
    }

    #[test]
    fn options_enums_and_refs_become_structural() {
        let schema = structural_schema::<Outer>().unwrap();
        let inner = serde_json::json!({
            "description": "Inner.", "type": "object",
            "properties": {"x": {"type": "number"}},
        });
        let level = serde_json::json!({"type": "string", "enum": ["A", "B"]});
        let props = &schema["properties"];
        let mut want_inner = inner.clone();
        want_inner["description"] = "The inner one.".into();
        assert_eq!(props["inner"], want_inner);
        assert_eq!(
            props["list"],
            serde_json::json!({"type": "array", "items": inner})
        );
        assert_eq!(
            props["map"],
            serde_json::json!({"type": "object", "additionalProperties": inner})
        );
        assert_eq!(props["level"]["enum"], level["enum"]);
        assert_eq!(props["level"]["type"], "string");
        assert_eq!(props["maybeLevel"]["enum"], level["enum"]);
        assert_eq!(
            props["count"],
            serde_json::json!({"type": "integer", "minimum": 0})
        );
        assert_eq!(props["name"], serde_json::json!({"type": "string"}));
        assert_eq!(
            schema["required"],
            serde_json::json!(["list", "map", "level"])
        );
    }

    #[test]
    fn rejects_non_structural() {
        let cases = [
            serde_json::json!({"type": "object", "properties": {"a": {"$ref": "#/x"}}}),
            serde_json::json!({"type": "object", "properties": {"a": {}}}),
            serde_json::json!({"type": "array", "items": {"anyOf": []}}),
            serde_json::json!({"type": "string", "properties": {}}),
        ];
        for case in cases {
            assert!(check_structural(&case, "").is_err(), "{case}");
        }
        let ok = serde_json::json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true,
            "properties": {"m": {"x-kubernetes-preserve-unknown-fields": true}}});
        check_structural(&ok, "").unwrap();
    }
}

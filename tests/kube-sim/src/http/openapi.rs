//! A minimal OpenAPI v3 index and per-group-version documents: enough for kubectl to see that
//! every resource's PATCH accepts `fieldValidation` (so it validates on the server instead of
//! downloading schemas). No schemas are served; `/openapi/v2` answers 404.

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::store::{Registry, ResourceInfo};

fn gv_key(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// `/openapi/v3`: one entry per served group-version, with a content hash.
pub fn index(reg: &Registry) -> Value {
    let mut paths = Map::new();
    let mut gvs: Vec<(String, String)> = Vec::new();
    for r in reg.all() {
        for v in &r.versions {
            if !gvs.contains(&(r.group.clone(), v.clone())) {
                gvs.push((r.group.clone(), v.clone()));
            }
        }
    }
    for (g, v) in gvs {
        let doc = document(reg, &g, &v).unwrap_or_default();
        let hash: String = Sha256::digest(doc.to_string().as_bytes())[..16]
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect();
        let key = gv_key(&g, &v);
        paths.insert(
            key.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{key}?hash={hash}")}),
        );
    }
    json!({"paths": paths})
}

fn operations(r: &ResourceInfo, version: &str) -> Vec<(String, Value)> {
    let base = if r.group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{}/{version}", r.group)
    };
    let scope = if r.namespaced {
        "/namespaces/{namespace}"
    } else {
        ""
    };
    let gvk = json!({"group": r.group, "version": version, "kind": r.kind});
    let param = |name: &str| json!({"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": true}});
    let op = |action: &str, params: Vec<Value>| {
        json!({"parameters": params, "responses": {"200": {"description": "OK"}},
               "x-kubernetes-action": action, "x-kubernetes-group-version-kind": gvk})
    };
    let write_params = || {
        vec![
            param("dryRun"),
            param("fieldManager"),
            param("fieldValidation"),
        ]
    };
    let mut item = json!({
        "get": op("get", vec![]),
        "put": op("put", write_params()),
        "patch": op("patch", {
            let mut p = write_params();
            p.push(param("force"));
            p
        }),
        "delete": op("delete", vec![param("dryRun"), param("propagationPolicy")]),
    });
    if let Some(m) = item.as_object_mut() {
        m.insert(
            "parameters".into(),
            json!([{"name": "name", "in": "path", "required": true,
                                              "schema": {"type": "string"}}]),
        );
    }
    let collection = json!({"get": op("list", vec![param("labelSelector"), param("fieldSelector")]),
                            "post": op("post", write_params())});
    vec![
        (format!("{base}{scope}/{}/{{name}}", r.plural), item),
        (format!("{base}{scope}/{}", r.plural), collection),
    ]
}

/// `/openapi/v3/api/v1` or `/openapi/v3/apis/<group>/<version>`.
pub fn document(reg: &Registry, group: &str, version: &str) -> Option<Value> {
    let mut paths = Map::new();
    for r in reg.all().filter(|r| r.group == group && r.serves(version)) {
        for (p, item) in operations(r, version) {
            paths.insert(p, item);
        }
    }
    if paths.is_empty() {
        return None;
    }
    Some(
        json!({"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.32.0"},
                "paths": paths, "components": {"schemas": {}}}),
    )
}

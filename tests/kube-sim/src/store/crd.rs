//! CustomResourceDefinitions: registering the resource a CRD defines when it is written,
//! and removing it with all its objects when the CRD goes away.

use std::sync::Arc;

use serde_json::{Value, json};

use super::meta::{self, metadata_mut};
use super::{
    EventType, GroupResource, Inner, PrinterColumn, ResourceInfo, Store, StoreError, WatchEvent,
};

/// Whether `gr` is `customresourcedefinitions.apiextensions.k8s.io`.
pub(crate) fn is_crd(gr: &GroupResource) -> bool {
    gr.group == "apiextensions.k8s.io" && gr.resource == "customresourcedefinitions"
}

/// Kind-specific defaults the API server applies on create.
pub(crate) fn defaults_on_create(gr: &GroupResource, obj: &mut Value) {
    if !gr.group.is_empty() {
        return;
    }
    match gr.resource.as_str() {
        "namespaces" => {
            let name = meta::name(obj).to_owned();
            let md = metadata_mut(obj);
            let labels = md.entry("labels").or_insert_with(|| json!({}));
            if labels.is_object() && !name.is_empty() {
                labels["kubernetes.io/metadata.name"] = json!(name);
            }
            if obj.pointer("/spec/finalizers").is_none() {
                obj["spec"] = json!({"finalizers": ["kubernetes"]});
            }
            obj["status"] = json!({"phase": "Active"});
        }
        "pods" if obj.pointer("/status/phase").is_none() => {
            obj["status"] = json!({"phase": "Pending"});
        }
        _ => {}
    }
}

/// The resource a CRD object defines.
pub(crate) fn resource_of(crd: &Value) -> Option<ResourceInfo> {
    let spec = crd.get("spec")?;
    let names = spec.get("names")?;
    let s = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("").to_owned();
    let strs = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut versions: Vec<&Value> = spec
        .get("versions")?
        .as_array()?
        .iter()
        .filter(|v| v.get("served").and_then(Value::as_bool).unwrap_or(true))
        .collect();
    versions.sort_by_key(|v| !v.get("storage").and_then(Value::as_bool).unwrap_or(false));
    let preferred = versions.first()?;
    let columns = preferred
        .get("additionalPrinterColumns")
        .and_then(Value::as_array)
        .map(|cols| {
            cols.iter()
                .map(|c| PrinterColumn {
                    name: s(c.get("name")),
                    type_: s(c.get("type")),
                    format: s(c.get("format")),
                    description: s(c.get("description")),
                    priority: c.get("priority").and_then(Value::as_i64).unwrap_or(0),
                    json_path: s(c.get("jsonPath")),
                })
                .collect()
        })
        .unwrap_or_else(|| {
            vec![PrinterColumn {
                name: "Age".into(),
                type_: "date".into(),
                format: String::new(),
                description: String::new(),
                priority: 0,
                json_path: ".metadata.creationTimestamp".into(),
            }]
        });
    let kind = s(names.get("kind"));
    let singular = s(names.get("singular"));
    Some(ResourceInfo {
        group: s(spec.get("group")),
        versions: versions.iter().map(|v| s(v.get("name"))).collect(),
        singular: if singular.is_empty() {
            kind.to_lowercase()
        } else {
            singular
        },
        kind,
        plural: s(names.get("plural")),
        short_names: strs(names.get("shortNames")),
        categories: strs(names.get("categories")),
        namespaced: spec.get("scope").and_then(Value::as_str) != Some("Cluster"),
        status_subresource: versions
            .iter()
            .any(|v| v.pointer("/subresources/status").is_some()),
        other_subresources: Vec::new(),
        create_only: false,
        stored_as: None,
        printer_columns: columns,
        custom: true,
    })
}

/// Validates a CRD: its name must be `<plural>.<group>` and it must define a kind and a
/// served version.
pub(crate) fn validate(info: &ResourceInfo, crd: &Value, name: &str) -> Result<(), StoreError> {
    let invalid = |field: &str, detail: String| {
        StoreError::invalid(
            info.group_resource(),
            "CustomResourceDefinition.apiextensions.k8s.io".into(),
            name,
            field,
            detail,
        )
    };
    let Some(r) = resource_of(crd) else {
        return Err(invalid(
            "spec",
            "Required value: group, names and versions are required".into(),
        ));
    };
    if r.kind.is_empty() || r.plural.is_empty() || r.group.is_empty() || r.versions.is_empty() {
        return Err(invalid(
            "spec",
            "Required value: group, names.kind, names.plural and a served version are required"
                .into(),
        ));
    }
    let expected = format!("{}.{}", r.plural, r.group);
    if name != expected {
        return Err(invalid(
            "metadata.name",
            format!("Invalid value: {name:?}: must be spec.names.plural+\".\"+spec.group"),
        ));
    }
    Ok(())
}

/// Registers the CRD's resource and sets its status as an established CRD.
pub(crate) fn on_write(store: &Store, crd: &mut Value) {
    let Some(info) = resource_of(crd) else { return };
    let names = crd.pointer("/spec/names").cloned().unwrap_or_default();
    let mut accepted = names;
    if accepted.get("singular").is_none() {
        accepted["singular"] = json!(info.singular);
    }
    if accepted.get("listKind").is_none() {
        accepted["listKind"] = json!(format!("{}List", info.kind));
    }
    let now = meta::now_rfc3339();
    let cond = |t: &str, reason: &str, message: &str| {
        json!({"type": t, "status": "True", "lastTransitionTime": now, "reason": reason,
               "message": message})
    };
    crd["status"] = json!({
        "conditions": [
            cond("NamesAccepted", "NoConflicts", "no conflicts found"),
            cond("Established", "InitialNamesAccepted", "the initial names have been accepted"),
        ],
        "acceptedNames": accepted,
        "storedVersions": [info.versions.first().cloned().unwrap_or_default()],
    });
    store.registry_mut().register(info);
}

/// Unregisters the CRD's resource and deletes its objects (each with a DELETED event), then
/// ends the resource's open watches, as the API server does when it stops serving a
/// resource: their clients find it gone (404) when they watch or list again.
pub(crate) fn on_delete(store: &Store, inner: &mut Inner, crd: &Value) {
    let Some(info) = resource_of(crd) else { return };
    let gr = info.group_resource();
    store.registry_mut().unregister(&gr);
    let objects = match inner.resources.get_mut(&gr) {
        Some(d) => std::mem::take(&mut d.objects),
        None => return,
    };
    delete_all(store, inner, &gr, objects);
    // Dropping the resource's channel ends its watches once they have read the deletions.
    inner.resources.remove(&gr);
}

fn delete_all(
    store: &Store,
    inner: &mut Inner,
    gr: &GroupResource,
    objects: std::collections::BTreeMap<(String, String), Arc<Value>>,
) {
    for (_, obj) in objects {
        inner.rv += 1;
        let rv = inner.rv;
        let mut o = (*obj).clone();
        metadata_mut(&mut o).insert("resourceVersion".into(), json!(rv.to_string()));
        store.publish(
            inner,
            WatchEvent::new(gr.clone(), EventType::Deleted, Arc::new(o), rv),
        );
    }
}

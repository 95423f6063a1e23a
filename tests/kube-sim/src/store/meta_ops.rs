//! Create, and the metadata rules shared by the write paths of the store (see the module docs
//! of `store`); update is in `update`, delete in `delete`.

use std::sync::Arc;

use serde_json::{Value, json};

use super::meta::{self, metadata_mut};
use super::{
    EventType, GroupResource, Inner, ResourceData, ResourceInfo, Store, StoreError, WatchEvent,
    WriteOptions,
};

pub(super) const STALE: &str =
    "the object has been modified; please apply your changes to the latest version and try again";

/// Fields of metadata that only the server sets.
pub(super) const SERVER_META: [&str; 6] = [
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
];

pub(super) fn invalid(info: &ResourceInfo, name: &str, field: &str, detail: String) -> StoreError {
    let kind = if info.group.is_empty() {
        info.kind.clone()
    } else {
        format!("{}.{}", info.kind, info.group)
    };
    StoreError::invalid(info.group_resource(), kind, name, field, detail)
}

/// Whether the API server tracks `metadata.generation` for this kind (custom resources and
/// workload-like kinds; not ConfigMaps, Secrets, Pods or Namespaces).
pub(super) fn uses_generation(info: &ResourceInfo) -> bool {
    info.custom
        || (info.status_subresource
            && !(info.group.is_empty()
                && matches!(
                    info.plural.as_str(),
                    "pods" | "namespaces" | "nodes" | "services"
                )))
        || info.plural == "customresourcedefinitions"
}

/// Everything but metadata and status: a change here bumps `generation`.
pub(super) fn spec_part(obj: &Value) -> Value {
    let mut v = obj.clone();
    if let Some(m) = v.as_object_mut() {
        m.remove("metadata");
        m.remove("status");
    }
    v
}

pub(super) fn managed_entry(
    manager: &str,
    operation: &str,
    api_version: &str,
    subresource: bool,
) -> Value {
    let mut e = json!({"manager": manager, "operation": operation, "apiVersion": api_version,
                       "time": meta::now_rfc3339(), "fieldsType": "FieldsV1", "fieldsV1": {}});
    if subresource {
        e["subresource"] = json!("status");
    }
    e
}

/// Replaces (or adds) the managedFields entry of `manager` for `operation`.
pub(crate) fn record_manager(obj: &mut Value, entry: Value) {
    let md = metadata_mut(obj);
    let list = md.entry("managedFields").or_insert_with(|| json!([]));
    if !list.is_array() {
        *list = json!([]);
    }
    if let Some(a) = list.as_array_mut() {
        a.retain(|e| {
            e.get("manager") != entry.get("manager")
                || e.get("operation") != entry.get("operation")
                || e.get("subresource") != entry.get("subresource")
        });
        a.push(entry);
    }
}

impl Store {
    fn check_namespace(
        inner: &Inner,
        gr: &GroupResource,
        ns: &str,
        name: &str,
    ) -> Result<(), StoreError> {
        let nsgr = GroupResource::new("", "namespaces");
        let found = inner
            .resources
            .get(&nsgr)
            .and_then(|d| d.objects.get(&(String::new(), ns.to_owned())));
        match found {
            None => Err(StoreError::NotFound {
                gr: nsgr,
                name: ns.to_owned(),
            }),
            Some(n) if n.pointer("/metadata/deletionTimestamp").is_some() => {
                Err(StoreError::Forbidden {
                    gr: gr.clone(),
                    name: name.to_owned(),
                    message: format!(
                        "{gr} \"{name}\" is forbidden: unable to create new content in namespace {ns} \
                     because it is being terminated"
                    ),
                })
            }
            Some(_) => Ok(()),
        }
    }

    /// Creates an object with options (dry run, field manager, keep status).
    pub fn create_opts(
        &self,
        gr: &GroupResource,
        mut obj: Value,
        opts: &WriteOptions,
    ) -> Result<Arc<Value>, StoreError> {
        let info = self.resource_info(gr)?;
        if !obj.is_object() {
            return Err(StoreError::BadRequest(
                "the body of the request was not an object".into(),
            ));
        }
        if obj
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("")
            .is_empty()
        {
            obj["kind"] = json!(info.kind);
        }
        if obj
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("")
            .is_empty()
        {
            obj["apiVersion"] = json!(info.api_version());
        }
        let md = metadata_mut(&mut obj);
        for f in SERVER_META {
            md.remove(f);
        }
        if !info.namespaced {
            md.remove("namespace");
        }
        let ns = md
            .get("namespace")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let mut name = md
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let generate = md
            .get("generateName")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        if info.namespaced && ns.is_empty() {
            return Err(invalid(
                &info,
                &name,
                "metadata.namespace",
                "Required value".into(),
            ));
        }
        if name.is_empty() && generate.is_empty() {
            return Err(invalid(
                &info,
                &name,
                "metadata.name",
                "Required value: name or generateName is required".into(),
            ));
        }
        let check_name = |n: &str| {
            let problem = if gr.resource == "namespaces" && gr.group.is_empty() {
                meta::invalid_label(n)
            } else {
                meta::invalid_subdomain(n)
            };
            match problem {
                Some(p) => Err(invalid(
                    &info,
                    n,
                    "metadata.name",
                    format!("Invalid value: {n:?}: {p}"),
                )),
                None => Ok(()),
            }
        };
        if !name.is_empty() {
            check_name(&name)?;
        }
        let has_status = obj.get("status").is_some();
        if info.status_subresource
            && !opts.keep_status
            && has_status
            && let Some(m) = obj.as_object_mut()
        {
            m.remove("status");
        }
        super::crd::defaults_on_create(gr, &mut obj);

        let mut inner = self.lock();
        if info.namespaced {
            Self::check_namespace(&inner, gr, &ns, &name)?;
        }
        let data = inner.resources.get(gr);
        let exists =
            |n: &str| data.is_some_and(|d| d.objects.contains_key(&(ns.clone(), n.to_owned())));
        if name.is_empty() {
            let base: String = generate.chars().take(58).collect();
            name = format!("{base}{}", meta::name_suffix());
            while exists(&name) {
                name = format!("{base}{}", meta::name_suffix());
            }
            check_name(&name)?;
        } else if exists(&name) {
            return Err(StoreError::AlreadyExists {
                gr: gr.clone(),
                name,
            });
        }
        if let Some(detail) = meta::invalid_owner_references(&obj) {
            return Err(invalid(&info, &name, "metadata.ownerReferences", detail));
        }
        if super::crd::is_crd(gr) {
            super::crd::validate(&info, &obj, &name)?;
        }
        let rv = inner.rv + 1;
        let md = metadata_mut(&mut obj);
        md.insert("name".into(), json!(name));
        md.insert("uid".into(), json!(meta::new_uid()));
        md.insert("creationTimestamp".into(), json!(meta::now_rfc3339()));
        if uses_generation(&info) {
            md.insert("generation".into(), json!(1));
        }
        if let Some(m) = &opts.field_manager {
            let api_version = obj["apiVersion"].as_str().unwrap_or("").to_owned();
            record_manager(&mut obj, managed_entry(m, "Update", &api_version, false));
        }
        if opts.dry_run {
            return Ok(Arc::new(obj));
        }
        metadata_mut(&mut obj).insert("resourceVersion".into(), json!(rv.to_string()));
        if super::crd::is_crd(gr) {
            super::crd::on_write(self, &mut obj);
        }
        inner.rv = rv;
        let obj = Arc::new(obj);
        inner
            .resources
            .entry(gr.clone())
            .or_insert_with(ResourceData::new)
            .objects
            .insert((ns, name), obj.clone());
        self.publish(
            &mut inner,
            WatchEvent::new(gr.clone(), EventType::Added, obj.clone(), rv),
        );
        Ok(obj)
    }
}

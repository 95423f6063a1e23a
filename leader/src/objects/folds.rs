//! How the watches of the audited objects and of their RBAC assessment reports fold them
//! into [`super::ObjectObserved`]: an object becomes a compact [`ObjectRecord`] at once (its
//! JSON is kept, within the audit objects' budget, only until it is audited), a report its
//! metadata. (Their ConfigAuditReports are folded with the workloads'.)

use common::labels;
use kube::api::DynamicObject;
use kube::core::PartialObjectMeta;
use serde_json::Value;

use super::{ObjectKind, ObjectRecord, RoleReport};
use crate::observed::Observed;
use crate::watch::Fold;

/// The record of an object of `kind` (its JSON), with its `resource-spec-hash`.
pub fn object_record(kind: ObjectKind, object: &Value) -> Option<ObjectRecord> {
    let meta = &object["metadata"];
    let namespace = if kind.cluster_scoped() {
        String::new()
    } else {
        meta["namespace"].as_str()?.to_owned()
    };
    Some(ObjectRecord {
        kind,
        namespace,
        name: meta["name"].as_str()?.to_owned(),
        uid: meta["uid"].as_str()?.to_owned(),
        spec_hash: kind.spec_hash(object),
    })
}

/// The record of an RBAC assessment report and the uid of the role that controls it.
pub fn report_record(meta: &kube::api::ObjectMeta) -> Option<(String, RoleReport)> {
    let owner = common::workload::controller_of(meta)?;
    let label = |key: &str| meta.labels.as_ref().and_then(|l| l.get(key)).cloned();
    Some((
        owner.uid.clone(),
        RoleReport {
            namespace: meta.namespace.clone().unwrap_or_default(),
            name: meta.name.clone()?,
            spec_hash: label(labels::RESOURCE_SPEC_HASH),
            config_hash: label(labels::PLUGIN_CONFIG_HASH),
            gauge: crate::observed::gauges::audit_gauge(meta),
            bytes: crate::observed::report_bytes(meta),
        },
    ))
}

/// The fold of one kind's objects (read as dynamic objects, reduced through their JSON).
pub struct ObjectFold(pub ObjectKind);

impl Fold<DynamicObject> for ObjectFold {
    fn key(&self, object: &DynamicObject) -> Option<String> {
        object.metadata.uid.clone()
    }
    fn upsert(&self, observed: &mut Observed, object: &DynamicObject) -> bool {
        let Ok(mut json) = serde_json::to_value(object) else {
            return false;
        };
        // List items carry no type: the object as the worker evaluates it has one.
        json["apiVersion"] = self.0.api_version().into();
        json["kind"] = self.0.as_str().into();
        let Some(record) = object_record(self.0, &json) else {
            return false;
        };
        if let Some(meta) = json["metadata"].as_object_mut() {
            meta.remove("managedFields");
        }
        // Sent with its task.
        observed
            .audit_objects
            .put_json(&record.uid, &record.spec_hash, json.to_string());
        observed.objects.put_object(record);
        true
    }
    fn remove(&self, observed: &mut Observed, key: &str) {
        observed.audit_objects.remove(key);
        observed.objects.remove_object(key);
    }
}

/// The fold of RbacAssessmentReports or ClusterRbacAssessmentReports (metadata).
pub struct RoleReportFold<K>(pub std::marker::PhantomData<fn() -> K>);

/// Reports are keyed by owner uid, namespace and name, joined by a character names cannot
/// hold.
const KEY_SEPARATOR: char = '/';

impl<K: 'static> Fold<PartialObjectMeta<K>> for RoleReportFold<K> {
    fn key(&self, object: &PartialObjectMeta<K>) -> Option<String> {
        let (owner, report) = report_record(&object.metadata)?;
        Some(format!(
            "{owner}{KEY_SEPARATOR}{}{KEY_SEPARATOR}{}",
            report.namespace, report.name
        ))
    }
    fn upsert(&self, observed: &mut Observed, object: &PartialObjectMeta<K>) -> bool {
        match report_record(&object.metadata) {
            Some((owner, report)) => {
                observed.objects.put_report(owner, report);
                true
            }
            None => false,
        }
    }
    fn remove(&self, observed: &mut Observed, key: &str) {
        let mut parts = key.splitn(3, KEY_SEPARATOR);
        if let (Some(owner), Some(namespace), Some(name)) =
            (parts.next(), parts.next(), parts.next())
        {
            observed.objects.remove_report(owner, namespace, name);
        }
    }
}

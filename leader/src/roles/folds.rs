//! How the watches of Roles, ClusterRoles and their reports fold objects into
//! [`super::RoleObserved`]: a role becomes a compact [`RoleRecord`] at once (its object is
//! kept, within the audit objects' budget, only until it is assessed), a report its metadata.

use common::labels;
use kube::core::PartialObjectMeta;
use serde::Serialize;
use serde_json::Value;

use super::{RoleKind, RoleRecord, RoleReport};
use crate::observed::Observed;
use crate::watch::Fold;

/// The record of a role object (its JSON), with the hash of its rules.
pub fn role_record(kind: RoleKind, object: &Value) -> Option<RoleRecord> {
    let meta = &object["metadata"];
    let namespace = match kind {
        RoleKind::Role => meta["namespace"].as_str()?.to_owned(),
        RoleKind::ClusterRole => String::new(),
    };
    Some(RoleRecord {
        kind,
        namespace,
        name: meta["name"].as_str()?.to_owned(),
        uid: meta["uid"].as_str()?.to_owned(),
        spec_hash: common::objects::ObjectKind::Role.spec_hash(object),
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

/// The fold of Roles or ClusterRoles (typed objects, reduced through their JSON).
pub struct RoleFold<K>(pub RoleKind, pub std::marker::PhantomData<fn() -> K>);

impl<K> Fold<K> for RoleFold<K>
where
    K: Serialize + k8s_openapi::Metadata<Ty = kube::api::ObjectMeta> + 'static,
{
    fn key(&self, object: &K) -> Option<String> {
        object.metadata().uid.clone()
    }
    fn upsert(&self, observed: &mut Observed, object: &K) -> bool {
        let Ok(mut json) = serde_json::to_value(object) else {
            return false;
        };
        let Some(record) = role_record(self.0, &json) else {
            return false;
        };
        if let Some(meta) = json["metadata"].as_object_mut() {
            meta.remove("managedFields");
        }
        // The object as the worker evaluates it, sent with its task.
        json["apiVersion"] = common::objects::RBAC_API_VERSION.into();
        json["kind"] = self.0.as_str().into();
        observed
            .audit_objects
            .put_json(&record.uid, &record.spec_hash, json.to_string());
        observed.roles.put_role(record);
        true
    }
    fn remove(&self, observed: &mut Observed, key: &str) {
        observed.audit_objects.remove(key);
        observed.roles.remove_role(key);
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
                observed.roles.put_report(owner, report);
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
            observed.roles.remove_report(owner, namespace, name);
        }
    }
}

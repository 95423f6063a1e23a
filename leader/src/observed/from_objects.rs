//! The watched objects reduced to the compact records planning keeps: workloads, the image
//! digests their Pods run, and the metadata of their reports.

use std::collections::BTreeMap;

use common::labels;
use common::workload::{self, DEPLOYMENT_REVISION_ANNOTATION, WorkloadKind};
use kube::api::{DynamicObject, ObjectMeta};

use super::{AuditReportMeta, Container, DeploymentLink, VulnReportMeta, Workload, gauges};

/// Reduces a workload object to a [`Workload`]; `None` when it is not scanned itself (a Pod or
/// Job covered by its controller) or has no pod spec. Whether a ReplicaSet is its
/// Deployment's current one is decided at planning time, when both are known.
pub fn workload_from_object(kind: WorkloadKind, object: &DynamicObject) -> Option<Workload> {
    let meta = &object.metadata;
    let covered = match kind {
        WorkloadKind::Pod => !workload::pod_disposition(meta).is_scan(),
        WorkloadKind::Job => !workload::job_disposition(meta).is_scan(),
        _ => false,
    };
    if covered {
        return None;
    }
    let pod_spec = workload::pod_spec_of(kind, &object.data)?;
    let deployment = match (kind, workload::controller_of(meta)) {
        (WorkloadKind::ReplicaSet, Some(owner)) if owner.kind == "Deployment" => {
            Some(DeploymentLink {
                uid: owner.uid.clone(),
                revision: annotation(meta, DEPLOYMENT_REVISION_ANNOTATION),
            })
        }
        _ => None,
    };
    Some(Workload {
        kind,
        namespace: meta.namespace.clone()?,
        name: meta.name.clone()?,
        uid: meta.uid.clone()?,
        spec_hash: common::hash::resource_spec_hash(pod_spec),
        containers: workload::container_images(pod_spec, None)
            .into_iter()
            .map(|c| Container {
                name: c.container_name,
                image: c.image,
            })
            .collect(),
        deployment,
        pull_secrets: pod_spec
            .get("imagePullSecrets")
            .and_then(serde_json::Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|r| r.get("name").and_then(serde_json::Value::as_str))
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .collect(),
        service_account: pod_spec
            .get("serviceAccountName")
            .and_then(serde_json::Value::as_str)
            .filter(|n| !n.is_empty())
            .map(str::to_string),
    })
}

/// The image digests of a Pod's containers, with the uid of the workload they belong to:
/// its controller's, or its own for a bare Pod.
pub fn pod_image_ids(object: &DynamicObject) -> Option<(String, BTreeMap<String, String>)> {
    let owner = match workload::controller_of(&object.metadata) {
        Some(controller) => controller.uid.clone(),
        None => object.metadata.uid.clone()?,
    };
    let spec = object.data.get("spec")?;
    let ids: BTreeMap<String, String> = workload::container_images(spec, object.data.get("status"))
        .into_iter()
        .filter_map(|c| Some((c.container_name, c.image_id?)))
        .collect();
    (!ids.is_empty()).then_some((owner, ids))
}

/// Reduces a VulnerabilityReport's metadata to what planning compares, with the uid of the
/// workload that owns it. A `scanned-at` later than `now` (a clock skew, or a report
/// written to dodge rescans) counts as `now`, so the TTL still runs from when it was seen.
pub fn vuln_report_from_meta(
    meta: &ObjectMeta,
    now: jiff::Timestamp,
) -> Option<(String, VulnReportMeta)> {
    let owner = workload::controller_of(meta)?;
    let label = |key: &str| label(meta, key);
    Some((
        owner.uid.clone(),
        VulnReportMeta {
            gauge: gauges::vuln_gauge(meta),
            namespace: meta.namespace.clone()?,
            name: meta.name.clone()?,
            container: label(labels::CONTAINER_NAME),
            spec_hash: label(labels::RESOURCE_SPEC_HASH),
            scanned_at: annotation(meta, labels::SCANNED_AT)
                .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                .map(|t| t.min(now)),
            resource_version: meta.resource_version.clone(),
            bytes: report_bytes(meta),
            image_report: annotation(meta, common::reports::image_vulnerability::IMAGE_REPORT)
                .map(String::into_boxed_str),
        },
    ))
}

/// A report's size from its `bytes` annotation (0 when missing or not a number).
pub(crate) fn report_bytes(meta: &ObjectMeta) -> u32 {
    annotation(meta, common::reports::gauge::BYTES)
        .and_then(|b| b.parse().ok())
        .unwrap_or(0)
}

/// The Deployment's current revision, from its annotation.
pub fn deployment_revision(meta: &ObjectMeta) -> Option<String> {
    annotation(meta, DEPLOYMENT_REVISION_ANNOTATION)
}

/// Reduces a ConfigAuditReport's metadata to the labels planning compares, with the uid
/// of the workload that owns it.
pub fn audit_report_from_meta(meta: &ObjectMeta) -> Option<(String, AuditReportMeta)> {
    let owner = workload::controller_of(meta)?;
    let label = |key: &str| label(meta, key);
    Some((
        owner.uid.clone(),
        AuditReportMeta {
            gauge: gauges::audit_gauge(meta),
            // Empty for a cluster-scoped object's ClusterConfigAuditReport.
            namespace: meta.namespace.clone().unwrap_or_default(),
            name: meta.name.clone()?,
            kind: label(labels::RESOURCE_KIND).unwrap_or_else(|| owner.kind.clone()),
            spec_hash: label(labels::RESOURCE_SPEC_HASH),
            config_hash: label(labels::PLUGIN_CONFIG_HASH),
            resource_version: meta.resource_version.clone(),
            bytes: report_bytes(meta),
        },
    ))
}

fn label(meta: &ObjectMeta, key: &str) -> Option<String> {
    meta.labels.as_ref().and_then(|l| l.get(key)).cloned()
}

pub(super) fn annotation(meta: &ObjectMeta, key: &str) -> Option<String> {
    meta.annotations.as_ref().and_then(|a| a.get(key)).cloned()
}

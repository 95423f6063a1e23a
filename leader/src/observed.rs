//! What the leader knows about the cluster: compact records of workloads, reports and
//! namespaces, never whole objects. Filled by the watchers, read by the planner.

use std::collections::{BTreeMap, HashMap, HashSet};

use common::labels;
use common::workload::{self, DEPLOYMENT_REVISION_ANNOTATION, WorkloadKind};
use kube::api::{DynamicObject, ObjectMeta};

/// A workload that may need reports, reduced to what planning needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workload {
    pub kind: WorkloadKind,
    pub namespace: String,
    pub name: String,
    pub uid: String,
    /// `resource-spec-hash` of its pod spec.
    pub spec_hash: String,
    /// Its containers (init containers first), with the images their specs name.
    pub containers: Vec<Container>,
    /// For a ReplicaSet controlled by a Deployment: the Deployment's uid and this
    /// ReplicaSet's revision, to tell the current ReplicaSet from older ones.
    pub deployment: Option<DeploymentLink>,
}

/// A container of a workload's pod spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    pub name: String,
    pub image: String,
}

/// The labels and annotations of a VulnerabilityReport that planning compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VulnReportMeta {
    pub namespace: String,
    pub name: String,
    pub container: Option<String>,
    pub spec_hash: Option<String>,
    /// The scan it came from (image digest or normalized reference).
    pub scan_key: Option<String>,
    /// When that scan ran.
    pub scanned_at: Option<jiff::Timestamp>,
}

/// The link from a ReplicaSet to the Deployment that controls it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentLink {
    pub uid: String,
    pub revision: Option<String>,
}

/// The labels of a ConfigAuditReport that planning compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditReportMeta {
    pub namespace: String,
    pub name: String,
    pub kind: String,
    pub spec_hash: Option<String>,
    pub config_hash: Option<String>,
    pub resource_version: Option<String>,
}

/// The observed cluster.
#[derive(Debug, Default)]
pub struct Observed {
    /// Workloads by uid.
    pub workloads: HashMap<String, Workload>,
    /// Current revision of each Deployment, by uid.
    pub deployment_revisions: HashMap<String, String>,
    /// ConfigAuditReports by owner uid, then by report name.
    pub audit_reports: HashMap<String, BTreeMap<String, AuditReportMeta>>,
    /// VulnerabilityReports by owner uid, then by report name.
    pub vuln_reports: HashMap<String, BTreeMap<String, VulnReportMeta>>,
    /// Image digests seen in Pod statuses, by the uid of the workload the Pod belongs to
    /// (its controller, or the bare Pod itself), then by container name.
    pub image_ids: HashMap<String, BTreeMap<String, String>>,
    /// Namespaces and their labels.
    pub namespaces: HashMap<String, BTreeMap<String, String>>,
    /// Watches that finished their initial list; planning waits for all of them.
    pub synced: HashSet<String>,
    /// Watches failing now, with their last error (cleared by the next event).
    pub watch_errors: BTreeMap<String, String>,
}

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
/// workload that owns it.
pub fn vuln_report_from_meta(meta: &ObjectMeta) -> Option<(String, VulnReportMeta)> {
    let owner = workload::controller_of(meta)?;
    let label = |key: &str| label(meta, key);
    Some((
        owner.uid.clone(),
        VulnReportMeta {
            namespace: meta.namespace.clone()?,
            name: meta.name.clone()?,
            container: label(labels::CONTAINER_NAME),
            spec_hash: label(labels::RESOURCE_SPEC_HASH),
            scan_key: annotation(meta, labels::SCAN_KEY),
            scanned_at: annotation(meta, labels::SCANNED_AT).and_then(|t| t.parse().ok()),
        },
    ))
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
            namespace: meta.namespace.clone()?,
            name: meta.name.clone()?,
            kind: label(labels::RESOURCE_KIND).unwrap_or_else(|| owner.kind.clone()),
            spec_hash: label(labels::RESOURCE_SPEC_HASH),
            config_hash: label(labels::PLUGIN_CONFIG_HASH),
            resource_version: meta.resource_version.clone(),
        },
    ))
}

fn label(meta: &ObjectMeta, key: &str) -> Option<String> {
    meta.labels.as_ref().and_then(|l| l.get(key)).cloned()
}

fn annotation(meta: &ObjectMeta, key: &str) -> Option<String> {
    meta.annotations.as_ref().and_then(|a| a.get(key)).cloned()
}

impl Observed {
    /// Whether a workload is scanned now: a ReplicaSet of a Deployment only while it is the
    /// Deployment's current one.
    pub fn is_current(&self, workload: &Workload) -> bool {
        match &workload.deployment {
            None => true,
            Some(link) => match (self.deployment_revisions.get(&link.uid), &link.revision) {
                (Some(current), Some(revision)) => current == revision,
                _ => false,
            },
        }
    }

    /// Records or replaces a ConfigAuditReport.
    pub fn put_audit_report(&mut self, owner_uid: String, report: AuditReportMeta) {
        self.audit_reports
            .entry(owner_uid)
            .or_default()
            .insert(report.name.clone(), report);
    }

    /// Records or replaces a VulnerabilityReport.
    pub fn put_vuln_report(&mut self, owner_uid: String, report: VulnReportMeta) {
        self.vuln_reports
            .entry(owner_uid)
            .or_default()
            .insert(report.name.clone(), report);
    }

    /// Forgets a VulnerabilityReport.
    pub fn remove_vuln_report(&mut self, owner_uid: &str, name: &str) {
        if let Some(reports) = self.vuln_reports.get_mut(owner_uid) {
            reports.remove(name);
            if reports.is_empty() {
                self.vuln_reports.remove(owner_uid);
            }
        }
    }

    /// Forgets a ConfigAuditReport.
    pub fn remove_audit_report(&mut self, owner_uid: &str, name: &str) {
        if let Some(reports) = self.audit_reports.get_mut(owner_uid) {
            reports.remove(name);
            if reports.is_empty() {
                self.audit_reports.remove(owner_uid);
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn object(yaml: &str) -> DynamicObject {
        serde_yaml::from_str(yaml).unwrap()
    }

    const POD: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: ns, uid: u1}
spec: {containers: [{name: c, image: nginx}]}
"#;

    #[test]
    fn bare_pod_is_a_workload() {
        let w = workload_from_object(WorkloadKind::Pod, &object(POD)).unwrap();
        assert_eq!(
            (w.name.as_str(), w.uid.as_str(), w.deployment),
            ("p", "u1", None)
        );
        assert!(!w.spec_hash.is_empty());
    }

    #[test]
    fn controlled_pods_and_cronjob_jobs_are_skipped() {
        let owned = POD.replace(
            "uid: u1}",
            "uid: u1, ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: rs, uid: r1, controller: true}]}",
        );
        assert!(workload_from_object(WorkloadKind::Pod, &object(&owned)).is_none());
        let job = r#"
apiVersion: batch/v1
kind: Job
metadata: {name: j, namespace: ns, uid: j1, ownerReferences: [{apiVersion: batch/v1, kind: CronJob, name: cj, uid: c1, controller: true}]}
spec: {template: {spec: {containers: [{name: c, image: busybox}]}}}
"#;
        assert!(workload_from_object(WorkloadKind::Job, &object(job)).is_none());
        let standalone = job.replace(", ownerReferences: [{apiVersion: batch/v1, kind: CronJob, name: cj, uid: c1, controller: true}]", "");
        assert!(workload_from_object(WorkloadKind::Job, &object(&standalone)).is_some());
    }

    #[test]
    fn pod_of_unknown_controller_is_scanned() {
        let owned = POD.replace(
            "uid: u1}",
            "uid: u1, ownerReferences: [{apiVersion: example.com/v1, kind: Thing, name: t, uid: t1, controller: true}]}",
        );
        assert!(workload_from_object(WorkloadKind::Pod, &object(&owned)).is_some());
    }

    #[test]
    fn only_the_current_replicaset_of_a_deployment_is_scanned() {
        let rs = |rev: &str| {
            object(&format!(
                r#"
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: web-{rev}
  namespace: ns
  uid: rs{rev}
  annotations: {{deployment.kubernetes.io/revision: "{rev}"}}
  ownerReferences: [{{apiVersion: apps/v1, kind: Deployment, name: web, uid: d1, controller: true}}]
spec: {{template: {{spec: {{containers: [{{name: c, image: "nginx:{rev}"}}]}}}}}}
"#
            ))
        };
        let mut observed = Observed::default();
        let old = workload_from_object(WorkloadKind::ReplicaSet, &rs("1")).unwrap();
        let new = workload_from_object(WorkloadKind::ReplicaSet, &rs("2")).unwrap();
        assert!(
            !observed.is_current(&new),
            "unknown deployment: not current yet"
        );
        observed
            .deployment_revisions
            .insert("d1".into(), "2".into());
        assert!(observed.is_current(&new));
        assert!(!observed.is_current(&old));
        assert_ne!(old.spec_hash, new.spec_hash);
    }

    #[test]
    fn report_meta_reads_labels_and_owner() {
        let meta: ObjectMeta = serde_yaml::from_str(
            r#"
name: replicaset-web
namespace: ns
resourceVersion: "7"
labels: {trivy-operator.resource.kind: ReplicaSet, resource-spec-hash: abc, plugin-config-hash: def}
ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web, uid: rs1, controller: true}]
"#,
        )
        .unwrap();
        let (owner, report) = audit_report_from_meta(&meta).unwrap();
        assert_eq!(owner, "rs1");
        assert_eq!(report.spec_hash.as_deref(), Some("abc"));
        assert_eq!(report.config_hash.as_deref(), Some("def"));
        assert_eq!(report.kind, "ReplicaSet");
    }
}

//! What the leader knows about the cluster: compact records of workloads, reports and
//! namespaces, never whole objects. Filled by the watchers, read by the planner.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use common::workload::WorkloadKind;

mod audit_objects;
mod companions;
mod from_objects;
pub mod gauges;
mod image_reports;
mod ledger;
mod sources;
mod stored;

pub use audit_objects::{AUDIT_OBJECT_BUDGET, AUDIT_OBJECT_MAX, AuditObjects};
pub use companions::{Companion, CompanionReports, Companions};
use from_objects::annotation;
pub(crate) use from_objects::report_bytes;
pub use from_objects::{
    audit_report_from_meta, deployment_revision, pod_image_ids, vuln_report_from_meta,
    workload_from_object,
};
pub use image_reports::{ImageReportMeta, ImageReports, image_report_from_meta};
pub use ledger::{Ledger, Source};
use stored::{put_stored, remove_stored};

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
    /// `imagePullSecrets` names of its pod spec.
    pub pull_secrets: Vec<String>,
    /// `serviceAccountName` of its pod spec (`None`: the namespace's `default`).
    pub service_account: Option<String>,
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
    /// When that scan ran (never later than when the report was first observed).
    pub scanned_at: Option<jiff::Timestamp>,
    pub resource_version: Option<String>,
    /// What the report gauges need, when the report carries it.
    pub gauge: Option<Box<gauges::VulnGauge>>,
    /// Its size as written (its `bytes` annotation; 0 when it has none).
    pub bytes: u32,
    /// The ImageVulnerabilityReport it names (per-image storage mode).
    pub image_report: Option<Box<str>>,
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
    /// What the report gauges need, when the report carries it.
    pub gauge: Option<Box<gauges::AuditGauge>>,
    /// Its size as written (its `bytes` annotation; 0 when it has none).
    pub bytes: u32,
}

/// The observed cluster, with the indexes incremental planning needs. Every change goes
/// through a method that marks the workloads it touches dirty, so that a round re-plans only
/// those (see [`crate::planner`]).
#[derive(Debug, Default)]
pub struct Observed {
    /// Workloads by uid.
    pub workloads: HashMap<String, Workload>,
    /// Current revision of each Deployment, by uid.
    pub deployment_revisions: HashMap<String, String>,
    /// ConfigAuditReports by owner uid (a workload has one or a few: a small vector, where a
    /// map would allocate a node for eleven).
    pub audit_reports: HashMap<String, Vec<AuditReportMeta>>,
    /// The InfraAssessmentReports of control-plane components, by owner uid.
    pub infra_reports: HashMap<String, Vec<AuditReportMeta>>,
    /// VulnerabilityReports by owner uid (one per container).
    pub vuln_reports: HashMap<String, Vec<VulnReportMeta>>,
    /// ExposedSecretReports and SbomReports by owner uid (one per container).
    pub companions: CompanionReports,
    /// Image digests seen in Pod statuses, by the uid of the workload the Pod belongs to
    /// (its controller, or the bare Pod itself): (container name, digest), by name.
    pub image_ids: HashMap<String, Vec<(String, String)>>,
    /// Namespaces and their labels.
    pub namespaces: HashMap<String, BTreeMap<String, String>>,
    /// Image pull secret names of ServiceAccounts that have any, by (namespace, name).
    pub account_pull_secrets: HashMap<(String, String), Vec<String>>,
    /// Watches that finished their initial list; planning waits for all of them.
    pub synced: HashSet<String>,
    /// Watches failing now, with their last error (cleared by the next event).
    pub watch_errors: BTreeMap<String, String>,
    /// Report watches whose resource the API server does not serve (its CRD is missing):
    /// the work that writes those reports is paused until it is back.
    pub missing_crds: BTreeSet<String>,
    /// Scans this operator ran, usable as copy sources (see [`Ledger`]).
    pub ledger: Ledger,
    /// Workload objects kept for the audits they may need (see [`AuditObjects`]).
    pub audit_objects: AuditObjects,
    /// ImageVulnerabilityReports (per-image storage mode).
    pub image_reports: ImageReports,
    /// Nodes and their ClusterInfraAssessmentReports.
    pub nodes: crate::nodes::NodeObserved,
    /// Roles, ClusterRoles and their RBAC assessment reports.
    pub objects: crate::objects::ObjectObserved,
    /// Workload uids by namespace.
    by_namespace: HashMap<String, HashSet<String>>,
    /// ReplicaSet uids by the uid of the Deployment that controls them.
    by_deployment: HashMap<String, HashSet<String>>,
    /// Workloads whose plan may have changed since the last round.
    dirty: HashSet<String>,
    /// Bumped when the set of namespaces or their labels change (assignments follow).
    pub namespaces_generation: u64,
    /// Scan keys whose trusted source went away since the planner last looked.
    pub lost_sources: Vec<String>,
    /// Bytes of the reports seen, as written: (VulnerabilityReports, ConfigAuditReports,
    /// InfraAssessmentReports).
    report_bytes: (u64, u64, u64),
    /// The image labels of the report gauges, one copy per image.
    images: gauges::ImagePool,
    /// The pool's size after its last clean-up.
    image_pool_mark: usize,
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

    /// Takes the set of workloads marked dirty since the last call.
    pub fn take_dirty(&mut self) -> HashSet<String> {
        std::mem::take(&mut self.dirty)
    }

    /// Marks one workload dirty.
    pub fn mark_dirty(&mut self, uid: &str) {
        if !self.dirty.contains(uid) {
            self.dirty.insert(uid.to_string());
        }
    }

    /// Marks every workload dirty (a full re-plan).
    pub fn mark_all_dirty(&mut self) {
        self.dirty.extend(self.workloads.keys().cloned());
    }

    /// Marks every workload of a namespace dirty.
    fn mark_namespace_dirty(&mut self, namespace: &str) {
        if let Some(uids) = self.by_namespace.get(namespace) {
            self.dirty.extend(uids.iter().cloned());
        }
    }

    /// How many workloads are dirty now.
    pub fn dirty_len(&self) -> usize {
        self.dirty.len()
    }

    /// The uids of the workloads in a namespace.
    pub fn workloads_in(&self, namespace: &str) -> impl Iterator<Item = &Workload> + '_ {
        self.by_namespace
            .get(namespace)
            .into_iter()
            .flatten()
            .filter_map(|uid| self.workloads.get(uid))
    }

    /// Records or replaces a workload.
    pub fn put_workload(&mut self, workload: Workload) {
        let uid = workload.uid.clone();
        if self.workloads.get(&uid) == Some(&workload) {
            return;
        }
        self.unindex(&uid);
        self.by_namespace
            .entry(workload.namespace.clone())
            .or_default()
            .insert(uid.clone());
        if let Some(link) = &workload.deployment {
            self.by_deployment
                .entry(link.uid.clone())
                .or_default()
                .insert(uid.clone());
        }
        self.workloads.insert(uid.clone(), workload);
        self.mark_dirty(&uid);
    }

    /// Forgets a workload (and the digests of its Pods).
    pub fn remove_workload(&mut self, uid: &str) {
        self.audit_objects.remove(uid);
        self.unindex(uid);
        if self.workloads.remove(uid).is_some() {
            self.image_ids.remove(uid);
            self.mark_dirty(uid);
        }
    }

    fn unindex(&mut self, uid: &str) {
        let Some(old) = self.workloads.get(uid) else {
            return;
        };
        if let Some(set) = self.by_namespace.get_mut(&old.namespace) {
            set.remove(uid);
            if set.is_empty() {
                self.by_namespace.remove(&old.namespace);
            }
        }
        if let Some(link) = &old.deployment
            && let Some(set) = self.by_deployment.get_mut(&link.uid)
        {
            set.remove(uid);
            if set.is_empty() {
                self.by_deployment.remove(&link.uid);
            }
        }
    }

    /// Records the image digests a Pod of workload `owner` reported.
    pub fn put_image_ids(&mut self, owner: String, ids: BTreeMap<String, String>) {
        let ids: Vec<(String, String)> = ids.into_iter().collect();
        if self.image_ids.get(&owner) != Some(&ids) {
            self.mark_dirty(&owner);
            self.image_ids.insert(owner, ids);
        }
    }

    /// Records a Deployment's current revision; its ReplicaSets are re-planned.
    pub fn put_deployment_revision(&mut self, uid: String, revision: String) {
        if self.deployment_revisions.get(&uid) != Some(&revision) {
            self.mark_deployment_dirty(&uid);
            self.deployment_revisions.insert(uid, revision);
        }
    }

    /// Forgets a Deployment.
    pub fn remove_deployment(&mut self, uid: &str) {
        if self.deployment_revisions.remove(uid).is_some() {
            self.mark_deployment_dirty(uid);
        }
    }

    fn mark_deployment_dirty(&mut self, uid: &str) {
        if let Some(rs) = self.by_deployment.get(uid) {
            self.dirty.extend(rs.iter().cloned());
        }
    }

    /// Records a namespace and its labels; its workloads are re-planned when they change.
    pub fn put_namespace(&mut self, name: String, labels: BTreeMap<String, String>) {
        if self.namespaces.get(&name) != Some(&labels) {
            self.mark_namespace_dirty(&name);
            self.namespaces.insert(name, labels);
            self.namespaces_generation += 1;
        }
    }

    /// Forgets a namespace.
    pub fn remove_namespace(&mut self, name: &str) {
        if self.namespaces.remove(name).is_some() {
            self.mark_namespace_dirty(name);
            self.namespaces_generation += 1;
        }
    }

    /// Records the image pull secrets of a ServiceAccount (none: forgotten).
    pub fn put_account(&mut self, namespace: String, name: String, secrets: Vec<String>) {
        if secrets.is_empty() {
            self.account_pull_secrets.remove(&(namespace, name));
        } else {
            self.account_pull_secrets.insert((namespace, name), secrets);
        }
    }

    /// The image digest a Pod of workload `uid` reported for `container`.
    pub fn image_id(&self, uid: &str, container: &str) -> Option<&str> {
        self.image_ids
            .get(uid)?
            .iter()
            .find(|(name, _)| name == container)
            .map(|(_, id)| id.as_str())
    }

    /// Records or replaces a ConfigAuditReport (a workload's, or an audited object's: a
    /// cluster-scoped one's ClusterConfigAuditReport has no namespace).
    pub fn put_audit_report(&mut self, owner_uid: String, report: AuditReportMeta) {
        self.mark_dirty(&owner_uid);
        self.objects.touch(&owner_uid);
        put_stored(
            &mut self.audit_reports,
            owner_uid,
            report,
            &mut self.report_bytes.1,
        );
    }

    /// Bytes of the reports seen, as written, every kind together.
    pub fn report_bytes(&self) -> u64 {
        self.report_bytes.0
            + self.report_bytes.1
            + self.report_bytes.2
            + self.objects.bytes()
            + self.companions.bytes()
            + self.image_reports.bytes()
    }

    /// Records or replaces a VulnerabilityReport; a trusted source it was stops being one
    /// unless it is unchanged.
    pub fn put_vuln_report(&mut self, owner_uid: String, mut report: VulnReportMeta) {
        self.mark_dirty(&owner_uid);
        self.share_image(&mut report);
        let lost = self.ledger.observe(
            &report.namespace,
            &report.name,
            report.resource_version.as_deref(),
        );
        self.lost_sources.extend(lost);
        self.image_reports.name(report.image_report.as_deref());
        let old = put_stored(
            &mut self.vuln_reports,
            owner_uid,
            report,
            &mut self.report_bytes.0,
        );
        if let Some(old) = &old {
            self.image_reports.unname(old.image_report.as_deref());
        }
    }

    /// Points a report's gauge at the one shared copy of its image's labels (the pool is
    /// swept of unused images as it doubles).
    fn share_image(&mut self, report: &mut VulnReportMeta) {
        if let Some(gauge) = &mut report.gauge {
            gauge.image = self.images.intern(&gauge.image);
            if self.images.len() > 2 * self.image_pool_mark.max(1024) {
                self.images.retain_used();
                self.image_pool_mark = self.images.len();
            }
        }
    }

    /// Forgets a VulnerabilityReport (and any trusted source it was).
    pub fn remove_vuln_report(&mut self, owner_uid: &str, name: &str) {
        self.mark_dirty(owner_uid);
        let removed = remove_stored(
            &mut self.vuln_reports,
            owner_uid,
            name,
            &mut self.report_bytes.0,
        );
        if let Some(report) = removed {
            self.image_reports.unname(report.image_report.as_deref());
            let lost = self.ledger.observe(&report.namespace, name, None);
            self.lost_sources.extend(lost);
        }
    }

    /// Forgets a ConfigAuditReport.
    pub fn remove_audit_report(&mut self, owner_uid: &str, name: &str) {
        self.mark_dirty(owner_uid);
        self.objects.touch(owner_uid);
        remove_stored(
            &mut self.audit_reports,
            owner_uid,
            name,
            &mut self.report_bytes.1,
        );
    }

    /// Records or replaces a control-plane component's InfraAssessmentReport.
    pub fn put_infra_report(&mut self, owner_uid: String, report: AuditReportMeta) {
        self.mark_dirty(&owner_uid);
        put_stored(
            &mut self.infra_reports,
            owner_uid,
            report,
            &mut self.report_bytes.2,
        );
    }

    /// Forgets an InfraAssessmentReport.
    pub fn remove_infra_report(&mut self, owner_uid: &str, name: &str) {
        self.mark_dirty(owner_uid);
        remove_stored(
            &mut self.infra_reports,
            owner_uid,
            name,
            &mut self.report_bytes.2,
        );
    }

    /// The InfraAssessmentReports of a workload, owned by its uid and in its namespace.
    pub fn infra_reports_of<'a>(
        &'a self,
        workload: &'a Workload,
    ) -> impl Iterator<Item = &'a AuditReportMeta> + 'a {
        owned_by(&self.infra_reports, workload)
    }

    /// The ConfigAuditReports of a workload: owned by its uid and in its namespace (a
    /// report elsewhere naming the uid is not its report).
    pub fn audit_reports_of<'a>(
        &'a self,
        workload: &'a Workload,
    ) -> impl Iterator<Item = &'a AuditReportMeta> + 'a {
        owned_by(&self.audit_reports, workload)
    }

    /// The VulnerabilityReports of a workload, owned by its uid and in its namespace.
    pub fn vuln_reports_of<'a>(
        &'a self,
        workload: &'a Workload,
    ) -> impl Iterator<Item = &'a VulnReportMeta> + 'a {
        self.vuln_reports
            .get(&workload.uid)
            .into_iter()
            .flatten()
            .filter(|r| r.namespace == workload.namespace)
    }

    /// The image pull secrets a workload's Pods use: its own, then its ServiceAccount's.
    pub fn pull_secrets_of(&self, workload: &Workload) -> Vec<String> {
        let mut names = workload.pull_secrets.clone();
        let account = (
            workload.namespace.clone(),
            workload
                .service_account
                .clone()
                .unwrap_or_else(|| "default".to_string()),
        );
        if let Some(more) = self.account_pull_secrets.get(&account) {
            names.extend(
                more.iter()
                    .filter(|n| !workload.pull_secrets.contains(n))
                    .cloned(),
            );
        }
        names
    }
}

/// The reports of `reports` (by owner uid) that `workload` owns in its namespace (a report
/// elsewhere naming its uid is not its report).
fn owned_by<'a>(
    reports: &'a HashMap<String, Vec<AuditReportMeta>>,
    workload: &'a Workload,
) -> impl Iterator<Item = &'a AuditReportMeta> + 'a {
    reports
        .get(&workload.uid)
        .into_iter()
        .flatten()
        .filter(|r| r.namespace == workload.namespace)
}

#[cfg(test)]
mod tests;

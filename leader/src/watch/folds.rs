//! How each watch folds its objects into [`Observed`]: compact records, keyed so that a
//! re-list can tell what disappeared.

use common::reports::config_audit::ConfigAuditReport;
use common::reports::image_vulnerability::ImageVulnerabilityReport;
use common::reports::infra_assessment::InfraAssessmentReport;
use common::reports::vulnerability::VulnerabilityReport;
use common::workload::WorkloadKind;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::DynamicObject;
use kube::core::PartialObjectMeta;

use super::Fold;
use crate::observed::{self, Companion, Observed};

pub(super) struct WorkloadFold(pub(super) WorkloadKind);

impl Fold<DynamicObject> for WorkloadFold {
    fn key(&self, object: &DynamicObject) -> Option<String> {
        object.metadata.uid.clone()
    }
    fn upsert(&self, observed: &mut Observed, object: &DynamicObject) -> bool {
        if self.0 == WorkloadKind::Pod
            && let Some((owner, ids)) = observed::pod_image_ids(object)
        {
            observed.put_image_ids(owner, ids);
        }
        match observed::workload_from_object(self.0, object) {
            Some(workload) => {
                observed
                    .audit_objects
                    .put(&workload.uid, &workload.spec_hash, object);
                observed.put_workload(workload);
                true
            }
            None => false,
        }
    }
    fn remove(&self, observed: &mut Observed, key: &str) {
        observed.remove_workload(key);
    }
}

pub(super) struct DeploymentFold;

impl Fold<PartialObjectMeta<Deployment>> for DeploymentFold {
    fn key(&self, object: &PartialObjectMeta<Deployment>) -> Option<String> {
        object.metadata.uid.clone()
    }
    fn upsert(&self, observed: &mut Observed, object: &PartialObjectMeta<Deployment>) -> bool {
        match (
            &object.metadata.uid,
            observed::deployment_revision(&object.metadata),
        ) {
            (Some(uid), Some(revision)) => {
                observed.put_deployment_revision(uid.clone(), revision);
                true
            }
            _ => false,
        }
    }
    fn remove(&self, observed: &mut Observed, key: &str) {
        observed.remove_deployment(key);
    }
}

/// ServiceAccounts, reduced to the image pull secrets of those that have any.
pub(super) struct AccountFold;

impl Fold<ServiceAccount> for AccountFold {
    fn key(&self, object: &ServiceAccount) -> Option<String> {
        let meta = &object.metadata;
        Some(format!(
            "{}{KEY_SEPARATOR}{}",
            meta.namespace.as_deref()?,
            meta.name.as_deref()?
        ))
    }
    fn upsert(&self, observed: &mut Observed, object: &ServiceAccount) -> bool {
        let meta = &object.metadata;
        let (Some(namespace), Some(name)) = (meta.namespace.clone(), meta.name.clone()) else {
            return false;
        };
        let secrets = object
            .image_pull_secrets
            .iter()
            .flatten()
            .map(|r| r.name.clone())
            .filter(|n| !n.is_empty())
            .collect();
        observed.put_account(namespace, name, secrets);
        true
    }
    fn remove(&self, observed: &mut Observed, key: &str) {
        if let Some((namespace, name)) = key.split_once(KEY_SEPARATOR) {
            observed.put_account(namespace.to_string(), name.to_string(), Vec::new());
        }
    }
}

pub(super) struct NamespaceFold;

impl Fold<PartialObjectMeta<Namespace>> for NamespaceFold {
    fn key(&self, object: &PartialObjectMeta<Namespace>) -> Option<String> {
        object.metadata.name.clone()
    }
    fn upsert(&self, observed: &mut Observed, object: &PartialObjectMeta<Namespace>) -> bool {
        let Some(name) = object.metadata.name.clone() else {
            return false;
        };
        if object.metadata.deletion_timestamp.is_some() {
            return false; // terminating: nothing new is created there
        }
        observed.put_namespace(name, object.metadata.labels.clone().unwrap_or_default());
        true
    }
    fn remove(&self, observed: &mut Observed, key: &str) {
        observed.remove_namespace(key);
    }
}

/// The fold of ConfigAuditReports (`AuditReportFold::<ConfigAuditReport>::config_audits()`)
/// or of control-plane components' InfraAssessmentReports (`infra_assessments()`): the same
/// labels, kept in their own maps.
pub(super) struct AuditReportFold<K> {
    infra: bool,
    kind: std::marker::PhantomData<fn() -> K>,
}

impl AuditReportFold<ConfigAuditReport> {
    pub(super) fn config_audits() -> Self {
        Self {
            infra: false,
            kind: std::marker::PhantomData,
        }
    }
}

impl AuditReportFold<common::reports::config_audit::ClusterConfigAuditReport> {
    /// The ClusterConfigAuditReports of cluster-scoped objects, kept as the ConfigAuditReports
    /// are (with an empty namespace).
    pub(super) fn cluster_config_audits() -> Self {
        Self {
            infra: false,
            kind: std::marker::PhantomData,
        }
    }
}

impl AuditReportFold<InfraAssessmentReport> {
    pub(super) fn infra_assessments() -> Self {
        Self {
            infra: true,
            kind: std::marker::PhantomData,
        }
    }
}

/// Reports are keyed by owner uid and name, joined by a character names cannot hold.
const KEY_SEPARATOR: char = '/';

impl<K: 'static> Fold<PartialObjectMeta<K>> for AuditReportFold<K> {
    fn key(&self, object: &PartialObjectMeta<K>) -> Option<String> {
        let (owner, report) = observed::audit_report_from_meta(&object.metadata)?;
        Some(format!("{owner}{KEY_SEPARATOR}{}", report.name))
    }
    fn upsert(&self, observed: &mut Observed, object: &PartialObjectMeta<K>) -> bool {
        match observed::audit_report_from_meta(&object.metadata) {
            Some((owner, report)) if self.infra => {
                observed.put_infra_report(owner, report);
                true
            }
            Some((owner, report)) => {
                observed.put_audit_report(owner, report);
                true
            }
            None => false,
        }
    }
    fn remove(&self, observed: &mut Observed, key: &str) {
        if let Some((owner, name)) = key.split_once(KEY_SEPARATOR) {
            if self.infra {
                observed.remove_infra_report(owner, name);
            } else {
                observed.remove_audit_report(owner, name);
            }
        }
    }
}

pub(super) struct VulnReportFold;

impl Fold<PartialObjectMeta<VulnerabilityReport>> for VulnReportFold {
    fn key(&self, object: &PartialObjectMeta<VulnerabilityReport>) -> Option<String> {
        let (owner, report) =
            observed::vuln_report_from_meta(&object.metadata, jiff::Timestamp::now())?;
        Some(format!("{owner}{KEY_SEPARATOR}{}", report.name))
    }
    fn upsert(
        &self,
        observed: &mut Observed,
        object: &PartialObjectMeta<VulnerabilityReport>,
    ) -> bool {
        match observed::vuln_report_from_meta(&object.metadata, jiff::Timestamp::now()) {
            Some((owner, report)) => {
                observed.put_vuln_report(owner, report);
                true
            }
            None => false,
        }
    }
    fn remove(&self, observed: &mut Observed, key: &str) {
        if let Some((owner, name)) = key.split_once(KEY_SEPARATOR) {
            observed.remove_vuln_report(owner, name);
        }
    }
}

pub(super) struct ImageReportFold;

impl Fold<PartialObjectMeta<ImageVulnerabilityReport>> for ImageReportFold {
    fn key(&self, object: &PartialObjectMeta<ImageVulnerabilityReport>) -> Option<String> {
        object.metadata.name.clone()
    }
    fn upsert(
        &self,
        observed: &mut Observed,
        object: &PartialObjectMeta<ImageVulnerabilityReport>,
    ) -> bool {
        match observed::image_report_from_meta(&object.metadata) {
            Some((name, report)) => {
                observed.put_image_report(name, report);
                true
            }
            None => false,
        }
    }
    fn remove(&self, observed: &mut Observed, key: &str) {
        observed.remove_image_report(key);
    }
}

/// The fold of a companion report kind (`K`: ExposedSecretReport or SbomReport): the same
/// metadata as a VulnerabilityReport's (an image report annotation aside).
pub(super) struct CompanionFold<K>(pub(super) Companion, pub(super) std::marker::PhantomData<K>);

impl<K: Send + 'static> Fold<PartialObjectMeta<K>> for CompanionFold<K> {
    fn key(&self, object: &PartialObjectMeta<K>) -> Option<String> {
        let (owner, report) =
            observed::vuln_report_from_meta(&object.metadata, jiff::Timestamp::now())?;
        Some(format!("{owner}{KEY_SEPARATOR}{}", report.name))
    }
    fn upsert(&self, observed: &mut Observed, object: &PartialObjectMeta<K>) -> bool {
        match observed::vuln_report_from_meta(&object.metadata, jiff::Timestamp::now()) {
            Some((owner, mut report)) => {
                report.image_report = None;
                observed.put_companion(self.0, owner, report);
                true
            }
            None => false,
        }
    }
    fn remove(&self, observed: &mut Observed, key: &str) {
        if let Some((owner, name)) = key.split_once(KEY_SEPARATOR) {
            observed.remove_companion(self.0, owner, name);
        }
    }
}

//! Runs one RBAC assessment: takes the role the leader sent with the task (or reads it: its
//! one read), evaluates the policies of its kind the task was planned with, and writes the
//! RbacAssessmentReport (`role-<name>`, in the Role's namespace) or the
//! ClusterRbacAssessmentReport (`clusterrole-<name>`) with server-side apply, owned by the
//! role so that it goes with it.

use std::time::Duration;

use common::labels;
use common::names::config_audit_report_name;
use common::objects::{ObjectKind, RBAC_API_VERSION};
use common::owner::owner_reference;
use common::reports::rbac_assessment::{
    ClusterRbacAssessmentReport, RbacAssessmentReport, RbacAssessmentReportData,
};
use common::retry;
use k8s_openapi::api::rbac::v1::{ClusterRole, Role};
use kube::api::{ObjectMeta, Patch, PatchParams};
use kube::{Api, Client};
use serde_json::Value;

use crate::config_audit::FIELD_MANAGER;
use crate::policies::{self, PolicyCache};
use crate::task::RbacTask;

/// How long to wait for the local policy copy to match the leader's.
const POLICY_PATIENCE: Duration = Duration::from_secs(10);

/// Why an assessment failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The role is gone, or a new one with the same name replaced it.
    #[error("{0} no longer exists")]
    RoleGone(String),
    /// No matching policy version.
    #[error(transparent)]
    Policies(#[from] policies::Error),
    /// The evaluation did not complete.
    #[error("evaluating the policies: {0}")]
    Evaluation(String),
    /// Reading the role failed.
    #[error("reading the role: {0}")]
    ReadRole(#[source] kube::Error),
    /// Writing the report failed.
    #[error("writing the report: {0}")]
    WriteReport(#[source] kube::Error),
}

impl Error {
    /// A bounded reason for results and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::RoleGone(_) => "RoleGone",
            Self::Policies(policies::Error::NotLoaded) => "PolicyConfigNotLoaded",
            Self::Policies(policies::Error::Mismatch { .. }) => "PolicyConfigMismatch",
            Self::Evaluation(_) => "PolicyEvaluationFailed",
            Self::ReadRole(_) => "ReadRoleFailed",
            Self::WriteReport(_) => "WriteReportFailed",
        }
    }

    /// Whether a retry can help without the role changing.
    pub fn outcome(&self) -> common::proto::Outcome {
        match self {
            Self::RoleGone(_) => common::proto::Outcome::FailedPermanent,
            _ => common::proto::Outcome::FailedRetryable,
        }
    }
}

/// Assesses the task's role and writes its report; returns the report's name.
#[tracing::instrument(skip_all, fields(task = %task.task_id))]
pub async fn run(
    client: &Client,
    cache: &PolicyCache,
    task: &RbacTask,
    include_passed: bool,
) -> Result<String, Error> {
    let kind = role_kind(task);
    let object = match sent_object(task) {
        Some(object) => object,
        None => read_role(client, task).await?,
    };
    let spec_hash = ObjectKind::Role.spec_hash(&object);
    let policies = cache
        .matching_role(kind, &task.config_hash, POLICY_PATIENCE)
        .await?;
    let checks = policies
        .assess_role(kind, object, include_passed)
        .await
        .map_err(Error::Evaluation)?;
    let name = config_audit_report_name(kind, &task.name);
    let mut metadata = report_metadata(task, &spec_hash);
    let mut data = RbacAssessmentReportData::from_checks(crate::report::scanner(), checks);
    if task.summary_only {
        // The summary was counted from the checks; the checks are left out.
        data.checks.clear();
        common::reports::gauge::mark_summary_only(&mut metadata);
    }
    write(client, task, &name, metadata, data).await?;
    tracing::info!(report = %name, kind, namespace = %task.namespace, role = %task.name,
        %spec_hash, "rbac assessment report written");
    Ok(name)
}

/// The role kind as the policies know it.
fn role_kind(task: &RbacTask) -> &'static str {
    if task.cluster_scoped() {
        "ClusterRole"
    } else {
        "Role"
    }
}

/// The role object the leader sent with the task, if it is the task's role.
fn sent_object(task: &RbacTask) -> Option<Value> {
    if task.object_json.is_empty() {
        return None;
    }
    let object: Value = serde_json::from_str(&task.object_json).ok()?;
    let meta = &object["metadata"];
    let same = object["kind"] == role_kind(task)
        && meta["uid"] == task.uid.as_str()
        && meta["name"] == task.name.as_str()
        && (task.cluster_scoped() || meta["namespace"] == task.namespace.as_str());
    (same && ObjectKind::Role.spec_hash(&object) == task.spec_hash).then_some(object)
}

/// Reads the task's role (the one read an assessment may need).
async fn read_role(client: &Client, task: &RbacTask) -> Result<Value, Error> {
    let described = format!("{} {}/{}", role_kind(task), task.namespace, task.name);
    let object = if task.cluster_scoped() {
        let api: Api<ClusterRole> = Api::all(client.clone());
        let found = retry::idempotent("read role", || api.get_opt(&task.name))
            .await
            .map_err(Error::ReadRole)?;
        found.and_then(|r| serde_json::to_value(r).ok())
    } else {
        let api: Api<Role> = Api::namespaced(client.clone(), &task.namespace);
        let found = retry::idempotent("read role", || api.get_opt(&task.name))
            .await
            .map_err(Error::ReadRole)?;
        found.and_then(|r| serde_json::to_value(r).ok())
    };
    match object {
        Some(o) if o["metadata"]["uid"] == task.uid.as_str() => Ok(o),
        _ => Err(Error::RoleGone(described)),
    }
}

/// The report's metadata: upstream's name, labels and owner (the role).
fn report_metadata(task: &RbacTask, spec_hash: &str) -> ObjectMeta {
    let kind = role_kind(task);
    let (mut report_labels, annotations) =
        labels::report_labels(kind, &task.name, &task.namespace, spec_hash);
    labels::add_plugin_config_hash(&mut report_labels, &task.config_hash);
    ObjectMeta {
        name: Some(config_audit_report_name(kind, &task.name)),
        namespace: (!task.cluster_scoped()).then(|| task.namespace.clone()),
        labels: Some(report_labels),
        annotations: (!annotations.is_empty()).then_some(annotations),
        owner_references: Some(vec![owner_reference(
            RBAC_API_VERSION,
            kind,
            &task.name,
            &task.uid,
        )]),
        ..ObjectMeta::default()
    }
}

/// Writes the report of the task's kind with server-side apply.
async fn write(
    client: &Client,
    task: &RbacTask,
    name: &str,
    metadata: ObjectMeta,
    report: RbacAssessmentReportData,
) -> Result<(), Error> {
    let apply = PatchParams::apply(FIELD_MANAGER).force();
    if task.cluster_scoped() {
        let mut object = ClusterRbacAssessmentReport { metadata, report };
        common::reports::gauge::annotate_cluster_rbac_assessment_report(&mut object);
        let api: Api<ClusterRbacAssessmentReport> = Api::all(client.clone());
        let patch = Patch::Apply(&object);
        retry::idempotent("write report", || api.patch(name, &apply, &patch))
            .await
            .map_err(Error::WriteReport)?;
    } else {
        let mut object = RbacAssessmentReport { metadata, report };
        common::reports::gauge::annotate_rbac_assessment_report(&mut object);
        let api: Api<RbacAssessmentReport> = Api::namespaced(client.clone(), &task.namespace);
        let patch = Patch::Apply(&object);
        retry::idempotent("write report", || api.patch(name, &apply, &patch))
            .await
            .map_err(Error::WriteReport)?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn task(kind: &str, json: &str, spec_hash: &str) -> RbacTask {
        RbacTask {
            task_id: "t".into(),
            kind: kind.into(),
            namespace: if kind == "Role" {
                "team".into()
            } else {
                String::new()
            },
            name: "reader".into(),
            uid: "r1".into(),
            spec_hash: spec_hash.into(),
            config_hash: "c".into(),
            object_json: json.into(),
            summary_only: false,
        }
    }

    const ROLE: &str = r#"{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role",
        "metadata":{"name":"reader","namespace":"team","uid":"r1"},
        "rules":[{"apiGroups":[""],"resources":["pods"],"verbs":["get"]}]}"#;

    #[test]
    fn the_sent_role_is_used_only_when_it_is_the_tasks_role_at_its_rules() {
        let hash = ObjectKind::Role.spec_hash(&serde_json::from_str(ROLE).unwrap());
        assert!(sent_object(&task("Role", ROLE, &hash)).is_some());
        assert!(sent_object(&task("Role", ROLE, "other-rules")).is_none());
        assert!(sent_object(&task("Role", &ROLE.replace("\"r1\"", "\"r2\""), &hash)).is_none());
        assert!(sent_object(&task("ClusterRole", ROLE, &hash)).is_none());
        assert!(sent_object(&task("Role", "", &hash)).is_none());
        assert!(sent_object(&task("Role", "{", &hash)).is_none());
    }

    #[test]
    fn reports_are_named_labelled_and_owned_like_upstreams() {
        let role = report_metadata(&task("Role", "", "s"), "s1");
        assert_eq!(role.name.as_deref(), Some("role-reader"));
        assert_eq!(role.namespace.as_deref(), Some("team"));
        let labels = role.labels.unwrap();
        assert_eq!(labels["trivy-operator.resource.kind"], "Role");
        assert_eq!(labels["trivy-operator.resource.name"], "reader");
        assert_eq!(labels["trivy-operator.resource.namespace"], "team");
        assert_eq!(labels["resource-spec-hash"], "s1");
        assert_eq!(labels["plugin-config-hash"], "c");
        let owner = &role.owner_references.unwrap()[0];
        assert_eq!(
            (
                owner.api_version.as_str(),
                owner.kind.as_str(),
                owner.uid.as_str()
            ),
            ("rbac.authorization.k8s.io/v1", "Role", "r1")
        );
        assert_eq!(owner.controller, Some(true));
        let cluster = report_metadata(&task("ClusterRole", "", "s"), "s1");
        assert_eq!(cluster.name.as_deref(), Some("clusterrole-reader"));
        assert_eq!(cluster.namespace, None);
        assert_eq!(
            cluster.labels.unwrap()["trivy-operator.resource.namespace"],
            ""
        );
    }
}

//! Audits one object besides workloads and nodes: takes the object the leader sent with the
//! task (or reads it: its one read), evaluates the policies of its kind the task was planned
//! with, and writes its report with server-side apply, owned by the object so that it goes
//! with it — a role's RbacAssessmentReport (`role-<name>`, in the Role's namespace) or
//! ClusterRbacAssessmentReport (`clusterrole-<name>`), another kind's ConfigAuditReport
//! (`service-<name>`, ... in its namespace) or ClusterConfigAuditReport
//! (`clusterrolebinding-<name>`, `customresourcedefinition-<name>`).

use std::time::Duration;

use common::labels;
use common::names::config_audit_report_name;
use common::objects::ReportKind;
use common::owner::owner_reference;
use common::reports::config_audit::{
    Check, ClusterConfigAuditReport, ConfigAuditReport, ConfigAuditReportData,
};
use common::reports::gauge;
use common::reports::rbac_assessment::{
    ClusterRbacAssessmentReport, RbacAssessmentReport, RbacAssessmentReportData,
};
use common::retry;
use kube::api::{DynamicObject, ObjectMeta, Patch, PatchParams};
use kube::{Api, Client, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::config_audit::FIELD_MANAGER;
use crate::policies::{self, PolicyCache};
use crate::task::ObjectTask;

/// How long to wait for the local policy copy to match the leader's.
const POLICY_PATIENCE: Duration = Duration::from_secs(10);

/// Why an audit failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The object is gone, or a new one with the same name replaced it.
    #[error("{0} no longer exists")]
    ObjectGone(String),
    /// No matching policy version.
    #[error(transparent)]
    Policies(#[from] policies::Error),
    /// The evaluation did not complete.
    #[error("evaluating the policies: {0}")]
    Evaluation(String),
    /// Reading the object failed.
    #[error("reading the object: {0}")]
    ReadObject(#[source] kube::Error),
    /// Writing the report failed.
    #[error("writing the report: {0}")]
    WriteReport(#[source] kube::Error),
}

impl Error {
    /// A bounded reason for results and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::ObjectGone(_) => "ObjectGone",
            Self::Policies(policies::Error::NotLoaded) => "PolicyConfigNotLoaded",
            Self::Policies(policies::Error::Mismatch { .. }) => "PolicyConfigMismatch",
            Self::Evaluation(_) => "PolicyEvaluationFailed",
            Self::ReadObject(_) => "ReadObjectFailed",
            Self::WriteReport(_) => "WriteReportFailed",
        }
    }

    /// Whether a retry can help without the object changing.
    pub fn outcome(&self) -> common::proto::Outcome {
        match self {
            Self::ObjectGone(_) => common::proto::Outcome::FailedPermanent,
            _ => common::proto::Outcome::FailedRetryable,
        }
    }
}

/// Audits the task's object and writes its report; returns the report's name.
#[tracing::instrument(skip_all, fields(task = %task.task_id))]
pub async fn run(
    client: &Client,
    cache: &PolicyCache,
    task: &ObjectTask,
    include_passed: bool,
) -> Result<String, Error> {
    let kind = task.kind;
    let object = match sent_object(task) {
        Some(object) => object,
        None => read_object(client, task).await?,
    };
    let spec_hash = kind.spec_hash(&object);
    let policies = cache
        .matching_object(kind, &task.config_hash, POLICY_PATIENCE)
        .await?;
    let checks = policies
        .assess_object(kind, object, include_passed)
        .await
        .map_err(Error::Evaluation)?;
    let name = config_audit_report_name(kind.as_str(), &task.name);
    let metadata = report_metadata(task, &spec_hash);
    write(client, task, &name, metadata, checks).await?;
    tracing::info!(report = %name, kind = kind.as_str(), namespace = %task.namespace,
        object = %task.name, %spec_hash, "report written");
    Ok(name)
}

/// The object the leader sent with the task, if it is the task's object at its content.
fn sent_object(task: &ObjectTask) -> Option<Value> {
    if task.object_json.is_empty() {
        return None;
    }
    let object: Value = serde_json::from_str(&task.object_json).ok()?;
    let meta = &object["metadata"];
    let same = object["kind"] == task.kind.as_str()
        && meta["uid"] == task.uid.as_str()
        && meta["name"] == task.name.as_str()
        && (task.cluster_scoped() || meta["namespace"] == task.namespace.as_str());
    (same && task.kind.spec_hash(&object) == task.spec_hash).then_some(object)
}

/// Reads the task's object (the one read an audit may need).
async fn read_object(client: &Client, task: &ObjectTask) -> Result<Value, Error> {
    let kind = task.kind;
    let described = format!("{} {}/{}", kind.as_str(), task.namespace, task.name);
    let resource = common::resources::object_api_resource(kind);
    let api: Api<DynamicObject> = if task.cluster_scoped() {
        Api::all_with(client.clone(), &resource)
    } else {
        Api::namespaced_with(client.clone(), &task.namespace, &resource)
    };
    let found = retry::idempotent("read object", || api.get_opt(&task.name))
        .await
        .map_err(Error::ReadObject)?;
    let object = found.and_then(|o| serde_json::to_value(o).ok());
    match object {
        Some(mut o) if o["metadata"]["uid"] == task.uid.as_str() => {
            // As the leader sends it (a GET has its type; a test double may not).
            o["apiVersion"] = kind.api_version().into();
            o["kind"] = kind.as_str().into();
            Ok(o)
        }
        _ => Err(Error::ObjectGone(described)),
    }
}

/// The report's metadata: upstream's name, labels and owner (the object).
fn report_metadata(task: &ObjectTask, spec_hash: &str) -> ObjectMeta {
    let kind = task.kind.as_str();
    let (mut report_labels, annotations) =
        labels::report_labels(kind, &task.name, &task.namespace, spec_hash);
    labels::add_plugin_config_hash(&mut report_labels, &task.config_hash);
    ObjectMeta {
        name: Some(config_audit_report_name(kind, &task.name)),
        namespace: (!task.cluster_scoped()).then(|| task.namespace.clone()),
        labels: Some(report_labels),
        annotations: (!annotations.is_empty()).then_some(annotations),
        owner_references: Some(vec![owner_reference(
            task.kind.api_version(),
            kind,
            &task.name,
            &task.uid,
        )]),
        ..ObjectMeta::default()
    }
}

/// Writes the report of the object's report kind, with server-side apply (its checks left
/// out when the task asks for the summary only).
async fn write(
    client: &Client,
    task: &ObjectTask,
    name: &str,
    mut metadata: ObjectMeta,
    checks: Vec<Check>,
) -> Result<(), Error> {
    if task.summary_only {
        gauge::mark_summary_only(&mut metadata);
    }
    let clear = task.summary_only;
    match task.kind.report_kind() {
        ReportKind::RbacAssessmentReport | ReportKind::ClusterRbacAssessmentReport => {
            let mut report =
                RbacAssessmentReportData::from_checks(crate::report::scanner(), checks);
            if clear {
                // The summary was counted from the checks; the checks are left out.
                report.checks.clear();
            }
            if task.cluster_scoped() {
                let mut object = ClusterRbacAssessmentReport { metadata, report };
                gauge::annotate_cluster_rbac_assessment_report(&mut object);
                apply(Api::all(client.clone()), name, &object).await
            } else {
                let mut object = RbacAssessmentReport { metadata, report };
                gauge::annotate_rbac_assessment_report(&mut object);
                apply(namespaced(client, task), name, &object).await
            }
        }
        ReportKind::ConfigAuditReport | ReportKind::ClusterConfigAuditReport => {
            let now = k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(jiff::Timestamp::now());
            let mut report =
                ConfigAuditReportData::from_checks(Some(now), crate::report::scanner(), checks);
            if clear {
                report.checks.clear();
            }
            if task.cluster_scoped() {
                let mut object = ClusterConfigAuditReport { metadata, report };
                gauge::annotate_cluster_config_audit_report(&mut object);
                apply(Api::all(client.clone()), name, &object).await
            } else {
                let mut object = ConfigAuditReport::new(metadata, report);
                gauge::annotate_config_audit_report(&mut object);
                apply(namespaced(client, task), name, &object).await
            }
        }
    }
}

/// The API of a namespaced report kind in the object's namespace.
fn namespaced<R>(client: &Client, task: &ObjectTask) -> Api<R>
where
    R: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>,
{
    Api::namespaced(client.clone(), &task.namespace)
}

/// Server-side applies a report through `api`.
async fn apply<R>(api: Api<R>, name: &str, report: &R) -> Result<(), Error>
where
    R: Resource<DynamicType = ()> + Serialize + DeserializeOwned + Clone + std::fmt::Debug,
{
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let patch = Patch::Apply(report);
    retry::idempotent("write report", || api.patch(name, &params, &patch))
        .await
        .map_err(Error::WriteReport)?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use common::objects::ObjectKind;

    fn task(kind: ObjectKind, json: &str, spec_hash: &str) -> ObjectTask {
        ObjectTask {
            task_id: "t".into(),
            kind,
            namespace: if kind.cluster_scoped() {
                String::new()
            } else {
                "team".into()
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
    fn the_sent_object_is_used_only_when_it_is_the_tasks_object_at_its_content() {
        let hash = ObjectKind::Role.spec_hash(&serde_json::from_str(ROLE).unwrap());
        let role = |json: &str, hash: &str| sent_object(&task(ObjectKind::Role, json, hash));
        assert!(role(ROLE, &hash).is_some());
        assert!(role(ROLE, "other-rules").is_none());
        assert!(role(&ROLE.replace("\"r1\"", "\"r2\""), &hash).is_none());
        assert!(sent_object(&task(ObjectKind::ClusterRole, ROLE, &hash)).is_none());
        assert!(role("", &hash).is_none());
        assert!(role("{", &hash).is_none());
        let svc = ROLE
            .replace("\"Role\"", "\"Service\"")
            .replace("rules", "spec");
        let svc_hash = ObjectKind::Service.spec_hash(&serde_json::from_str(&svc).unwrap());
        assert!(sent_object(&task(ObjectKind::Service, &svc, &svc_hash)).is_some());
        assert!(sent_object(&task(ObjectKind::ConfigMap, &svc, &svc_hash)).is_none());
    }

    #[test]
    fn reports_are_named_labelled_and_owned_like_upstreams() {
        let role = report_metadata(&task(ObjectKind::Role, "", "s"), "s1");
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
        let cluster = report_metadata(&task(ObjectKind::ClusterRole, "", "s"), "s1");
        assert_eq!(cluster.name.as_deref(), Some("clusterrole-reader"));
        assert_eq!(cluster.namespace, None);
        assert_eq!(
            cluster.labels.unwrap()["trivy-operator.resource.namespace"],
            ""
        );
        let svc = report_metadata(&task(ObjectKind::Service, "", "s"), "s1");
        assert_eq!(svc.name.as_deref(), Some("service-reader"));
        let owner = &svc.owner_references.unwrap()[0];
        assert_eq!(
            (owner.api_version.as_str(), owner.kind.as_str()),
            ("v1", "Service")
        );
        let crd = report_metadata(&task(ObjectKind::CustomResourceDefinition, "", "s"), "s1");
        assert_eq!(crd.name.as_deref(), Some("customresourcedefinition-reader"));
        assert_eq!(crd.namespace, None);
        assert_eq!(
            crd.owner_references.unwrap()[0].api_version,
            "apiextensions.k8s.io/v1"
        );
    }
}

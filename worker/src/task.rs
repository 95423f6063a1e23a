//! Tasks from the leader, validated: a proto `Task` becomes an [`AuditTask`] or is refused
//! with a reason, never unwrapped.

use std::str::FromStr;

use common::proto;
use common::workload::WorkloadKind;

mod node;
mod object;

pub use node::NodeTask;
pub use object::ObjectTask;

/// Why a task from the leader cannot be run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    #[error("task has no task_id")]
    NoId,
    #[error("task {0} has no workload")]
    NoWorkload(String),
    #[error("task {0}: unknown workload kind {1:?}")]
    UnknownKind(String, String),
    #[error("task {0}: workload {1} is empty")]
    EmptyField(String, &'static str),
    #[error("task {0}: kind {1} is not supported by this worker")]
    UnsupportedKind(String, i32),
    #[error("task {0}: scan has no {1}")]
    IncompleteScan(String, &'static str),
    #[error("task {0}: the collector's tolerations are not a list of tolerations: {1}")]
    Tolerations(String, String),
}

/// The workload a task is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workload {
    pub kind: WorkloadKind,
    pub namespace: String,
    pub name: String,
    pub uid: String,
}

/// A config audit to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditTask {
    pub task_id: String,
    pub workload: Workload,
    pub spec_hash: String,
    pub config_hash: String,
    /// The workload object the leader sent (JSON), if it kept one; else the worker reads it.
    pub workload_json: String,
    /// Write the report with its summary only (reports are over their storage budget).
    pub summary_only: bool,
}

/// A workload container that receives a VulnerabilityReport from a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscriber {
    pub workload: Workload,
    pub container_name: String,
    /// `resource-spec-hash` of the workload when the scan was planned.
    pub spec_hash: String,
    /// The image reference as written in this workload's pod spec.
    pub image: String,
    /// Names of the pull secrets its Pods use (in its namespace), as the leader saw them.
    pub pull_secrets: Vec<String>,
    /// The name of its existing report, when the leader knows one.
    pub report_name: Option<String>,
}

/// Where a scan's result comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanSource {
    /// Run a scan Job for the image.
    Job,
    /// Copy the `report` of this fresh VulnerabilityReport of the same image, if it still
    /// has the resourceVersion this operator wrote (empty: not checked).
    Copy {
        namespace: String,
        name: String,
        resource_version: String,
        /// The source's ExposedSecretReport (same namespace) and the resourceVersion this
        /// operator wrote, when the task wants secrets.
        secret: Option<(String, String)>,
        /// The source's SbomReport and resourceVersion, when the task wants an SBOM.
        sbom: Option<(String, String)>,
    },
    /// Run a scan Job for the SBOM this operator stored of the image's digest (a rescan by
    /// age), unless that SBOM is no longer usable: then for the image.
    StoredBom(StoredBom),
}

/// The reports an earlier scan of an image digest wrote (one namespace), each pinned to
/// the resourceVersion this operator's write returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBom {
    pub namespace: String,
    /// The SbomReport.
    pub sbom: (String, String),
    /// The ExposedSecretReport, when the task wants secrets.
    pub secret: Option<(String, String)>,
}

/// A vulnerability scan of one image for every subscriber.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanTask {
    pub task_id: String,
    /// Dedupe key: the image digest when known, else the normalized reference.
    pub scan_key: String,
    /// The image reference to scan.
    pub image: String,
    pub subscribers: Vec<Subscriber>,
    pub source: ScanSource,
    /// Write the reports with their summaries only (reports are over their storage budget).
    pub summary_only: bool,
    /// Per-image storage mode: the whole list goes into the image's report once.
    pub per_image: bool,
    /// Scan for exposed secrets too and write each subscriber an ExposedSecretReport.
    pub secrets: bool,
    /// Record the image's SBOM too and write each subscriber an SbomReport.
    pub sbom: bool,
}

/// Any task a worker runs.
#[derive(Debug, Clone, PartialEq)]
pub enum WorkerTask {
    Audit(AuditTask),
    Scan(ScanTask),
    Node(NodeTask),
    Object(ObjectTask),
}

impl WorkerTask {
    pub fn task_id(&self) -> &str {
        match self {
            Self::Audit(t) => &t.task_id,
            Self::Scan(t) => &t.task_id,
            Self::Node(t) => &t.task_id,
            Self::Object(t) => &t.task_id,
        }
    }
}

impl TryFrom<proto::Task> for WorkerTask {
    type Error = Invalid;

    fn try_from(task: proto::Task) -> Result<Self, Invalid> {
        if task.kind == proto::TaskKind::VulnerabilityScan as i32 {
            ScanTask::try_from(task).map(Self::Scan)
        } else if task.kind == proto::TaskKind::NodeAssessment as i32 {
            NodeTask::try_from(task).map(Self::Node)
        } else if task.kind == proto::TaskKind::RbacAssessment as i32
            || task.kind == proto::TaskKind::ResourceAudit as i32
        {
            ObjectTask::try_from(task).map(Self::Object)
        } else {
            AuditTask::try_from(task).map(Self::Audit)
        }
    }
}

fn workload(id: &str, w: proto::WorkloadRef) -> Result<Workload, Invalid> {
    let kind = WorkloadKind::from_str(&w.kind)
        .map_err(|_| Invalid::UnknownKind(id.to_string(), w.kind.clone()))?;
    for (field, value) in [
        ("namespace", &w.namespace),
        ("name", &w.name),
        ("uid", &w.uid),
    ] {
        if value.is_empty() {
            return Err(Invalid::EmptyField(id.to_string(), field));
        }
    }
    Ok(Workload {
        kind,
        namespace: w.namespace,
        name: w.name,
        uid: w.uid,
    })
}

impl TryFrom<proto::Task> for ScanTask {
    type Error = Invalid;

    fn try_from(task: proto::Task) -> Result<Self, Invalid> {
        if task.task_id.is_empty() {
            return Err(Invalid::NoId);
        }
        let id = task.task_id.clone();
        if task.kind != proto::TaskKind::VulnerabilityScan as i32 {
            return Err(Invalid::UnsupportedKind(id, task.kind));
        }
        let summary_only = task.summary_only;
        let mut scan = task
            .scan
            .ok_or_else(|| Invalid::IncompleteScan(id.clone(), "target"))?;
        if scan.scan_key.is_empty() {
            return Err(Invalid::IncompleteScan(id, "scan_key"));
        }
        if scan.image.is_empty() {
            return Err(Invalid::IncompleteScan(id, "image"));
        }
        let subscribers = scan
            .subscribers
            .into_iter()
            .map(|s| {
                let w = s.workload.ok_or_else(|| Invalid::NoWorkload(id.clone()))?;
                if s.container_name.is_empty() {
                    return Err(Invalid::IncompleteScan(id.clone(), "subscriber container"));
                }
                Ok(Subscriber {
                    workload: workload(&id, w)?,
                    container_name: s.container_name,
                    spec_hash: s.resource_spec_hash,
                    image: if s.image.is_empty() {
                        scan.image.clone()
                    } else {
                        s.image
                    },
                    pull_secrets: s.pull_secrets,
                    report_name: common::names::is_dns1123_subdomain(&s.report_name)
                        .then_some(s.report_name),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if subscribers.is_empty() {
            return Err(Invalid::IncompleteScan(id, "subscribers"));
        }
        let source = match (
            scan.source_report_namespace.is_empty(),
            scan.source_report_name.is_empty(),
        ) {
            (false, false) => ScanSource::Copy {
                namespace: scan.source_report_namespace,
                name: scan.source_report_name,
                resource_version: scan.source_report_resource_version,
                secret: pinned(
                    &mut scan.source_secret_report_name,
                    &mut scan.source_secret_report_resource_version,
                ),
                sbom: pinned(
                    &mut scan.source_sbom_report_name,
                    &mut scan.source_sbom_report_resource_version,
                ),
            },
            _ => match scan.stored_bom.take() {
                Some(mut bom)
                    if !bom.namespace.is_empty()
                        && !bom.sbom_report_name.is_empty()
                        && !bom.sbom_report_resource_version.is_empty() =>
                {
                    ScanSource::StoredBom(StoredBom {
                        namespace: bom.namespace,
                        sbom: (bom.sbom_report_name, bom.sbom_report_resource_version),
                        secret: pinned(
                            &mut bom.secret_report_name,
                            &mut bom.secret_report_resource_version,
                        ),
                    })
                }
                // Not pinned: nothing to trust it by.
                _ => ScanSource::Job,
            },
        };
        Ok(Self {
            per_image: scan.per_image,
            secrets: scan.secrets,
            sbom: scan.sbom,
            task_id: id,
            scan_key: scan.scan_key,
            image: scan.image,
            subscribers,
            source,
            summary_only,
        })
    }
}

/// A source report of another kind and the resourceVersion to pin it to; `None` when the
/// leader named none.
fn pinned(name: &mut String, resource_version: &mut String) -> Option<(String, String)> {
    (!name.is_empty()).then(|| (std::mem::take(name), std::mem::take(resource_version)))
}

impl TryFrom<proto::Task> for AuditTask {
    type Error = Invalid;

    fn try_from(task: proto::Task) -> Result<Self, Invalid> {
        if task.task_id.is_empty() {
            return Err(Invalid::NoId);
        }
        let id = task.task_id.clone();
        if task.kind != proto::TaskKind::ConfigAudit as i32 {
            return Err(Invalid::UnsupportedKind(id, task.kind));
        }
        let w = task
            .workload
            .ok_or_else(|| Invalid::NoWorkload(id.clone()))?;
        let kind = WorkloadKind::from_str(&w.kind)
            .map_err(|_| Invalid::UnknownKind(id.clone(), w.kind.clone()))?;
        for (field, value) in [
            ("namespace", &w.namespace),
            ("name", &w.name),
            ("uid", &w.uid),
        ] {
            if value.is_empty() {
                return Err(Invalid::EmptyField(id, field));
            }
        }
        Ok(Self {
            task_id: id,
            workload: Workload {
                kind,
                namespace: w.namespace,
                name: w.name,
                uid: w.uid,
            },
            spec_hash: task.resource_spec_hash,
            config_hash: task.plugin_config_hash,
            workload_json: task.workload_json,
            summary_only: task.summary_only,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn task() -> proto::Task {
        proto::Task {
            task_id: "t".into(),
            kind: proto::TaskKind::ConfigAudit as i32,
            workload: Some(proto::WorkloadRef {
                kind: "ReplicaSet".into(),
                api_version: "apps/v1".into(),
                namespace: "ns".into(),
                name: "web".into(),
                uid: "u".into(),
            }),
            resource_spec_hash: "s".into(),
            plugin_config_hash: "c".into(),
            ..Default::default()
        }
    }

    #[test]
    fn valid_tasks_convert() {
        let t = AuditTask::try_from(task()).unwrap();
        assert_eq!(t.workload.kind, WorkloadKind::ReplicaSet);
        assert_eq!((t.spec_hash.as_str(), t.config_hash.as_str()), ("s", "c"));
    }

    #[test]
    fn invalid_tasks_are_refused_with_a_reason() {
        let mut no_workload = task();
        no_workload.workload = None;
        assert_eq!(
            AuditTask::try_from(no_workload),
            Err(Invalid::NoWorkload("t".into()))
        );
        let mut bad_kind = task();
        bad_kind.workload.as_mut().unwrap().kind = "Deployment".into();
        assert!(matches!(
            AuditTask::try_from(bad_kind),
            Err(Invalid::UnknownKind(..))
        ));
        let mut no_uid = task();
        no_uid.workload.as_mut().unwrap().uid.clear();
        assert_eq!(
            AuditTask::try_from(no_uid),
            Err(Invalid::EmptyField("t".into(), "uid"))
        );
        let mut scan = task();
        scan.kind = proto::TaskKind::VulnerabilityScan as i32;
        assert!(matches!(
            AuditTask::try_from(scan),
            Err(Invalid::UnsupportedKind(..))
        ));
    }

    fn scan_task() -> proto::Task {
        let mut t = task();
        t.kind = proto::TaskKind::VulnerabilityScan as i32;
        let subscriber = proto::ScanSubscriber {
            workload: t.workload.take(),
            container_name: "nginx".into(),
            resource_spec_hash: "s".into(),
            image: "nginx:1.16".into(),
            pull_secrets: Vec::new(),
            report_name: String::new(),
        };
        t.scan = Some(Box::new(proto::ScanTarget {
            scan_key: "index.docker.io/library/nginx:1.16".into(),
            image: "nginx:1.16".into(),
            subscribers: vec![subscriber],
            ..Default::default()
        }));
        t
    }

    #[test]
    fn scan_tasks_convert() {
        let WorkerTask::Scan(scan) = WorkerTask::try_from(scan_task()).unwrap() else {
            panic!("not a scan")
        };
        assert_eq!(scan.source, ScanSource::Job);
        assert_eq!(scan.subscribers[0].container_name, "nginx");
        assert_eq!(scan.subscribers[0].workload.kind, WorkloadKind::ReplicaSet);
        let mut copy = scan_task();
        let target = copy.scan.as_mut().unwrap();
        target.source_report_namespace = "ns".into();
        target.source_report_name = "replicaset-x-nginx".into();
        let WorkerTask::Scan(copy) = WorkerTask::try_from(copy).unwrap() else {
            panic!("not a scan")
        };
        let expected = ScanSource::Copy {
            namespace: "ns".into(),
            name: "replicaset-x-nginx".into(),
            resource_version: String::new(),
            secret: None,
            sbom: None,
        };
        assert_eq!(copy.source, expected);
        let mut with_secrets = scan_task();
        let target = with_secrets.scan.as_mut().unwrap();
        target.source_report_namespace = "ns".into();
        target.source_report_name = "replicaset-x-nginx".into();
        target.secrets = true;
        target.source_secret_report_name = "replicaset-x-nginx".into();
        target.source_secret_report_resource_version = "7".into();
        let WorkerTask::Scan(with_secrets) = WorkerTask::try_from(with_secrets).unwrap() else {
            panic!("not a scan")
        };
        assert!(with_secrets.secrets);
        let ScanSource::Copy { secret, .. } = with_secrets.source else {
            panic!("not a copy")
        };
        assert_eq!(secret, Some(("replicaset-x-nginx".into(), "7".into())));
    }

    #[test]
    fn a_pinned_stored_bom_is_scanned_and_an_unpinned_one_is_not_trusted() {
        let mut rescan = scan_task();
        let bom = proto::StoredBom {
            namespace: "ns".into(),
            sbom_report_name: "replicaset-x-nginx".into(),
            sbom_report_resource_version: "8".into(),
            secret_report_name: "replicaset-x-nginx".into(),
            secret_report_resource_version: "9".into(),
        };
        rescan.scan.as_mut().unwrap().stored_bom = Some(bom.clone());
        let WorkerTask::Scan(rescan) = WorkerTask::try_from(rescan).unwrap() else {
            panic!("not a scan")
        };
        let expected = StoredBom {
            namespace: "ns".into(),
            sbom: ("replicaset-x-nginx".into(), "8".into()),
            secret: Some(("replicaset-x-nginx".into(), "9".into())),
        };
        assert_eq!(rescan.source, ScanSource::StoredBom(expected));
        let mut unpinned = scan_task();
        unpinned.scan.as_mut().unwrap().stored_bom = Some(proto::StoredBom {
            sbom_report_resource_version: String::new(),
            ..bom
        });
        let WorkerTask::Scan(unpinned) = WorkerTask::try_from(unpinned).unwrap() else {
            panic!("not a scan")
        };
        assert_eq!(unpinned.source, ScanSource::Job);
    }

    #[test]
    fn incomplete_scans_are_refused() {
        let mut no_subscribers = scan_task();
        no_subscribers.scan.as_mut().unwrap().subscribers.clear();
        let refused = ScanTask::try_from(no_subscribers);
        assert_eq!(
            refused,
            Err(Invalid::IncompleteScan("t".into(), "subscribers"))
        );
        let mut no_key = scan_task();
        no_key.scan.as_mut().unwrap().scan_key.clear();
        assert!(ScanTask::try_from(no_key).is_err());
        let mut no_target = scan_task();
        no_target.scan = None;
        assert!(ScanTask::try_from(no_target).is_err());
    }
}

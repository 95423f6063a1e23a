//! The desired state, as a pure function of what is observed: which config audits are due.
//! The incremental planner ([`crate::planner`]) applies [`due_audit`] to the workloads a
//! change touched; [`due_audits`] applies it to all of them.
//!
//! One rule: a workload in scope needs a config audit when no ConfigAuditReport it owns has
//! both its current `resource-spec-hash` and its kind's current `plugin-config-hash` — or,
//! for a control-plane component, no InfraAssessmentReport it owns has them (unless that CRD
//! is not served). A new workload, a changed spec, a deleted report and a changed policy all
//! follow from it.

use std::collections::BTreeMap;

use common::proto;
use common::workload::WorkloadKind;

use crate::observed::{AuditReportMeta, Observed, Workload};
use crate::scope::Scope;

/// `plugin-config-hash` of every workload kind, from the last policy config that compiled.
pub type ConfigHashes = BTreeMap<WorkloadKind, String>;

/// A task that should run.
#[derive(Debug, Clone, PartialEq)]
pub struct DueTask {
    /// The namespace it is sharded by.
    pub namespace: String,
    pub task: proto::Task,
    /// For a scan: the names it is known by (scan key, normalized images); other scans
    /// under one of them wait while it is in flight.
    pub aliases: Vec<String>,
}

/// The dispatcher slot of a workload's config audit.
pub fn audit_slot(uid: &str) -> String {
    format!("audit:{uid}")
}

/// The deterministic id of a config audit: the same work always has the same id.
pub fn audit_task_id(uid: &str, spec_hash: &str, config_hash: &str) -> String {
    format!("audit/{uid}/{spec_hash}/{config_hash}")
}

/// Whether a workload is scanned now: in an observed namespace in scope, and (for a
/// ReplicaSet of a Deployment) the current one.
pub fn is_scanned(observed: &Observed, scope: &Scope, workload: &Workload) -> bool {
    observed
        .namespaces
        .get(&workload.namespace)
        .is_some_and(|labels| scope.contains(&workload.namespace, labels))
        && observed.is_current(workload)
}

/// The workloads that are scanned now.
pub fn scanned_workloads<'a>(
    observed: &'a Observed,
    scope: &'a Scope,
) -> impl Iterator<Item = &'a Workload> + 'a {
    observed
        .workloads
        .values()
        .filter(move |w| is_scanned(observed, scope, w))
}

/// The config audit a scanned workload needs, if any.
pub fn due_audit(
    observed: &Observed,
    workload: &Workload,
    hashes: &ConfigHashes,
) -> Option<DueTask> {
    let config_hash = hashes.get(&workload.kind)?;
    (!has_fresh_report(observed, workload, config_hash)).then(|| audit_task(workload, config_hash))
}

/// Every config audit due now, ordered by namespace and name.
pub fn due_audits(observed: &Observed, scope: &Scope, hashes: &ConfigHashes) -> Vec<DueTask> {
    let mut due: Vec<DueTask> = scanned_workloads(observed, scope)
        .filter_map(|w| due_audit(observed, w, hashes))
        .collect();
    due.sort_by(|a, b| {
        (&a.namespace, workload_name(&a.task)).cmp(&(&b.namespace, workload_name(&b.task)))
    });
    due
}

pub(crate) fn workload_name(task: &proto::Task) -> &str {
    task.workload.as_ref().map_or("", |w| w.name.as_str())
}

fn has_fresh_report(observed: &Observed, workload: &Workload, config_hash: &str) -> bool {
    let fresh = |r: &AuditReportMeta| {
        r.spec_hash.as_deref() == Some(workload.spec_hash.as_str())
            && r.config_hash.as_deref() == Some(config_hash)
    };
    observed.audit_reports_of(workload).any(fresh)
        && (!needs_infra_report(observed, workload)
            || observed.infra_reports_of(workload).any(fresh))
}

/// Whether a workload's audit also writes an InfraAssessmentReport: a control-plane
/// component's, while that CRD is served.
pub fn needs_infra_report(observed: &Observed, workload: &Workload) -> bool {
    common::workload::is_control_plane_component(&workload.namespace, &workload.name)
        && !observed.missing_crds.contains(crate::watch::INFRA_REPORTS)
}

/// The proto reference of a workload.
pub fn workload_ref(workload: &Workload) -> proto::WorkloadRef {
    proto::WorkloadRef {
        kind: workload.kind.as_str().to_string(),
        api_version: workload.kind.api_version().to_string(),
        namespace: workload.namespace.clone(),
        name: workload.name.clone(),
        uid: workload.uid.clone(),
    }
}

fn audit_task(workload: &Workload, config_hash: &str) -> DueTask {
    DueTask {
        namespace: workload.namespace.clone(),
        task: proto::Task {
            task_id: audit_task_id(&workload.uid, &workload.spec_hash, config_hash),
            kind: proto::TaskKind::ConfigAudit as i32,
            workload: Some(workload_ref(workload)),
            resource_spec_hash: workload.spec_hash.clone(),
            plugin_config_hash: config_hash.to_string(),
            images: Vec::new(),
            scan: None,
            workload_json: String::new(),
            summary_only: false,
            node_tolerations_json: String::new(),
        },
        aliases: Vec::new(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::args::ScopeArgs;
    use crate::observed::DeploymentLink;

    fn workload(ns: &str, name: &str, kind: WorkloadKind, spec: &str) -> Workload {
        Workload {
            kind,
            namespace: ns.into(),
            name: name.into(),
            uid: format!("uid-{name}"),
            spec_hash: spec.into(),
            containers: Vec::new(),
            deployment: None,
            pull_secrets: Vec::new(),
            service_account: None,
        }
    }

    fn report(ns: &str, name: &str, spec: &str, config: &str) -> AuditReportMeta {
        AuditReportMeta {
            gauge: None,
            bytes: 0,
            namespace: ns.into(),
            name: format!("replicaset-{name}"),
            kind: "ReplicaSet".into(),
            spec_hash: Some(spec.into()),
            config_hash: Some(config.into()),
            resource_version: Some("1".into()),
        }
    }

    fn setup() -> (Observed, ConfigHashes) {
        let mut o = Observed::default();
        o.put_namespace("a".into(), BTreeMap::new());
        o.put_namespace("b".into(), BTreeMap::new());
        for w in [
            workload("a", "web", WorkloadKind::ReplicaSet, "s1"),
            workload("b", "db", WorkloadKind::StatefulSet, "s2"),
        ] {
            o.put_workload(w);
        }
        let hashes = WorkloadKind::ALL
            .iter()
            .map(|k| (*k, "c1".to_string()))
            .collect();
        (o, hashes)
    }

    fn due_names(o: &Observed, hashes: &ConfigHashes, scope: &Scope) -> Vec<String> {
        due_audits(o, scope, hashes)
            .iter()
            .map(|d| workload_name(&d.task).to_string())
            .collect()
    }

    #[test]
    fn new_workloads_are_due_until_a_matching_report_exists() {
        let (mut o, hashes) = setup();
        let all = Scope::default();
        assert_eq!(due_names(&o, &hashes, &all), ["web", "db"]);
        o.put_audit_report("uid-web".into(), report("a", "web", "s1", "c1"));
        assert_eq!(due_names(&o, &hashes, &all), ["db"]);
    }

    #[test]
    fn changed_spec_changed_policy_and_deleted_report_make_it_due_again() {
        let (mut o, mut hashes) = setup();
        let all = Scope::default();
        o.put_audit_report("uid-web".into(), report("a", "web", "s1", "c1"));
        o.put_audit_report("uid-db".into(), report("b", "db", "s2", "c1"));
        assert!(due_names(&o, &hashes, &all).is_empty());
        o.workloads.get_mut("uid-web").unwrap().spec_hash = "s1b".into();
        assert_eq!(due_names(&o, &hashes, &all), ["web"]);
        hashes.insert(WorkloadKind::StatefulSet, "c2".into());
        assert_eq!(due_names(&o, &hashes, &all), ["web", "db"]);
        hashes.insert(WorkloadKind::StatefulSet, "c1".into());
        o.remove_audit_report("uid-db", "replicaset-db");
        assert_eq!(due_names(&o, &hashes, &all), ["web", "db"]);
    }

    #[test]
    fn task_ids_are_deterministic_and_carry_hashes() {
        let (o, hashes) = setup();
        let first = due_audits(&o, &Scope::default(), &hashes);
        let second = due_audits(&o, &Scope::default(), &hashes);
        assert_eq!(first, second);
        assert_eq!(first[0].task.task_id, "audit/uid-web/s1/c1");
        assert_eq!(first[0].task.plugin_config_hash, "c1");
        assert_eq!(first[0].task.resource_spec_hash, "s1");
    }

    #[test]
    fn out_of_scope_unknown_namespaces_and_old_replicasets_are_not_due() {
        let (mut o, hashes) = setup();
        let only_b = Scope::new(&ScopeArgs {
            namespaces: vec!["b".into()],
            ..Default::default()
        })
        .unwrap();
        assert_eq!(due_names(&o, &hashes, &only_b), ["db"]);
        o.remove_namespace("a");
        assert_eq!(due_names(&o, &hashes, &Scope::default()), ["db"]);
        o.put_namespace("a".into(), BTreeMap::new());
        o.workloads.get_mut("uid-web").unwrap().deployment = Some(DeploymentLink {
            uid: "d1".into(),
            revision: Some("1".into()),
        });
        o.deployment_revisions.insert("d1".into(), "2".into());
        assert_eq!(due_names(&o, &hashes, &Scope::default()), ["db"]);
    }

    #[test]
    fn a_report_in_another_namespace_does_not_count() {
        let (mut o, hashes) = setup();
        // Names uid-web (namespace a) as its owner, but lives in namespace b.
        o.put_audit_report("uid-web".into(), report("b", "web", "s1", "c1"));
        assert_eq!(due_names(&o, &hashes, &Scope::default()), ["web", "db"]);
    }

    #[test]
    fn a_control_plane_component_needs_its_infra_assessment_report_too() {
        let (mut o, hashes) = setup();
        let all = Scope::default();
        o.put_namespace("kube-system".into(), BTreeMap::new());
        o.put_workload(workload("kube-system", "etcd-cp", WorkloadKind::Pod, "s3"));
        o.put_workload(workload("kube-system", "coredns", WorkloadKind::Pod, "s4"));
        for (uid, name, spec) in [
            ("uid-etcd-cp", "etcd-cp", "s3"),
            ("uid-coredns", "coredns", "s4"),
        ] {
            let mut r = report("kube-system", name, spec, "c1");
            r.name = format!("pod-{name}");
            o.put_audit_report(uid.into(), r);
        }
        assert_eq!(due_names(&o, &hashes, &all), ["web", "db", "etcd-cp"]);
        let mut infra = report("kube-system", "etcd-cp", "s3", "c1");
        infra.name = "pod-etcd-cp".into();
        // A stale one does not count.
        infra.config_hash = Some("c0".into());
        o.put_infra_report("uid-etcd-cp".into(), infra.clone());
        assert_eq!(due_names(&o, &hashes, &all), ["web", "db", "etcd-cp"]);
        infra.config_hash = Some("c1".into());
        o.put_infra_report("uid-etcd-cp".into(), infra);
        assert_eq!(due_names(&o, &hashes, &all), ["web", "db"]);
        // Deleted: due again; without its CRD, the config audit alone suffices.
        o.remove_infra_report("uid-etcd-cp", "pod-etcd-cp");
        assert_eq!(due_names(&o, &hashes, &all), ["web", "db", "etcd-cp"]);
        o.missing_crds.insert(crate::watch::INFRA_REPORTS.into());
        assert_eq!(due_names(&o, &hashes, &all), ["web", "db"]);
    }

    #[test]
    fn kinds_without_a_config_hash_wait() {
        let (o, mut hashes) = setup();
        hashes.remove(&WorkloadKind::ReplicaSet);
        assert_eq!(due_names(&o, &hashes, &Scope::default()), ["db"]);
    }
}

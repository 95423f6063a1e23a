//! Reducing watched objects to planning records.

#![allow(clippy::unwrap_used)]

use super::*;
use kube::api::{DynamicObject, ObjectMeta};

fn object(yaml: &str) -> DynamicObject {
    serde_yaml_ng::from_str(yaml).unwrap()
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
    let meta: ObjectMeta = serde_yaml_ng::from_str(
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

#[test]
fn report_bytes_follow_puts_replacements_and_removals() {
    let meta = |name: &str, uid: &str, bytes: &str| -> ObjectMeta {
        serde_yaml_ng::from_str(&format!(
            r#"
name: {name}
namespace: ns
annotations: {{trivy-operator-rs.dev/bytes: "{bytes}"}}
ownerReferences: [{{apiVersion: apps/v1, kind: ReplicaSet, name: web, uid: {uid}, controller: true}}]
"#
        ))
        .unwrap()
    };
    let now = jiff::Timestamp::now();
    let mut o = Observed::default();
    let (uid, a) = audit_report_from_meta(&meta("a", "rs1", "8000")).unwrap();
    o.put_audit_report(uid, a);
    let (uid, v) = vuln_report_from_meta(&meta("v", "rs1", "20000"), now).unwrap();
    o.put_vuln_report(uid, v);
    assert_eq!(o.report_bytes(), 28_000);
    // Rewritten smaller: replaced, not added.
    let (uid, v) = vuln_report_from_meta(&meta("v", "rs1", "1500"), now).unwrap();
    o.put_vuln_report(uid, v);
    assert_eq!(o.report_bytes(), 9_500);
    // Without the annotation (another writer's report): counted as nothing.
    let (uid, other) = audit_report_from_meta(&meta("b", "rs2", "lots")).unwrap();
    o.put_audit_report(uid, other);
    assert_eq!(o.report_bytes(), 9_500);
    o.remove_audit_report("rs1", "a");
    o.remove_vuln_report("rs1", "v");
    o.remove_vuln_report("rs1", "v");
    assert_eq!(o.report_bytes(), 0);
}

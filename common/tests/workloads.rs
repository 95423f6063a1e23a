//! The workload model, table-driven from tests/workload_fixtures/workloads.yaml.
#![allow(clippy::unwrap_used)]

use common::proto;
use common::workload::{
    ContainerImage, Disposition, Error, SkipReason, WorkloadKind, WorkloadRef, container_images,
    controller_of, disposition, normalize_image_id, pod_spec_of,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/workload_fixtures/workloads.yaml"
);
const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/data/report-examples");

fn expected_disposition(expect: &Value) -> Disposition {
    if expect == "scan" {
        return Disposition::Scan;
    }
    let skip = &expect["skip"];
    if let Some(rev) = skip.get("notCurrent") {
        return Disposition::Skip(SkipReason::NotCurrentRevision {
            revision: rev.as_str().map(String::from),
            current: "3".into(),
        });
    }
    if let Some(dep) = skip.get("deploymentUnknown") {
        return Disposition::Skip(SkipReason::DeploymentRevisionUnknown {
            deployment: dep.as_str().unwrap().into(),
        });
    }
    Disposition::Skip(SkipReason::CoveredByController {
        kind: skip["kind"].as_str().unwrap().parse().unwrap(),
        name: skip["name"].as_str().unwrap().into(),
    })
}

#[test]
fn fixture_table() {
    let cases: Vec<Value> =
        serde_yaml_ng::from_str(&std::fs::read_to_string(FIXTURES).unwrap()).unwrap();
    let mut kinds_seen = std::collections::BTreeSet::new();
    assert!(cases.len() >= 15);
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let kind: WorkloadKind = case["kind"].as_str().unwrap().parse().unwrap();
        kinds_seen.insert(kind);
        let object: Value = match case.get("file") {
            Some(f) => serde_yaml_ng::from_str(
                &std::fs::read_to_string(format!("{EXAMPLES}/{}", f.as_str().unwrap())).unwrap(),
            )
            .unwrap(),
            None => case["object"].clone(),
        };
        assert_eq!(object["kind"], kind.as_str(), "{name}");
        assert_eq!(object["apiVersion"], kind.api_version(), "{name}");
        let meta: ObjectMeta = serde_json::from_value(object["metadata"].clone()).unwrap();
        let revision = case.get("deploymentRevision").and_then(Value::as_str);
        assert_eq!(
            disposition(kind, &meta, revision),
            expected_disposition(&case["expect"]),
            "{name}"
        );
        let spec = pod_spec_of(kind, &object).unwrap_or_else(|| panic!("{name}: no pod spec"));
        let status = (kind == WorkloadKind::Pod)
            .then(|| object.get("status"))
            .flatten();
        let expected: Vec<ContainerImage> = case["images"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| ContainerImage {
                container_name: row[0].as_str().unwrap().into(),
                image: row[1].as_str().unwrap().into(),
                image_id: row[2].as_str().map(String::from),
            })
            .collect();
        assert_eq!(container_images(spec, status), expected, "{name}");
        // The template kinds share one path; a Pod's path (`.spec`) exists on every object.
        let template = |k: WorkloadKind| !matches!(k, WorkloadKind::Pod | WorkloadKind::CronJob);
        for other in WorkloadKind::ALL {
            let found =
                other == WorkloadKind::Pod || other == kind || (template(kind) && template(other));
            assert_eq!(
                pod_spec_of(other, &object).is_some(),
                found,
                "{name} as {other}"
            );
        }
    }
    assert_eq!(
        kinds_seen.len(),
        WorkloadKind::ALL.len(),
        "every kind has a fixture"
    );
}

#[test]
fn controller_of_ignores_non_controller_owners() {
    let meta: ObjectMeta = serde_json::from_value(serde_json::json!({
        "ownerReferences": [
            {"apiVersion": "v1", "kind": "ConfigMap", "name": "a", "uid": "1"},
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "b", "uid": "2", "controller": false},
            {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "c", "uid": "3", "controller": true}
        ]
    }))
    .unwrap();
    assert_eq!(controller_of(&meta).unwrap().name, "c");
    assert!(controller_of(&ObjectMeta::default()).is_none());
}

#[test]
fn kinds_round_trip() {
    let expected = [
        (WorkloadKind::Pod, "Pod", "pod", "v1"),
        (
            WorkloadKind::ReplicaSet,
            "ReplicaSet",
            "replicaset",
            "apps/v1",
        ),
        (
            WorkloadKind::ReplicationController,
            "ReplicationController",
            "replicationcontroller",
            "v1",
        ),
        (
            WorkloadKind::StatefulSet,
            "StatefulSet",
            "statefulset",
            "apps/v1",
        ),
        (WorkloadKind::DaemonSet, "DaemonSet", "daemonset", "apps/v1"),
        (WorkloadKind::CronJob, "CronJob", "cronjob", "batch/v1"),
        (WorkloadKind::Job, "Job", "job", "batch/v1"),
    ];
    assert_eq!(WorkloadKind::ALL.len(), expected.len());
    for (kind, name, lower, api) in expected {
        assert_eq!(
            (kind.as_str(), kind.lowercase(), kind.api_version()),
            (name, lower, api)
        );
        assert_eq!(name.parse::<WorkloadKind>().unwrap(), kind);
        assert_eq!(kind.to_string(), name);
        assert_eq!(kind.lowercase(), name.to_lowercase());
    }
    for bad in ["Deployment", "pod", "", "Jobs"] {
        assert!(
            matches!(bad.parse::<WorkloadKind>(), Err(Error::UnknownKind { .. })),
            "{bad}"
        );
    }
}

/// Clears one field of a reference.
type Clear = fn(&mut proto::WorkloadRef);

fn proto_ref() -> proto::WorkloadRef {
    proto::WorkloadRef {
        kind: "ReplicaSet".into(),
        api_version: "apps/v1".into(),
        namespace: "ns1".into(),
        name: "web-6d4cf56db6".into(),
        uid: "u-rs".into(),
    }
}

#[test]
fn workload_ref_converts_to_and_from_proto() {
    let r = WorkloadRef::try_from(proto_ref()).unwrap();
    assert_eq!(r.kind, WorkloadKind::ReplicaSet);
    assert_eq!(
        (r.namespace.as_str(), r.name.as_str(), r.uid.as_str()),
        ("ns1", "web-6d4cf56db6", "u-rs")
    );
    assert_eq!(proto::WorkloadRef::from(r.clone()), proto_ref());
    assert_eq!(r.to_string(), "ReplicaSet/ns1/web-6d4cf56db6");

    let meta = ObjectMeta {
        name: Some("web-6d4cf56db6".into()),
        namespace: Some("ns1".into()),
        uid: Some("u-rs".into()),
        ..Default::default()
    };
    assert_eq!(
        WorkloadRef::from_meta(WorkloadKind::ReplicaSet, &meta),
        Some(r)
    );
    let no_uid = ObjectMeta { uid: None, ..meta };
    assert_eq!(
        WorkloadRef::from_meta(WorkloadKind::ReplicaSet, &no_uid),
        None
    );
}

#[test]
fn invalid_proto_refs_are_rejected() {
    let fields: [(&str, Clear); 5] = [
        ("kind", |r| r.kind.clear()),
        ("api_version", |r| r.api_version.clear()),
        ("namespace", |r| r.namespace.clear()),
        ("name", |r| r.name.clear()),
        ("uid", |r| r.uid.clear()),
    ];
    for (field, clear) in fields {
        let mut r = proto_ref();
        clear(&mut r);
        assert_eq!(
            WorkloadRef::try_from(r).unwrap_err(),
            Error::MissingField { field }
        );
    }
    let mut r = proto_ref();
    r.kind = "Deployment".into();
    assert_eq!(WorkloadRef::try_from(r).unwrap_err().kind(), "unknown_kind");
    let mut r = proto_ref();
    r.api_version = "v1".into();
    assert_eq!(
        WorkloadRef::try_from(r).unwrap_err().kind(),
        "api_version_mismatch"
    );
}

#[test]
fn image_ids_are_normalized() {
    let d = "sha256:3333333333333333333333333333333333333333333333333333333333333333";
    let cases = [
        (
            format!("docker-pullable://nginx@{d}"),
            Some(format!("nginx@{d}")),
        ),
        (format!("docker://{d}"), Some(d.to_owned())),
        (
            format!("docker.io/library/nginx@{d}"),
            Some(format!("docker.io/library/nginx@{d}")),
        ),
        (d.to_owned(), Some(d.to_owned())),
        (format!("cri-o://{d}"), Some(d.to_owned())),
        (String::new(), None),
        ("docker://".to_owned(), None),
        ("nginx:1.16".to_owned(), None),
        ("sha256:short".to_owned(), None),
    ];
    for (input, expected) in cases {
        assert_eq!(normalize_image_id(&input), expected, "{input}");
    }
}

#[test]
fn ephemeral_containers_are_scanned_like_upstream() {
    let d = "sha256:4444444444444444444444444444444444444444444444444444444444444444";
    let spec = serde_json::json!({
        "initContainers": [{"name": "init", "image": "busybox:1.36"}],
        "containers": [{"name": "app", "image": "nginx:1.27"}],
        "ephemeralContainers": [{"name": "debugger", "image": "busybox:1.37", "targetContainerName": "app"}],
    });
    let status = serde_json::json!({"ephemeralContainerStatuses": [
        {"name": "debugger", "imageID": format!("docker.io/library/busybox@{d}")}
    ]});
    let images = container_images(&spec, Some(&status));
    let names: Vec<&str> = images.iter().map(|c| c.container_name.as_str()).collect();
    assert_eq!(names, ["init", "app", "debugger"]);
    assert_eq!(
        images[2].image_id.as_deref(),
        Some(format!("docker.io/library/busybox@{d}").as_str())
    );
}

#[test]
fn container_images_convert_to_proto() {
    let c = ContainerImage {
        container_name: "app".into(),
        image: "nginx".into(),
        image_id: None,
    };
    let p = proto::ContainerImage::from(c.clone());
    assert_eq!(p.image_id, "");
    assert_eq!(ContainerImage::from(p), c);
}

#[test]
fn malformed_objects_give_nothing_rather_than_panicking() {
    let objects = [
        serde_json::json!(null),
        serde_json::json!({"spec": []}),
        serde_json::json!({"spec": {"template": "x"}}),
        serde_json::json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": 3}}}}}),
    ];
    for o in &objects {
        for kind in WorkloadKind::ALL {
            if kind == WorkloadKind::Pod && o["spec"].is_object() {
                // A Pod's spec is the object itself.
                assert!(pod_spec_of(kind, o).is_some());
                continue;
            }
            assert!(pod_spec_of(kind, o).is_none(), "{o} as {kind}");
        }
    }
    let spec = serde_json::json!({"containers": [
        {"name": "a"}, {"image": "x"}, 7, {"name": "", "image": "y"}, {"name": "ok", "image": "z"}
    ], "initContainers": "nope"});
    let status = serde_json::json!({"containerStatuses": {"not": "a list"}});
    let images = container_images(&spec, Some(&status));
    assert_eq!(images.len(), 1);
    assert_eq!(images[0].container_name, "ok");
}

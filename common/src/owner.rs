//! The owner reference from a report to the workload it describes.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

/// A controller owner reference to the workload (`controller: true`). `blockOwnerDeletion` is
/// false, as upstream, so writing reports needs no permission on the owners' finalizers.
pub fn owner_reference(api_version: &str, kind: &str, name: &str, uid: &str) -> OwnerReference {
    OwnerReference {
        api_version: api_version.to_owned(),
        kind: kind.to_owned(),
        name: name.to_owned(),
        uid: uid.to_owned(),
        controller: Some(true),
        block_owner_deletion: Some(false),
    }
}

/// The `apiVersion` of a built-in workload kind (`v1` for Pod and ReplicationController,
/// `apps/v1` for ReplicaSet, StatefulSet, DaemonSet and Deployment, `batch/v1` for Job and
/// CronJob), or `None` for any other kind.
pub fn workload_api_version(kind: &str) -> Option<&'static str> {
    match kind {
        "Pod" | "ReplicationController" => Some("v1"),
        "ReplicaSet" | "StatefulSet" | "DaemonSet" | "Deployment" => Some("apps/v1"),
        "Job" | "CronJob" => Some("batch/v1"),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn controller_reference_without_blocking() {
        let cases = [
            (
                "apps/v1",
                "ReplicaSet",
                "wordpress-84bbf6f4dd",
                "1136b574-9f3f-49af-adaf-ba35d78ea57b",
            ),
            ("v1", "Pod", "my-pod", "u"),
            ("batch/v1", "CronJob", "c", ""),
        ];
        for (api_version, kind, name, uid) in cases {
            let got = owner_reference(api_version, kind, name, uid);
            let want = serde_json::json!({
                "apiVersion": api_version, "kind": kind, "name": name, "uid": uid,
                "controller": true, "blockOwnerDeletion": false,
            });
            assert_eq!(serde_json::to_value(&got).unwrap(), want);
        }
    }

    #[test]
    fn api_versions_of_workload_kinds() {
        let cases = [
            ("Pod", Some("v1")),
            ("ReplicationController", Some("v1")),
            ("ReplicaSet", Some("apps/v1")),
            ("StatefulSet", Some("apps/v1")),
            ("DaemonSet", Some("apps/v1")),
            ("Deployment", Some("apps/v1")),
            ("Job", Some("batch/v1")),
            ("CronJob", Some("batch/v1")),
            ("pod", None),
            ("Service", None),
        ];
        for (kind, want) in cases {
            assert_eq!(workload_api_version(kind), want, "{kind}");
        }
    }
}

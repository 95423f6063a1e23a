//! Kubernetes API resources of the workload kinds and the other audited kinds, for dynamic
//! (untyped) API access.

use kube::api::{ApiResource, GroupVersionKind};

use crate::workload::WorkloadKind;

/// The API resource (group, version, kind, plural) of a workload kind.
pub fn workload_api_resource(kind: WorkloadKind) -> ApiResource {
    let api_version = kind.api_version();
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let gvk = GroupVersionKind::gvk(group, version, kind.as_str());
    ApiResource::from_gvk_with_plural(&gvk, &format!("{}s", kind.as_str().to_lowercase()))
}

/// The API resource of an audited object kind besides workloads.
pub fn object_api_resource(kind: crate::objects::ObjectKind) -> ApiResource {
    let api_version = kind.api_version();
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let gvk = GroupVersionKind::gvk(group, version, kind.as_str());
    ApiResource::from_gvk_with_plural(&gvk, kind.plural())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plurals_and_groups() {
        let cases = [
            (WorkloadKind::Pod, "", "v1", "pods"),
            (WorkloadKind::ReplicaSet, "apps", "apps/v1", "replicasets"),
            (
                WorkloadKind::ReplicationController,
                "",
                "v1",
                "replicationcontrollers",
            ),
            (WorkloadKind::StatefulSet, "apps", "apps/v1", "statefulsets"),
            (WorkloadKind::DaemonSet, "apps", "apps/v1", "daemonsets"),
            (WorkloadKind::Job, "batch", "batch/v1", "jobs"),
            (WorkloadKind::CronJob, "batch", "batch/v1", "cronjobs"),
        ];
        for (kind, group, api_version, plural) in cases {
            let ar = workload_api_resource(kind);
            assert_eq!(
                (
                    ar.group.as_str(),
                    ar.api_version.as_str(),
                    ar.plural.as_str()
                ),
                (group, api_version, plural)
            );
        }
    }
}

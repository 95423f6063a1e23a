//! Kubernetes API resources of the workload kinds and the other audited kinds, for dynamic
//! (untyped) API access.

use kube::api::{ApiResource, GroupVersionKind};

use crate::workload::WorkloadKind;

/// The API resource (group, version, kind, plural) of a workload kind.
pub fn workload_api_resource(kind: WorkloadKind) -> ApiResource {
    let plural = format!("{}s", kind.as_str().to_lowercase());
    api_resource(kind.api_version(), kind.as_str(), &plural)
}

/// The API resource of an audited object kind besides workloads.
pub fn object_api_resource(kind: crate::objects::ObjectKind) -> ApiResource {
    api_resource(kind.api_version(), kind.as_str(), kind.plural())
}

/// The API resource of `kind` served at `api_version` (`group/version`, or `v1` for the core
/// group) as `plural`.
fn api_resource(api_version: &str, kind: &str, plural: &str) -> ApiResource {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
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

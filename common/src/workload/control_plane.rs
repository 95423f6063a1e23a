//! Which workloads are the cluster's control-plane components, whose KCV findings go into an
//! InfraAssessmentReport beside their ConfigAuditReport, as upstream decides it: a workload
//! in `kube-system` whose name contains `kube-apiserver`, `kube-controller-manager`,
//! `kube-scheduler` or `etcd` (the static Pods a kubeadm or kind control plane runs, e.g.
//! `kube-apiserver-kind-control-plane`).

/// The namespace of the control-plane components.
pub const CONTROL_PLANE_NAMESPACE: &str = "kube-system";

/// What a control-plane component's workload name contains.
const COMPONENTS: [&str; 4] = [
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "etcd",
];

/// Whether the workload `namespace/name` is a control-plane component.
pub fn is_control_plane_component(namespace: &str, name: &str) -> bool {
    namespace == CONTROL_PLANE_NAMESPACE && COMPONENTS.iter().any(|c| name.contains(c))
}

/// Whether a check belongs in an infra assessment rather than a config audit (a KCV check,
/// under either form of its ID); upstream leaves these out of every ConfigAuditReport.
pub fn is_infra_check(check_id: &str) -> bool {
    check_id.starts_with("KCV") || check_id.starts_with("AVD-KCV")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_plane_components_by_namespace_and_name() {
        let cases = [
            ("kube-system", "kube-apiserver-kind-control-plane", true),
            ("kube-system", "kube-controller-manager-minikube", true),
            ("kube-system", "kube-scheduler-cp1", true),
            ("kube-system", "etcd-kind-control-plane", true),
            // Upstream matches by substring: an etcd operator there counts too.
            ("kube-system", "my-etcd-backup", true),
            ("kube-system", "coredns-7db6d8ff4d", false),
            ("kube-system", "kube-proxy", false),
            ("default", "kube-apiserver-kind-control-plane", false),
            ("kube-system-2", "etcd-0", false),
        ];
        for (namespace, name, want) in cases {
            assert_eq!(
                is_control_plane_component(namespace, name),
                want,
                "{namespace}/{name}"
            );
        }
    }

    #[test]
    fn infra_checks_by_id() {
        for (id, want) in [
            ("KCV0001", true),
            ("AVD-KCV-0001", true),
            ("KSV001", false),
            ("custom-kcv", false),
            ("", false),
        ] {
            assert_eq!(is_infra_check(id), want, "{id}");
        }
    }
}

//! The built-in checks: Rego files under `common/policies/`, compiled into the binary.
//!
//! Each check is its own package `builtin.trivyrs.<ID>` with a `__rego_metadata__` object
//! and `deny` rules; they share the library `builtin.trivyrs.lib.k8s`, which finds the
//! containers and volumes of every workload kind. The packages live under `builtin.trivyrs`
//! so they never merge with a user's `lib.kubernetes` or a copied upstream
//! `builtin.kubernetes.*` policy.

use sha2::{Digest, Sha256};

/// The library of the node checks.
const NODE_LIBRARY: &str = "lib/node.rego";
/// The library of the RBAC checks.
const RBAC_LIBRARY: &str = "lib/rbac.rego";

/// Shared Rego libraries of the built-in checks: `(file name, Rego text)`.
const LIBRARIES: &[(&str, &str)] = &[
    (
        "lib/control_plane.rego",
        include_str!("../../policies/lib/control_plane.rego"),
    ),
    ("lib/k8s.rego", include_str!("../../policies/lib/k8s.rego")),
    (NODE_LIBRARY, include_str!("../../policies/lib/node.rego")),
    (RBAC_LIBRARY, include_str!("../../policies/lib/rbac.rego")),
];

/// Stand-ins for the libraries upstream ships with its built-ins, which custom policies
/// written for upstream import: `(package, file name, Rego text)`. Each is loaded only when
/// no library or policy of the ConfigMap declares that package.
const COMPAT_LIBRARIES: &[(&str, &str, &str)] = &[
    (
        "data.lib.kubernetes",
        "compat/lib_kubernetes.rego",
        include_str!("../../policies/compat/lib_kubernetes.rego"),
    ),
    (
        "data.lib.result",
        "compat/lib_result.rego",
        include_str!("../../policies/compat/lib_result.rego"),
    ),
];

/// The built-in checks: `(file name, Rego text)`, ordered by file name.
const POLICIES: &[(&str, &str)] = &[
    (
        "checks/ksv001_privilege_escalation.rego",
        include_str!("../../policies/checks/ksv001_privilege_escalation.rego"),
    ),
    (
        "checks/ksv002_apparmor.rego",
        include_str!("../../policies/checks/ksv002_apparmor.rego"),
    ),
    (
        "checks/ksv003_drop_all.rego",
        include_str!("../../policies/checks/ksv003_drop_all.rego"),
    ),
    (
        "checks/ksv004_drop_at_least_one.rego",
        include_str!("../../policies/checks/ksv004_drop_at_least_one.rego"),
    ),
    (
        "checks/ksv005_sys_admin.rego",
        include_str!("../../policies/checks/ksv005_sys_admin.rego"),
    ),
    (
        "checks/ksv006_docker_socket.rego",
        include_str!("../../policies/checks/ksv006_docker_socket.rego"),
    ),
    (
        "checks/ksv007_host_aliases.rego",
        include_str!("../../policies/checks/ksv007_host_aliases.rego"),
    ),
    (
        "checks/ksv008_host_ipc.rego",
        include_str!("../../policies/checks/ksv008_host_ipc.rego"),
    ),
    (
        "checks/ksv009_host_network.rego",
        include_str!("../../policies/checks/ksv009_host_network.rego"),
    ),
    (
        "checks/ksv010_host_pid.rego",
        include_str!("../../policies/checks/ksv010_host_pid.rego"),
    ),
    (
        "checks/ksv011_cpu_limits.rego",
        include_str!("../../policies/checks/ksv011_cpu_limits.rego"),
    ),
    (
        "checks/ksv012_run_as_non_root.rego",
        include_str!("../../policies/checks/ksv012_run_as_non_root.rego"),
    ),
    (
        "checks/ksv013_image_tag.rego",
        include_str!("../../policies/checks/ksv013_image_tag.rego"),
    ),
    (
        "checks/ksv014_read_only_root_fs.rego",
        include_str!("../../policies/checks/ksv014_read_only_root_fs.rego"),
    ),
    (
        "checks/ksv015_cpu_requests.rego",
        include_str!("../../policies/checks/ksv015_cpu_requests.rego"),
    ),
    (
        "checks/ksv016_memory_requests.rego",
        include_str!("../../policies/checks/ksv016_memory_requests.rego"),
    ),
    (
        "checks/ksv017_privileged.rego",
        include_str!("../../policies/checks/ksv017_privileged.rego"),
    ),
    (
        "checks/ksv018_memory_limits.rego",
        include_str!("../../policies/checks/ksv018_memory_limits.rego"),
    ),
    (
        "checks/ksv020_high_uid.rego",
        include_str!("../../policies/checks/ksv020_high_uid.rego"),
    ),
    (
        "checks/ksv021_high_gid.rego",
        include_str!("../../policies/checks/ksv021_high_gid.rego"),
    ),
    (
        "checks/ksv022_added_capabilities.rego",
        include_str!("../../policies/checks/ksv022_added_capabilities.rego"),
    ),
    (
        "checks/ksv023_host_path.rego",
        include_str!("../../policies/checks/ksv023_host_path.rego"),
    ),
    (
        "checks/ksv024_host_ports.rego",
        include_str!("../../policies/checks/ksv024_host_ports.rego"),
    ),
    (
        "checks/ksv025_selinux.rego",
        include_str!("../../policies/checks/ksv025_selinux.rego"),
    ),
    (
        "checks/ksv026_sysctls.rego",
        include_str!("../../policies/checks/ksv026_sysctls.rego"),
    ),
    (
        "checks/ksv027_proc_mount.rego",
        include_str!("../../policies/checks/ksv027_proc_mount.rego"),
    ),
    (
        "checks/ksv028_volume_types.rego",
        include_str!("../../policies/checks/ksv028_volume_types.rego"),
    ),
    (
        "checks/ksv030_seccomp_profile.rego",
        include_str!("../../policies/checks/ksv030_seccomp_profile.rego"),
    ),
    (
        "checks/ksv036_service_account_token.rego",
        include_str!("../../policies/checks/ksv036_service_account_token.rego"),
    ),
    (
        "checks/ksv037_kube_system.rego",
        include_str!("../../policies/checks/ksv037_kube_system.rego"),
    ),
    (
        "checks/ksv038_network_policy_selector.rego",
        include_str!("../../policies/checks/ksv038_network_policy_selector.rego"),
    ),
    (
        "checks/ksv039_limit_range.rego",
        include_str!("../../policies/checks/ksv039_limit_range.rego"),
    ),
    (
        "checks/ksv040_resource_quota.rego",
        include_str!("../../policies/checks/ksv040_resource_quota.rego"),
    ),
    (
        "checks/ksv1010_configmap_sensitive.rego",
        include_str!("../../policies/checks/ksv1010_configmap_sensitive.rego"),
    ),
    (
        "checks/ksv1011_authenticated_group_binding.rego",
        include_str!("../../policies/checks/ksv1011_authenticated_group_binding.rego"),
    ),
    (
        "checks/ksv102_tiller.rego",
        include_str!("../../policies/checks/ksv102_tiller.rego"),
    ),
    (
        "checks/ksv103_host_process.rego",
        include_str!("../../policies/checks/ksv103_host_process.rego"),
    ),
    (
        "checks/ksv104_seccomp_disabled.rego",
        include_str!("../../policies/checks/ksv104_seccomp_disabled.rego"),
    ),
    (
        "checks/ksv105_root_uid.rego",
        include_str!("../../policies/checks/ksv105_root_uid.rego"),
    ),
    (
        "checks/ksv106_net_bind_service_only.rego",
        include_str!("../../policies/checks/ksv106_net_bind_service_only.rego"),
    ),
    (
        "checks/ksv108_service_external_ip.rego",
        include_str!("../../policies/checks/ksv108_service_external_ip.rego"),
    ),
    (
        "checks/ksv109_configmap_secrets.rego",
        include_str!("../../policies/checks/ksv109_configmap_secrets.rego"),
    ),
    (
        "checks/ksv110_default_namespace.rego",
        include_str!("../../policies/checks/ksv110_default_namespace.rego"),
    ),
    (
        "checks/ksv111_admin_binding.rego",
        include_str!("../../policies/checks/ksv111_admin_binding.rego"),
    ),
    (
        "checks/ksv116_root_group.rego",
        include_str!("../../policies/checks/ksv116_root_group.rego"),
    ),
    (
        "checks/ksv117_privileged_ports.rego",
        include_str!("../../policies/checks/ksv117_privileged_ports.rego"),
    ),
    (
        "checks/ksv118_default_security_context.rego",
        include_str!("../../policies/checks/ksv118_default_security_context.rego"),
    ),
    (
        "checks/ksv119_net_raw.rego",
        include_str!("../../policies/checks/ksv119_net_raw.rego"),
    ),
    (
        "checks/ksv120_sys_module.rego",
        include_str!("../../policies/checks/ksv120_sys_module.rego"),
    ),
    (
        "checks/ksv121_disallowed_host_paths.rego",
        include_str!("../../policies/checks/ksv121_disallowed_host_paths.rego"),
    ),
    (
        "checks/ksv122_anonymous_binding.rego",
        include_str!("../../policies/checks/ksv122_anonymous_binding.rego"),
    ),
    (
        "checks/ksv123_masters_binding.rego",
        include_str!("../../policies/checks/ksv123_masters_binding.rego"),
    ),
    (
        "checks/ksv124_ambiguous_image_prefix.rego",
        include_str!("../../policies/checks/ksv124_ambiguous_image_prefix.rego"),
    ),
    (
        "checks/ksv125_untrusted_registry.rego",
        include_str!("../../policies/checks/ksv125_untrusted_registry.rego"),
    ),
];

/// The built-in checks as `(file name, Rego text)`, e.g.
/// `("checks/ksv001_privilege_escalation.rego", "package builtin.trivyrs.KSV001 ...")`.
/// The workload checks (KSV) come first, then the control-plane checks (KCV0001–KCV0047,
/// [`super::control_plane_checks`]), then the node checks (KCV0048–KCV0092,
/// [`super::node_checks`]), then the RBAC checks ([`super::rbac_checks`]), each group
/// ordered by file name.
pub fn builtin_policies() -> &'static [(String, String)] {
    static ALL: std::sync::LazyLock<Vec<(String, String)>> = std::sync::LazyLock::new(|| {
        POLICIES
            .iter()
            .map(|(name, rego)| ((*name).to_owned(), (*rego).to_owned()))
            .chain(super::control_plane_checks::policies())
            .chain(super::node_checks::policies())
            .chain(super::rbac_checks::policies())
            .collect()
    });
    &ALL
}

/// The Rego libraries the built-in checks import, as `(file name, Rego text)`.
pub fn builtin_libraries() -> &'static [(&'static str, &'static str)] {
    LIBRARIES
}

/// Stand-ins for upstream's `lib.kubernetes` and `lib.result`, as `(package, file name,
/// Rego text)`; the engine loads each unless the ConfigMap declares that package itself.
pub fn compat_libraries() -> &'static [(&'static str, &'static str, &'static str)] {
    COMPAT_LIBRARIES
}

/// A hex SHA-256 over the names and texts of the built-ins that apply to `kind`: for a
/// workload kind the workload and control-plane libraries and checks and the stand-in
/// libraries; for a role kind the RBAC library and checks and the stand-ins; for
/// [`NODE_KIND`](crate::policy_config::NODE_KIND) the node library, the node checks and the
/// stand-ins.
///
/// It changes whenever a release changes those built-ins, so the leader folds it into the
/// kind's `plugin-config-hash` label and reports written by older built-ins get re-audited;
/// a change of the node checks alone re-checks nodes only, and the other way round.
pub fn builtin_digest_for(kind: &str) -> String {
    let group = Group::of(kind);
    let libraries = LIBRARIES
        .iter()
        .filter(|(name, _)| Group::of_library(name) == group)
        .map(|(n, r)| (*n, *r));
    let policies = builtin_policies()
        .iter()
        .filter(|(name, _)| Group::of_policy(name) == group)
        .map(|(n, r)| (n.as_str(), r.as_str()));
    let compat = COMPAT_LIBRARIES.iter().map(|(_, n, r)| (*n, *r));
    let mut hasher = Sha256::new();
    for (name, rego) in libraries.chain(policies).chain(compat) {
        // Length prefixes keep ("ab", "c") and ("a", "bc") apart.
        for part in [name, rego] {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part.as_bytes());
        }
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Which built-ins apply to a kind: the workload (and control-plane) checks, the node
/// checks, or the RBAC checks.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Group {
    Workload,
    Node,
    Rbac,
}

impl Group {
    fn of(kind: &str) -> Self {
        if kind == crate::policy_config::NODE_KIND {
            Self::Node
        } else if crate::policy_config::RBAC_KINDS.contains(&kind) {
            Self::Rbac
        } else {
            Self::Workload
        }
    }

    fn of_library(name: &str) -> Self {
        match name {
            NODE_LIBRARY => Self::Node,
            RBAC_LIBRARY => Self::Rbac,
            _ => Self::Workload,
        }
    }

    fn of_policy(name: &str) -> Self {
        if name.starts_with(super::engine::NODE_CHECKS_DIR) {
            Self::Node
        } else if name.starts_with(super::engine::RBAC_CHECKS_DIR) {
            Self::Rbac
        } else {
            Self::Workload
        }
    }
}

/// The check IDs of the built-in checks (computed once per process).
pub fn builtin_check_ids() -> &'static [String] {
    static IDS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    IDS.get_or_init(|| {
        super::PolicyEngine::compile(&crate::policy_config::PolicyConfig::default(), true)
            .map(|engine| engine.check_ids().map(str::to_owned).collect())
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_is_stable_hex() {
        let digest = builtin_digest_for("Pod");
        assert_eq!(digest.len(), 64);
        assert!(digest.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(digest, builtin_digest_for("ReplicaSet"));
        // Node checks, RBAC checks and workload checks change independently.
        assert_ne!(digest, builtin_digest_for(crate::policy_config::NODE_KIND));
        let rbac = builtin_digest_for("Role");
        assert_eq!(rbac, builtin_digest_for("ClusterRole"));
        assert_ne!(rbac, digest);
        assert_ne!(rbac, builtin_digest_for(crate::policy_config::NODE_KIND));
    }

    #[test]
    fn every_policy_declares_its_package_and_metadata() {
        for (name, rego) in builtin_policies() {
            let (package, library) = if name.starts_with("node/") {
                (
                    "package builtin.trivynode.KCV",
                    "import data.builtin.trivynode.lib",
                )
            } else if name.starts_with("control_plane/") {
                (
                    "package builtin.trivycp.KCV",
                    "import data.builtin.trivycp.lib",
                )
            } else if name.starts_with("rbac/") {
                (
                    "package builtin.trivyrbac.KSV",
                    "import data.builtin.trivyrbac.lib",
                )
            } else {
                (
                    "package builtin.trivyrs.KSV",
                    "import data.builtin.trivyrs.lib.k8s",
                )
            };
            assert!(rego.contains(package), "{name}");
            assert!(rego.contains("__rego_metadata__"), "{name}");
            assert!(rego.contains(library), "{name}");
        }
    }

    #[test]
    fn policies_are_ordered_by_name() {
        let names: Vec<&str> = builtin_policies().iter().map(|(n, _)| n.as_str()).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted);
    }
}

//! The objects other than workloads and nodes that the operator audits, as upstream does:
//! Roles and ClusterRoles (RBAC assessments), and the namespaced and cluster-scoped kinds
//! whose config audits upstream writes as ConfigAuditReports and ClusterConfigAuditReports.
//! For each kind: its API version and resource, its scope, the report it gets, and what its
//! `resource-spec-hash` covers.

use serde_json::{Map, Value, json};

/// The API version of both role kinds.
pub const RBAC_API_VERSION: &str = "rbac.authorization.k8s.io/v1";

/// A kind of audited object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ObjectKind {
    Role,
    ClusterRole,
    Service,
    ConfigMap,
    RoleBinding,
    NetworkPolicy,
    Ingress,
    ResourceQuota,
    LimitRange,
    PersistentVolumeClaim,
    ClusterRoleBinding,
    CustomResourceDefinition,
    PersistentVolume,
}

/// The report an object gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportKind {
    RbacAssessmentReport,
    ClusterRbacAssessmentReport,
    ConfigAuditReport,
    ClusterConfigAuditReport,
}

impl ReportKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RbacAssessmentReport => "RbacAssessmentReport",
            Self::ClusterRbacAssessmentReport => "ClusterRbacAssessmentReport",
            Self::ConfigAuditReport => "ConfigAuditReport",
            Self::ClusterConfigAuditReport => "ClusterConfigAuditReport",
        }
    }
}

impl ObjectKind {
    /// Every kind, roles first.
    pub const ALL: [Self; 13] = [
        Self::Role,
        Self::ClusterRole,
        Self::Service,
        Self::ConfigMap,
        Self::RoleBinding,
        Self::NetworkPolicy,
        Self::Ingress,
        Self::ResourceQuota,
        Self::LimitRange,
        Self::PersistentVolumeClaim,
        Self::ClusterRoleBinding,
        Self::CustomResourceDefinition,
        Self::PersistentVolume,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Role => "Role",
            Self::ClusterRole => "ClusterRole",
            Self::Service => "Service",
            Self::ConfigMap => "ConfigMap",
            Self::RoleBinding => "RoleBinding",
            Self::NetworkPolicy => "NetworkPolicy",
            Self::Ingress => "Ingress",
            Self::ResourceQuota => "ResourceQuota",
            Self::LimitRange => "LimitRange",
            Self::ClusterRoleBinding => "ClusterRoleBinding",
            Self::CustomResourceDefinition => "CustomResourceDefinition",
            Self::PersistentVolumeClaim => "PersistentVolumeClaim",
            Self::PersistentVolume => "PersistentVolume",
        }
    }

    /// The kind named `name` (case-sensitive, as Kubernetes kinds are).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// Its API version (`group/version`, or `v1` for the core group).
    pub fn api_version(self) -> &'static str {
        match self {
            Self::Role | Self::ClusterRole | Self::RoleBinding | Self::ClusterRoleBinding => {
                RBAC_API_VERSION
            }
            Self::Service
            | Self::ConfigMap
            | Self::ResourceQuota
            | Self::LimitRange
            | Self::PersistentVolumeClaim
            | Self::PersistentVolume => "v1",
            Self::NetworkPolicy | Self::Ingress => "networking.k8s.io/v1",
            Self::CustomResourceDefinition => "apiextensions.k8s.io/v1",
        }
    }

    /// Its resource (plural) name.
    pub fn plural(self) -> &'static str {
        match self {
            Self::Role => "roles",
            Self::ClusterRole => "clusterroles",
            Self::Service => "services",
            Self::ConfigMap => "configmaps",
            Self::RoleBinding => "rolebindings",
            Self::NetworkPolicy => "networkpolicies",
            Self::Ingress => "ingresses",
            Self::ResourceQuota => "resourcequotas",
            Self::LimitRange => "limitranges",
            Self::ClusterRoleBinding => "clusterrolebindings",
            Self::CustomResourceDefinition => "customresourcedefinitions",
            Self::PersistentVolumeClaim => "persistentvolumeclaims",
            Self::PersistentVolume => "persistentvolumes",
        }
    }

    /// Whether objects of the kind are cluster-scoped.
    pub fn cluster_scoped(self) -> bool {
        matches!(
            self,
            Self::ClusterRole
                | Self::ClusterRoleBinding
                | Self::CustomResourceDefinition
                | Self::PersistentVolume
        )
    }

    /// Whether it is a role kind (RBAC assessment) rather than a config-audited kind.
    pub fn is_role(self) -> bool {
        matches!(self, Self::Role | Self::ClusterRole)
    }

    /// The report an object of the kind gets, as upstream writes it.
    pub fn report_kind(self) -> ReportKind {
        match (self.is_role(), self.cluster_scoped()) {
            (true, false) => ReportKind::RbacAssessmentReport,
            (true, true) => ReportKind::ClusterRbacAssessmentReport,
            (false, false) => ReportKind::ConfigAuditReport,
            (false, true) => ReportKind::ClusterConfigAuditReport,
        }
    }

    /// The `resource-spec-hash` of an object of the kind (its JSON). A role's covers its
    /// rules and aggregation rule (a ClusterRole's aggregated rules change only through its
    /// `rules`); any other kind's every top-level field but `apiVersion`, `kind`,
    /// `metadata` and `status` (a Service's `spec`, a ConfigMap's `data` and `binaryData`, a
    /// binding's `roleRef` and `subjects`): what the checks read, and not what the cluster
    /// changes on its own.
    pub fn spec_hash(self, object: &Value) -> String {
        if self.is_role() {
            return crate::hash::resource_spec_hash(&json!({
                "rules": object.get("rules").cloned().unwrap_or(Value::Null),
                "aggregationRule": object.get("aggregationRule").cloned().unwrap_or(Value::Null),
            }));
        }
        let content: Map<String, Value> = object
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(key, _)| {
                !matches!(key.as_str(), "apiVersion" | "kind" | "metadata" | "status")
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        crate::hash::resource_spec_hash(&Value::Object(content))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_roles_hash_follows_its_rules_only() {
        let kind = ObjectKind::Role;
        let role = json!({"kind": "Role", "metadata": {"name": "a", "labels": {"x": "1"}},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]});
        let mut relabelled = role.clone();
        relabelled["metadata"]["labels"]["x"] = json!("2");
        assert_eq!(kind.spec_hash(&role), kind.spec_hash(&relabelled));
        let mut more = role.clone();
        more["rules"][0]["verbs"] = json!(["get", "list"]);
        assert_ne!(kind.spec_hash(&role), kind.spec_hash(&more));
        let mut aggregated = role.clone();
        aggregated["aggregationRule"] = json!({"clusterRoleSelectors": []});
        assert_ne!(kind.spec_hash(&role), kind.spec_hash(&aggregated));
    }

    #[test]
    fn other_kinds_hash_their_content_but_not_metadata_or_status() {
        let kind = ObjectKind::Service;
        let svc = json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "resourceVersion": "1"},
            "spec": {"type": "ClusterIP", "ports": [{"port": 80}]}, "status": {}});
        let mut touched = svc.clone();
        touched["metadata"]["resourceVersion"] = json!("2");
        touched["status"] = json!({"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}});
        assert_eq!(kind.spec_hash(&svc), kind.spec_hash(&touched));
        let mut external = svc.clone();
        external["spec"]["externalIPs"] = json!(["1.2.3.4"]);
        assert_ne!(kind.spec_hash(&svc), kind.spec_hash(&external));
        let cm = json!({"kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}});
        let mut changed = cm.clone();
        changed["data"]["a"] = json!("2");
        assert_ne!(
            ObjectKind::ConfigMap.spec_hash(&cm),
            ObjectKind::ConfigMap.spec_hash(&changed)
        );
    }

    #[test]
    fn kinds_know_their_resource_scope_and_report() {
        for kind in ObjectKind::ALL {
            assert_eq!(ObjectKind::parse(kind.as_str()), Some(kind));
            assert!(kind.plural().ends_with('s'));
            assert_eq!(kind.plural(), kind.plural().to_lowercase());
        }
        assert_eq!(ObjectKind::NetworkPolicy.plural(), "networkpolicies");
        assert_eq!(ObjectKind::Ingress.plural(), "ingresses");
        assert_eq!(
            ObjectKind::CustomResourceDefinition.report_kind(),
            ReportKind::ClusterConfigAuditReport
        );
        assert_eq!(
            ObjectKind::RoleBinding.report_kind(),
            ReportKind::ConfigAuditReport
        );
        assert_eq!(
            ObjectKind::ClusterRole.report_kind(),
            ReportKind::ClusterRbacAssessmentReport
        );
        assert_eq!(ObjectKind::parse("Pod"), None);
    }

    #[test]
    fn the_policy_kind_lists_name_the_same_kinds() {
        let names = |roles: bool| -> Vec<&str> {
            ObjectKind::ALL
                .into_iter()
                .filter(|k| k.is_role() == roles)
                .map(ObjectKind::as_str)
                .collect()
        };
        assert_eq!(names(true), crate::policy_config::RBAC_KINDS);
        assert_eq!(names(false), crate::policy_config::RESOURCE_KINDS);
    }
}

//! Roles and ClusterRoles as the RBAC assessments see them: what their
//! `resource-spec-hash` covers, and their API version.

use serde_json::{Value, json};

/// The API version of both role kinds.
pub const RBAC_API_VERSION: &str = "rbac.authorization.k8s.io/v1";

/// The `resource-spec-hash` of a Role or ClusterRole object: its rules and its aggregation
/// rule (a ClusterRole's aggregated rules change only through its `rules`).
pub fn role_spec_hash(role: &Value) -> String {
    crate::hash::resource_spec_hash(&json!({
        "rules": role.get("rules").cloned().unwrap_or(Value::Null),
        "aggregationRule": role.get("aggregationRule").cloned().unwrap_or(Value::Null),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_follows_the_rules_only() {
        let role = json!({"kind": "Role", "metadata": {"name": "a", "labels": {"x": "1"}},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]});
        let mut relabelled = role.clone();
        relabelled["metadata"]["labels"]["x"] = json!("2");
        assert_eq!(role_spec_hash(&role), role_spec_hash(&relabelled));
        let mut more = role.clone();
        more["rules"][0]["verbs"] = json!(["get", "list"]);
        assert_ne!(role_spec_hash(&role), role_spec_hash(&more));
        let mut aggregated = role.clone();
        aggregated["aggregationRule"] = json!({"clusterRoleSelectors": []});
        assert_ne!(role_spec_hash(&role), role_spec_hash(&aggregated));
    }
}

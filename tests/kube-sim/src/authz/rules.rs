//! RBAC evaluation with the real authorizer's semantics (k8s.io/kubernetes
//! `plugin/pkg/auth/authorizer/rbac`): which bindings apply to a user, which rules their roles
//! grant, and whether a rule covers a request.

use std::sync::Arc;

use serde_json::Value;

use super::{AUTHENTICATED_GROUP, Attributes, MASTERS_GROUP, SERVICE_ACCOUNT_PREFIX, Subject};
use crate::store::{GroupResource, Store};

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// The authorizer's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// A rule (or a built-in grant) allows the request.
    Allow,
    /// Nothing allows it; `reason` is `RBAC: <errors>` when bindings could not be resolved.
    Deny {
        /// Appended to the Forbidden message when not empty.
        reason: String,
    },
}

/// One `PolicyRule` of a Role or ClusterRole.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyRule {
    /// `verbs`.
    pub verbs: Vec<String>,
    /// `apiGroups`.
    pub api_groups: Vec<String>,
    /// `resources` (`pods`, `pods/log`, `*/status`, `*`).
    pub resources: Vec<String>,
    /// `resourceNames` (empty: any).
    pub resource_names: Vec<String>,
    /// `nonResourceURLs` (`/api`, `/apis/*`, `*`).
    pub non_resource_urls: Vec<String>,
}

fn strings(v: &Value, key: &str) -> Vec<String> {
    crate::store::meta::strings(v.get(key))
}

impl PolicyRule {
    /// A rule from its JSON form; missing lists are empty.
    pub fn from_json(v: &Value) -> Self {
        Self {
            verbs: strings(v, "verbs"),
            api_groups: strings(v, "apiGroups"),
            resources: strings(v, "resources"),
            resource_names: strings(v, "resourceNames"),
            non_resource_urls: strings(v, "nonResourceURLs"),
        }
    }

    /// Whether this rule allows the request (`RuleAllows`).
    pub fn allows(&self, a: &Attributes) -> bool {
        let verb = self.verbs.iter().any(|v| v == "*" || *v == a.verb);
        if !a.resource_request {
            return verb
                && self
                    .non_resource_urls
                    .iter()
                    .any(|u| url_matches(u, &a.path));
        }
        verb && self
            .api_groups
            .iter()
            .any(|g| g == "*" || *g == a.api_group)
            && self.resource_matches(&a.resource, &a.subresource)
            && (self.resource_names.is_empty() || self.resource_names.contains(&a.name))
    }

    fn resource_matches(&self, resource: &str, subresource: &str) -> bool {
        let combined = match subresource {
            "" => resource.to_owned(),
            sub => format!("{resource}/{sub}"),
        };
        self.resources.iter().any(|r| {
            r == "*"
                || *r == combined
                || (!subresource.is_empty() && r.strip_prefix("*/") == Some(subresource))
        })
    }
}

/// `nonResourceURLs` matching: `*`, exact, or a prefix ending in `*`.
fn url_matches(rule: &str, path: &str) -> bool {
    match rule.strip_suffix('*') {
        _ if rule == "*" || rule == path => true,
        Some(prefix) => path.starts_with(prefix),
        None => false,
    }
}

/// Whether a binding subject (`{kind, name, namespace}`) is this user; `binding_ns` is the
/// RoleBinding's namespace (`""` for a ClusterRoleBinding), the default namespace of a
/// ServiceAccount subject.
pub fn subject_matches(user: &Subject, subject: &Value, binding_ns: &str) -> bool {
    let field = |k: &str| subject.get(k).and_then(Value::as_str).unwrap_or("");
    let name = field("name");
    match field("kind") {
        "User" => user.name == name,
        "Group" => user.groups.iter().any(|g| g == name),
        "ServiceAccount" => {
            let ns = match field("namespace") {
                "" => binding_ns,
                ns => ns,
            };
            !ns.is_empty() && user.name == format!("{SERVICE_ACCOUNT_PREFIX}{ns}:{name}")
        }
        _ => false,
    }
}

/// Paths every authenticated user may GET (the `system:discovery` and
/// `system:public-info-viewer` ClusterRoles of a real cluster).
const DISCOVERY_URLS: &[&str] = &[
    "/api",
    "/api/*",
    "/apis",
    "/apis/*",
    "/healthz",
    "/livez",
    "/readyz",
    "/openapi",
    "/openapi/*",
    "/version",
    "/version/",
];
/// Paths everyone, anonymous included, may GET (`system:public-info-viewer`).
const PUBLIC_URLS: &[&str] = &["/healthz", "/livez", "/readyz", "/version", "/version/"];

/// Grants every cluster has without objects in the store: `system:masters` may do
/// everything; discovery for authenticated users, health and version for everyone.
fn built_in(a: &Attributes) -> bool {
    if a.user.groups.iter().any(|g| g == MASTERS_GROUP) {
        return true;
    }
    if a.resource_request || a.verb != "get" {
        return false;
    }
    let authenticated = a.user.groups.iter().any(|g| g == AUTHENTICATED_GROUP);
    let urls = if authenticated {
        DISCOVERY_URLS
    } else {
        PUBLIC_URLS
    };
    urls.iter().any(|u| url_matches(u, &a.path))
}

/// Decides a request: built-in grants, then every ClusterRoleBinding, then the RoleBindings
/// of the request's namespace, stopping at the first rule that allows it.
pub fn authorize(store: &Store, a: &Attributes) -> Decision {
    if built_in(a) {
        return Decision::Allow;
    }
    let mut errors: Vec<String> = Vec::new();
    let mut check = |binding_ns: &str, bindings: Vec<Arc<Value>>| {
        for b in bindings {
            let subjects = b.get("subjects").and_then(Value::as_array);
            if !subjects.is_some_and(|s| s.iter().any(|s| subject_matches(&a.user, s, binding_ns)))
            {
                continue;
            }
            match role_rules(store, b.get("roleRef"), binding_ns) {
                Ok(rules) if rules.iter().any(|r| r.allows(a)) => return true,
                Ok(_) => {}
                Err(e) => {
                    if !errors.contains(&e) {
                        errors.push(e);
                    }
                }
            }
        }
        false
    };
    let crbs = list(store, "clusterrolebindings", None);
    if check("", crbs) {
        return Decision::Allow;
    }
    if !a.namespace.is_empty() {
        let rbs = list(store, "rolebindings", Some(&a.namespace));
        if check(&a.namespace, rbs) {
            return Decision::Allow;
        }
    }
    let reason = match errors.as_slice() {
        [] => String::new(),
        [one] => format!("RBAC: {one}"),
        many => format!("RBAC: [{}]", many.join(", ")),
    };
    Decision::Deny { reason }
}

fn list(store: &Store, resource: &str, namespace: Option<&str>) -> Vec<Arc<Value>> {
    store
        .list(&GroupResource::new(RBAC_GROUP, resource), namespace)
        .map(|p| p.items)
        .unwrap_or_default()
}

/// The rules a `roleRef` points at; the error text is the real authorizer's.
fn role_rules(
    store: &Store,
    role_ref: Option<&Value>,
    binding_ns: &str,
) -> Result<Vec<PolicyRule>, String> {
    let field = |k: &str| {
        role_ref
            .and_then(|r| r.get(k))
            .and_then(Value::as_str)
            .unwrap_or("")
    };
    let name = field("name");
    let (resource, singular, ns) = match field("kind") {
        "Role" => ("roles", "role", binding_ns),
        "ClusterRole" => ("clusterroles", "clusterrole", ""),
        other => return Err(format!("unsupported role reference kind: {other:?}")),
    };
    let role = store
        .get(&GroupResource::new(RBAC_GROUP, resource), ns, name)
        .map_err(|_| format!("{singular}.{RBAC_GROUP} {name:?} not found"))?;
    Ok(role
        .get("rules")
        .and_then(Value::as_array)
        .map(|rs| rs.iter().map(PolicyRule::from_json).collect())
        .unwrap_or_default())
}

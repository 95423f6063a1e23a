//! Authentication and authorization of API requests.
//!
//! [`Authz`] decides, for every Kubernetes request, who is asking (a bearer token from the
//! configured token map, or anonymous when enabled) and whether they may: always in
//! [`Authorization::AlwaysAllow`] mode, by the Role/ClusterRole/RoleBinding/ClusterRoleBinding
//! objects in the store in [`Authorization::Rbac`] mode, with the real API server's request
//! attributes ([`attributes`]), rule semantics ([`rules`]) and 401/403 `Status` bodies.

pub mod attributes;
pub mod rules;
pub mod tokens;

#[cfg(test)]
mod rule_tests;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use axum::http::{HeaderMap, Method, Uri, header};
use axum::response::Response;

use crate::http::errors::{json_response, status_body, status_error};
use crate::http::request::Query;
use crate::store::Store;
pub use attributes::Attributes;
pub use rules::{Decision, authorize};
pub use tokens::{Error, parse_token_file, read_token_file};

/// Group whose members are allowed everything, before RBAC is consulted.
pub const MASTERS_GROUP: &str = "system:masters";
/// Group of every authenticated user.
pub const AUTHENTICATED_GROUP: &str = "system:authenticated";
/// Group of anonymous requests.
pub const UNAUTHENTICATED_GROUP: &str = "system:unauthenticated";
/// User name of anonymous requests.
pub const ANONYMOUS_USER: &str = "system:anonymous";
/// User of [`crate::SimConfig::token`] (the kubeconfig's token) when authorization is RBAC.
pub const ADMIN_USER: &str = "kube-sim-admin";
/// Prefix of service account user names: `system:serviceaccount:<ns>:<name>`.
pub const SERVICE_ACCOUNT_PREFIX: &str = "system:serviceaccount:";

/// How requests are authorized.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Authorization {
    /// Every authenticated request is allowed (kube-apiserver `--authorization-mode=AlwaysAllow`).
    #[default]
    AlwaysAllow,
    /// Requests are allowed by the RBAC objects in the store, or for group `system:masters`.
    Rbac,
}

/// An authenticated identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    /// User name, e.g. `system:serviceaccount:trivy-system:trivy-operator-leader`.
    pub name: String,
    /// Groups as configured; the implied groups are added by [`UserInfo::effective_groups`].
    pub groups: Vec<String>,
}

impl UserInfo {
    /// A user with no explicit groups.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            groups: Vec::new(),
        }
    }

    /// A user with explicit groups.
    pub fn with_groups(name: &str, groups: &[&str]) -> Self {
        Self {
            name: name.to_owned(),
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        }
    }

    /// The anonymous user (`system:anonymous`, group `system:unauthenticated`).
    pub fn anonymous() -> Self {
        Self::with_groups(ANONYMOUS_USER, &[UNAUTHENTICATED_GROUP])
    }

    /// The configured groups plus the implied ones: `system:authenticated` for every user but
    /// the anonymous one, and `system:serviceaccounts`, `system:serviceaccounts:<ns>` for a
    /// service account user.
    pub fn effective_groups(&self) -> Vec<String> {
        let mut groups = self.groups.clone();
        let mut add = |g: String| {
            if !groups.contains(&g) {
                groups.push(g);
            }
        };
        if let Some((ns, _)) = self.service_account() {
            add("system:serviceaccounts".to_owned());
            add(format!("system:serviceaccounts:{ns}"));
        }
        if self.name != ANONYMOUS_USER {
            add(AUTHENTICATED_GROUP.to_owned());
        }
        groups
    }

    /// `(namespace, name)` when this is a service account user.
    pub fn service_account(&self) -> Option<(&str, &str)> {
        let rest = self.name.strip_prefix(SERVICE_ACCOUNT_PREFIX)?;
        let (ns, name) = rest.split_once(':')?;
        (!ns.is_empty() && !name.is_empty() && !name.contains(':')).then_some((ns, name))
    }
}

/// A user with its effective groups resolved, as the authorizer sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// User name.
    pub name: String,
    /// All groups, implied ones included.
    pub groups: Vec<String>,
}

impl From<&UserInfo> for Subject {
    fn from(u: &UserInfo) -> Self {
        Self {
            name: u.name.clone(),
            groups: u.effective_groups(),
        }
    }
}

/// The authentication and authorization settings of a running server.
#[derive(Debug, Clone, Default)]
pub struct Authz {
    mode: Authorization,
    tokens: BTreeMap<String, UserInfo>,
    anonymous: bool,
}

impl Authz {
    /// Settings from the server config: `token` (the kubeconfig's token) is added to `tokens`
    /// as [`ADMIN_USER`] in `system:masters` unless `tokens` already maps it.
    pub fn new(
        mode: Authorization,
        token: Option<&str>,
        tokens: &BTreeMap<String, UserInfo>,
        anonymous: bool,
    ) -> Self {
        let mut tokens = tokens.clone();
        if let Some(t) = token {
            tokens
                .entry(t.to_owned())
                .or_insert_with(|| UserInfo::with_groups(ADMIN_USER, &[MASTERS_GROUP]));
        }
        Self {
            mode,
            tokens,
            anonymous,
        }
    }

    /// The authorization mode.
    pub fn mode(&self) -> Authorization {
        self.mode
    }

    /// Who sent a request: `Some(user)` for a known bearer token, or the anonymous user when
    /// there is no token and anonymous requests are enabled (or nothing authenticates, in
    /// AlwaysAllow mode without tokens); `None`: 401.
    pub fn authenticate(&self, headers: &HeaderMap) -> Option<UserInfo> {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty());
        match given {
            Some(t) => self.tokens.get(t).cloned(),
            None if self.anonymous => Some(UserInfo::anonymous()),
            None if self.mode == Authorization::AlwaysAllow && self.tokens.is_empty() => {
                Some(UserInfo::anonymous())
            }
            None => None,
        }
    }

    /// The request hook: `Some(response)` (401 Unauthorized or 403 Forbidden) ends the
    /// request; `None` lets it through.
    pub fn admit(
        &self,
        store: &Store,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
    ) -> Option<Response> {
        let Some(user) = self.authenticate(headers) else {
            return Some(status_error(401, "Unauthorized", "Unauthorized"));
        };
        if self.mode == Authorization::AlwaysAllow {
            return None;
        }
        let subject = Subject::from(&user);
        let attrs =
            Attributes::from_request(&subject, method, uri.path(), &Query::parse(uri.query()));
        match authorize(store, &attrs) {
            Decision::Deny { reason } => {
                tracing::info!(user = %subject.name, verb = %attrs.verb, path = %attrs.path, reason = %reason, "forbidden");
                let (code, body) = forbidden(&attrs, &reason);
                Some(json_response(code, &body))
            }
            Decision::Allow => self.create_on_apply(store, &attrs, headers),
        }
    }

    /// A server-side apply that would create the object is also authorized as `create`, as
    /// the API server's patch handler does (its Forbidden carries only the authorizer's reason).
    fn create_on_apply(
        &self,
        store: &Store,
        attrs: &Attributes,
        headers: &HeaderMap,
    ) -> Option<Response> {
        let apply = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.contains("apply-patch"));
        if !apply || attrs.verb != "patch" || !attrs.subresource.is_empty() || attrs.name.is_empty()
        {
            return None;
        }
        let gr = crate::store::GroupResource::new(&attrs.api_group, &attrs.resource);
        let scoped_ns = if attrs.resource == "namespaces" {
            ""
        } else {
            &attrs.namespace
        };
        if store.get(&gr, scoped_ns, &attrs.name).is_ok() {
            return None;
        }
        let create = Attributes {
            verb: "create".to_owned(),
            ..attrs.clone()
        };
        match authorize(store, &create) {
            Decision::Allow => None,
            Decision::Deny { reason } => {
                tracing::info!(user = %attrs.user.name, path = %attrs.path, "forbidden: create by apply");
                Some(json_response(
                    403,
                    &create_on_apply_forbidden(attrs, &reason),
                ))
            }
        }
    }
}

/// The 403 `Status` of an apply patch that may not create: `<resource>.<group> "<name>" is
/// forbidden: <reason>`.
fn create_on_apply_forbidden(attrs: &Attributes, reason: &str) -> serde_json::Value {
    let qualified = match attrs.api_group.as_str() {
        "" => attrs.resource.clone(),
        g => format!("{}.{g}", attrs.resource),
    };
    let mut details = serde_json::json!({"name": attrs.name, "kind": attrs.resource});
    if !attrs.api_group.is_empty() {
        details["group"] = attrs.api_group.clone().into();
    }
    status_body(
        403,
        "Forbidden",
        &format!("{qualified} {:?} is forbidden: {reason}", attrs.name),
        Some(details),
    )
}

/// The 403 `Status` the API server sends for a denied request (`reason`: the authorizer's
/// reason, e.g. `RBAC: role.rbac.authorization.k8s.io "x" not found`, or empty).
pub fn forbidden(attrs: &Attributes, reason: &str) -> (u16, serde_json::Value) {
    let user = &attrs.user.name;
    let verb = &attrs.verb;
    let mut what = if !attrs.resource_request {
        format!("User {user:?} cannot {verb} path {:?}", attrs.path)
    } else {
        let resource = match attrs.subresource.as_str() {
            "" => attrs.resource.clone(),
            sub => format!("{}/{sub}", attrs.resource),
        };
        let group = &attrs.api_group;
        match attrs.namespace.as_str() {
            "" => format!(
                "User {user:?} cannot {verb} resource {resource:?} in API group {group:?} at the cluster scope"
            ),
            ns => format!(
                "User {user:?} cannot {verb} resource {resource:?} in API group {group:?} in the namespace {ns:?}"
            ),
        }
    };
    if !reason.is_empty() {
        what = format!("{what}: {reason}");
    }
    let qualified = match (attrs.resource.as_str(), attrs.api_group.as_str()) {
        ("", "") => String::new(),
        (r, "") => r.to_owned(),
        (r, g) => format!("{r}.{g}"),
    };
    let message = match (qualified.as_str(), attrs.name.as_str()) {
        ("", _) => format!("forbidden: {what}"),
        (q, "") => format!("{q} is forbidden: {what}"),
        (q, name) => format!("{q} {name:?} is forbidden: {what}"),
    };
    let mut details = serde_json::Map::new();
    for (key, value) in [
        ("name", &attrs.name),
        ("group", &attrs.api_group),
        ("kind", &attrs.resource),
    ] {
        if !value.is_empty() {
            details.insert(key.to_owned(), serde_json::Value::String(value.clone()));
        }
    }
    (
        403,
        status_body(403, "Forbidden", &message, Some(details.into())),
    )
}

/// Creates the default objects of an RBAC cluster in a new store: the `cluster-admin`
/// ClusterRole (no bindings: `system:masters` is allowed without one).
pub fn seed(store: &Store) {
    let gr = crate::store::GroupResource::new("rbac.authorization.k8s.io", "clusterroles");
    if let Err(e) = store.create(&gr, cluster_admin_role()) {
        tracing::warn!(error = %e, "creating the cluster-admin ClusterRole");
    }
}

/// The default `cluster-admin` ClusterRole of a real cluster (everything, every path).
pub fn cluster_admin_role() -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {
            "name": "cluster-admin",
            "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
            "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"}
        },
        "rules": [
            {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
            {"nonResourceURLs": ["*"], "verbs": ["*"]}
        ]
    })
}

//! Request attributes as the API server derives them (k8s.io/apiserver `RequestInfoFactory`):
//! verb from method, path and query; API group, resource, subresource, namespace and name
//! from the path, or a non-resource path.

use axum::http::Method;

use super::Subject;
use crate::http::request::{ApiPath, Query};

/// What the authorizer decides on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attributes {
    /// Who asks.
    pub user: Subject,
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`;
    /// the lower-case HTTP method for non-resource requests.
    pub verb: String,
    /// A request for an API resource (else a non-resource path like `/api` or `/version`).
    pub resource_request: bool,
    /// The URL path.
    pub path: String,
    /// API group (`""`: core).
    pub api_group: String,
    /// Plural resource name.
    pub resource: String,
    /// Subresource (`""`: none).
    pub subresource: String,
    /// Namespace (`""`: cluster scope; for a named namespace, its own name).
    pub namespace: String,
    /// Object name (`""`: none); for a list or watch with `fieldSelector=metadata.name=X`, X.
    pub name: String,
}

impl Attributes {
    /// The attributes of a request (an unknown method on a resource has the empty verb).
    pub fn from_request(user: &Subject, method: &Method, path: &str, query: &Query) -> Self {
        let mut attrs = Self {
            user: user.clone(),
            verb: method.as_str().to_ascii_lowercase(),
            resource_request: false,
            path: path.to_owned(),
            api_group: String::new(),
            resource: String::new(),
            subresource: String::new(),
            namespace: String::new(),
            name: String::new(),
        };
        let Some(p) = ApiPath::parse(path) else {
            return attrs;
        };
        attrs.resource_request = true;
        attrs.api_group = p.group;
        attrs.name = p.name.unwrap_or_default();
        attrs.subresource = p.subresource.unwrap_or_default();
        // `/api/v1/namespaces/NAME[/status]` is in its own namespace, as on a real server.
        attrs.namespace = match p.namespace {
            Some(ns) => ns,
            None if p.resource == "namespaces" => attrs.name.clone(),
            None => String::new(),
        };
        attrs.resource = p.resource;
        attrs.verb = if p.watch_prefix {
            "watch"
        } else {
            match *method {
                Method::POST => "create",
                Method::PUT => "update",
                Method::PATCH => "patch",
                Method::DELETE if attrs.name.is_empty() => "deletecollection",
                Method::DELETE => "delete",
                Method::GET | Method::HEAD if !attrs.name.is_empty() => "get",
                Method::GET | Method::HEAD => {
                    if let Some(name) = query.get("fieldSelector").and_then(exact_name) {
                        attrs.name = name;
                    }
                    if watch_param(query.get("watch")) {
                        "watch"
                    } else {
                        "list"
                    }
                }
                _ => "",
            }
        }
        .to_owned();
        attrs
    }
}

/// `?watch=` as Go's `strconv.ParseBool` reads it.
fn watch_param(v: Option<&str>) -> bool {
    matches!(v, Some("1" | "t" | "T" | "true" | "TRUE" | "True"))
}

/// The name a field selector requires exactly (`metadata.name=X` or `metadata.name==X` among
/// its terms), if it is a valid path segment name; such a list or watch is authorized as a
/// request for the named object.
fn exact_name(selector: &str) -> Option<String> {
    selector.split(',').find_map(|term| {
        let term = term.trim();
        let value = term
            .strip_prefix("metadata.name==")
            .or_else(|| term.strip_prefix("metadata.name="))?;
        let valid = !matches!(value, "" | "." | "..") && !value.contains(['/', '%']);
        valid.then(|| value.to_owned())
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn attrs(method: Method, uri: &str) -> Attributes {
        let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
        let user = Subject {
            name: "u".to_owned(),
            groups: vec![],
        };
        Attributes::from_request(&user, &method, path, &Query::parse(Some(query)))
    }

    fn summary(a: &Attributes) -> (String, String, String, String, String, String) {
        (
            a.verb.clone(),
            a.api_group.clone(),
            a.resource.clone(),
            a.subresource.clone(),
            a.namespace.clone(),
            a.name.clone(),
        )
    }

    fn s(v: [&str; 6]) -> (String, String, String, String, String, String) {
        let [a, b, c, d, e, f] = v.map(str::to_owned);
        (a, b, c, d, e, f)
    }

    #[test]
    fn verbs_and_targets() {
        let cases: &[(Method, &str, [&str; 6])] = &[
            (
                Method::GET,
                "/api/v1/namespaces/a/pods",
                ["list", "", "pods", "", "a", ""],
            ),
            (
                Method::GET,
                "/api/v1/namespaces/a/pods/p",
                ["get", "", "pods", "", "a", "p"],
            ),
            (
                Method::HEAD,
                "/api/v1/namespaces/a/pods/p",
                ["get", "", "pods", "", "a", "p"],
            ),
            (
                Method::GET,
                "/api/v1/pods?watch=true",
                ["watch", "", "pods", "", "", ""],
            ),
            (
                Method::GET,
                "/api/v1/pods?watch=1",
                ["watch", "", "pods", "", "", ""],
            ),
            (
                Method::GET,
                "/api/v1/pods?watch=false",
                ["list", "", "pods", "", "", ""],
            ),
            (
                Method::GET,
                "/api/v1/watch/namespaces/a/pods/p",
                ["watch", "", "pods", "", "a", "p"],
            ),
            (
                Method::GET,
                "/api/v1/namespaces/a/pods/p/log",
                ["get", "", "pods", "log", "a", "p"],
            ),
            (
                Method::POST,
                "/apis/batch/v1/namespaces/a/jobs",
                ["create", "batch", "jobs", "", "a", ""],
            ),
            (
                Method::PUT,
                "/apis/apps/v1/namespaces/a/deployments/d/status",
                ["update", "apps", "deployments", "status", "a", "d"],
            ),
            (
                Method::PATCH,
                "/apis/coordination.k8s.io/v1/namespaces/a/leases/l",
                ["patch", "coordination.k8s.io", "leases", "", "a", "l"],
            ),
            (
                Method::DELETE,
                "/api/v1/namespaces/a/secrets/s",
                ["delete", "", "secrets", "", "a", "s"],
            ),
            (
                Method::DELETE,
                "/api/v1/namespaces/a/secrets",
                ["deletecollection", "", "secrets", "", "a", ""],
            ),
            (
                Method::GET,
                "/api/v1/namespaces/a",
                ["get", "", "namespaces", "", "a", "a"],
            ),
            (
                Method::GET,
                "/api/v1/namespaces",
                ["list", "", "namespaces", "", "", ""],
            ),
            (
                Method::POST,
                "/api/v1/namespaces",
                ["create", "", "namespaces", "", "", ""],
            ),
            (
                Method::PUT,
                "/api/v1/namespaces/a/finalize",
                ["update", "", "namespaces", "finalize", "a", "a"],
            ),
            (
                Method::GET,
                "/api/v1/nodes/n1",
                ["get", "", "nodes", "", "", "n1"],
            ),
        ];
        for (method, uri, want) in cases {
            let a = attrs(method.clone(), uri);
            assert!(a.resource_request, "{uri}");
            assert_eq!(summary(&a), s(*want), "{method} {uri}");
        }
    }

    #[test]
    fn field_selector_names_list_and_watch() {
        let a = attrs(
            Method::GET,
            "/api/v1/namespaces/a/configmaps?fieldSelector=metadata.name%3Dcm1&watch=true",
        );
        assert_eq!(summary(&a), s(["watch", "", "configmaps", "", "a", "cm1"]));
        let a = attrs(
            Method::GET,
            "/api/v1/namespaces/a/configmaps?fieldSelector=status.phase%3DRunning,metadata.name%3D%3Dcm2",
        );
        assert_eq!(summary(&a), s(["list", "", "configmaps", "", "a", "cm2"]));
        let a = attrs(
            Method::GET,
            "/api/v1/namespaces/a/configmaps?fieldSelector=metadata.name!%3Dcm1",
        );
        assert_eq!(a.name, "");
        // deletecollection never takes a name from the selector.
        let a = attrs(
            Method::DELETE,
            "/api/v1/namespaces/a/configmaps?fieldSelector=metadata.name%3Dcm1",
        );
        assert_eq!(
            summary(&a),
            s(["deletecollection", "", "configmaps", "", "a", ""])
        );
    }

    #[test]
    fn non_resource_paths() {
        for (method, path, verb) in [
            (Method::GET, "/api", "get"),
            (Method::GET, "/apis/apps/v1", "get"),
            (Method::GET, "/api/v1", "get"),
            (Method::GET, "/openapi/v3", "get"),
            (Method::POST, "/version", "post"),
        ] {
            let a = attrs(method, path);
            assert!(!a.resource_request, "{path}");
            assert_eq!((a.verb.as_str(), a.path.as_str()), (verb, path));
        }
    }
}

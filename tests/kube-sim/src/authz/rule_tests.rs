//! Unit tests of single rules, subjects, Forbidden messages and authentication.

#![allow(clippy::unwrap_used)]

use axum::http::Method;
use serde_json::{Value, json};

use super::rules::{PolicyRule, subject_matches};
use super::*;

const SA: &str = "system:serviceaccount:ops:worker";

fn rule(v: Value) -> PolicyRule {
    PolicyRule::from_json(&v)
}

fn resource_attrs(verb: &str, group: &str, resource: &str, sub: &str, name: &str) -> Attributes {
    Attributes {
        user: Subject::from(&UserInfo::new("u")),
        verb: verb.to_owned(),
        resource_request: true,
        path: String::new(),
        api_group: group.to_owned(),
        resource: resource.to_owned(),
        subresource: sub.to_owned(),
        namespace: "a".to_owned(),
        name: name.to_owned(),
    }
}

#[test]
fn rule_matching() {
    let pods = rule(json!({"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}));
    let cases = [
        (&pods, ("get", "", "pods", "", "p"), true),
        (&pods, ("list", "", "pods", "", ""), true),
        (&pods, ("watch", "", "pods", "", ""), false),
        (&pods, ("get", "apps", "pods", "", "p"), false),
        (&pods, ("get", "", "pods", "log", "p"), false),
        (&pods, ("get", "", "secrets", "", "s"), false),
    ];
    let star = rule(json!({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}));
    let log = rule(json!({"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]}));
    let any_status =
        rule(json!({"apiGroups": ["apps"], "resources": ["*/status"], "verbs": ["update"]}));
    let named = rule(json!({"apiGroups": [""], "resources": ["configmaps"],
        "resourceNames": ["cfg"], "verbs": ["get", "update", "list", "watch", "create", "delete"]}));
    let more = [
        (&star, ("deletecollection", "batch", "jobs", "", ""), true),
        (&star, ("get", "", "pods", "log", "p"), true),
        (&log, ("get", "", "pods", "log", "p"), true),
        (&log, ("get", "", "pods", "", "p"), false),
        (
            &any_status,
            ("update", "apps", "deployments", "status", "d"),
            true,
        ),
        (
            &any_status,
            ("update", "apps", "deployments", "", "d"),
            false,
        ),
        (
            &any_status,
            ("update", "apps", "deployments", "scale", "d"),
            false,
        ),
        (&named, ("get", "", "configmaps", "", "cfg"), true),
        (&named, ("update", "", "configmaps", "", "cfg"), true),
        (&named, ("get", "", "configmaps", "", "other"), false),
        (&named, ("list", "", "configmaps", "", ""), false),
        (&named, ("watch", "", "configmaps", "", "cfg"), true),
        (&named, ("create", "", "configmaps", "", ""), false),
        (&named, ("delete", "", "configmaps", "", "cfg"), true),
    ];
    for (r, (verb, group, resource, sub, name), want) in cases.into_iter().chain(more) {
        let a = resource_attrs(verb, group, resource, sub, name);
        assert_eq!(
            r.allows(&a),
            want,
            "{r:?} {verb} {group}/{resource}/{sub} {name:?}"
        );
    }
}

#[test]
fn non_resource_rules() {
    let r = rule(json!({"nonResourceURLs": ["/metrics", "/logs/*"], "verbs": ["get"]}));
    let mut a = resource_attrs("get", "", "", "", "");
    a.resource_request = false;
    for (path, want) in [
        ("/metrics", true),
        ("/logs/x/y", true),
        ("/logs", false),
        ("/api", false),
    ] {
        a.path = path.to_owned();
        assert_eq!(r.allows(&a), want, "{path}");
    }
    // A resource rule never matches a path, nor a path rule a resource.
    assert!(!rule(json!({"resources": ["*"], "apiGroups": ["*"], "verbs": ["*"]})).allows(&a));
    assert!(
        !rule(json!({"nonResourceURLs": ["*"], "verbs": ["*"]}))
            .allows(&resource_attrs("get", "", "pods", "", "p"))
    );
}

#[test]
fn subjects() {
    let sa = Subject::from(&UserInfo::new(SA));
    let cases = [
        (
            json!({"kind": "ServiceAccount", "name": "worker", "namespace": "ops"}),
            "",
            true,
        ),
        (
            json!({"kind": "ServiceAccount", "name": "worker"}),
            "ops",
            true,
        ),
        (
            json!({"kind": "ServiceAccount", "name": "worker"}),
            "",
            false,
        ),
        (
            json!({"kind": "ServiceAccount", "name": "worker", "namespace": "dev"}),
            "ops",
            false,
        ),
        (json!({"kind": "User", "name": SA}), "", true),
        (json!({"kind": "User", "name": "worker"}), "", false),
        (
            json!({"kind": "Group", "name": "system:serviceaccounts"}),
            "",
            true,
        ),
        (
            json!({"kind": "Group", "name": "system:serviceaccounts:ops"}),
            "",
            true,
        ),
        (
            json!({"kind": "Group", "name": "system:serviceaccounts:dev"}),
            "",
            false,
        ),
        (
            json!({"kind": "Group", "name": "system:authenticated"}),
            "",
            true,
        ),
        (
            json!({"kind": "Group", "name": "system:unauthenticated"}),
            "",
            false,
        ),
        (json!({"kind": "Robot", "name": SA}), "", false),
    ];
    for (subject, ns, want) in cases {
        assert_eq!(
            subject_matches(&sa, &subject, ns),
            want,
            "{subject} in {ns:?}"
        );
    }
    let anon = Subject::from(&UserInfo::anonymous());
    assert!(subject_matches(
        &anon,
        &json!({"kind": "Group", "name": "system:unauthenticated"}),
        ""
    ));
    assert!(!subject_matches(
        &anon,
        &json!({"kind": "Group", "name": "system:authenticated"}),
        ""
    ));
}

#[test]
fn forbidden_messages() {
    let sa = Subject::from(&UserInfo::new(SA));
    let attrs = |method: Method, uri: &str| {
        let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
        Attributes::from_request(&sa, &method, path, &Query::parse(Some(query)))
    };
    let (code, body) = forbidden(&attrs(Method::GET, "/api/v1/namespaces/b/pods/p1/log"), "");
    assert_eq!(code, 403);
    assert_eq!(
        body,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "pods \"p1\" is forbidden: User \"system:serviceaccount:ops:worker\" cannot get resource \"pods/log\" in API group \"\" in the namespace \"b\"",
            "reason": "Forbidden", "details": {"name": "p1", "kind": "pods"}, "code": 403})
    );
    let (_, body) = forbidden(&attrs(Method::GET, "/apis/batch/v1/jobs?watch=true"), "");
    assert_eq!(
        body["message"],
        "jobs.batch is forbidden: User \"system:serviceaccount:ops:worker\" cannot watch resource \"jobs\" in API group \"batch\" at the cluster scope"
    );
    assert_eq!(body["details"], json!({"group": "batch", "kind": "jobs"}));
    let (_, body) = forbidden(&attrs(Method::GET, "/metrics"), "");
    assert_eq!(
        body["message"],
        "forbidden: User \"system:serviceaccount:ops:worker\" cannot get path \"/metrics\""
    );
    assert_eq!(body["details"], json!({}));
    let (_, body) = forbidden(
        &attrs(Method::DELETE, "/api/v1/namespaces/b/secrets"),
        "RBAC: role.rbac.authorization.k8s.io \"x\" not found",
    );
    assert_eq!(
        body["message"],
        "secrets is forbidden: User \"system:serviceaccount:ops:worker\" cannot deletecollection resource \"secrets\" in API group \"\" in the namespace \"b\": RBAC: role.rbac.authorization.k8s.io \"x\" not found"
    );
}

#[test]
fn authentication() {
    let mut tokens = std::collections::BTreeMap::new();
    tokens.insert("t-sa".to_owned(), UserInfo::new(SA));
    let headers = |t: Option<&str>| {
        let mut h = HeaderMap::new();
        if let Some(t) = t {
            h.insert(
                header::AUTHORIZATION,
                format!("Bearer {t}").parse().unwrap(),
            );
        }
        h
    };
    let rbac = Authz::new(Authorization::Rbac, Some("t-admin"), &tokens, false);
    assert_eq!(
        rbac.authenticate(&headers(Some("t-sa"))),
        Some(UserInfo::new(SA))
    );
    assert_eq!(
        rbac.authenticate(&headers(Some("t-admin"))),
        Some(UserInfo::with_groups(ADMIN_USER, &[MASTERS_GROUP]))
    );
    assert_eq!(rbac.authenticate(&headers(Some("nope"))), None);
    assert_eq!(rbac.authenticate(&headers(None)), None);
    let anon = Authz::new(Authorization::Rbac, None, &tokens, true);
    assert_eq!(
        anon.authenticate(&headers(None)),
        Some(UserInfo::anonymous())
    );
    assert_eq!(anon.authenticate(&headers(Some("nope"))), None);
    let open = Authz::new(Authorization::AlwaysAllow, None, &Default::default(), false);
    assert!(open.authenticate(&headers(None)).is_some());
    let legacy = Authz::new(
        Authorization::AlwaysAllow,
        Some("t"),
        &Default::default(),
        false,
    );
    assert!(legacy.authenticate(&headers(Some("t"))).is_some());
    assert!(legacy.authenticate(&headers(None)).is_none());
}

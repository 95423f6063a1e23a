//! KSV111, KSV01011, KSV122 and KSV123: RoleBindings and ClusterRoleBindings of powerful
//! roles and of anonymous, authenticated or master subjects.

use serde_json::{Value, json};

use super::{Case, assert_cases, engine};

/// A binding of `kind` named `b` (a RoleBinding in namespace `team`) of the role `role`.
fn binding(kind: &str, role: &str, subjects: &[(&str, &str)]) -> Value {
    let subjects: Vec<Value> = subjects
        .iter()
        .map(|(kind, name)| json!({"kind": kind, "name": name, "apiGroup": "rbac.authorization.k8s.io"}))
        .collect();
    let mut metadata = json!({"name": "b"});
    if kind == "RoleBinding" {
        metadata["namespace"] = json!("team");
    }
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": metadata,
        "subjects": subjects,
        "roleRef": {"kind": "ClusterRole", "name": role, "apiGroup": "rbac.authorization.k8s.io"}})
}

#[test]
fn ksv111_bindings_of_admin_roles() {
    let user = [("User", "jane")];
    let roles = r#"should not bind to roles ["cluster-admin", "admin", "edit"]"#;
    let rb = format!("RoleBinding 'b' {roles}");
    let crb = format!("ClusterRoleBinding 'b' {roles}");
    let mut role_edit = binding("RoleBinding", "edit", &user);
    role_edit["roleRef"]["kind"] = json!("Role");
    let cases: Vec<Case> = vec![
        (
            "admin",
            binding("RoleBinding", "admin", &user),
            Some(rb.as_str()),
        ),
        ("a Role named edit", role_edit, Some(rb.as_str())),
        ("view", binding("RoleBinding", "view", &user), None),
        ("case matters", binding("RoleBinding", "Edit", &user), None),
        (
            "cluster-admin",
            binding("ClusterRoleBinding", "cluster-admin", &user),
            Some(crb.as_str()),
        ),
        (
            "cluster view",
            binding("ClusterRoleBinding", "view", &user),
            None,
        ),
    ];
    assert_cases(&engine(), "KSV111", cases);
}

#[test]
fn ksv122_ksv123_role_bindings_of_anonymous_users_and_masters() {
    let rb = |subjects: &[(&str, &str)]| binding("RoleBinding", "r", subjects);
    let crb = |subjects: &[(&str, &str)]| binding("ClusterRoleBinding", "r", subjects);
    let anonymous = r#"RoleBinding 'b' should not bind to roles {"system:anonymous", "system:unauthenticated"}"#;
    let masters = r#"RoleBinding 'b' should not bind to roles {"system:masters"}"#;
    let engine = engine();
    let ksv122: Vec<Case> = vec![
        (
            "anonymous",
            rb(&[("User", "jane"), ("User", "system:anonymous")]),
            Some(anonymous),
        ),
        (
            "unauthenticated",
            rb(&[("Group", "system:unauthenticated")]),
            Some(anonymous),
        ),
        (
            "authenticated",
            rb(&[("Group", "system:authenticated")]),
            None,
        ),
        ("no subjects", binding("RoleBinding", "r", &[]), None),
        // Upstream's library spells the kind "ClusterRolebinding": a ClusterRoleBinding passes.
        (
            "cluster binding",
            crb(&[("User", "system:anonymous")]),
            None,
        ),
    ];
    assert_cases(&engine, "KSV122", ksv122);
    let ksv123: Vec<Case> = vec![
        ("masters", rb(&[("Group", "system:masters")]), Some(masters)),
        ("other group", rb(&[("Group", "system:nodes")]), None),
        ("cluster binding", crb(&[("Group", "system:masters")]), None),
    ];
    assert_cases(&engine, "KSV123", ksv123);
}

#[test]
fn ksv01011_fails_on_gke_only() {
    let authenticated = binding("RoleBinding", "r", &[("Group", "system:authenticated")]);
    // Without a cluster version (the worker could not read it): the check passes.
    assert_cases(
        &engine(),
        "KSV01011",
        vec![("no version", authenticated.clone(), None)],
    );
    // With the API server's version, as the worker gives it (`data.k8s.version`).
    let with_version = |version: &str| engine().with_cluster_version(version).unwrap();
    assert_eq!(
        common::audit::cluster_version("v1.27.1+gke.1000"),
        "1.27.1-gke.1000"
    );
    let msg = r#"RoleBinding 'b' should not bind to roles {"system:authenticated"}"#;
    let gke = with_version("v1.27.1-gke.1000");
    let cases: Vec<Case> = vec![
        ("authenticated", authenticated.clone(), Some(msg)),
        (
            "unauthenticated",
            binding("RoleBinding", "r", &[("Group", "system:unauthenticated")]),
            None,
        ),
        (
            "cluster binding",
            binding(
                "ClusterRoleBinding",
                "r",
                &[("Group", "system:authenticated")],
            ),
            None,
        ),
    ];
    assert_cases(&gke, "KSV01011", cases);
    let other = with_version("v1.27.1");
    assert_cases(&other, "KSV01011", vec![("not gke", authenticated, None)]);
}

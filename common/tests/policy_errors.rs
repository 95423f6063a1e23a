//! Broken custom policies: texts that do not compile are errors naming their ConfigMap
//! key; policies that fail at evaluation time become failed checks, and the other policies
//! still report.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};

use common::audit::{CompileError, PolicyEngine, audit};
use common::policy_config::PolicyConfig;
use common::reports::config_audit::Check;
use serde_json::{Value, json};

/// ConfigMap data as (key, value) pairs.
type Data<'a> = Vec<(&'a str, &'a str)>;

fn compile(data: &[(&str, &str)]) -> Result<PolicyEngine, CompileError> {
    let data: BTreeMap<String, String> = data
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    PolicyEngine::compile(&PolicyConfig::from_data(&data).unwrap(), false)
}

fn find<'a>(checks: &'a [Check], id: &str) -> &'a Check {
    checks
        .iter()
        .find(|c| c.check_id == id)
        .unwrap_or_else(|| panic!("{id} missing from {checks:#?}"))
}

fn ids(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn all_ids(checks: &[Check]) -> BTreeSet<String> {
    checks.iter().map(|c| c.check_id.clone()).collect()
}

fn pod(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
           "spec": {"containers": [{"name": "main", "image": "i:1"}]}})
}

#[test]
fn broken_texts_are_compile_errors_naming_the_key() {
    let ok_policy =
        "package user.ok\n__rego_metadata__ := {\"id\": \"OK1\"}\ndeny[m] { m := \"x\" }\n";
    // (ConfigMap data, key at fault, error kind)
    let cases: Vec<(Data, &str, &str)> = vec![
        (
            vec![
                (
                    "policy.broken.rego",
                    "package user.broken\ndeny[m] {\n  m := \n",
                ),
                ("policy.broken.kinds", "*"),
            ],
            "policy.broken.rego",
            "parse",
        ),
        (
            vec![
                ("policy.nopkg.rego", "deny[m] { m := 1 }"),
                ("policy.nopkg.kinds", "*"),
            ],
            "policy.nopkg.rego",
            "parse",
        ),
        (
            vec![
                ("library.util.rego", "package lib.util\nf(x) = y {"),
                ("policy.ok.rego", ok_policy),
                ("policy.ok.kinds", "*"),
            ],
            "library.util.rego",
            "parse",
        ),
        (
            vec![
                ("policy.ok.rego", ok_policy),
                ("policy.ok.kinds", "*"),
                (
                    "policy.unsafe.rego",
                    "package user.unsafe\ndeny[m] { m := x }\n",
                ),
                ("policy.unsafe.kinds", "*"),
            ],
            "policy.unsafe.rego",
            "compile",
        ),
        (
            vec![
                (
                    "policy.nofn.rego",
                    "package user.nofn\ndeny[m] { m := no_such_function(input) }\n",
                ),
                ("policy.nofn.kinds", "*"),
            ],
            "policy.nofn.rego",
            "compile",
        ),
        (
            vec![
                (
                    "policy.arity.rego",
                    "package user.arity\ndeny[m] { m := upper(\"a\", \"b\") }\n",
                ),
                ("policy.arity.kinds", "*"),
            ],
            "policy.arity.rego",
            "compile",
        ),
        (
            vec![
                ("policy.a_ok.rego", ok_policy),
                ("policy.a_ok.kinds", "*"),
                (
                    "policy.b_twice.rego",
                    "package user.b\ndeny[m] { x := 1; x := 2; m := x }\n",
                ),
                ("policy.b_twice.kinds", "*"),
            ],
            "policy.b_twice.rego",
            "compile",
        ),
        (
            vec![
                (
                    "library.util.rego",
                    "package lib.util\nf(a) = y { y := 1; y := 2 }\n",
                ),
                ("policy.ok.rego", ok_policy),
                ("policy.ok.kinds", "*"),
            ],
            "library.util.rego",
            "compile",
        ),
    ];
    for (data, key, kind) in cases {
        let err = compile(&data).map(|_| ()).unwrap_err();
        assert_eq!(err.key(), key, "{err}");
        assert_eq!(err.kind(), kind, "{err}");
        assert!(err.to_string().contains(key), "{err}");
    }
}

#[test]
fn runtime_failures_become_failed_checks() {
    let meta = r#"__rego_metadata__ := {"id": "R1", "title": "Runtime", "severity": "HIGH"}"#;
    let cases = [
        // Conflicting values of a complete rule, for this input.
        "answer = 1 { input.kind == \"Pod\" }\nanswer = 2 { input.metadata.name == \"p\" }\ndeny[m] { answer > 0; m := \"x\" }",
        // A redeclared rule (regorus only notices when evaluating).
        "a := 1\na := 2\ndeny[m] { m := a }",
        // A function with two different outputs for one argument.
        "f(x) = 1 { true }\nf(x) = 2 { true }\ndeny[m] { f(1) == 1; m := \"x\" }",
        // A type error in a builtin.
        "deny[m] { m := concat(\",\", input.metadata.name) }",
    ];
    for rules in cases {
        let bad = format!("package user.bad\n{meta}\n{rules}\n");
        let good =
            "package user.good\n__rego_metadata__ := {\"id\": \"G1\"}\ndeny[m] { m := \"g\" }\n";
        let engine = compile(&[
            ("policy.bad.rego", &bad),
            ("policy.bad.kinds", "Workload"),
            ("policy.good.rego", good),
            ("policy.good.kinds", "Workload"),
        ])
        .unwrap_or_else(|e| panic!("{rules}: {e}"));
        let checks = audit(&engine, "Pod", &pod("p"), false);
        assert_eq!(all_ids(&checks), ids(&["G1", "R1"]), "{rules}: {checks:#?}");
        let bad = find(&checks, "R1");
        assert!(!bad.success);
        assert_eq!(bad.severity, "UNKNOWN", "{rules}");
        assert_eq!(bad.title, "Runtime");
        assert_eq!(bad.messages.len(), 1);
        assert!(
            bad.messages[0].starts_with("policy evaluation failed: "),
            "{bad:?}"
        );
        assert_eq!(find(&checks, "G1").messages, vec!["g"]);
    }
}

//! KSV109 and KSV01010: secrets and sensitive content in ConfigMaps, as upstream finds them.

use serde_json::{Value, json};

use super::{assert_cases, check, engine, object};

fn config_map(data: Value) -> Value {
    object("ConfigMap", "cm", json!({"data": data}))
}

/// Cases of ConfigMap `data`, each with the names upstream's message lists (none: passes).
fn assert_data_cases(id: &str, message: &str, cases: &[(&'static str, Value, Option<&str>)]) {
    let failures: Vec<Option<String>> = cases
        .iter()
        .map(|(_, _, names)| {
            names.map(|names| {
                format!(
                    "ConfigMap 'cm' in 'default' namespace {message} in key(s) or value(s) \
                     '{names}'"
                )
            })
        })
        .collect();
    let cases = cases
        .iter()
        .zip(&failures)
        .map(|((label, data, _), failure)| (*label, config_map(data.clone()), failure.as_deref()))
        .collect();
    assert_cases(&engine(), id, cases);
}

#[test]
fn ksv109_config_maps_hold_no_secrets() {
    let cases = [
        (
            "happy",
            json!({"color.good": "blue", "color.bad": "yellow"}),
            None,
        ),
        (
            "secret keys",
            json!({"password": "password123", "secretkey": "test"}),
            Some(r#"{"password", "secretkey"}"#),
        ),
        (
            "colon assignment",
            json!({"config": "DB_PASSWORD:supersecret", "color": "blue"}),
            Some(r#"{"DB_PASSWORD"}"#),
        ),
        (
            "equals assignment",
            json!({"env": "REDIS_MASTER_PASSWORD=abcd1234", "theme": "dark"}),
            Some(r#"{"REDIS_MASTER_PASSWORD"}"#),
        ),
        // The name is the whole text before the delimiter, blanks included.
        (
            "a later line, any case",
            json!({"app.yaml": "level: info\n  Client_Secret : s3cr3t\n", "Auth-Token": "x"}),
            Some(r#"{"  Client_Secret ", "Auth-Token"}"#),
        ),
        (
            "empty value",
            json!({"env": "REDIS_MASTER_PASSWORD="}),
            None,
        ),
        (
            "shell interpolation",
            json!({"test": "REDIS_MASTER_PASSWORD=\"$(< \"${REDIS_MASTER_PASSWORD_FILE}\")\""}),
            None,
        ),
        (
            "variable",
            json!({"test": "DB_PASSWORD=${DB_PASSWORD}"}),
            None,
        ),
        (
            "template",
            json!({"test": "REDIS_MASTER_PASSWORD={{ .Values.redis.password }}"}),
            None,
        ),
        ("no data", json!({}), None),
    ];
    assert_data_cases("KSV109", "stores secrets", &cases);
    // In a namespace, and without `data`.
    let mut cm = object("ConfigMap", "cm", json!({"data": {"pwd": "x"}}));
    cm["metadata"]["namespace"] = json!("apps");
    let message =
        r#"ConfigMap 'cm' in 'apps' namespace stores secrets in key(s) or value(s) '{"pwd"}'"#;
    let bare = object("ConfigMap", "cm", json!({}));
    let cases = vec![("namespaced", cm, Some(message)), ("bare", bare, None)];
    assert_cases(&engine(), "KSV109", cases);
}

#[test]
fn ksv109_a_line_with_both_delimiters_fails_to_evaluate_as_upstreams_does() {
    // Upstream's function gives two names for `token=http://x` (`token=http` and `token`):
    // OPA stops with a conflict and upstream reports nothing; here the check is UNKNOWN.
    let check = check(
        &engine(),
        &config_map(json!({"env": "token=http://x"})),
        "KSV109",
    );
    assert!(!check.success);
    assert_eq!(check.severity, "UNKNOWN", "{check:#?}");
    assert!(check.messages[0].contains("multiple outputs"), "{check:#?}");
}

#[test]
fn ksv01010_config_maps_hold_no_sensitive_content() {
    let cases = [
        (
            "upstream's denied",
            json!({"color.good": "blue", "color.bad": "yellow", "username": "test"}),
            Some(r#"{"username"}"#),
        ),
        (
            "upstream's allowed",
            json!({"color.good": "blue", "color.bad": "yellow"}),
            None,
        ),
        // An assignment: the text before its first `:`, else its first `=`.
        (
            "assignments",
            json!({"app.properties": "db.username=admin\nhash: MD5\nmail: a=b"}),
            Some(r#"{"db.username", "hash"}"#),
        ),
        // A key naming a word, anywhere in it.
        (
            "keys",
            json!({"apiKey": "x", "monkey": "y", "Phone-Number": "z"}),
            Some(r#"{"Phone-Number", "apiKey", "monkey"}"#),
        ),
        // An address in field n of line n: the key; an address line without a delimiter
        // gives no name itself.
        (
            "address on the first line",
            json!({"contact": "admin@example.com"}),
            Some(r#"{"contact"}"#),
        ),
        (
            "address on the second line, first field",
            json!({"notes": "first line\nuser@example.com"}),
            None,
        ),
        (
            "address on the second line, second field",
            json!({"notes": "first line\nto:user@example.com"}),
            Some(r#"{"notes", "to"}"#),
        ),
        // Any short upper-case or numeric value looks like a passport number upstream.
        (
            "passport-shaped values",
            json!({"LOG_LEVEL": "INFO", "port": "8080", "replicas": "3", "mode": "Info"}),
            Some(r#"{"LOG_LEVEL", "port"}"#),
        ),
        (
            "iban",
            json!({"bank": "pay to DE89 3704 0044 0532 0130 00 today"}),
            Some(r#"{"bank"}"#),
        ),
        // Go's `\b` is ASCII: `é` then `DE89...` is a word boundary upstream.
        (
            "ascii word boundary",
            json!({"x": "note:éDE89370400440532013000"}),
            Some(r#"{"note"}"#),
        ),
        ("no data", json!({}), None),
    ];
    assert_data_cases("KSV01010", "stores sensitive contents", &cases);
}

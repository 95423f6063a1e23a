//! Turning what a policy evaluates to into report checks: its `__rego_metadata__`, its
//! `deny`/`warn` results (strings, objects with `msg`, or a bare `true`), and evaluation
//! failures.

use serde_json::Value;

use crate::reports::config_audit::Check;

/// Severity of the check entry written for a policy that failed to evaluate: the policy
/// said nothing about the workload, so its own severity would be a guess. `UNKNOWN` is not
/// counted in the report summary.
pub const EVALUATION_FAILED_SEVERITY: &str = "UNKNOWN";

/// Severity used when a policy's metadata gives none.
const DEFAULT_SEVERITY: &str = "UNKNOWN";

/// The severities a policy may declare (in any case).
const SEVERITIES: [&str; 5] = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"];

/// Category used when a policy's metadata gives no `type`.
const DEFAULT_CATEGORY: &str = "Kubernetes Security Check";

/// What a policy's `__rego_metadata__` says about its check.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Metadata {
    /// `id`, else `avd_id`, else the policy's name.
    pub check_id: String,
    pub title: String,
    pub description: String,
    /// Upper-cased.
    pub severity: String,
    /// The metadata `type`.
    pub category: String,
    /// The metadata `recommended_actions`.
    pub remediation: String,
}

impl Metadata {
    /// Reads `__rego_metadata__` (any JSON; non-objects count as empty), falling back to
    /// `name` for the check ID.
    pub fn from_value(value: Option<&Value>, name: &str) -> Self {
        let field = |key: &str| -> String {
            match value.and_then(|v| v.get(key)) {
                Some(Value::String(s)) => s.trim().to_owned(),
                Some(Value::Number(n)) => n.to_string(),
                _ => String::new(),
            }
        };
        let check_id = [field("id"), field("avd_id"), name.to_owned()]
            .into_iter()
            .find(|s| !s.is_empty())
            .unwrap_or_default();
        let severity = match field("severity") {
            s if s.is_empty() => DEFAULT_SEVERITY.to_owned(),
            s => s.to_ascii_uppercase(),
        };
        let category = match field("type") {
            s if s.is_empty() => DEFAULT_CATEGORY.to_owned(),
            s => s,
        };
        Self {
            check_id,
            title: field("title"),
            description: field("description"),
            severity,
            category,
            remediation: field("recommended_actions"),
        }
    }

    /// A custom policy's `__rego_metadata__`, which must be an object with a non-empty string
    /// `id` (or `avd_id`) and, if it gives one, a known severity (string). The error says
    /// what is wrong.
    pub fn of_custom_policy(value: Option<&Value>) -> Result<Self, String> {
        let Some(Value::Object(fields)) = value else {
            return Err("__rego_metadata__ is missing or not an object".to_owned());
        };
        let id = match (fields.get("id"), fields.get("avd_id")) {
            (Some(Value::String(id)), _) | (None, Some(Value::String(id))) => id.trim(),
            (None, None) => return Err("__rego_metadata__ has no id".to_owned()),
            (Some(other), _) | (None, Some(other)) => {
                return Err(format!(
                    "__rego_metadata__ id must be a string, not {other}"
                ));
            }
        };
        if id.is_empty() {
            return Err("__rego_metadata__ has an empty id".to_owned());
        }
        match fields.get("severity") {
            None => {}
            Some(Value::String(s))
                if SEVERITIES.contains(&s.trim().to_ascii_uppercase().as_str()) => {}
            Some(other) => {
                return Err(format!(
                    "__rego_metadata__ severity {other} is not one of {}",
                    SEVERITIES.join(", ")
                ));
            }
        }
        Ok(Self::from_value(value, id))
    }

    /// The check entry of a policy that found nothing wrong.
    pub fn passed(&self) -> Check {
        self.check(true, Vec::new())
    }

    /// The check entry of a policy whose evaluation failed, with the reason as message.
    pub fn evaluation_failed(&self, reason: &str) -> Check {
        failed_check(&self.passed(), reason)
    }

    fn check(&self, success: bool, messages: Vec<String>) -> Check {
        Check {
            check_id: self.check_id.clone(),
            title: self.title.clone(),
            description: self.description.clone(),
            severity: self.severity.clone(),
            category: self.category.clone(),
            messages,
            remediation: self.remediation.clone(),
            success,
            scope: None,
        }
    }
}

/// The check entry of the policy whose passed check is `template` when its evaluation
/// failed for `reason`: failed, severity `UNKNOWN`, the reason as its message.
pub(crate) fn failed_check(template: &Check, reason: &str) -> Check {
    Check {
        success: false,
        severity: EVALUATION_FAILED_SEVERITY.to_owned(),
        messages: vec![format!("policy evaluation failed: {reason}")],
        ..template.clone()
    }
}

/// One `deny`/`warn` result: its message and the metadata fields it overrides.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Finding {
    msg: String,
    id: Option<String>,
    title: Option<String>,
    severity: Option<String>,
    category: Option<String>,
}

impl Finding {
    fn from_value(value: &Value, metadata: &Metadata) -> Option<Self> {
        match value {
            Value::Null | Value::Bool(false) => None,
            // `deny { ... }` in pre-1.0 Rego is a boolean rule: it says "denied", no more.
            Value::Bool(true) => Some(Self {
                msg: fallback_message(metadata),
                ..Self::default()
            }),
            Value::String(s) => Some(Self {
                msg: s.clone(),
                ..Self::default()
            }),
            Value::Object(obj) => {
                let text = |key: &str| match obj.get(key) {
                    Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
                    _ => None,
                };
                let msg = match obj.get("msg") {
                    Some(Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                    None => fallback_message(metadata),
                };
                Some(Self {
                    msg,
                    id: text("id"),
                    title: text("title"),
                    severity: text("severity").map(|s| s.to_ascii_uppercase()),
                    category: text("type"),
                })
            }
            other => Some(Self {
                msg: other.to_string(),
                ..Self::default()
            }),
        }
    }
}

/// `deny[msg] if { ... }` without `contains` is, in pre-1.0 Rego, a partial object rule
/// `deny[msg] = true`: its keys are the messages.
fn is_message_map(obj: &serde_json::Map<String, Value>) -> bool {
    !obj.is_empty() && !obj.contains_key("msg") && obj.values().all(|v| v == &Value::Bool(true))
}

fn fallback_message(metadata: &Metadata) -> String {
    if metadata.title.is_empty() {
        format!("{} failed", metadata.check_id)
    } else {
        metadata.title.clone()
    }
}

/// The checks of one policy from the values of its `deny` and `warn` rules (undefined rules
/// are left out). No finding gives one passed check. Findings are grouped by their check
/// ID (a result may override the metadata `id`), each group giving one failed check whose
/// title, severity and category come from its first finding that sets them, else from the
/// metadata.
pub(crate) fn checks_from_results(metadata: &Metadata, results: &[Value]) -> Vec<Check> {
    let findings: Vec<Finding> = results
        .iter()
        .flat_map(|v| match v {
            Value::Array(items) => items
                .iter()
                .filter_map(|v| Finding::from_value(v, metadata))
                .collect(),
            Value::Object(obj) if is_message_map(obj) => obj
                .keys()
                .map(|msg| Finding {
                    msg: msg.clone(),
                    ..Finding::default()
                })
                .collect(),
            single => Finding::from_value(single, metadata)
                .into_iter()
                .collect::<Vec<_>>(),
        })
        .collect();
    if findings.is_empty() {
        return vec![metadata.passed()];
    }
    let mut checks: Vec<Check> = Vec::new();
    for finding in findings {
        let id = finding.id.as_deref().unwrap_or(&metadata.check_id);
        let index = match checks.iter().position(|c| c.check_id == id) {
            Some(index) => index,
            None => {
                let mut check = metadata.check(false, Vec::new());
                check.check_id = id.to_owned();
                checks.push(check);
                checks.len() - 1
            }
        };
        let Some(check) = checks.get_mut(index) else {
            continue;
        };
        if check.messages.is_empty() {
            if let Some(title) = finding.title {
                check.title = title;
            }
            if let Some(severity) = finding.severity {
                check.severity = severity;
            }
            if let Some(category) = finding.category {
                check.category = category;
            }
        }
        if !check.messages.contains(&finding.msg) {
            check.messages.push(finding.msg);
        }
    }
    checks
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    fn meta() -> Metadata {
        Metadata::from_value(
            Some(
                &json!({"id": "X1", "title": "T", "severity": "high", "type": "Cat",
                         "description": "D", "recommended_actions": "R"}),
            ),
            "name",
        )
    }

    #[test]
    fn metadata_fallbacks() {
        let cases = [
            (
                json!({"id": "A", "avd_id": "B"}),
                "A",
                "UNKNOWN",
                "Kubernetes Security Check",
            ),
            (
                json!({"avd_id": "B", "severity": "low"}),
                "B",
                "LOW",
                "Kubernetes Security Check",
            ),
            (json!({"type": "Custom"}), "pol", "UNKNOWN", "Custom"),
            (
                json!("not an object"),
                "pol",
                "UNKNOWN",
                "Kubernetes Security Check",
            ),
        ];
        for (value, id, severity, category) in cases {
            let m = Metadata::from_value(Some(&value), "pol");
            assert_eq!(
                (
                    m.check_id.as_str(),
                    m.severity.as_str(),
                    m.category.as_str()
                ),
                (id, severity, category),
                "{value}"
            );
        }
        assert_eq!(Metadata::from_value(None, "pol").check_id, "pol");
    }

    #[test]
    fn results_to_checks() {
        let m = meta();
        // (rule values, expected (id, severity, messages) of each check; empty = passed)
        // (id, severity, messages) of one failed check.
        type Failed<'a> = (&'a str, &'a str, Vec<&'a str>);
        let cases: Vec<(Vec<Value>, Vec<Failed>)> = vec![
            (vec![], vec![]),
            (vec![json!([])], vec![]),
            (vec![json!(false)], vec![]),
            (
                vec![json!(["a", "b"])],
                vec![("X1", "HIGH", vec!["a", "b"])],
            ),
            (
                vec![json!([{"msg": "a"}]), json!(["w"])],
                vec![("X1", "HIGH", vec!["a", "w"])],
            ),
            (vec![json!(true)], vec![("X1", "HIGH", vec!["T"])]),
            (vec![json!(["a", "a"])], vec![("X1", "HIGH", vec!["a"])]),
            (
                vec![json!([{"msg": "a", "id": "Y", "severity": "critical"}, {"msg": "b"}])],
                vec![("Y", "CRITICAL", vec!["a"]), ("X1", "HIGH", vec!["b"])],
            ),
            (vec![json!([{"msg": 3}])], vec![("X1", "HIGH", vec!["3"])]),
            (
                vec![json!({"m1": true, "m2": true})],
                vec![("X1", "HIGH", vec!["m1", "m2"])],
            ),
            (
                vec![json!({"msg": "single"})],
                vec![("X1", "HIGH", vec!["single"])],
            ),
        ];
        for (values, want) in cases {
            let got = checks_from_results(&m, &values);
            if want.is_empty() {
                assert_eq!(got, vec![m.passed()], "{values:?}");
                assert!(got[0].success);
                continue;
            }
            let got_summary: Vec<(&str, &str, Vec<&str>)> = got
                .iter()
                .map(|c| {
                    assert!(!c.success);
                    (
                        c.check_id.as_str(),
                        c.severity.as_str(),
                        c.messages.iter().map(String::as_str).collect(),
                    )
                })
                .collect();
            assert_eq!(got_summary, want, "{values:?}");
        }
    }

    #[test]
    fn evaluation_failure_is_an_unknown_failed_check() {
        let c = meta().evaluation_failed("boom");
        assert_eq!(c.check_id, "X1");
        assert_eq!(c.severity, "UNKNOWN");
        assert!(!c.success);
        assert_eq!(c.messages, vec!["policy evaluation failed: boom"]);
        assert_eq!(c.title, "T");
    }
}

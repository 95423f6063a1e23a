//! The built-in RBAC checks of Roles and ClusterRoles (KSV041–KSV056, KSV112–KSV115):
//! upstream's IDs, severities, texts and messages, kept as data in
//! `common/policies/rbac/checks.json`, each rendered into its own Rego package
//! `builtin.trivyrbac.<ID>` over the helpers of `builtin.trivyrbac.lib`. They apply only to
//! the kinds [`crate::policy_config::RBAC_KINDS`].
//!
//! Messages are upstream's, lists included as upstream prints them (`["delete", "*"]`; where
//! upstream prints a one-element list in place of a resource, KSV053's `'["pods/exec"]'`,
//! so do we). Where upstream's rule differs from its siblings, ours follows it: KSV052 asks
//! nothing of the second rule's API groups.

use serde::Deserialize;
use serde_json::json;

use super::check_table::{TableCheck, Texts, policy_files};

/// The table of RBAC checks.
const TABLE: &str = include_str!("../../policies/rbac/checks.json");

/// One RBAC check as the table gives it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RbacCheck {
    #[serde(flatten)]
    texts: Texts,
    /// The kinds it applies to (`Role`, `ClusterRole`).
    kinds: Vec<String>,
    /// The message of a failure: a `sprintf` format.
    message: String,
    /// What fills the format's `%s`: `kind`, `name` or `namespace` of the role.
    message_args: Vec<String>,
    /// Whether the conditions read a pair of rules `a` (first) and `b`, or one rule `r`.
    rule_pair: bool,
    /// The Rego conditions that fail the check.
    fails: Vec<String>,
}

impl TableCheck for RbacCheck {
    fn texts(&self) -> &Texts {
        &self.texts
    }

    fn rego(&self) -> String {
        let digits = self.texts.id.trim_start_matches("KSV");
        let message = if self.message_args.is_empty() {
            json!(self.message).to_string()
        } else {
            let args: Vec<String> = self
                .message_args
                .iter()
                .map(|a| format!("lib.{a}"))
                .collect();
            format!("sprintf({}, [{}])", json!(self.message), args.join(", "))
        };
        let rules = if self.rule_pair {
            "\tsome i, j\n\ta := input.rules[i]\n\tb := input.rules[j]\n\ti < j\n"
        } else {
            "\tsome r in input.rules\n"
        };
        // The kinds as upstream's selector names them: the check is not evaluated (nor listed
        // as passed) for the other role kind.
        let subtypes: Vec<_> = self
            .kinds
            .iter()
            .map(|k| json!({"kind": k.to_ascii_lowercase()}))
            .collect();
        let selector = json!({"selector": [{"type": "kubernetes", "subtypes": subtypes}]});
        let mut rego = self
            .texts
            .head("builtin.trivyrbac", &format!("AVD-KSV-{digits:0>4}"));
        rego.push_str(&format!(
            "\n__rego_input__ := {selector}\n\n\
             deny contains res if {{\n\
             \tlib.applies({kinds})\n{rules}",
            kinds = json!(self.kinds),
        ));
        for condition in &self.fails {
            rego.push_str(&format!("\t{condition}\n"));
        }
        rego.push_str(&format!("\tres := {{\"msg\": {message}}}\n}}\n"));
        rego
    }
}

/// The RBAC checks as `(file name, Rego text)`, ordered by check ID.
pub(super) fn policies() -> Vec<(String, String)> {
    policy_files::<RbacCheck>(TABLE, super::engine::RBAC_CHECKS_DIR)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_table_parses_and_has_upstreams_role_checks() {
        let checks: Vec<RbacCheck> = serde_json::from_str(TABLE).unwrap();
        let ids: Vec<&str> = checks.iter().map(|c| c.texts.id.as_str()).collect();
        let expected: Vec<String> = (41..=56)
            .chain(112..=115)
            .map(|n| format!("KSV{n:03}"))
            .collect();
        assert_eq!(ids, expected);
        assert_eq!(policies().len(), checks.len());
        for c in &checks {
            assert_eq!(
                c.message.matches("%s").count(),
                c.message_args.len(),
                "{}",
                c.texts.id
            );
            assert!(
                c.kinds
                    .iter()
                    .all(|k| crate::policy_config::RBAC_KINDS.contains(&k.as_str()))
            );
        }
    }

    #[test]
    fn a_check_renders_its_metadata_kinds_and_message() {
        let (name, rego) = policies().into_iter().next().unwrap();
        assert_eq!(name, "rbac/ksv041.rego");
        assert!(
            rego.starts_with("package builtin.trivyrbac.KSV041\n"),
            "{rego}"
        );
        assert!(rego.contains(r#""avd_id":"AVD-KSV-0041""#), "{rego}");
        assert!(rego.contains(r#"lib.applies(["ClusterRole"])"#), "{rego}");
        assert!(rego.contains("[lib.kind, lib.name])"), "{rego}");
    }
}

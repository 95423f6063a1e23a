//! The built-in node checks (KCV): upstream's IDs, severities and texts, kept as data in
//! `common/policies/node/checks.json`, each rendered into its own Rego package
//! `builtin.trivynode.<ID>` over the helpers of `builtin.trivynode.lib`.
//!
//! They read the node-collector's `NodeInfo` document (`info.<item>.values`), never a
//! workload, and apply only to the kind [`crate::policy_config::NODE_KIND`].

use serde::Deserialize;
use serde_json::{Value, json};

use super::check_table::{TableCheck, Texts, policy_files};

/// The table of node checks.
const TABLE: &str = include_str!("../../policies/node/checks.json");

/// What makes a value of the check's item fail it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
enum Rule {
    /// A file mode (its octal digits read as a number, e.g. 644) above this; a non-number
    /// fails.
    ModeAbove(i64),
    /// An owner (`user:group`) other than this.
    OwnerIsNot(String),
    /// Exactly this value.
    Is(Value),
    /// Any value other than this one.
    IsNot(Value),
    /// A number below this.
    Below(i64),
    /// Any value at all.
    Present,
    /// A value that is not a string ending in this.
    SuffixIsNot(String),
    /// A value not in this list.
    NotOneOf(Vec<String>),
}

/// Which nodes a check applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
enum Nodes {
    /// Control-plane nodes only.
    Master,
    /// Every node.
    Any,
}

/// One node check as the table gives it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct NodeCheck {
    #[serde(flatten)]
    texts: Texts,
    /// The message of a failure.
    message: String,
    /// The NodeInfo item it reads.
    key: String,
    nodes: Nodes,
    fails: Rule,
    /// Whether an item reported with no value fails the check.
    empty_fails: bool,
}

impl NodeCheck {
    /// The Rego expression of the set of values that fail the check.
    fn violations(&self) -> String {
        let key = json!(self.key);
        match &self.fails {
            Rule::ModeAbove(limit) => format!("lib.mode_above({key}, {limit})"),
            Rule::OwnerIsNot(owner) => format!("lib.owner_is_not({key}, {})", json!(owner)),
            Rule::Is(bad) => format!("lib.is({key}, {bad})"),
            Rule::IsNot(good) => format!("lib.is_not({key}, {good})"),
            Rule::Below(limit) => format!("lib.below({key}, {limit})"),
            Rule::Present => format!("lib.present({key})"),
            Rule::SuffixIsNot(suffix) => format!("lib.suffix_is_not({key}, {})", json!(suffix)),
            Rule::NotOneOf(allowed) => format!("lib.not_one_of({key}, {})", json!(allowed)),
        }
    }
}

impl TableCheck for NodeCheck {
    fn texts(&self) -> &Texts {
        &self.texts
    }

    fn rego(&self) -> String {
        let digits = self.texts.id.trim_start_matches("KCV");
        let masters_only = self.nodes == Nodes::Master;
        let result = json!({ "msg": self.message });
        let mut rego = self
            .texts
            .head("builtin.trivynode", &format!("AVD-KCV-{digits}"));
        rego.push_str(&format!(
            "\ndeny contains res if {{\n\
             \tlib.applies({masters_only})\n\
             \tcount({violations}) > 0\n\
             \tres := {result}\n\
             }}\n",
            violations = self.violations(),
        ));
        if self.empty_fails {
            rego.push_str(&format!(
                "\ndeny contains res if {{\n\
                 \tlib.applies({masters_only})\n\
                 \tlib.empty({key})\n\
                 \tres := {result}\n\
                 }}\n",
                key = json!(self.key),
            ));
        }
        rego
    }
}

/// The NodeInfo items the node checks read, in check order (the collector must collect
/// each of them).
pub fn items() -> Vec<String> {
    let checks: Vec<NodeCheck> = serde_json::from_str(TABLE).unwrap_or_default();
    checks.into_iter().map(|c| c.key).collect()
}

/// The node checks as `(file name, Rego text)`, ordered by check ID.
pub(super) fn policies() -> Vec<(String, String)> {
    policy_files::<NodeCheck>(TABLE, super::engine::NODE_CHECKS_DIR)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_table_parses_and_has_the_upstream_node_checks() {
        let checks: Vec<NodeCheck> = serde_json::from_str(TABLE).unwrap();
        let ids: Vec<&str> = checks.iter().map(|c| c.texts.id.as_str()).collect();
        let expected: Vec<String> = (48..=92).map(|n| format!("KCV{n:04}")).collect();
        assert_eq!(ids, expected);
        assert_eq!(policies().len(), checks.len());
    }

    #[test]
    fn a_check_renders_its_metadata_and_rule() {
        let (name, rego) = policies().into_iter().next().unwrap();
        assert_eq!(name, "node/kcv0048.rego");
        assert!(
            rego.starts_with("package builtin.trivynode.KCV0048\n"),
            "{rego}"
        );
        assert!(rego.contains(r#""avd_id":"AVD-KCV-0048""#), "{rego}");
        assert!(
            rego.contains(r#"lib.mode_above("kubeAPIServerSpecFilePermission", 600)"#),
            "{rego}"
        );
        assert!(rego.contains("lib.applies(true)"), "{rego}");
    }
}

//! What the built-in checks kept as tables (node, control-plane and RBAC checks) share: the
//! texts every check has, the head of its Rego package (package, library import and
//! `__rego_metadata__`), and the rendering of a table into policy files.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;

/// Upstream's texts of one check.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct Texts {
    pub(super) id: String,
    pub(super) severity: String,
    pub(super) title: String,
    pub(super) description: String,
    pub(super) remediation: String,
}

impl Texts {
    /// The head of the check's package `<root>.<ID>`, importing `<root>.lib`, with its
    /// metadata (`avd_id` as upstream's alias reads).
    pub(super) fn head(&self, root: &str, avd_id: &str) -> String {
        let metadata = json!({
            "id": self.id,
            "avd_id": avd_id,
            "title": self.title,
            "severity": self.severity,
            "type": "Kubernetes Security Check",
            "description": self.description,
            "recommended_actions": self.remediation,
        });
        format!(
            "package {root}.{id}\n\n\
             import data.{root}.lib\n\n\
             __rego_metadata__ := {metadata}\n",
            id = self.id,
        )
    }
}

/// A check of a table.
pub(super) trait TableCheck: DeserializeOwned {
    fn texts(&self) -> &Texts;
    /// The check as a Rego package.
    fn rego(&self) -> String;
}

/// The checks of `table` (a JSON list) as `(file name, Rego text)` under `dir`, ordered by
/// check ID. The tables are part of the binary and checked by the tests: they always parse.
pub(super) fn policy_files<T: TableCheck>(table: &str, dir: &str) -> Vec<(String, String)> {
    let checks: Vec<T> = serde_json::from_str(table).unwrap_or_default();
    let mut out: Vec<(String, String)> = checks
        .iter()
        .map(|c| {
            let name = format!("{dir}{}.rego", c.texts().id.to_ascii_lowercase());
            (name, c.rego())
        })
        .collect();
    out.sort();
    out
}

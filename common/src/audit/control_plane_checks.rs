//! The built-in control-plane checks (KCV0001–KCV0047): upstream's IDs, severities and texts,
//! kept as data in `common/policies/control_plane/checks.json`, each rendered into its own
//! Rego package `builtin.trivycp.<ID>` over the helpers of `builtin.trivycp.lib`.
//!
//! They read the command lines of the API server, controller manager, scheduler and etcd
//! containers. They are evaluated only for the control-plane components' workloads
//! ([`crate::workload::is_control_plane_component`]), whose findings go into an
//! InfraAssessmentReport; upstream evaluates them on every workload and drops the findings of
//! the others, so the reports are the same.

use serde::Deserialize;
use serde_json::json;

use super::check_table::{TableCheck, Texts, policy_files};

/// The table of control-plane checks.
const TABLE: &str = include_str!("../../policies/control_plane/checks.json");

/// One control-plane check as the table gives it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ControlPlaneCheck {
    /// The title is also the message of a failure, as upstream's.
    #[serde(flatten)]
    texts: Texts,
    /// The binary of the component whose containers it reads (`kube-apiserver`, ...); `None`:
    /// every container, as upstream reads a few of them.
    component: Option<String>,
    /// Alternative ways to fail, each a list of Rego conditions on the container `c`.
    fails: Vec<Vec<String>>,
}

impl TableCheck for ControlPlaneCheck {
    fn texts(&self) -> &Texts {
        &self.texts
    }

    fn rego(&self) -> String {
        let digits = self.texts.id.trim_start_matches("KCV");
        let result = json!({ "msg": self.texts.title });
        let mut rego = self
            .texts
            .head("builtin.trivycp", &format!("AVD-KCV-{digits}"));
        for conditions in &self.fails {
            rego.push_str("\ndeny contains res if {\n\tsome c in lib.containers\n");
            if let Some(binary) = &self.component {
                rego.push_str(&format!("\tlib.runs(c, {})\n", json!(binary)));
            }
            for condition in conditions {
                rego.push_str(&format!("\t{condition}\n"));
            }
            rego.push_str(&format!("\tres := {result}\n}}\n"));
        }
        rego
    }
}

/// The control-plane checks as `(file name, Rego text)`, ordered by check ID.
pub(super) fn policies() -> Vec<(String, String)> {
    policy_files::<ControlPlaneCheck>(TABLE, super::engine::CONTROL_PLANE_CHECKS_DIR)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_table_parses_and_has_the_upstream_control_plane_checks() {
        let checks: Vec<ControlPlaneCheck> = serde_json::from_str(TABLE).unwrap();
        let ids: Vec<&str> = checks.iter().map(|c| c.texts.id.as_str()).collect();
        // Upstream has no KCV0023, KCV0031 or KCV0032.
        let expected: Vec<String> = (1..=47)
            .filter(|n| ![23, 31, 32].contains(n))
            .map(|n| format!("KCV{n:04}"))
            .collect();
        assert_eq!(ids, expected);
        assert_eq!(policies().len(), checks.len());
        assert!(checks.iter().all(|c| !c.fails.is_empty()));
    }

    #[test]
    fn a_check_renders_its_metadata_component_and_rules() {
        let (name, rego) = policies().into_iter().next().unwrap();
        assert_eq!(name, "control_plane/kcv0001.rego");
        assert!(
            rego.starts_with("package builtin.trivycp.KCV0001\n"),
            "{rego}"
        );
        assert!(rego.contains(r#""avd_id":"AVD-KCV-0001""#), "{rego}");
        assert!(rego.contains(r#"lib.runs(c, "kube-apiserver")"#), "{rego}");
        // Two ways to fail: two rules.
        let kcv0012 = policies()
            .into_iter()
            .find(|(n, _)| n.ends_with("kcv0012.rego"))
            .unwrap()
            .1;
        assert_eq!(kcv0012.matches("deny contains res").count(), 2, "{kcv0012}");
    }
}

//! Flags of node assessments.

use super::NodeSettings;

/// How node assessments are planned.
#[derive(Debug, Clone, clap::Args)]
pub struct NodeArgs {
    /// Assess every node: a node-collector Job on it, checked with the node checks (KCV),
    /// written as its ClusterInfraAssessmentReport (upstream's infra assessment). Needs
    /// the ClusterInfraAssessmentReport CRD.
    #[arg(long, env = "NODE_COLLECTOR_ENABLED", default_value_t = true, action = clap::ArgAction::Set)]
    pub node_collector: bool,
    /// Nodes not to assess: `key=value` labels, comma-separated; a node with all of them is
    /// skipped (upstream's `nodeCollector.excludeNodes`).
    #[arg(long, env = "NODE_COLLECTOR_EXCLUDE_NODES", default_value = "")]
    pub node_collector_exclude_nodes: String,
    /// Tolerations of the node-collector Jobs, as a JSON list of Kubernetes tolerations
    /// (upstream's `nodeCollector.tolerations`). A node with a `NoSchedule` or `NoExecute`
    /// taint they do not tolerate is not assessed.
    #[arg(long, env = "NODE_COLLECTOR_TOLERATIONS", default_value = "[]")]
    pub node_collector_tolerations: String,
}

impl NodeArgs {
    /// The planning settings, `None` when node assessments are off; an error names the
    /// flag at fault. Nodes are reassessed after `ttl` (the report TTL).
    pub fn settings(
        &self,
        ttl: Option<std::time::Duration>,
    ) -> Result<Option<NodeSettings>, String> {
        if !self.node_collector {
            return Ok(None);
        }
        let exclude = common::nodes::parse_exclusion(&self.node_collector_exclude_nodes)
            .map_err(|e| format!("--node-collector-exclude-nodes: {e}"))?;
        let json = self.node_collector_tolerations.trim();
        let tolerations =
            serde_json::from_str(if json.is_empty() { "[]" } else { json }).map_err(|e| {
                format!("--node-collector-tolerations is not a JSON list of tolerations: {e}")
            })?;
        Ok(Some(NodeSettings {
            exclude,
            tolerations,
            tolerations_json: if json == "[]" {
                String::new()
            } else {
                json.to_owned()
            },
            ttl,
        }))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn args(exclude: &str, tolerations: &str) -> NodeArgs {
        NodeArgs {
            node_collector: true,
            node_collector_exclude_nodes: exclude.into(),
            node_collector_tolerations: tolerations.into(),
        }
    }

    #[test]
    fn bad_flags_are_refused_with_the_flag_named() {
        let ok = args("team=dev", r#"[{"operator":"Exists"}]"#)
            .settings(None)
            .unwrap()
            .unwrap();
        assert_eq!(ok.tolerations.len(), 1);
        assert_eq!(ok.exclude["team"], "dev");
        assert!(
            args("team", "[]")
                .settings(None)
                .unwrap_err()
                .contains("exclude-nodes")
        );
        assert!(
            args("", "{")
                .settings(None)
                .unwrap_err()
                .contains("tolerations")
        );
        let off = NodeArgs {
            node_collector: false,
            ..args("", "[]")
        };
        assert!(off.settings(None).unwrap().is_none());
    }
}

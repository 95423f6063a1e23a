//! Follows the plugin ConfigMap: compiles each new version (its custom policies in a
//! confined evaluator process, so no policy can stop the leader), and when it compiles,
//! publishes the new `plugin-config-hash` of every kind. A broken version keeps the last
//! good hashes (so nothing is re-audited or deleted because of it), is logged, kept in
//! status and reported as a Kubernetes Event on the ConfigMap.

use std::collections::BTreeMap;
use std::sync::Arc;

use common::audit::builtin_digest_for;
use common::audit::sandbox::{self, CustomPolicies};
use common::objects::ObjectKind;
use common::policy_config::{NODE_KIND, PolicyConfig};
use common::workload::WorkloadKind;
use futures::TryStreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::runtime::events::{Event, EventType, Recorder};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource};
use tokio_util::sync::CancellationToken;

use crate::plan::ConfigHashes;
use crate::state::Shared;

/// Why a ConfigMap version is not used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The ConfigMap's keys do not follow the plugin format.
    #[error("invalid policy config: {0}")]
    Parse(#[from] common::policy_config::Error),
    /// A policy or library does not compile.
    #[error("policy does not compile: {0}")]
    Compile(#[from] common::audit::CompileError),
}

/// The `plugin-config-hash` of every audited kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hashes {
    /// Of every workload kind.
    pub kinds: ConfigHashes,
    /// Of the kind Node (node assessments).
    pub node: String,
    /// Of the other audited object kinds (roles, Services, ...), by kind.
    pub objects: BTreeMap<String, String>,
}

/// The `plugin-config-hash` of every kind for a ConfigMap, if its policies compile (tried
/// in an evaluator process started with `sandbox`).
pub async fn hashes_for(cm: &ConfigMap, sandbox: &sandbox::Settings) -> Result<Hashes, Error> {
    let data = common::policy_config::policy_data(cm)?;
    let config = PolicyConfig::from_data(&data)?;
    if !config.is_empty() {
        // Dropped at once: the evaluator only had to compile them.
        CustomPolicies::compile(sandbox.clone(), data).await?;
    }
    Ok(config_hashes(&config))
}

/// The `plugin-config-hash` of every kind for a parsed ConfigMap.
fn config_hashes(config: &PolicyConfig) -> Hashes {
    let hash = |kind: &str| config.config_hash(kind, &builtin_digest_for(kind));
    Hashes {
        kinds: WorkloadKind::ALL
            .iter()
            .map(|kind| (*kind, hash(kind.as_str())))
            .collect(),
        node: hash(NODE_KIND),
        objects: ObjectKind::ALL
            .iter()
            .map(|kind| (kind.as_str().to_owned(), hash(kind.as_str())))
            .collect(),
    }
}

/// Watches the ConfigMap until `shutdown`.
pub fn spawn(
    client: Client,
    namespace: &str,
    name: &str,
    recorder: Recorder,
    sandbox: sandbox::Settings,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
) {
    let api: Api<ConfigMap> = Api::namespaced(client, namespace);
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let name = name.to_string();
    tokio::spawn(async move {
        let mut stream = std::pin::pin!(watcher(api, config).default_backoff());
        let mut seen_in_list = false;
        loop {
            let event = tokio::select! {
                _ = shutdown.cancelled() => return,
                event = stream.try_next() => event,
            };
            match event {
                Ok(Some(watcher::Event::Init)) => seen_in_list = false,
                Ok(Some(watcher::Event::InitApply(cm) | watcher::Event::Apply(cm))) => {
                    seen_in_list = true;
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        () = apply(&shared, &recorder, &sandbox, &cm) => {}
                    }
                }
                Ok(Some(watcher::Event::InitDone)) if !seen_in_list => {
                    tracing::info!(configmap = %name, "no plugin ConfigMap: built-in checks only");
                    publish(&shared, Ok(hashes_or_empty()));
                }
                Ok(Some(watcher::Event::Delete(_))) => {
                    tracing::info!(configmap = %name, "plugin ConfigMap deleted: built-in checks only");
                    publish(&shared, Ok(hashes_or_empty()));
                }
                Ok(Some(watcher::Event::InitDone)) => {}
                Ok(None) => return,
                Err(error) => tracing::warn!(%error, "plugin ConfigMap watch failed, retrying"),
            }
        }
    });
}

fn hashes_or_empty() -> Hashes {
    // An empty config always compiles: only the built-in checks.
    config_hashes(&PolicyConfig::default())
}

async fn apply(shared: &Shared, recorder: &Recorder, sandbox: &sandbox::Settings, cm: &ConfigMap) {
    let result = hashes_for(cm, sandbox).await;
    if let Err(error) = &result {
        tracing::error!(%error, "plugin ConfigMap rejected; keeping the last good policies");
        let event = Event {
            type_: EventType::Warning,
            reason: "PolicyConfigInvalid".into(),
            note: Some(truncate(
                &format!("{error}; keeping the last good policies"),
                1000,
            )),
            action: "CompilePolicies".into(),
            secondary: None,
        };
        if let Err(e) = recorder.publish(&event, &cm.object_ref(&())).await {
            tracing::warn!(error = %e, "could not publish the policy error Event");
        }
    } else {
        tracing::info!("plugin ConfigMap compiled");
    }
    publish(shared, result);
}

fn publish(shared: &Shared, result: Result<Hashes, Error>) {
    shared.update(|st| match result {
        Ok(hashes) => {
            st.policy.error = None;
            if st.policy.hashes.as_ref() != Some(&hashes.kinds)
                || st.policy.node_hash.as_ref() != Some(&hashes.node)
                || st.policy.object_hashes.as_ref() != Some(&hashes.objects)
            {
                st.policy.hashes = Some(hashes.kinds);
                st.policy.node_hash = Some(hashes.node);
                st.policy.object_hashes = Some(hashes.objects);
                st.policy.generation += 1;
            }
        }
        Err(error) => {
            st.policy.error = Some(error.to_string());
            if st.policy.hashes.is_none() {
                // Broken from the start: the built-in checks are the last good set, so
                // audits proceed (the workers fall back the same way).
                let hashes = hashes_or_empty();
                st.policy.hashes = Some(hashes.kinds);
                st.policy.node_hash = Some(hashes.node);
                st.policy.object_hashes = Some(hashes.objects);
                st.policy.generation += 1;
            }
        }
    });
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const POLICY: &str = r#"package user.kubernetes.ID001
__rego_metadata__ := {"id": "ID001", "title": "t", "severity": "LOW", "type": "Kubernetes Security Check", "description": "d", "recommended_actions": "r"}
deny[res] { input.kind == "StatefulSet"; res := {"msg": "no"} }
"#;

    #[test]
    fn a_policy_changes_only_the_hashes_of_its_kinds() {
        let before = config_hashes(&PolicyConfig::default());
        assert_eq!(before, hashes_or_empty());
        let config = PolicyConfig::from_data(&data(&[
            ("policy.id001.rego", POLICY),
            ("policy.id001.kinds", "StatefulSet"),
        ]))
        .unwrap();
        let after = config_hashes(&config);
        for kind in WorkloadKind::ALL {
            let changed = before.kinds[&kind] != after.kinds[&kind];
            assert_eq!(changed, kind == WorkloadKind::StatefulSet, "{kind:?}");
        }
        assert_eq!(before.node, after.node);
        let for_nodes = PolicyConfig::from_data(&data(&[
            ("policy.id001.rego", POLICY),
            ("policy.id001.kinds", "Node"),
        ]))
        .unwrap();
        let nodes = config_hashes(&for_nodes);
        assert_ne!(nodes.node, before.node);
        assert_eq!(nodes.kinds, before.kinds);
    }

    #[tokio::test]
    async fn configmaps_that_do_not_parse_are_errors_before_any_evaluator() {
        // A program that cannot be an evaluator: parse errors must not need one.
        let sandbox = sandbox::Settings {
            program: sandbox::Program {
                path: "/nonexistent/evaluator".into(),
                args: Vec::new(),
            },
            memory_limit: sandbox::DEFAULT_MEMORY_LIMIT,
            processes: 1,
        };
        let cm = |pairs: &[(&str, &str)], binary: &[&str]| ConfigMap {
            data: Some(data(pairs)),
            binary_data: Some(
                binary
                    .iter()
                    .map(|k| (k.to_string(), k8s_openapi::ByteString(Vec::new())))
                    .collect(),
            ),
            ..ConfigMap::default()
        };
        let no_kinds = cm(&[("policy.x.rego", POLICY)], &[]);
        assert!(matches!(
            hashes_for(&no_kinds, &sandbox).await,
            Err(Error::Parse(_))
        ));
        let binary = cm(&[], &["policy.x.rego"]);
        assert!(matches!(
            hashes_for(&binary, &sandbox).await,
            Err(Error::Parse(_))
        ));
        let builtin_only = cm(&[("unrelated", "x")], &["other"]);
        assert_eq!(
            hashes_for(&builtin_only, &sandbox).await.unwrap(),
            hashes_or_empty()
        );
        let needs_evaluator = cm(&[("policy.x.rego", POLICY), ("policy.x.kinds", "Pod")], &[]);
        let err = hashes_for(&needs_evaluator, &sandbox).await.unwrap_err();
        assert!(
            err.to_string()
                .contains("cannot start the policy evaluator"),
            "{err}"
        );
    }
}

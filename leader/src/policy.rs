//! Follows the plugin ConfigMap: compiles each new version, and when it compiles, publishes
//! the new `plugin-config-hash` of every kind. A broken version keeps the last good hashes
//! (so nothing is re-audited or deleted because of it), is logged, kept in status and
//! reported as a Kubernetes Event on the ConfigMap.

use std::collections::BTreeMap;
use std::sync::Arc;

use common::audit::{PolicyEngine, builtin_digest};
use common::policy_config::PolicyConfig;
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

/// The `plugin-config-hash` of every kind for a ConfigMap's data, if it compiles.
pub fn hashes_for(data: &BTreeMap<String, String>) -> Result<ConfigHashes, Error> {
    let config = PolicyConfig::from_data(data)?;
    PolicyEngine::compile(&config, true)?;
    let digest = builtin_digest();
    Ok(WorkloadKind::ALL
        .iter()
        .map(|kind| (*kind, config.config_hash(kind.as_str(), &digest)))
        .collect())
}

/// Watches the ConfigMap until `shutdown`.
pub fn spawn(
    client: Client,
    namespace: &str,
    name: &str,
    recorder: Recorder,
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
                    apply(&shared, &recorder, &cm).await;
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

fn hashes_or_empty() -> ConfigHashes {
    // An empty config always compiles: only the built-in checks.
    let digest = builtin_digest();
    let config = PolicyConfig::default();
    WorkloadKind::ALL
        .iter()
        .map(|k| (*k, config.config_hash(k.as_str(), &digest)))
        .collect()
}

async fn apply(shared: &Shared, recorder: &Recorder, cm: &ConfigMap) {
    let data = cm.data.clone().unwrap_or_default();
    let result = hashes_for(&data);
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

fn publish(shared: &Shared, result: Result<ConfigHashes, Error>) {
    shared.update(|st| match result {
        Ok(hashes) => {
            st.policy.error = None;
            if st.policy.hashes.as_ref() != Some(&hashes) {
                st.policy.hashes = Some(hashes);
                st.policy.generation += 1;
            }
        }
        Err(error) => {
            st.policy.error = Some(error.to_string());
            if st.policy.hashes.is_none() {
                // Broken from the start: the built-in checks are the last good set, so
                // audits proceed (the workers fall back the same way).
                st.policy.hashes = Some(hashes_or_empty());
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
        let before = hashes_for(&BTreeMap::new()).unwrap();
        assert_eq!(before, hashes_or_empty());
        let after = hashes_for(&data(&[
            ("policy.id001.rego", POLICY),
            ("policy.id001.kinds", "StatefulSet"),
        ]))
        .unwrap();
        for kind in WorkloadKind::ALL {
            let changed = before[&kind] != after[&kind];
            assert_eq!(changed, kind == WorkloadKind::StatefulSet, "{kind:?}");
        }
    }

    #[test]
    fn broken_configs_are_errors() {
        let broken = data(&[
            ("policy.x.rego", "package x\ndeny[res] {"),
            ("policy.x.kinds", "Pod"),
        ]);
        assert!(matches!(hashes_for(&broken), Err(Error::Compile(_))));
        let no_kinds = data(&[("policy.x.rego", POLICY)]);
        assert!(matches!(hashes_for(&no_kinds), Err(Error::Parse(_))));
    }
}

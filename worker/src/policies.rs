//! The worker's view of the plugin ConfigMap: the last version that compiled, as a ready
//! policy engine with the `plugin-config-hash` of every kind. A broken version keeps the last
//! good engine, exactly as the leader keeps the last good hashes, so both agree on what a
//! hash means.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use common::audit::{PolicyEngine, builtin_digest};
use common::policy_config::PolicyConfig;
use common::workload::WorkloadKind;
use futures::TryStreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Why no engine matches a task.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The ConfigMap has not been read yet.
    #[error("the plugin ConfigMap has not been read yet")]
    NotLoaded,
    /// The task was planned with another policy version than the one this worker has.
    #[error("task wants plugin-config-hash {wanted} for {kind}, this worker has {have}")]
    Mismatch {
        kind: String,
        wanted: String,
        have: String,
    },
}

/// A compiled policy version.
#[derive(Debug)]
pub struct Policies {
    pub engine: PolicyEngine,
    pub hashes: BTreeMap<WorkloadKind, String>,
}

impl Policies {
    /// Compiles a ConfigMap's data (built-in checks plus its custom policies).
    pub fn compile(data: &BTreeMap<String, String>) -> Result<Self, String> {
        let config = PolicyConfig::from_data(data).map_err(|e| e.to_string())?;
        let engine = PolicyEngine::compile(&config, true).map_err(|e| e.to_string())?;
        let digest = builtin_digest();
        let hashes = WorkloadKind::ALL
            .iter()
            .map(|k| (*k, config.config_hash(k.as_str(), &digest)))
            .collect();
        Ok(Self { engine, hashes })
    }
}

/// Shared handle on the current policies.
#[derive(Debug, Clone)]
pub struct PolicyCache {
    current: watch::Receiver<Option<Arc<Policies>>>,
}

impl PolicyCache {
    /// Starts following the ConfigMap.
    pub fn spawn(client: Client, namespace: &str, name: &str, shutdown: CancellationToken) -> Self {
        let (tx, rx) = watch::channel(None);
        let api: Api<ConfigMap> = Api::namespaced(client, namespace);
        let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
        tokio::spawn(async move {
            let mut stream = std::pin::pin!(watcher(api, config).default_backoff());
            let mut seen = false;
            loop {
                let event = tokio::select! {
                    _ = shutdown.cancelled() => return,
                    event = stream.try_next() => event,
                };
                let data = match event {
                    Ok(Some(watcher::Event::Init)) => {
                        seen = false;
                        continue;
                    }
                    Ok(Some(watcher::Event::InitApply(cm) | watcher::Event::Apply(cm))) => {
                        seen = true;
                        cm.data.unwrap_or_default()
                    }
                    Ok(Some(watcher::Event::InitDone)) if seen => continue,
                    Ok(Some(watcher::Event::InitDone | watcher::Event::Delete(_))) => {
                        BTreeMap::new()
                    }
                    Ok(None) => return,
                    Err(error) => {
                        tracing::warn!(%error, "plugin ConfigMap watch failed, retrying");
                        continue;
                    }
                };
                match Policies::compile(&data) {
                    Ok(policies) => {
                        tx.send_replace(Some(Arc::new(policies)));
                    }
                    Err(error) => {
                        tracing::error!(%error, "plugin ConfigMap rejected; keeping the last good policies");
                        if tx.borrow().is_none() {
                            // Broken from the start: the built-in checks are the last good
                            // set, as on the leader.
                            match Policies::compile(&BTreeMap::new()) {
                                Ok(builtin) => {
                                    tx.send_replace(Some(Arc::new(builtin)));
                                }
                                Err(error) => {
                                    tracing::error!(%error, "the built-in checks do not compile")
                                }
                            }
                        }
                    }
                }
            }
        });
        Self { current: rx }
    }

    /// A cache that always holds `policies` (for tests).
    pub fn fixed(policies: Policies) -> Self {
        let (_tx, rx) = watch::channel(Some(Arc::new(policies)));
        Self { current: rx }
    }

    /// The policies whose hash for `kind` is `wanted`, waiting up to `patience` for the
    /// ConfigMap watch to catch up with the leader.
    pub async fn matching(
        &self,
        kind: WorkloadKind,
        wanted: &str,
        patience: Duration,
    ) -> Result<Arc<Policies>, Error> {
        let mut rx = self.current.clone();
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            let outcome = match rx.borrow_and_update().as_ref() {
                None => Err(Error::NotLoaded),
                Some(p) => match p.hashes.get(&kind) {
                    Some(h) if h == wanted => return Ok(p.clone()),
                    have => Err(Error::Mismatch {
                        kind: kind.as_str().to_string(),
                        wanted: wanted.to_string(),
                        have: have.cloned().unwrap_or_default(),
                    }),
                },
            };
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => continue,
                _ => return outcome,
            }
        }
    }
}

//! The worker's view of the plugin ConfigMap: the last version that compiled, ready to
//! audit, with the `plugin-config-hash` of every kind. A broken version keeps the last good
//! one, exactly as the leader keeps the last good hashes, so both agree on what a hash means.
//!
//! The built-in checks run in-process on the blocking pool, at most one evaluation per core
//! at a time, so heartbeats, probes and signals never wait for Rego; custom policies run in
//! confined evaluator processes ([`common::audit::sandbox`]), so nothing a policy does can
//! stop the worker.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use common::audit::sandbox::{self, CustomPolicies};
use common::audit::{PolicyEngine, builtin_digest_for};
use common::objects::ObjectKind;
use common::policy_config::{NODE_KIND, PolicyConfig};
use common::reports::config_audit::Check;
use common::workload::WorkloadKind;
use futures::TryStreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};
use tokio::sync::{Semaphore, watch};
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
    /// The built-in checks (the same for every version).
    pub builtin: Arc<PolicyEngine>,
    /// The ConfigMap's custom policies, if it has any.
    pub custom: Option<CustomPolicies>,
    pub hashes: BTreeMap<WorkloadKind, String>,
    /// The hash of the kind Node (node assessments).
    pub node_hash: String,
    /// The hashes of the other audited object kinds (roles, Services, ...), by kind.
    pub object_hashes: BTreeMap<&'static str, String>,
    /// Permits for built-in evaluations on the blocking pool.
    cpu: Arc<Semaphore>,
}

/// What every policy version shares: the built-in checks, the evaluator settings and the
/// bound on in-process evaluations.
#[derive(Debug, Clone)]
pub struct Evaluation {
    pub builtin: Arc<PolicyEngine>,
    pub sandbox: sandbox::Settings,
    cpu: Arc<Semaphore>,
}

impl Evaluation {
    /// Compiles the built-in checks; `cores` built-in evaluations run at once.
    /// `cluster_version`: the API server's `gitVersion`, given to the built-in checks as
    /// upstream gives it (`data.k8s.version`); `None` when it could not be read.
    pub fn new(
        sandbox: sandbox::Settings,
        cores: usize,
        cluster_version: Option<&str>,
    ) -> Result<Self, String> {
        let mut builtin = PolicyEngine::compile(&PolicyConfig::default(), true)
            .map_err(|e| format!("the built-in checks do not compile: {e}"))?;
        if let Some(version) = cluster_version {
            builtin = builtin
                .with_cluster_version(version)
                .map_err(|e| format!("the cluster version cannot be given to the checks: {e}"))?;
        }
        Ok(Self {
            builtin: Arc::new(builtin),
            sandbox,
            cpu: Arc::new(Semaphore::new(cores.max(1))),
        })
    }
}

impl Policies {
    /// Compiles a ConfigMap's data (built-in checks plus its custom policies); the error
    /// names the key at fault.
    pub async fn compile(
        data: &BTreeMap<String, String>,
        with: &Evaluation,
    ) -> Result<Self, String> {
        let config = PolicyConfig::from_data(data).map_err(|e| e.to_string())?;
        let custom = if config.is_empty() {
            None
        } else {
            let compiled = CustomPolicies::compile(with.sandbox.clone(), data.clone()).await;
            Some(compiled.map_err(|e| e.to_string())?)
        };
        let hash = |kind: &str| config.config_hash(kind, &builtin_digest_for(kind));
        let hashes = WorkloadKind::ALL
            .iter()
            .map(|k| (*k, hash(k.as_str())))
            .collect();
        let node_hash = hash(NODE_KIND);
        let object_hashes = ObjectKind::ALL
            .iter()
            .map(|k| (k.as_str(), hash(k.as_str())))
            .collect();
        Ok(Self {
            builtin: with.builtin.clone(),
            custom,
            hashes,
            node_hash,
            object_hashes,
            cpu: with.cpu.clone(),
        })
    }

    /// The checks of `workload` (of `kind`) as its report lists them. An error (the
    /// evaluation was interrupted or panicked) means no report may be written: a report
    /// without its checks would read as clean.
    pub async fn audit(
        &self,
        kind: WorkloadKind,
        workload: kube::api::DynamicObject,
        include_passed: bool,
    ) -> Result<Vec<Check>, String> {
        let input = serde_json::to_value(&workload).unwrap_or_default();
        self.evaluate(kind.as_str(), input, include_passed).await
    }

    /// The checks of an object of an audited kind besides workloads (a role, a Service, ...),
    /// as its report lists them (same contract as [`Self::audit`]).
    pub async fn assess_object(
        &self,
        kind: ObjectKind,
        object: serde_json::Value,
        include_passed: bool,
    ) -> Result<Vec<Check>, String> {
        self.evaluate(kind.as_str(), object, include_passed).await
    }

    /// The checks of a node-collector `NodeInfo` document, as its report lists them (same
    /// contract as [`Self::audit`]).
    pub async fn assess_node(
        &self,
        node_info: serde_json::Value,
        include_passed: bool,
    ) -> Result<Vec<Check>, String> {
        self.evaluate(NODE_KIND, node_info, include_passed).await
    }

    async fn evaluate(
        &self,
        kind: &'static str,
        input: serde_json::Value,
        include_passed: bool,
    ) -> Result<Vec<Check>, String> {
        let permit = self
            .cpu
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| format!("no evaluation slot: {e}"))?;
        let engine = self.builtin.clone();
        let builtin = tokio::task::spawn_blocking(move || {
            let checks = engine.evaluate(kind, &input);
            drop(permit);
            (input, checks)
        })
        .await;
        let (input, mut checks) =
            builtin.map_err(|e| format!("the built-in checks did not finish: {e}"))?;
        if let Some(custom) = &self.custom {
            checks.extend(custom.evaluate(kind, &input).await);
        }
        Ok(common::audit::finish(checks, include_passed))
    }
}

/// After a rejected ConfigMap: the last good policies stay; broken from the start, the
/// built-in checks are the last good set, as on the leader.
async fn keep_or_fall_back(tx: &watch::Sender<Option<Arc<Policies>>>, with: &Evaluation) {
    if tx.borrow().is_some() {
        return;
    }
    match Policies::compile(&BTreeMap::new(), with).await {
        Ok(builtin) => {
            tx.send_replace(Some(Arc::new(builtin)));
        }
        Err(error) => tracing::error!(%error, "the built-in checks do not compile"),
    }
}

/// Shared handle on the current policies.
#[derive(Debug, Clone)]
pub struct PolicyCache {
    current: watch::Receiver<Option<Arc<Policies>>>,
}

impl PolicyCache {
    /// Starts following the ConfigMap.
    pub fn spawn(
        client: Client,
        namespace: &str,
        name: &str,
        with: Evaluation,
        shutdown: CancellationToken,
    ) -> Self {
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
                        match common::policy_config::policy_data(&cm) {
                            Ok(data) => data,
                            Err(error) => {
                                tracing::error!(%error, "plugin ConfigMap rejected; keeping the last good policies");
                                keep_or_fall_back(&tx, &with).await;
                                continue;
                            }
                        }
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
                let compiled = tokio::select! {
                    _ = shutdown.cancelled() => return,
                    compiled = Policies::compile(&data, &with) => compiled,
                };
                match compiled {
                    Ok(policies) => {
                        tx.send_replace(Some(Arc::new(policies)));
                    }
                    Err(error) => {
                        tracing::error!(%error, "plugin ConfigMap rejected; keeping the last good policies");
                        keep_or_fall_back(&tx, &with).await;
                    }
                }
            }
        });
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
        self.matching_hash(kind.as_str(), |p| p.hashes.get(&kind), wanted, patience)
            .await
    }

    /// The policies whose hash for the kind Node is `wanted` (see [`Self::matching`]).
    pub async fn matching_node(
        &self,
        wanted: &str,
        patience: Duration,
    ) -> Result<Arc<Policies>, Error> {
        self.matching_hash(NODE_KIND, |p| Some(&p.node_hash), wanted, patience)
            .await
    }

    /// The policies whose hash for the object kind `kind` is `wanted` (see
    /// [`Self::matching`]).
    pub async fn matching_object(
        &self,
        kind: ObjectKind,
        wanted: &str,
        patience: Duration,
    ) -> Result<Arc<Policies>, Error> {
        let name = kind.as_str();
        self.matching_hash(name, |p| p.object_hashes.get(name), wanted, patience)
            .await
    }

    async fn matching_hash(
        &self,
        kind: &str,
        hash_of: impl Fn(&Policies) -> Option<&String>,
        wanted: &str,
        patience: Duration,
    ) -> Result<Arc<Policies>, Error> {
        let mut rx = self.current.clone();
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            let outcome = match rx.borrow_and_update().as_ref() {
                None => Err(Error::NotLoaded),
                Some(p) => match hash_of(p) {
                    Some(h) if h == wanted => return Ok(p.clone()),
                    have => Err(Error::Mismatch {
                        kind: kind.to_string(),
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

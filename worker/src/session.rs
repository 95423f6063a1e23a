//! One attachment to the leader: hello, heartbeats, tasks in, results out. Tasks run
//! concurrently up to the worker's capacity; a task already running is not started twice.
//! Messages from an older leader epoch than the newest seen are dropped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use common::proto::worker_service_client::WorkerServiceClient;
use common::proto::{self, leader_message::Body, worker_message};
use kube::Client;
use tokio::sync::{Semaphore, mpsc};
use tokio_stream::wrappers::ReceiverStream;

use crate::policies::PolicyCache;
use crate::task::WorkerTask;
use crate::{Settings, config_audit, scan};

/// Why a session ended.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid leader address {addr}: {source}")]
    Address {
        addr: String,
        source: tonic::transport::Error,
    },
    #[error("could not connect to the leader: {0}")]
    Connect(#[from] tonic::transport::Error),
    #[error("the leader refused the stream: {0}")]
    Refused(tonic::Status),
    #[error("the stream broke: {0}")]
    Stream(tonic::Status),
    #[error("could not read the token file {path}: {source}")]
    TokenFile {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

/// What a worker presents to the leader (`authorization: Bearer`).
#[derive(Debug, Clone, Default)]
pub enum Credential {
    /// Nothing (a leader without authentication).
    #[default]
    None,
    /// A fixed token (the shared worker token).
    Token(String),
    /// A file read at every connection, so a rotated ServiceAccount token is picked up.
    File(std::path::PathBuf),
}

impl Credential {
    /// The token to present now.
    pub async fn current(&self) -> Result<Option<String>, Error> {
        match self {
            Self::None => Ok(None),
            Self::Token(token) => Ok(Some(token.clone())),
            Self::File(path) => {
                let fail = |source| Error::TokenFile {
                    path: path.clone(),
                    source,
                };
                let text = tokio::fs::read_to_string(path).await.map_err(fail)?;
                let token = text.trim();
                if token.is_empty() {
                    return Err(fail(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        "the file is empty",
                    )));
                }
                Ok(Some(token.to_owned()))
            }
        }
    }
}

impl Error {
    /// Whether retrying cannot help (the leader refuses this worker as configured).
    pub fn is_fatal(&self) -> bool {
        use tonic::Code;
        matches!(self, Self::Address { .. })
            || matches!(self, Self::Refused(s) if matches!(
                s.code(),
                Code::FailedPrecondition
                    | Code::InvalidArgument
                    | Code::Unauthenticated
                    | Code::PermissionDenied
            ))
    }
}

/// State that outlives one session: running tasks and the newest epoch seen.
#[derive(Debug, Default)]
pub struct Shared {
    running: Mutex<HashMap<String, tokio::task::AbortHandle>>,
    max_epoch: Mutex<u64>,
}

impl Shared {
    fn running_ids(&self) -> Vec<String> {
        self.lock_running().keys().cloned().collect()
    }

    fn lock_running(&self) -> std::sync::MutexGuard<'_, HashMap<String, tokio::task::AbortHandle>> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Accepts `epoch` if it is not older than the newest seen.
    fn accept_epoch(&self, epoch: u64) -> bool {
        let mut max = self.max_epoch.lock().unwrap_or_else(|p| p.into_inner());
        if epoch < *max {
            return false;
        }
        *max = epoch;
        true
    }
}

/// Runs one session until the stream ends. Returns `Ok` when the leader closed it cleanly.
pub async fn run(
    settings: &Settings,
    leader_addr: &str,
    client: &Client,
    cache: &PolicyCache,
    shared: &Arc<Shared>,
    slots: &Arc<Semaphore>,
    on_attached: impl FnOnce(),
) -> Result<(), Error> {
    let endpoint =
        tonic::transport::Endpoint::from_shared(leader_addr.to_string()).map_err(|source| {
            Error::Address {
                addr: leader_addr.to_string(),
                source,
            }
        })?;
    let endpoint = match &settings.tls {
        Some(tls) => endpoint.tls_config(tls.clone())?,
        None => endpoint,
    };
    let token = settings.token.current().await?;
    let channel = endpoint.connect().await?;
    let authorization: Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>> = match &token
    {
        Some(token) => Some(format!("Bearer {token}").parse().map_err(|_| {
            Error::Refused(tonic::Status::invalid_argument("token is not valid ASCII"))
        })?),
        None => None,
    };
    let mut grpc =
        WorkerServiceClient::with_interceptor(channel, move |mut request: tonic::Request<()>| {
            if let Some(value) = &authorization {
                request
                    .metadata_mut()
                    .insert("authorization", value.clone());
            }
            Ok(request)
        });
    let (tx, rx) = mpsc::channel::<proto::WorkerMessage>(256);
    let hello = proto::Hello {
        protocol_version: proto::ProtocolVersion::V1 as i32,
        worker_id: settings.worker_id.clone(),
        capacity: settings.capacity,
    };
    let _ = tx.send(message(worker_message::Body::Hello(hello))).await;
    let mut inbound = grpc
        .attach(ReceiverStream::new(rx))
        .await
        .map_err(Error::Refused)?
        .into_inner();
    on_attached();
    settings.budget.attached(tx.clone());
    tracing::info!(leader = %leader_addr, "attached to the leader");
    let heartbeats = tokio::spawn(heartbeat(
        tx.clone(),
        shared.clone(),
        settings.heartbeat_interval,
    ));
    let result = loop {
        match inbound.message().await {
            Ok(Some(m)) => handle(m, settings, client, cache, shared, slots, &tx),
            Ok(None) => break Ok(()),
            Err(status) => break Err(Error::Stream(status)),
        }
    };
    heartbeats.abort();
    settings.budget.detached();
    result
}

fn message(body: worker_message::Body) -> proto::WorkerMessage {
    proto::WorkerMessage { body: Some(body) }
}

async fn heartbeat(
    tx: mpsc::Sender<proto::WorkerMessage>,
    shared: Arc<Shared>,
    every: std::time::Duration,
) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        let beat = proto::Heartbeat {
            running_task_ids: shared.running_ids(),
        };
        if tx
            .send(message(worker_message::Body::Heartbeat(beat)))
            .await
            .is_err()
        {
            return;
        }
    }
}

fn handle(
    m: proto::LeaderMessage,
    settings: &Settings,
    client: &Client,
    cache: &PolicyCache,
    shared: &Arc<Shared>,
    slots: &Arc<Semaphore>,
    tx: &mpsc::Sender<proto::WorkerMessage>,
) {
    if !shared.accept_epoch(m.epoch) {
        tracing::warn!(epoch = m.epoch, "message from a deposed leader dropped");
        return;
    }
    match m.body {
        Some(Body::Assignment(a)) => {
            tracing::info!(count = a.namespaces.len(), namespaces = ?a.namespaces, "assignment");
            settings.budget.set_limited(a.api_budget);
        }
        Some(Body::BudgetGrant(g)) => settings.budget.granted(
            g.tokens,
            std::time::Duration::from_millis(g.valid_ms.into()),
        ),
        Some(Body::Task(task)) => start(task, settings, client, cache, shared, slots, tx),
        Some(Body::Cancel(c)) => {
            if let Some(handle) = shared.lock_running().remove(&c.task_id) {
                handle.abort();
                tracing::info!(task = %c.task_id, "task cancelled");
            }
        }
        Some(Body::HeartbeatAck(_)) | None => {}
    }
}

fn start(
    task: proto::Task,
    settings: &Settings,
    client: &Client,
    cache: &PolicyCache,
    shared: &Arc<Shared>,
    slots: &Arc<Semaphore>,
    tx: &mpsc::Sender<proto::WorkerMessage>,
) {
    let task_id = task.task_id.clone();
    let mut running = shared.lock_running();
    if running.contains_key(&task_id) {
        return; // re-sent while still running: the running one will answer
    }
    let (client, cache, slots, tx, shared2) = (
        client.clone(),
        cache.clone(),
        slots.clone(),
        tx.clone(),
        shared.clone(),
    );
    let settings = settings.clone();
    let id = task_id.clone();
    let handle = tokio::spawn(async move {
        let Ok(_permit) = slots.acquire_owned().await else {
            return;
        };
        let kind = task.kind;
        let started = std::time::Instant::now();
        settings.metrics.task_started();
        let (result, reason) = execute(task, &client, &cache, &settings).await;
        let outcome =
            proto::Outcome::try_from(result.outcome).unwrap_or(proto::Outcome::Unspecified);
        settings
            .metrics
            .task_finished(kind, outcome, reason, started.elapsed());
        shared2.lock_running().remove(&id);
        let _ = tx.send(message(worker_message::Body::Result(result))).await;
    });
    running.insert(task_id, handle.abort_handle());
}

async fn execute(
    task: proto::Task,
    client: &Client,
    cache: &PolicyCache,
    settings: &Settings,
) -> (proto::TaskResult, &'static str) {
    let task_id = task.task_id.clone();
    let result =
        |outcome: proto::Outcome, reason: &str, message: String, reports| proto::TaskResult {
            task_id: task_id.clone(),
            outcome: outcome as i32,
            reason: reason.to_string(),
            message,
            reports,
            written: Vec::new(),
        };
    let task = match WorkerTask::try_from(task) {
        Ok(task) => task,
        Err(invalid) => {
            tracing::warn!(%invalid, "task refused");
            let message = invalid.to_string();
            let failed = result(
                proto::Outcome::FailedPermanent,
                "InvalidTask",
                message,
                Vec::new(),
            );
            return (failed, "InvalidTask");
        }
    };
    let outcome = match &task {
        WorkerTask::Audit(audit) => {
            config_audit::run(client, cache, audit, settings.report_passed_checks)
                .await
                .map(|report| vec![report])
                .map_err(|e| (e.outcome(), e.reason(), e.to_string()))
        }
        WorkerTask::Scan(scan) => {
            let outcome = scan::run_task(client, &settings.scan, scan).await;
            let reports = outcome
                .written
                .iter()
                .map(|w| format!("{}/{}", w.namespace, w.name))
                .collect();
            let (mut done, reason) = match &outcome.error {
                None => (
                    result(proto::Outcome::Succeeded, "", String::new(), reports),
                    "",
                ),
                Some(e) => {
                    tracing::warn!(task = %task_id, reason = e.reason(), error = %e, "task failed");
                    (
                        result(e.outcome(), e.reason(), e.to_string(), reports),
                        e.reason(),
                    )
                }
            };
            // Even a failed task reports what it wrote: those subscribers are served.
            done.written = outcome.written;
            return (done, reason);
        }
        WorkerTask::Node(node) => crate::node::run(client, cache, &settings.node, node)
            .await
            .map(|report| vec![report])
            .map_err(|e| (e.outcome(), e.reason(), e.to_string())),
        WorkerTask::Object(object) => {
            crate::object_audit::run(client, cache, object, settings.report_passed_checks)
                .await
                .map(|report| vec![report])
                .map_err(|e| (e.outcome(), e.reason(), e.to_string()))
        }
    };
    match outcome {
        Ok(reports) => (
            result(proto::Outcome::Succeeded, "", String::new(), reports),
            "",
        ),
        Err((outcome, reason, message)) => {
            tracing::warn!(task = %task_id, reason, %message, "task failed");
            (result(outcome, reason, message, Vec::new()), reason)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_token_file_is_read_at_every_connection() {
        let dir = std::env::temp_dir().join(format!("worker-token-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("token");
        let credential = Credential::File(path.clone());
        let missing = credential.current().await.unwrap_err();
        assert!(missing.to_string().contains("token"), "{missing}");
        assert!(!missing.is_fatal());
        std::fs::write(&path, "first\n").unwrap();
        assert_eq!(
            credential.current().await.unwrap().as_deref(),
            Some("first")
        );
        // The kubelet rotates the projected token in place.
        std::fs::write(&path, "second").unwrap();
        assert_eq!(
            credential.current().await.unwrap().as_deref(),
            Some("second")
        );
        std::fs::write(&path, " \n").unwrap();
        assert!(credential.current().await.is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

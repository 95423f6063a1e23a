//! `WorkerService.Attach`: one bidirectional stream per worker. The first message must be a
//! valid `Hello`; then the worker is registered, gets its assignment and tasks through the
//! control loop, and its heartbeats and results flow back here.

use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::api_budget::GRANT_VALIDITY;
use common::proto::{self, leader_message::Body as LeaderBody, worker_message::Body};
use futures::{Stream, StreamExt};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use crate::grpc::LeaderSlot;
use crate::grpc::worker_auth::{self, WorkerAuth};
use crate::metrics::{kind_label, outcome_label};
use crate::state::{Shared, StreamItem};

/// How long a new stream may take to say hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// Messages buffered per worker stream; tasks are bounded by the window anyway.
const STREAM_BUFFER: usize = 1024;

/// A validated `Hello`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    pub worker_id: String,
    pub capacity: u32,
}

impl TryFrom<proto::Hello> for Hello {
    type Error = Status;

    fn try_from(hello: proto::Hello) -> Result<Self, Status> {
        if hello.protocol_version != proto::ProtocolVersion::V1 as i32 {
            return Err(Status::failed_precondition(format!(
                "unsupported protocol_version {}; this leader speaks {}",
                hello.protocol_version,
                proto::ProtocolVersion::V1 as i32
            )));
        }
        if hello.worker_id.trim().is_empty() {
            return Err(Status::invalid_argument("hello.worker_id is empty"));
        }
        if hello.capacity == 0 {
            return Err(Status::invalid_argument(
                "hello.capacity must be at least 1",
            ));
        }
        if hello.worker_id.len() > 253 {
            return Err(Status::invalid_argument(
                "hello.worker_id is longer than 253 characters",
            ));
        }
        let capacity = hello.capacity.min(proto::MAX_WORKER_CAPACITY);
        if capacity < hello.capacity {
            tracing::warn!(
                worker = %hello.worker_id,
                announced = hello.capacity,
                capped = capacity,
                "worker capacity capped"
            );
        }
        Ok(Self {
            worker_id: hello.worker_id,
            capacity,
        })
    }
}

/// The `WorkerService` implementation.
#[derive(Debug, Clone)]
pub struct WorkerSvc {
    slot: LeaderSlot,
    auth: WorkerAuth,
}

impl WorkerSvc {
    pub fn new(slot: LeaderSlot, auth: WorkerAuth) -> Self {
        Self { slot, auth }
    }
}

type AttachStream = Pin<Box<dyn Stream<Item = StreamItem> + Send>>;

#[tonic::async_trait]
impl proto::worker_service_server::WorkerService for WorkerSvc {
    type AttachStream = AttachStream;

    #[tracing::instrument(skip_all)]
    async fn attach(
        &self,
        request: Request<Streaming<proto::WorkerMessage>>,
    ) -> Result<Response<AttachStream>, Status> {
        let shared = self.slot.get()?;
        let allowed_id = self.auth.allowed_id(request.metadata()).await?;
        let mut inbound = request.into_inner();
        let first = tokio::time::timeout(HELLO_TIMEOUT, inbound.message())
            .await
            .map_err(|_| Status::deadline_exceeded("no hello within 10s"))??;
        let hello = match first.and_then(|m| m.body) {
            Some(Body::Hello(hello)) => Hello::try_from(hello)?,
            _ => {
                return Err(Status::invalid_argument(
                    "the first message must be a hello",
                ));
            }
        };
        worker_auth::check_id(allowed_id.as_deref(), &hello.worker_id)?;
        let conn = shared.next_conn();
        let (tx, rx) = mpsc::channel(STREAM_BUFFER);
        shared.update(|st| {
            st.dispatcher
                .add_worker(&hello.worker_id, hello.capacity, conn, Instant::now());
            st.streams.insert(hello.worker_id.clone(), (conn, tx));
            st.sent_assignments.remove(&hello.worker_id);
        });
        tracing::info!(worker = %hello.worker_id, capacity = hello.capacity, "worker attached");
        tokio::spawn(read_worker(shared.clone(), hello.worker_id, conn, inbound));
        // The stream ends with the term, so the worker looks for the new leader.
        let outbound = ReceiverStream::new(rx).take_until(shared.term.clone().cancelled_owned());
        Ok(Response::new(Box::pin(outbound)))
    }
}

/// Reads a worker's messages until its stream ends, then unregisters it.
async fn read_worker(
    shared: Arc<Shared>,
    worker: String,
    conn: u64,
    mut inbound: Streaming<proto::WorkerMessage>,
) {
    // Asks for API budget tokens are answered in order by one task per stream; an ask
    // while one is being answered is dropped (a worker has one outstanding).
    let (asks, pending) = mpsc::channel(1);
    tokio::spawn(grant_tokens(shared.clone(), worker.clone(), conn, pending));
    loop {
        let next = tokio::select! {
            _ = shared.term.cancelled() => break,
            next = inbound.message() => next,
        };
        match next {
            Ok(Some(message)) => handle(&shared, &worker, conn, message, &asks),
            Ok(None) => break,
            Err(status) => {
                tracing::info!(worker = %worker, %status, "worker stream failed");
                break;
            }
        }
    }
    let removed = shared.update(|st| {
        let removed = st
            .dispatcher
            .remove_worker(&worker, Some(conn), Some(Instant::now()));
        if st.streams.get(&worker).is_some_and(|(c, _)| *c == conn) {
            st.streams.remove(&worker);
        }
        removed
    });
    if removed {
        tracing::info!(worker = %worker, "worker detached; its namespaces move");
    }
}

/// Answers a worker's asks for tokens of the API request budget, each as soon as the budget
/// has at least one.
async fn grant_tokens(
    shared: Arc<Shared>,
    worker: String,
    conn: u64,
    mut asks: mpsc::Receiver<u32>,
) {
    let valid_ms = u32::try_from(GRANT_VALIDITY.as_millis()).unwrap_or(u32::MAX);
    while let Some(want) = asks.recv().await {
        let tokens = tokio::select! {
            () = shared.term.cancelled() => return,
            tokens = shared.budget.grant(want) => tokens,
        };
        let stream = shared
            .lock()
            .streams
            .get(&worker)
            .filter(|(c, _)| *c == conn)
            .map(|(_, tx)| tx.clone());
        let Some(stream) = stream else {
            return;
        };
        let grant = LeaderBody::BudgetGrant(proto::BudgetGrant { tokens, valid_ms });
        if stream.send(Ok(shared.message(grant))).await.is_err() {
            return;
        }
    }
}

fn handle(
    shared: &Shared,
    worker: &str,
    conn: u64,
    message: proto::WorkerMessage,
    asks: &mpsc::Sender<u32>,
) {
    let now = Instant::now();
    match message.body {
        Some(Body::BudgetRequest(ask)) => {
            let _ = asks.try_send(ask.tokens);
        }
        Some(Body::Heartbeat(_)) => shared.lock().dispatcher.heartbeat(worker, conn, now),
        Some(Body::Result(result)) => {
            tracing::debug!(worker, task = %result.task_id, outcome = result.outcome, "result");
            shared.update(|st| {
                if let Some(task) = st.dispatcher.tasks().get(&result.task_id) {
                    shared.metrics.task_completed(
                        kind_label(task.task.kind),
                        outcome_label(result.outcome),
                        &result.reason,
                    );
                }
                let effect = st.dispatcher.on_result(worker, &result, now);
                if effect.accepted {
                    let sources = st
                        .observed
                        .record_sources(&result.written, jiff::Timestamp::now());
                    st.planner.sources_changed(sources);
                    st.planner.released(&effect.released);
                    // Continuous dispatch: the freed slot is refilled now, not at the next round.
                    shared.dispatch(st, now);
                }
            });
        }
        Some(Body::Hello(_)) | None => {
            tracing::warn!(worker, "unexpected message on an attached stream, ignored")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_is_validated() {
        let good = proto::Hello {
            protocol_version: proto::ProtocolVersion::V1 as i32,
            worker_id: "w".into(),
            capacity: 2,
        };
        assert_eq!(
            Hello::try_from(good.clone()).ok(),
            Some(Hello {
                worker_id: "w".into(),
                capacity: 2
            })
        );
        let wrong_version = proto::Hello {
            protocol_version: 7,
            ..good.clone()
        };
        assert_eq!(
            Hello::try_from(wrong_version).err().map(|s| s.code()),
            Some(tonic::Code::FailedPrecondition)
        );
        let no_id = proto::Hello {
            worker_id: " ".into(),
            ..good.clone()
        };
        assert_eq!(
            Hello::try_from(no_id).err().map(|s| s.code()),
            Some(tonic::Code::InvalidArgument)
        );
        // A self-asserted capacity is capped: one client cannot claim every namespace.
        let greedy = proto::Hello {
            capacity: u32::MAX,
            ..good.clone()
        };
        assert_eq!(
            Hello::try_from(greedy).map(|h| h.capacity).ok(),
            Some(proto::MAX_WORKER_CAPACITY)
        );
        let no_capacity = proto::Hello {
            capacity: 0,
            ..good
        };
        assert_eq!(
            Hello::try_from(no_capacity).err().map(|s| s.code()),
            Some(tonic::Code::InvalidArgument)
        );
    }
}

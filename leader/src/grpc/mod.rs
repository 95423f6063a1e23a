//! The leader's gRPC server: `WorkerService` for workers, `StatusService` for queries, the
//! standard health service and (with `--grpc-reflection`) server reflection, all on one port.

mod auth;
pub mod connections;
mod status_objects;
mod status_service;
mod status_snapshot;
mod worker_auth;
mod worker_service;

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use tonic_health::server::HealthReporter;

use common::proto::status_service_server::StatusServiceServer;
use common::proto::worker_service_server::WorkerServiceServer;
use tokio_util::sync::CancellationToken;

pub use auth::TokenCheck;
pub use status_service::StatusSvc;
pub use worker_auth::WorkerAuth;
pub use worker_service::{Hello, WorkerSvc};

use crate::state::Shared;

/// Errors of the gRPC server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The listening socket could not be bound.
    #[error("could not listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    /// The server stopped with an error.
    #[error("gRPC server failed: {0}")]
    Serve(#[from] tonic::transport::Error),
    /// The reflection service could not be built.
    #[error("could not build the reflection service: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
}

/// Who may call which service.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub worker: WorkerAuth,
    pub status: TokenCheck,
}

/// The state of the current term: set while this replica leads, empty on a standby (whose
/// gRPC services answer UNAVAILABLE, so workers move on to the leader).
#[derive(Debug, Clone, Default)]
pub struct LeaderSlot(Arc<RwLock<Option<Arc<Shared>>>>);

impl LeaderSlot {
    /// Makes this replica the leader with `shared` as the term's state.
    pub fn set(&self, shared: Arc<Shared>) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = Some(shared);
    }

    /// Ends the term: this replica is a standby again.
    pub fn clear(&self) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// The term's state, or UNAVAILABLE on a standby.
    pub fn get(&self) -> Result<Arc<Shared>, tonic::Status> {
        self.0
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| {
                tonic::Status::unavailable("this replica is a standby; the leader holds the Lease")
            })
    }
}

/// Binds the gRPC port at start-up, so a port problem shows at once, even on a standby.
pub async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, Error> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Bind { addr, source })
}

/// Serves gRPC on `listener` until `shutdown`: health (NOT_SERVING until [`mark_leading`]),
/// reflection, and the two services answering from `slot`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    slot: LeaderSlot,
    tokens: Tokens,
    tls: Option<tonic::transport::ServerTlsConfig>,
    reflection: bool,
    (limits, refused): (connections::Limits, connections::Refused),
    shutdown: CancellationToken,
) -> Result<
    (
        SocketAddr,
        HealthReporter,
        impl Future<Output = Result<(), Error>>,
    ),
    Error,
> {
    let local = listener.local_addr().map_err(|source| Error::Bind {
        addr: SocketAddr::from(([0, 0, 0, 0], 0)),
        source,
    })?;
    let (health_reporter, health) = tonic_health::server::health_reporter();
    mark_standby(&health_reporter).await;
    let reflection = if reflection {
        Some(
            tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(common::proto::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
                .build_v1()?,
        )
    } else {
        None
    };
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    let Tokens {
        worker: worker_check,
        status: status_check,
    } = tokens;
    let incoming = connections::limit(incoming, limits, Arc::new(refused));
    // Dead or silent peers are found by pings; one connection cannot open unbounded
    // streams.
    let mut builder = tonic::transport::Server::builder()
        .http2_keepalive_interval(Some(KEEPALIVE_INTERVAL))
        .http2_keepalive_timeout(Some(KEEPALIVE_TIMEOUT))
        .max_concurrent_streams(Some(MAX_STREAMS_PER_CONNECTION))
        // Every call must be answered within this (a stream's response starts at once;
        // its messages then flow without the limit), so a slow client holds nothing long.
        .timeout(CALL_TIMEOUT)
        .tcp_keepalive(Some(KEEPALIVE_INTERVAL));
    if let Some(tls) = tls {
        builder = builder.tls_config(tls)?;
    }
    let server = builder
        .add_service(health)
        .add_optional_service(reflection)
        .add_service(WorkerServiceServer::with_interceptor(
            WorkerSvc::new(slot.clone(), worker_check.clone()),
            move |r| worker_check.intercept(r),
        ))
        .add_service(StatusServiceServer::with_interceptor(
            StatusSvc::new(slot),
            move |r| status_check.check(r),
        ))
        .serve_with_incoming_shutdown(incoming, async move { shutdown.cancelled().await });
    Ok((local, health_reporter, async move {
        server.await.map_err(Error::from)
    }))
}

/// Interval of HTTP/2 pings (and TCP keepalives) on every connection: shorter than the
/// idle limit of [`connections`], so a live client is never idle.
const KEEPALIVE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(30);
/// A ping not answered within this closes the connection.
const KEEPALIVE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);
/// Longest time to answer a call (for `Attach`: until the stream is set up, which needs
/// the hello within 10 s and, for ServiceAccount tokens, a TokenReview).
const CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// Concurrent HTTP/2 streams per connection (a worker needs one, a status client a few).
const MAX_STREAMS_PER_CONNECTION: u32 = 64;

/// Reports both services as SERVING (this replica leads now).
pub async fn mark_leading(health: &HealthReporter) {
    health.set_serving::<WorkerServiceServer<WorkerSvc>>().await;
    health.set_serving::<StatusServiceServer<StatusSvc>>().await;
}

/// Reports both services as NOT_SERVING (this replica stands by again).
pub async fn mark_standby(health: &HealthReporter) {
    health
        .set_not_serving::<WorkerServiceServer<WorkerSvc>>()
        .await;
    health
        .set_not_serving::<StatusServiceServer<StatusSvc>>()
        .await;
}

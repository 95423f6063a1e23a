//! The status CLI as a library: queries the leader's `StatusService` and prints the answer
//! as aligned tables for people or as JSON for scripts. Formatting is pure (the tests build
//! proto responses by hand); only [`run`] talks to the network.
//!
//! JSON uses the proto field names in snake_case, numbers as JSON numbers, and enums as
//! short lowercase names (`in-flight`, `vulnerability-scan`), so `jq` works without surprises.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::proto;
use common::proto::status_service_client::StatusServiceClient;
use serde_json::Value;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::Endpoint;

pub use format::{
    age, cluster_json, cluster_table, kind_name, namespace_json, namespace_table, state_name,
    table, workload_json, workload_table,
};

mod format;

/// What to ask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// Leader, workers, queue, failures.
    Cluster,
    /// One namespace: owner, workloads, task counts.
    Namespace(String),
    /// One workload: why it has (no) report.
    Workload {
        namespace: String,
        kind: String,
        name: String,
    },
}

/// How to print the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Output {
    /// Aligned tables.
    #[default]
    Table,
    /// One JSON document.
    Json,
}

/// Why a status query failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The address is not a valid URI.
    #[error("invalid leader address {addr}: {source}")]
    Address {
        addr: String,
        source: tonic::transport::Error,
    },
    /// No connection to the leader.
    #[error("cannot reach the leader at {addr}: {source}")]
    Unreachable {
        addr: String,
        source: tonic::transport::Error,
    },
    /// The token cannot be sent as a header.
    #[error("the token contains characters not allowed in a header")]
    Token,
    /// The leader refused the credentials.
    #[error("the leader refused the status token ({0}); pass the right one with --token")]
    Refused(String),
    /// The object is not known to the leader.
    #[error("not found: {0}")]
    NotFound(String),
    /// Any other gRPC failure.
    #[error("status query failed ({code:?}): {message}")]
    Call { code: tonic::Code, message: String },
    /// JSON encoding failed.
    #[error("encoding the answer as JSON: {0}")]
    Json(#[from] serde_json::Error),
}

impl From<tonic::Status> for Error {
    fn from(status: tonic::Status) -> Self {
        let message = status.message().to_string();
        match status.code() {
            tonic::Code::Unauthenticated | tonic::Code::PermissionDenied => Self::Refused(message),
            tonic::Code::NotFound => Self::NotFound(message),
            code => Self::Call { code, message },
        }
    }
}

/// How long to wait for the connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long to wait for an answer.
const CALL_TIMEOUT: Duration = Duration::from_secs(15);

/// Queries the leader at `addr` (`host:port` or a URI) and formats the answer.
pub async fn run(
    addr: &str,
    token: Option<&str>,
    tls: Option<tonic::transport::ClientTlsConfig>,
    query: Query,
    output: Output,
) -> Result<String, Error> {
    let uri = if addr.contains("://") {
        addr.to_string()
    } else {
        format!("http://{addr}")
    };
    let endpoint = Endpoint::from_shared(uri)
        .map_err(|source| Error::Address {
            addr: addr.to_string(),
            source,
        })?
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(CALL_TIMEOUT);
    let endpoint = match tls {
        Some(tls) => endpoint.tls_config(tls).map_err(|source| Error::Address {
            addr: addr.to_string(),
            source,
        })?,
        None => endpoint,
    };
    let channel = endpoint
        .connect()
        .await
        .map_err(|source| Error::Unreachable {
            addr: addr.to_string(),
            source,
        })?;
    let mut client = StatusServiceClient::new(channel);
    let bearer = token
        .map(|t| format!("Bearer {t}").parse::<MetadataValue<Ascii>>())
        .transpose()
        .map_err(|_| Error::Token)?;
    let bearer = bearer.as_ref();
    let now = now_unix();
    match query {
        Query::Cluster => {
            let c = client
                .get_cluster(authorized(proto::GetClusterRequest {}, bearer))
                .await?;
            render(output, c.get_ref(), |c| cluster_table(c, now), cluster_json)
        }
        Query::Namespace(namespace) => {
            let n = client
                .get_namespace(authorized(proto::GetNamespaceRequest { namespace }, bearer))
                .await?;
            render(output, n.get_ref(), namespace_table, namespace_json)
        }
        Query::Workload {
            namespace,
            kind,
            name,
        } => {
            let body = proto::GetWorkloadRequest {
                namespace,
                kind,
                name,
            };
            let w = client.get_workload(authorized(body, bearer)).await?;
            render(
                output,
                w.get_ref(),
                |w| workload_table(w, now),
                workload_json,
            )
        }
    }
}

/// A request carrying the bearer token, when there is one.
fn authorized<T>(body: T, bearer: Option<&MetadataValue<Ascii>>) -> tonic::Request<T> {
    let mut request = tonic::Request::new(body);
    if let Some(value) = bearer {
        request
            .metadata_mut()
            .insert("authorization", value.clone());
    }
    request
}

fn render<T>(
    output: Output,
    value: &T,
    table: impl FnOnce(&T) -> String,
    json: impl FnOnce(&T) -> Value,
) -> Result<String, Error> {
    match output {
        Output::Table => Ok(table(value)),
        Output::Json => Ok(serde_json::to_string_pretty(&json(value))? + "\n"),
    }
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests;

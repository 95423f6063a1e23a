//! Bounds on the gRPC port's connections: at most [`Limits::max`] open at once (further
//! ones are closed as soon as they are accepted), and a connection that sends nothing for
//! [`Limits::idle`] is closed. Live clients are never idle that long: the server pings every
//! connection (HTTP/2 keepalive) more often, and workers send heartbeats. So a flood of idle
//! or half-open connections cannot exhaust the leader's file descriptors or memory, nor keep
//! workers out for long.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::{Stream, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};
use tonic::transport::server::Connected;

/// The bounds.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most connections open at once.
    pub max: usize,
    /// A connection that sends nothing for this long is closed.
    pub idle: Duration,
}

/// Connections refused because the limit was reached (the leader's
/// `grpc_connections_refused_total`).
#[derive(Debug, Default, Clone)]
pub struct Refused(pub prometheus_client::metrics::counter::Counter);

/// `incoming` with at most `limits.max` connections open and idle ones closed.
pub fn limit<S, IO>(
    incoming: S,
    limits: Limits,
    refused: Arc<Refused>,
) -> impl Stream<Item = std::io::Result<Limited<IO>>>
where
    S: Stream<Item = std::io::Result<IO>>,
{
    let permits = Arc::new(Semaphore::new(limits.max));
    incoming.filter_map(move |accepted| {
        let permit = permits.clone().try_acquire_owned();
        let refused = refused.clone();
        async move {
            let io = match accepted {
                Ok(io) => io,
                Err(error) => return Some(Err(error)),
            };
            match permit {
                Ok(permit) => Some(Ok(Limited::new(io, permit, limits.idle))),
                Err(_) => {
                    // Dropping the stream closes it.
                    if refused.0.inc().is_multiple_of(1000) {
                        tracing::warn!(
                            max = limits.max,
                            "gRPC connection limit reached; closing new connections"
                        );
                    }
                    None
                }
            }
        }
    })
}

/// A connection holding one of the permits, closed when it stays silent too long.
pub struct Limited<IO> {
    inner: IO,
    _permit: OwnedSemaphorePermit,
    idle: Duration,
    deadline: Pin<Box<Sleep>>,
}

impl<IO> Limited<IO> {
    fn new(inner: IO, permit: OwnedSemaphorePermit, idle: Duration) -> Self {
        Self {
            inner,
            _permit: permit,
            idle,
            deadline: Box::pin(tokio::time::sleep(idle)),
        }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Limited<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    let next = Instant::now() + self.idle;
                    self.deadline.as_mut().reset(next);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => match self.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "connection idle for too long",
                ))),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Limited<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl<IO: Connected> Connected for Limited<IO> {
    type ConnectInfo = IO::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.inner.connect_info()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    use super::*;

    /// A server that echoes through the limited incoming stream.
    async fn server(limits: Limits) -> (std::net::SocketAddr, Arc<Refused>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let refused = Arc::new(Refused::default());
        let incoming = limit(
            tokio_stream::wrappers::TcpListenerStream::new(listener),
            limits,
            refused.clone(),
        );
        tokio::spawn(async move {
            let mut incoming = std::pin::pin!(incoming);
            while let Some(Ok(mut conn)) = incoming.next().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 64];
                    while let Ok(n) = conn.read(&mut buf).await {
                        if n == 0 || conn.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        (addr, refused)
    }

    async fn echoes(conn: &mut TcpStream) -> bool {
        if conn.write_all(b"ping").await.is_err() {
            return false;
        }
        let mut buf = [0u8; 4];
        matches!(
            tokio::time::timeout(Duration::from_secs(10), conn.read_exact(&mut buf)).await,
            Ok(Ok(_))
        )
    }

    #[tokio::test]
    async fn connections_beyond_the_limit_are_closed_and_freed_slots_reused() {
        let limits = Limits {
            max: 2,
            idle: Duration::from_secs(600),
        };
        let (addr, refused) = server(limits).await;
        let mut a = TcpStream::connect(addr).await.unwrap();
        let mut b = TcpStream::connect(addr).await.unwrap();
        assert!(echoes(&mut a).await && echoes(&mut b).await);
        let mut c = TcpStream::connect(addr).await.unwrap();
        assert!(!echoes(&mut c).await, "the third connection is closed");
        assert!(refused.0.get() >= 1);
        drop(a);
        // The freed slot serves a new connection (the server notices the close first).
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut d = TcpStream::connect(addr).await.unwrap();
            if echoes(&mut d).await {
                break;
            }
            assert!(Instant::now() < deadline, "the slot was never freed");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    #[tokio::test]
    async fn a_silent_connection_is_closed_and_a_talking_one_kept() {
        let limits = Limits {
            max: 10,
            idle: Duration::from_millis(300),
        };
        let (addr, _) = server(limits).await;
        let mut silent = TcpStream::connect(addr).await.unwrap();
        let mut talking = TcpStream::connect(addr).await.unwrap();
        for _ in 0..5 {
            tokio::time::sleep(Duration::from_millis(150)).await;
            assert!(echoes(&mut talking).await, "a talking client is kept");
        }
        let mut buf = [0u8; 1];
        let closed = tokio::time::timeout(Duration::from_secs(10), silent.read(&mut buf)).await;
        assert!(
            matches!(closed, Ok(Ok(0)) | Ok(Err(_))),
            "the silent connection was closed: {closed:?}"
        );
    }
}

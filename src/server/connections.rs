//! Connections on both ports: a cap on how many may be open at once, a
//! deadline for each client's first byte, and the open-file limit they all
//! draw on. Without them, about 1,100 silent sockets under the usual limit
//! of 1,024 open files made `accept` fail and every new client wait for as
//! long as the silent ones were held.
//!
//! The cap refuses the newest connection (closing it at once, so its client
//! sees a closed connection rather than a hang) instead of letting the
//! process run out of descriptors, which would starve every client and the
//! database alike. Slow and idle clients are closed by deadlines: here for
//! the first byte on either port, and by hyper's header-read timeout for
//! HTTP/1 headers and keep-alive idleness ([`super::http`]).

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Sleep;

/// Descriptors kept out of the connection cap for the database, its
/// write-ahead log, log files and replay's outbound connections.
const RESERVED_DESCRIPTORS: u64 = 256;

/// The default cap never exceeds this: past it, idle connections cost more
/// memory than a single process should give them.
const MAX_DEFAULT_CONNECTIONS: u64 = 16_384;

/// Raises the soft open-file limit to the hard limit and returns the soft
/// limit in force afterwards. Many systems start services with a soft limit
/// of 1,024 while allowing far more; a server holding one descriptor per
/// connection should take what it is allowed.
pub fn raise_open_file_limit() -> u64 {
    let before = rlimit::getrlimit(rlimit::Resource::NOFILE)
        .map(|(soft, _)| soft)
        .unwrap_or(1024);
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(after) if after > before => {
            tracing::info!(
                before,
                after,
                "raised the open-file limit to the hard limit"
            );
            after
        }
        Ok(after) => after,
        Err(error) => {
            tracing::warn!(%error, limit = before, "cannot raise the open-file limit");
            before
        }
    }
}

/// The connection cap when none is configured: what the open-file limit
/// leaves after the descriptors the process needs for itself.
pub fn default_max_connections(open_file_limit: u64) -> usize {
    let usable = open_file_limit
        .saturating_sub(RESERVED_DESCRIPTORS)
        .max(open_file_limit / 2)
        .clamp(1, MAX_DEFAULT_CONNECTIONS);
    usable as usize
}

/// Admits connections on both ports under one cap.
#[derive(Clone)]
pub struct Gate {
    permits: Arc<Semaphore>,
    first_byte_timeout: Duration,
}

impl Gate {
    pub fn new(max_connections: usize, first_byte_timeout: Duration) -> Gate {
        Gate {
            permits: Arc::new(Semaphore::new(max_connections.max(1))),
            first_byte_timeout,
        }
    }

    /// The next connection that fits under the cap. Connections over the cap
    /// are closed as soon as they are accepted.
    pub async fn accept(&self, listener: &TcpListener) -> (Admitted, SocketAddr) {
        loop {
            let (stream, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of descriptors despite the cap (another part of the
                    // process holds them): wait instead of spinning.
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let Ok(permit) = self.permits.clone().try_acquire_owned() else {
                crate::metrics::connection_refused();
                tracing::debug!(%peer, "connection refused: at the connection cap");
                drop(stream);
                continue;
            };
            let _ = stream.set_nodelay(true);
            let first_byte = Box::pin(tokio::time::sleep(self.first_byte_timeout));
            return (
                Admitted {
                    stream,
                    first_byte: Some(first_byte),
                    _permit: permit,
                },
                peer,
            );
        }
    }

    /// The admitted connections of `listener`, as tonic's server takes them.
    pub fn incoming(self, listener: TcpListener) -> impl Stream<Item = io::Result<Admitted>> {
        futures::stream::unfold((self, listener), |(gate, listener)| async move {
            let (admitted, _) = gate.accept(&listener).await;
            Some((Ok(admitted), (gate, listener)))
        })
    }
}

/// An admitted connection: holds its place under the cap until dropped, and
/// fails its reads if the client sends nothing before the first-byte deadline.
pub struct Admitted {
    stream: TcpStream,
    first_byte: Option<Pin<Box<Sleep>>>,
    _permit: OwnedSemaphorePermit,
}

impl AsyncRead for Admitted {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.stream).poll_read(cx, buf);
        let Some(deadline) = this.first_byte.as_mut() else {
            return result;
        };
        match result {
            Poll::Ready(Ok(())) if buf.filled().len() > before => {
                this.first_byte = None;
                Poll::Ready(Ok(()))
            }
            Poll::Pending if deadline.as_mut().poll(cx).is_ready() => {
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the client sent nothing before the deadline",
                )))
            }
            other => other,
        }
    }
}

impl AsyncWrite for Admitted {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

impl tonic::transport::server::Connected for Admitted {
    type ConnectInfo = tonic::transport::server::TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.stream.connect_info()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_cap_leaves_descriptors_for_the_process() {
        assert_eq!(default_max_connections(1024), 768);
        // A tiny limit still admits half of it rather than nothing.
        assert_eq!(default_max_connections(256), 128);
        assert_eq!(default_max_connections(1 << 20), 16_384);
    }
}

//! The listening socket, bounded: at most [`MAX_CONNECTIONS`] connections at once (more wait
//! in the kernel's backlog), and a connection whose peer neither sends nor takes a byte for
//! [`IDLE_TIMEOUT`] is closed (a slow or silent client cannot hold one for ever; hyper's own
//! header timeout needs a timer axum does not give it).

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_io_timeout::TimeoutStream;

/// Connections served at once.
pub const MAX_CONNECTIONS: usize = 256;

/// How long a connection may stay without a byte read or written.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// A TCP listener with a bound on connections and idle time.
#[derive(Debug)]
pub struct Bounded {
    inner: TcpListener,
    slots: Arc<Semaphore>,
}

impl Bounded {
    /// Bounds `inner`.
    pub fn new(inner: TcpListener) -> Bounded {
        Bounded {
            inner,
            slots: Arc::new(Semaphore::new(MAX_CONNECTIONS)),
        }
    }
}

/// One accepted connection: the stream with its timeouts, and its slot.
#[derive(Debug)]
pub struct Conn {
    io: Pin<Box<TimeoutStream<TcpStream>>>,
    _slot: OwnedSemaphorePermit,
}

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        self.io.as_mut().poll_read(cx, buf)
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.io.as_mut().poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.io.as_mut().poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.io.as_mut().poll_shutdown(cx)
    }
}

impl axum::serve::Listener for Bounded {
    type Io = Conn;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Conn, SocketAddr) {
        loop {
            // The semaphore is never closed; should it be, accept without a slot's wait.
            let slot = match self.slots.clone().acquire_owned().await {
                Ok(slot) => slot,
                Err(_) => {
                    self.slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
                    continue;
                }
            };
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    let mut io = TimeoutStream::new(stream);
                    io.set_read_timeout(Some(IDLE_TIMEOUT));
                    io.set_write_timeout(Some(IDLE_TIMEOUT));
                    return (
                        Conn {
                            io: Box::pin(io),
                            _slot: slot,
                        },
                        addr,
                    );
                }
                Err(e) => {
                    // Out of descriptors and the like: wait a little rather than spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

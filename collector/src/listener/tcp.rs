//! What both TCP listeners share: accepting within `max_connections`, and a connection's
//! read buffer.
//!
//! The buffer follows the bytes that arrived, never what a peer announced: it is allocated
//! only when the socket is readable, grows (at most doubling) as a frame's bytes arrive, is
//! freed when everything in it has been delivered and shrunk when a small remainder sits in a
//! large allocation. What it holds between reads is charged to the pending budget (see
//! [`budget`](super::budget)). A connection is closed when it delivers no complete frame or
//! line for `idle_timeout_secs`, when the budget evicts it, and at shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::AcqRel};
use std::time::Duration;

use bytes::BytesMut;
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

use super::budget::Charge;
use super::warn::Kind;
use super::{Ingest, Shutdown, stopped};
use crate::config::TcpLimits;

/// Bytes made room for before a read when the buffer has less than [`MIN_SPARE`] spare.
pub(super) const READ_CHUNK: usize = 64 * 1024;

/// Spare room below which a read first grows the buffer.
const MIN_SPARE: usize = 4 * 1024;

/// Bytes read on the stack to learn whether a connection has data before allocating for it.
const PROBE: usize = 1024;

/// A remainder is moved to an allocation of its own size when the buffer is more than four
/// times larger than it plus this.
const SHRINK_SLACK: usize = 16 * 1024;

/// What [`TcpConn::read`] got.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Got {
    /// Bytes were appended to the buffer.
    Bytes,
    /// The peer closed its side.
    Eof,
    /// The connection is to be closed: idle, evicted, shut down, or a read error (already
    /// counted and logged as such).
    Closed,
}

/// One accepted connection: its socket, read buffer, share of the pending budget and idle
/// clock.
#[derive(Debug)]
pub(super) struct TcpConn {
    stream: TcpStream,
    /// The peer.
    pub peer: SocketAddr,
    /// Bytes read and not yet delivered (a partial frame or line).
    pub buf: BytesMut,
    /// Bytes allocated for `buf` (what is charged).
    alloc: usize,
    charge: Charge,
    idle: Duration,
    /// When a complete frame or line last arrived (or the connection was accepted).
    progress_at: Instant,
    shutdown: Shutdown,
    ingest: Arc<Ingest>,
}

impl TcpConn {
    /// Waits for bytes and reads them, first growing the buffer by `room` bytes if it has
    /// less than a few KiB spare. `room` is what the protocol can use: never more than the
    /// rest of the frame being read and, past one read chunk, never more than has already
    /// arrived of it.
    pub async fn read(&mut self, room: usize) -> Got {
        loop {
            if self.charge.is_evicted() {
                return Got::Closed;
            }
            let idle_at = self.progress_at + self.idle;
            if Instant::now() >= idle_at {
                // Bytes kept coming, but never a complete frame or line.
                return self.idle_close();
            }
            // Bytes that are there are read before the idle timer may close the connection.
            tokio::select! {
                biased;
                _ = stopped(&mut self.shutdown) => return Got::Closed,
                ready = self.stream.readable() => {
                    if let Err(e) = ready {
                        tracing::debug!(peer = %self.peer, error = %e, "connection failed");
                        return Got::Closed;
                    }
                }
                _ = self.charge.evicted() => return Got::Closed,
                _ = tokio::time::sleep_until(idle_at) => return self.idle_close(),
            }
            // Readiness can be stale (it stays set until a read would block), so a buffer
            // without room is grown only once a small read on the stack shows bytes are there.
            let mut got = false;
            if self.buf.capacity() - self.buf.len() < MIN_SPARE {
                let mut probe = [0u8; PROBE];
                match self.stream.try_read(&mut probe) {
                    Ok(0) => return Got::Eof,
                    Ok(n) => {
                        if !self.grow(room.max(n)) {
                            return Got::Closed;
                        }
                        self.buf.extend_from_slice(&probe[..n]);
                        if n < PROBE {
                            return Got::Bytes;
                        }
                        got = true;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                    Err(e) => {
                        tracing::debug!(peer = %self.peer, error = %e, "connection read failed");
                        return Got::Closed;
                    }
                }
            }
            if self.buf.capacity() == self.buf.len() {
                return Got::Bytes;
            }
            match self.stream.try_read_buf(&mut self.buf) {
                Ok(0) if !got => return Got::Eof,
                Ok(_) => return Got::Bytes,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && !got => continue,
                // The bytes already taken are delivered; the next read sees the end or error.
                _ if got => return Got::Bytes,
                Err(e) => {
                    tracing::debug!(peer = %self.peer, error = %e, "connection read failed");
                    return Got::Closed;
                }
            }
        }
    }

    /// Counts and logs (rate-limited) an idle close.
    fn idle_close(&self) -> Got {
        self.ingest.metrics.connections_idle_closed.inc();
        if let Some(a) = self.ingest.warnings.admit(Some(self.peer.ip()), Kind::Idle) {
            tracing::warn!(
                peer = %self.peer,
                idle_timeout_secs = self.idle.as_secs(),
                pending_bytes = self.buf.len(),
                suppressed = a.suppressed,
                idle_closes_of_peer = a.total,
                "no complete frame or line within idle_timeout_secs; closing the connection"
            );
        }
        Got::Closed
    }

    /// Reallocates the buffer with `room` more bytes of space, charging them first; false if
    /// the connection was evicted instead.
    fn grow(&mut self, room: usize) -> bool {
        let target = self.buf.len() + room;
        if !self.charge.set(target as u64) {
            return false;
        }
        let mut grown = BytesMut::with_capacity(target);
        grown.extend_from_slice(&self.buf);
        self.buf = grown;
        self.alloc = self.buf.capacity();
        self.charge.set(self.alloc as u64)
    }

    /// After the protocol took what it could from the buffer: records progress when
    /// `delivered` complete frames or lines came out of this read, frees or shrinks the
    /// buffer, and updates the charge. False when the connection is to be closed.
    pub fn settle(&mut self, delivered: usize) -> bool {
        if delivered > 0 {
            self.progress_at = Instant::now();
        }
        let len = self.buf.len();
        if len == 0 {
            if self.alloc > 0 {
                self.buf = BytesMut::new();
                self.alloc = 0;
            }
        } else if self.alloc > 4 * len + SHRINK_SLACK {
            let mut kept = BytesMut::with_capacity(len);
            kept.extend_from_slice(&self.buf);
            self.buf = kept;
            self.alloc = self.buf.capacity();
        }
        self.charge.set(self.alloc as u64)
    }

    /// The ingest pipeline this connection feeds.
    pub fn ingest(&self) -> &Arc<Ingest> {
        &self.ingest
    }
}

/// Counts a connection as open while it lives.
#[derive(Debug)]
struct Open {
    listener: Arc<AtomicUsize>,
    ingest: Arc<Ingest>,
}

impl Drop for Open {
    fn drop(&mut self) {
        self.listener.fetch_sub(1, AcqRel);
        self.ingest.metrics.connections_open.sub(1);
    }
}

/// Accepts TCP connections until shutdown, one task per connection, at most
/// `limits.max_connections` at once.
pub(super) async fn accept_loop<F, Fut>(
    listener: TcpListener,
    protocol: &'static str,
    limits: TcpLimits,
    ingest: Arc<Ingest>,
    mut shutdown: Shutdown,
    connection: F,
) where
    F: Fn(TcpConn) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let open = Arc::new(AtomicUsize::new(0));
    let idle = Duration::from_secs(limits.idle_timeout_secs);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    if open.load(std::sync::atomic::Ordering::Acquire) >= limits.max_connections {
                        refuse(stream, peer, protocol, limits, &ingest);
                        continue;
                    }
                    open.fetch_add(1, AcqRel);
                    ingest.metrics.connections_open.add(1);
                    ingest.metrics.connections.inc();
                    stream.set_nodelay(true).ok();
                    tracing::debug!(%peer, protocol, "connection");
                    let guard = Open { listener: open.clone(), ingest: ingest.clone() };
                    let conn = TcpConn {
                        stream,
                        peer,
                        buf: BytesMut::new(),
                        alloc: 0,
                        charge: ingest.budget.register(peer),
                        idle,
                        progress_at: Instant::now(),
                        shutdown: shutdown.clone(),
                        ingest: ingest.clone(),
                    };
                    let task = connection(conn);
                    tokio::spawn(async move {
                        task.await;
                        drop(guard);
                    });
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off rather than spin.
                    if let Some(a) = ingest.warnings.admit(None, Kind::AcceptFailed) {
                        tracing::warn!(error = %e, protocol, suppressed = a.suppressed, "accept failed");
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = stopped(&mut shutdown) => return,
        }
    }
}

/// Closes a connection the listener has no room for, with a reset so that neither side keeps
/// it in TIME_WAIT.
fn refuse(
    stream: TcpStream,
    peer: SocketAddr,
    protocol: &'static str,
    limits: TcpLimits,
    ingest: &Ingest,
) {
    ingest.metrics.connections_over_limit.inc();
    if let Some(a) = ingest.warnings.admit(Some(peer.ip()), Kind::OverLimit) {
        tracing::warn!(
            %peer,
            protocol,
            max_connections = limits.max_connections,
            suppressed = a.suppressed,
            refused_from_peer = a.total,
            "listener at max_connections; connection refused"
        );
    }
    let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
    drop(stream);
}

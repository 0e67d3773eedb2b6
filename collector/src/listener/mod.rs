//! Listeners ("spouts", as anna-molly called them): carbon's pickle protocol over TCP and its
//! plaintext protocol over TCP and UDP.
//!
//! Each connection decodes, routes and encodes on its own task, so the work spreads over the
//! cores; the sink only sends. Bad input is confined: a bad pickle frame closes its connection,
//! a bad line is skipped; either way it is logged with the peer and counted, and no other
//! connection or point is touched.

pub mod budget;
mod line;
mod pickle;
mod tcp;
mod udp;
pub mod warn;

use std::net::SocketAddr;
use std::sync::Arc;

use am_store::writer::{Batch, ModelTable};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::{Listener, TcpLimits};

use crate::metrics::Metrics;
use crate::router::{Decision, Router};
use crate::writer::{EncodedBatch, WriterHandle};

/// Everything a listener needs to turn datapoints into writes.
#[derive(Debug)]
pub struct Ingest {
    /// The router.
    pub router: Arc<Router>,
    /// The sink.
    pub writer: WriterHandle,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// The bound on unfinished frames and lines of every TCP connection.
    pub budget: Arc<budget::PendingBudget>,
    /// Rate limits of the warnings about peers.
    pub warnings: Arc<warn::Warnings>,
}

/// A connection's batch holding more points than this after a read is not kept for reuse: a
/// huge frame's batch would otherwise stay allocated for the connection's life. Busy
/// carbon-relay connections (about 1,600 points per 64 KiB read) keep theirs.
const RETAIN_POINTS: usize = 16 * 1024;

/// Per-batch counts, added to the shared counters once per batch rather than per point.
#[derive(Debug, Default)]
pub struct Tally {
    received: u64,
    blacklisted: u64,
    ignored: u64,
    routed: u64,
    expired: u64,
    bad_timestamp: u64,
}

impl Ingest {
    /// Routes one datapoint into `batch`.
    pub fn route(
        &self,
        batch: &mut Batch,
        tally: &mut Tally,
        name: &str,
        ts: f64,
        value: f64,
        now: i64,
    ) {
        tally.received += 1;
        match self.router.route(name) {
            Decision::Blacklisted => tally.blacklisted += 1,
            Decision::Ignored => tally.ignored += 1,
            Decision::Store(models) => {
                let c = batch.push(self.router.models(), models.ids(), name, ts, value, now);
                tally.routed += u64::from(c.queued);
                tally.expired += u64::from(c.expired);
                tally.bad_timestamp += u64::from(c.bad_timestamp);
            }
        }
    }

    fn count(&self, t: &Tally) {
        let m = &self.metrics;
        m.received.add(t.received);
        m.blacklisted.add(t.blacklisted);
        m.ignored.add(t.ignored);
        m.routed.add(t.routed);
        m.dropped_expired.add(t.expired);
        m.dropped_bad_timestamp.add(t.bad_timestamp);
    }

    fn encode(&self, batch: &mut Batch) -> EncodedBatch {
        let table: &ModelTable = self.router.models();
        // One command per chunk, at most one per point: sized once rather than grown.
        let mut cmds = Vec::with_capacity(batch.points());
        batch.encode(table, &mut cmds);
        EncodedBatch::new(cmds)
    }

    /// Hands a TCP batch to the sink, waiting for buffer space (backpressure). The batch is left
    /// empty, keeping its capacity for the next one.
    pub async fn submit_waiting(&self, batch: &mut Batch, tally: Tally) {
        self.count(&tally);
        if batch.is_empty() {
            return;
        }
        let enc = self.encode(batch);
        self.writer.buffer.acquire(enc.bytes).await;
        self.send(enc);
    }

    /// Hands a UDP batch to the sink, or drops and counts it when the buffer is full. The batch
    /// is left empty.
    pub fn submit_or_drop(&self, batch: &mut Batch, tally: Tally, peer: SocketAddr) {
        self.count(&tally);
        if batch.is_empty() {
            return;
        }
        let points = batch.points() as u64;
        let enc = self.encode(batch);
        if self.writer.buffer.try_acquire(enc.bytes) {
            self.send(enc);
        } else {
            self.metrics.dropped_buffer_full.add(points);
            // Routed but not stored: keep routed = stored + dropped consistent.
            if let Some(a) = self.warnings.admit(Some(peer.ip()), warn::Kind::UdpDropped) {
                tracing::warn!(%peer, points, suppressed = a.suppressed, "write buffer full; UDP datapoints dropped");
            }
        }
    }

    fn send(&self, enc: EncodedBatch) {
        let points: u64 = enc.cmds.iter().map(|c| u64::from(c.points())).sum();
        if !self.writer.send(enc) {
            self.metrics.dropped_shutdown.add(points);
            tracing::error!(points, "sink has stopped; datapoints dropped");
        }
    }
}

/// A shutdown signal listeners watch; `true` means stop.
pub type Shutdown = watch::Receiver<bool>;

/// Resolves when shutdown is signalled (or its sender is gone).
pub async fn stopped(shutdown: &mut Shutdown) {
    while !*shutdown.borrow() {
        if shutdown.changed().await.is_err() {
            return;
        }
    }
}

/// Binds `bind` and serves each TCP connection with `connection` until shutdown.
async fn serve_tcp<F, Fut>(
    bind: &str,
    protocol: &'static str,
    limits: TcpLimits,
    ingest: Arc<Ingest>,
    shutdown: Shutdown,
    connection: F,
) -> std::io::Result<JoinHandle<()>>
where
    F: Fn(tcp::TcpConn) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let sock = TcpListener::bind(bind).await?;
    Ok(tokio::spawn(tcp::accept_loop(
        sock, protocol, limits, ingest, shutdown, connection,
    )))
}

/// Binds a configured listener and starts serving it until shutdown. `limits` overrides the
/// listener's own connection limits (the daemon lowers `max_connections` to what its
/// descriptor limit allows).
pub async fn start(
    listener: &Listener,
    limits: Option<TcpLimits>,
    ingest: Arc<Ingest>,
    shutdown: Shutdown,
) -> std::io::Result<JoinHandle<()>> {
    let bind = listener.bind();
    let limits = limits.or(listener.tcp_limits());
    Ok(match (listener, limits) {
        (Listener::CarbonAsyncTcpSpout(c), Some(limits)) => {
            let max = c.max_frame_bytes;
            let serve = move |conn| pickle::connection(conn, max);
            serve_tcp(&bind, "pickle", limits, ingest, shutdown, serve).await?
        }
        (Listener::CarbonPlaintextTcpSpout(c), Some(limits)) => {
            let max = c.max_line_bytes;
            let serve = move |conn| line::connection(conn, max);
            serve_tcp(&bind, "plaintext", limits, ingest, shutdown, serve).await?
        }
        (Listener::CarbonPlaintextUdpSpout(c), _) => {
            let sock = UdpSocket::bind(&bind).await?;
            tokio::spawn(udp::serve_udp(sock, c.max_line_bytes, ingest, shutdown))
        }
        (_, None) => {
            return Err(std::io::Error::other(format!(
                "{} has no connection limits",
                listener.kind()
            )));
        }
    })
}

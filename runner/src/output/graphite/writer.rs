//! The writer task: one connection at a time, reconnecting with backoff, resending the recent
//! tail after a reconnect. See the parent module for the guarantees.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use super::Shared;
use crate::output::LogLimit;

/// First reconnect delay.
const BACKOFF_MIN: Duration = Duration::from_millis(100);
/// Longest reconnect delay.
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// A connection that lived this long resets the backoff.
const STABLE_AFTER: Duration = Duration::from_secs(1);
/// Time allowed for a connection attempt.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Time allowed for writing one batch before the connection is taken for dead.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Bytes per write.
pub(super) const BATCH_BYTES: usize = 16 * 1024;
/// Writes younger than this are resent after a reconnect.
const TAIL_MAX_AGE: Duration = Duration::from_secs(2);
/// At most this many bytes are resent after a reconnect.
const TAIL_MAX_BYTES: usize = 256 * 1024;
/// At shutdown, how long to wait for carbon to close its side after our FIN.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// Recently written batches, resent after a reconnect.
#[derive(Debug, Default)]
struct Tail {
    chunks: VecDeque<(Instant, Vec<u8>)>,
    bytes: usize,
}

impl Tail {
    fn push(&mut self, bytes: Vec<u8>) {
        self.bytes += bytes.len();
        self.chunks.push_back((Instant::now(), bytes));
        self.prune(Instant::now());
    }

    fn prune(&mut self, now: Instant) {
        while let Some((at, chunk)) = self.chunks.front() {
            if self.bytes <= TAIL_MAX_BYTES && now.duration_since(*at) <= TAIL_MAX_AGE {
                break;
            }
            self.bytes -= chunk.len();
            self.chunks.pop_front();
        }
    }
}

/// How a connection ended.
#[derive(Debug)]
enum End {
    /// Every handle is gone and everything was written.
    Finished,
    /// The connection died; the reason is for the log.
    Died(String),
}

pub(super) struct Writer {
    shared: Arc<Shared>,
    tail: Tail,
    connect_log: LogLimit,
}

impl Writer {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        Writer {
            shared,
            tail: Tail::default(),
            connect_log: LogLimit::new(Duration::from_secs(60)),
        }
    }

    pub(super) async fn run(mut self) {
        let (host, port) = (self.shared.config.host.clone(), self.shared.config.port);
        let metrics = self.shared.metrics.clone();
        let mut backoff = BACKOFF_MIN;
        let mut connected_once = false;
        let mut failures = 0u32;
        let mut attempts_after_close = 0u32;
        loop {
            let closed = self.shared.closed();
            if closed {
                if self.shared.lock().lines.is_empty() {
                    break;
                }
                attempts_after_close += 1;
                if attempts_after_close > 3 {
                    self.shared.abandon();
                    break;
                }
            }
            let stream = match connect(&host, port).await {
                Ok(s) => s,
                Err(e) => {
                    failures += 1;
                    if closed {
                        tracing::warn!(%host, port, error = %e, "cannot reach carbon at shutdown");
                        self.shared.abandon();
                        break;
                    }
                    if let Some(n) = self.connect_log.hit(1) {
                        let buffered = self.shared.lock().lines.len();
                        tracing::warn!(%host, port, error = %e, failed_attempts = n, buffered, "cannot connect to carbon; retrying");
                    } else {
                        tracing::debug!(%host, port, error = %e, attempts = failures, "cannot connect to carbon");
                    }
                    self.sleep_unless_closed(backoff).await;
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                    continue;
                }
            };
            failures = 0;
            metrics.graphite_connected.set(1);
            if connected_once {
                metrics.graphite_reconnects.inc();
            }
            connected_once = true;
            tracing::info!(%host, port, "connected to carbon");
            let started = Instant::now();
            let end = self.serve(stream).await;
            metrics.graphite_connected.set(0);
            match end {
                End::Finished => {
                    tracing::info!(%host, port, "carbon output closed");
                    break;
                }
                End::Died(reason) => {
                    tracing::warn!(%host, port, %reason, buffered = self.shared.lock().lines.len(), "connection to carbon lost; reconnecting");
                    self.tail.prune(Instant::now());
                    if started.elapsed() >= STABLE_AFTER {
                        backoff = BACKOFF_MIN;
                    } else {
                        self.sleep_unless_closed(backoff).await;
                        backoff = (backoff * 2).min(BACKOFF_MAX);
                    }
                }
            }
        }
        self.shared.progress.notify_waiters();
    }

    /// Sleeps `d`, or less if the last handle is dropped meanwhile.
    async fn sleep_unless_closed(&self, d: Duration) {
        let _ = tokio::time::timeout(d, async {
            loop {
                let woken = self.shared.data.notified();
                if self.shared.closed() {
                    return;
                }
                woken.await;
            }
        })
        .await;
    }

    /// Writes on one connection until it dies or the sink is finished.
    async fn serve(&mut self, stream: TcpStream) -> End {
        tune_socket(&stream);
        let (mut rd, mut wr) = stream.into_split();
        if !self.tail.chunks.is_empty() {
            let (bytes, chunks) = (self.tail.bytes, self.tail.chunks.len());
            for (at, chunk) in self.tail.chunks.iter_mut() {
                match tokio::time::timeout(WRITE_TIMEOUT, wr.write_all(chunk)).await {
                    Ok(Ok(())) => *at = Instant::now(),
                    Ok(Err(e)) => return End::Died(format!("resending recent writes: {e}")),
                    Err(_) => return End::Died("resending recent writes timed out".into()),
                }
            }
            tracing::info!(
                bytes,
                chunks,
                "resent the recent tail of writes after reconnecting (duplicates are harmless)"
            );
        }
        loop {
            if let Some(reason) = peer_gone(&rd) {
                return End::Died(reason);
            }
            let Some((bytes, n)) = self.shared.take_batch() else {
                if self.shared.closed() {
                    close_gracefully(&mut rd, &mut wr).await;
                    return End::Finished;
                }
                let woken = self.shared.data.notified();
                tokio::select! {
                    _ = woken => {}
                    r = rd.readable() => {
                        if let Err(e) = r {
                            return End::Died(e.to_string());
                        }
                        // `peer_gone` at the top of the loop tells EOF from stray bytes.
                    }
                }
                continue;
            };
            match tokio::time::timeout(WRITE_TIMEOUT, wr.write_all(&bytes)).await {
                Ok(Ok(())) => {
                    self.shared.commit(n);
                    self.tail.push(bytes);
                }
                Ok(Err(e)) => {
                    self.shared.release();
                    return End::Died(e.to_string());
                }
                Err(_) => {
                    self.shared.release();
                    return End::Died(format!("a write took longer than {WRITE_TIMEOUT:?}"));
                }
            }
        }
    }
}

/// Connects, bounded in time.
async fn connect(host: &str, port: u16) -> std::io::Result<TcpStream> {
    match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect((host, port))).await {
        Ok(r) => r,
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "connect timed out",
        )),
    }
}

/// Keepalive (and on Linux a user timeout) so a silent peer is noticed.
fn tune_socket(stream: &TcpStream) {
    let sock = socket2::SockRef::from(stream);
    let keepalive = socket2::TcpKeepalive::new().with_time(Duration::from_secs(30));
    #[cfg(target_os = "linux")]
    let keepalive = keepalive.with_interval(Duration::from_secs(10));
    if let Err(e) = sock.set_tcp_keepalive(&keepalive) {
        tracing::debug!(error = %e, "cannot set TCP keepalive on the carbon connection");
    }
    #[cfg(target_os = "linux")]
    if let Err(e) = sock.set_tcp_user_timeout(Some(Duration::from_secs(30))) {
        tracing::debug!(error = %e, "cannot set TCP_USER_TIMEOUT on the carbon connection");
    }
}

/// Without waiting: why the peer is gone, if it is (EOF or an error). Carbon sends nothing, so
/// any bytes read are discarded.
fn peer_gone(rd: &OwnedReadHalf) -> Option<String> {
    let mut scratch = [0u8; 512];
    loop {
        match rd.try_read(&mut scratch) {
            Ok(0) => return Some("carbon closed the connection".into()),
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return None,
            Err(e) => return Some(e.to_string()),
        }
    }
}

/// Half-closes and waits (bounded) for carbon to close its side: once it has, it has read
/// everything we wrote.
async fn close_gracefully(rd: &mut OwnedReadHalf, wr: &mut OwnedWriteHalf) {
    if let Err(e) = wr.shutdown().await {
        tracing::debug!(error = %e, "shutting down the carbon connection");
        return;
    }
    let waited = tokio::time::timeout(CLOSE_WAIT, async {
        let mut scratch = [0u8; 512];
        loop {
            match tokio::io::AsyncReadExt::read(rd, &mut scratch).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    if waited.is_err() {
        tracing::debug!("carbon did not close its side within {CLOSE_WAIT:?}");
    }
}

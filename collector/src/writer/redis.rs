//! The Redis sink: one connection, many pipelines in flight, reconnect with backoff, and
//! nothing dropped that was accepted, short of a permanent refusal by Redis.
//!
//! Listeners encode their batches (in parallel, on their own tasks) and hand the bytes over; the
//! sink only concatenates commands into pipelines of at most `pipeline_size`, sends a pipeline
//! when it is full or its oldest command has waited `flush_interval_ms`, and matches replies to
//! commands in order. A command leaves the sink's hands only when Redis has answered it; after a
//! lost connection every unanswered command is sent again (appends are deduplicated on read,
//! the rest is idempotent).
//!
//! Writing, reading replies and taking new batches go on together in one loop, so a Redis
//! that stops taking bytes is noticed in the middle of a write as surely as one that stops
//! answering: see [`link`](super::link) for what the sink promises then.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use am_store::resp::{Value, parse_reply_at};
use am_store::unix_now;
use am_store::writer::{Cmd, ModelTable, Outcome, encode_trim, on_reply};
use bytes::Buf;
use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use super::{Buffer, link};
use crate::config::RedisSinkConfig;
use crate::metrics::Metrics;
use am_daemon::text::escaped;

/// How often names of expired series are trimmed from the index.
const TRIM_EVERY: Duration = Duration::from_secs(60);
/// Most bytes of pipelines queued for the socket at once; more wait as commands, so the copy
/// stays small while Redis is slow.
const OUT_MAX: usize = 4 << 20;

/// How a connection to Redis ended.
#[derive(Debug)]
enum Lost {
    /// Redis stopped answering or taking bytes for `timeout_secs`.
    Timeout(String),
    /// The connection failed or Redis closed it.
    Failed(String),
}

impl std::fmt::Display for Lost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Lost::Timeout(e) | Lost::Failed(e) => f.write_str(e),
        }
    }
}

/// Commands encoded by a listener, with the buffer bytes charged for them.
#[derive(Debug)]
pub struct EncodedBatch {
    /// The encoded commands, back to back.
    pub bytes: Bytes,
    /// What each command is, with its byte range in `bytes`.
    pub cmds: Vec<Cmd>,
}

/// What listeners hold to reach the sink.
#[derive(Debug, Clone)]
pub struct WriterHandle {
    tx: mpsc::UnboundedSender<EncodedBatch>,
    /// The bound on buffered bytes (charge before [`WriterHandle::send`]).
    pub buffer: Arc<Buffer>,
}

impl WriterHandle {
    /// Hands over a batch whose `bytes.len()` has been charged to [`WriterHandle::buffer`].
    /// Returns false once the sink has stopped (the caller gives the charge back).
    pub fn send(&self, batch: EncodedBatch) -> bool {
        let n = batch.bytes.len() as u64;
        if self.tx.send(batch).is_err() {
            self.buffer.release(n);
            return false;
        }
        true
    }
}

/// A listener's batch (or a group of follow-ups) on its way to Redis. Commands are sent and
/// answered in order; the segment is kept until its last command is answered, so anything
/// unanswered when a connection drops can be sent again.
#[derive(Debug)]
struct Segment {
    bytes: Bytes,
    cmds: Vec<Cmd>,
    /// Whether its bytes count against the buffer (follow-ups do not).
    charged: bool,
    /// Commands before this index went out on a connection that was lost.
    resend_below: usize,
    sent: usize,
    answered: usize,
}

impl Segment {
    fn unsent(&self) -> usize {
        self.cmds.len() - self.sent
    }
}

/// The sink task's state.
#[derive(Debug)]
pub struct RedisWriter {
    config: RedisSinkConfig,
    table: ModelTable,
    rx: mpsc::UnboundedReceiver<EncodedBatch>,
    buffer: Arc<Buffer>,
    metrics: Arc<Metrics>,
    segs: VecDeque<Segment>,
    /// Commands accepted and not yet sent on the current connection.
    unsent: usize,
    /// Since when the oldest unsent command has waited.
    unsent_since: Option<Instant>,
    sent_total: u64,
    answered_total: u64,
    /// (commands sent when the pipeline went out, when): for the latency histogram.
    pipelines: VecDeque<(u64, Instant)>,
    retry_at: Option<Instant>,
    retry_backoff: Duration,
    /// Follow-ups (expiry, index) are waiting: send without waiting for the flush interval, so
    /// a new chunk is without its expiry for one round trip, not a flush interval.
    urgent: bool,
    open: bool,
    connected_once: bool,
}

impl RedisWriter {
    /// Creates the sink and the handle listeners use to reach it.
    pub fn new(
        config: RedisSinkConfig,
        table: ModelTable,
        metrics: Arc<Metrics>,
    ) -> (RedisWriter, WriterHandle) {
        let (tx, rx) = mpsc::unbounded_channel();
        let buffer = Arc::new(Buffer::new(
            config.buffer_max_bytes,
            config.buffer_max_seconds,
            metrics.clone(),
        ));
        let handle = WriterHandle {
            tx,
            buffer: buffer.clone(),
        };
        let writer = RedisWriter {
            config,
            table,
            rx,
            buffer,
            metrics,
            segs: VecDeque::new(),
            unsent: 0,
            unsent_since: None,
            sent_total: 0,
            answered_total: 0,
            pipelines: VecDeque::new(),
            retry_at: None,
            retry_backoff: Duration::from_millis(100),
            urgent: false,
            open: true,
            connected_once: false,
        };
        (writer, handle)
    }

    fn idle(&self) -> bool {
        !self.open && self.segs.is_empty()
    }

    fn push_segment(&mut self, bytes: Bytes, cmds: Vec<Cmd>, charged: bool) {
        if cmds.is_empty() {
            if charged {
                self.buffer.release(bytes.len() as u64);
            }
            return;
        }
        if self.unsent == 0 {
            self.unsent_since = Some(Instant::now());
        }
        self.unsent += cmds.len();
        self.segs.push_back(Segment {
            bytes,
            cmds,
            charged,
            resend_below: 0,
            sent: 0,
            answered: 0,
        });
    }

    fn accept(&mut self, batch: EncodedBatch) {
        self.push_segment(batch.bytes, batch.cmds, true);
    }

    /// Runs until every listener handle is dropped and everything accepted is answered.
    pub async fn run(mut self) {
        let mut backoff = Duration::from_millis(100);
        let timeout = Duration::from_secs(self.config.timeout_secs.max(1));
        loop {
            if self.idle() {
                return;
            }
            let addr = self.config.addr();
            match link::connect(&addr, timeout).await {
                Ok(conn) => {
                    backoff = Duration::from_millis(100);
                    if self.connected_once {
                        self.metrics.redis_reconnects.inc();
                    }
                    self.connected_once = true;
                    self.metrics.redis_connected.set(1);
                    tracing::info!(redis = %addr, "connected to Redis");
                    let reason = self.session(conn, timeout).await;
                    self.metrics.redis_connected.set(0);
                    self.metrics.redis_unwritten_bytes.set(0);
                    let unanswered = self.sent_total - self.answered_total;
                    match reason {
                        Ok(()) => return,
                        Err(Lost::Timeout(e)) => {
                            self.metrics.redis_timeouts.inc();
                            tracing::warn!(redis = %addr, error = %e, unanswered, timeout_secs = timeout.as_secs(), "Redis stopped answering; dropped the connection, unanswered commands will be sent again");
                        }
                        Err(Lost::Failed(e)) => {
                            tracing::warn!(redis = %addr, error = %e, unanswered, "lost Redis connection; unanswered commands will be sent again");
                        }
                    }
                    self.metrics.redis_retries.add(unanswered);
                    // Everything unanswered goes out again, first, on the next connection.
                    for seg in &mut self.segs {
                        seg.resend_below = seg.resend_below.max(seg.sent);
                        self.unsent += seg.sent - seg.answered;
                        seg.sent = seg.answered;
                    }
                    self.sent_total = self.answered_total;
                    self.pipelines.clear();
                    if self.unsent > 0 {
                        self.unsent_since = Some(Instant::now());
                    }
                }
                Err(e) => {
                    tracing::warn!(redis = %addr, error = %e, retry_in_ms = backoff.as_millis() as u64, buffered_bytes = self.buffer.used(), "cannot reach Redis; buffering");
                    // Keep taking batches while we wait, so the buffer bound (not the channel)
                    // decides when listeners stop.
                    let until = tokio::time::Instant::now() + backoff;
                    while tokio::time::Instant::now() < until {
                        tokio::select! {
                            msg = self.rx.recv(), if self.open => match msg {
                                Some(b) => self.accept(b),
                                None => self.open = false,
                            },
                            _ = tokio::time::sleep_until(until) => {}
                        }
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    /// Appends up to `pipeline_size` unsent commands to `wbuf`; returns how many.
    fn next_pipeline(&mut self, wbuf: &mut BytesMut) -> usize {
        let mut budget = self.config.pipeline_size;
        let mut taken = 0;
        for seg in self.segs.iter_mut() {
            if budget == 0 {
                break;
            }
            let n = seg.unsent().min(budget);
            if n == 0 {
                continue;
            }
            let first = &seg.cmds[seg.sent];
            let last = &seg.cmds[seg.sent + n - 1];
            if let Some(bytes) = seg.bytes.get(first.range.start..last.range.end) {
                wbuf.extend_from_slice(bytes);
            }
            seg.sent += n;
            budget -= n;
            taken += n;
        }
        self.unsent -= taken;
        taken
    }

    /// Works one connection until it is lost (Err) or the sink is done (Ok).
    async fn session(
        &mut self,
        (stream, mut rbuf): (TcpStream, BytesMut),
        timeout: Duration,
    ) -> Result<(), Lost> {
        let (mut rd, mut wr) = stream.into_split();
        // Pipelines sent (counted in `sent_total`) whose bytes the socket has not taken yet.
        let mut out = BytesMut::with_capacity(1 << 20);
        let mut follow = BytesMut::new();
        let mut follow_cmds: Vec<Cmd> = Vec::new();
        let flush_every = Duration::from_millis(self.config.flush_interval_ms.max(1));
        let max_inflight = self
            .config
            .pipeline_size
            .saturating_mul(self.config.max_in_flight) as u64;
        let mut ticker = tokio::time::interval(Duration::from_secs(1));
        let mut last_tick = Instant::now();
        let mut last_trim = Instant::now() - TRIM_EVERY;
        let mut last_reply = Instant::now();
        let mut last_taken = Instant::now();
        loop {
            if self.idle() {
                return Ok(());
            }
            // Queue every pipeline that is due.
            loop {
                let now = Instant::now();
                let due = self.unsent >= self.config.pipeline_size
                    || self.urgent
                    || !self.open
                    || self.unsent_since.is_some_and(|t| now >= t + flush_every);
                let paused = self.retry_at.is_some_and(|t| now < t);
                let inflight = self.sent_total - self.answered_total;
                if self.unsent == 0
                    || !due
                    || paused
                    || inflight >= max_inflight
                    || out.len() >= OUT_MAX
                {
                    break;
                }
                if inflight == 0 {
                    last_reply = now;
                }
                if out.is_empty() {
                    last_taken = now;
                }
                let n = self.next_pipeline(&mut out);
                self.sent_total += n as u64;
                self.pipelines.push_back((self.sent_total, now));
                self.unsent_since = (self.unsent > 0).then_some(now);
                self.urgent &= self.unsent > 0;
            }
            self.metrics.redis_unwritten_bytes.set(out.len() as u64);
            let deadline = match (self.unsent_since, self.retry_at) {
                (_, Some(r)) if self.unsent > 0 => Some(r.max(Instant::now())),
                (Some(q), _) => Some(q + flush_every),
                _ => None,
            };
            // Dead: sent commands unanswered, or queued bytes untaken, for `timeout`.
            let unanswered_at =
                (self.sent_total > self.answered_total).then_some(last_reply + timeout);
            let untaken_at = (!out.is_empty()).then_some(last_taken + timeout);
            let dead_at = match (unanswered_at, untaken_at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let mut dead = None;
            tokio::select! {
                written = wr.write(&out), if !out.is_empty() => match written {
                    Ok(0) => return Err(Lost::Failed("Redis closed the connection".into())),
                    Ok(n) => {
                        out.advance(n);
                        last_taken = Instant::now();
                    }
                    Err(e) => return Err(Lost::Failed(format!("write: {e}"))),
                },
                read = rd.read_buf(&mut rbuf) => {
                    match read {
                        Ok(0) => return Err(Lost::Failed("Redis closed the connection".into())),
                        Err(e) => return Err(Lost::Failed(format!("read: {e}"))),
                        Ok(_) => {}
                    }
                    last_reply = Instant::now();
                    let wall = unix_now();
                    let mut stored = 0u64;
                    let mut pos = 0;
                    while let Some(reply) = parse_reply_at(&rbuf, &mut pos).map_err(|e| Lost::Failed(e.to_string()))? {
                        stored += self.settle(&reply, wall, &mut follow, &mut follow_cmds).map_err(Lost::Failed)?;
                    }
                    rbuf.advance(pos);
                    self.metrics.stored.add(stored);
                    if !follow_cmds.is_empty() {
                        let cmds = std::mem::take(&mut follow_cmds);
                        self.push_segment(follow.split().freeze(), cmds, false);
                        self.urgent = true;
                    }
                }
                msg = self.rx.recv(), if self.open => match msg {
                    Some(b) => self.accept(b),
                    None => self.open = false,
                },
                _ = ticker.tick() => {
                    let now = Instant::now();
                    self.buffer.update_limit(now.duration_since(last_tick).as_secs_f64());
                    last_tick = now;
                    if now.duration_since(last_trim) >= TRIM_EVERY {
                        last_trim = now;
                        encode_trim(&self.table, unix_now(), &mut follow, &mut follow_cmds);
                        let cmds = std::mem::take(&mut follow_cmds);
                        self.push_segment(follow.split().freeze(), cmds, false);
                    }
                    self.shrink_idle_queues();
                }
                _ = sleep_until_opt(deadline) => {}
                _ = sleep_until_opt(dead_at) => {
                    dead = Some(if out.is_empty() {
                        format!("no reply for {} s", timeout.as_secs())
                    } else {
                        format!(
                            "no reply for {} s, {} bytes not taken by the socket",
                            Instant::now().duration_since(last_reply).as_secs(),
                            out.len()
                        )
                    });
                }
            }
            if let Some(why) = dead {
                link::abort(wr.as_ref());
                return Err(Lost::Timeout(why));
            }
        }
    }

    /// Gives back the memory of queues a burst left large once they are empty again.
    fn shrink_idle_queues(&mut self) {
        if self.segs.is_empty() && self.segs.capacity() > 1024 {
            self.segs.shrink_to(64);
        }
        if self.pipelines.is_empty() && self.pipelines.capacity() > 1024 {
            self.pipelines.shrink_to(64);
        }
    }

    /// Applies one reply to the oldest unanswered command; returns the points it stored.
    fn settle(
        &mut self,
        reply: &Value,
        wall: i64,
        follow: &mut BytesMut,
        cmds: &mut Vec<Cmd>,
    ) -> Result<u64, String> {
        let Some(seg) = self.segs.front_mut() else {
            return Err("reply without a command".into());
        };
        if seg.answered >= seg.sent {
            return Err("reply without a command".into());
        }
        let i = seg.answered;
        seg.answered += 1;
        self.answered_total += 1;
        if self
            .pipelines
            .front()
            .is_some_and(|(mark, _)| *mark <= self.answered_total)
            && let Some((_, at)) = self.pipelines.pop_front()
        {
            self.metrics.redis_write_latency.observe(at.elapsed());
        }
        let cmd = &seg.cmds[i];
        let bytes = seg.bytes.get(cmd.range.clone()).unwrap_or_default();
        let outcome = on_reply(
            &self.table,
            cmd,
            bytes,
            reply,
            i < seg.resend_below,
            wall,
            follow,
            cmds,
        );
        let mut stored = 0;
        let mut retry = None;
        match outcome {
            Outcome::Stored(n) => {
                stored = u64::from(n);
                self.retry_backoff = Duration::from_millis(100);
            }
            Outcome::Done | Outcome::Replaced => {}
            Outcome::Trimmed(n) => {
                self.metrics
                    .index_trimmed
                    .add(u64::try_from(n).unwrap_or(0));
            }
            Outcome::Retry(error) => {
                self.metrics.redis_retries.inc();
                let wait = self.retry_backoff;
                self.retry_backoff = (self.retry_backoff * 2).min(Duration::from_secs(5));
                self.retry_at = Some(Instant::now() + wait);
                tracing::warn!(error = %escaped(&error), retry_in_ms = wait.as_millis() as u64, "Redis refused a write for now; will retry");
                let mut again = cmd.clone();
                again.range = 0..bytes.len();
                retry = Some((Bytes::copy_from_slice(bytes), again));
            }
            Outcome::Failed { points, error } => {
                if points > 0 {
                    self.metrics.dropped_redis_error.add(u64::from(points));
                    tracing::error!(error = %escaped(&error), points, "Redis refused points; they are dropped");
                } else {
                    self.metrics.redis_housekeeping_errors.inc();
                    tracing::warn!(error = %escaped(&error), "Redis refused a housekeeping command");
                }
            }
        }
        if seg.answered == seg.cmds.len() {
            let charge = if seg.charged {
                seg.bytes.len() as u64
            } else {
                0
            };
            self.segs.pop_front();
            self.buffer.release(charge);
        }
        if let Some((bytes, cmd)) = retry {
            // The retried command is charged again by nobody: its segment's charge is only
            // released once it is answered, because the copy keeps the segment's size counted.
            self.push_segment(bytes, vec![cmd], false);
        }
        Ok(stored)
    }
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d.into()).await,
        None => std::future::pending().await,
    }
}

//! The Redis sink: many pipelines in flight, reconnect with backoff, and nothing dropped that
//! was accepted, short of a permanent refusal by Redis.
//!
//! Listeners encode their batches (in parallel, on their own tasks) and hand the commands
//! over; the sink groups them into pipelines of at most `pipeline_size` — one queue per shard
//! of the layout on a Redis Cluster, so each pipeline goes to one node, one queue otherwise —
//! sends a pipeline when it is full or its oldest command has waited `flush_interval_ms`,
//! and keeps up to `max_in_flight` pipelines' worth of commands unanswered. A command leaves
//! the sink's hands only when Redis has answered it; after a lost connection every unanswered
//! command is sent again (appends are deduplicated on read, the rest is idempotent).
//!
//! The connection is the `redis` crate's ([`am_store::Conn`]): TLS, ACL users, the master
//! Sentinel names (asked again at each reconnection, so a failover is followed) or a
//! cluster's nodes. See [`link`](super::link) for what the sink promises when Redis stops
//! answering.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use am_store::keys::SHARDS;
use am_store::redis;
use am_store::resp::Value;
use am_store::writer::{Cmd, Meta, ModelTable, encode_trim};
use am_store::{Conn, Pipe, unix_now};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::sync::mpsc;

use super::{Buffer, link};

mod flight;
mod settle;

use crate::config::RedisSinkConfig;
use crate::metrics::Metrics;
use flight::{Confirm, Flight, WAIT_MS, Waiting};

/// How often names of expired series are trimmed from the index.
const TRIM_EVERY: Duration = Duration::from_secs(60);

/// How a connection to Redis ended.
#[derive(Debug)]
enum Lost {
    /// Redis stopped answering for `timeout_secs`.
    Timeout(String),
    /// The connection failed or Redis closed it.
    Failed(String),
}

/// Commands encoded by a listener, with the buffer bytes charged for them (the sum of
/// [`Cmd::size`]).
#[derive(Debug)]
pub struct EncodedBatch {
    /// The commands.
    pub cmds: Vec<Cmd>,
    /// Bytes charged to the buffer.
    pub bytes: u64,
}

impl EncodedBatch {
    /// Wraps commands, charging each its size.
    pub fn new(cmds: Vec<Cmd>) -> EncodedBatch {
        let bytes = cmds.iter().map(|c| c.size() as u64).sum();
        EncodedBatch { cmds, bytes }
    }
}

/// What listeners hold to reach the sink.
#[derive(Debug, Clone)]
pub struct WriterHandle {
    tx: mpsc::UnboundedSender<EncodedBatch>,
    /// The bound on buffered bytes (charge before [`WriterHandle::send`]).
    pub buffer: Arc<Buffer>,
}

impl WriterHandle {
    /// Hands over a batch whose `bytes` have been charged to [`WriterHandle::buffer`].
    /// Returns false once the sink has stopped (the caller gives the charge back).
    pub fn send(&self, batch: EncodedBatch) -> bool {
        let n = batch.bytes;
        if self.tx.send(batch).is_err() {
            self.buffer.release(n);
            return false;
        }
        true
    }
}

type Reply = (u64, Result<Vec<Value>, am_store::Error>);
type Sending = Pin<Box<dyn Future<Output = Reply> + Send>>;

/// The sink task's state.
#[derive(Debug)]
pub struct RedisWriter {
    config: RedisSinkConfig,
    table: ModelTable,
    rx: mpsc::UnboundedReceiver<EncodedBatch>,
    buffer: Arc<Buffer>,
    metrics: Arc<Metrics>,
    /// Waiting commands per group: per shard on a cluster, all in group 0 otherwise.
    queues: Vec<VecDeque<Waiting>>,
    /// Commands a cluster redirected (`MOVED`, `ASK`): sent one by one, so that the client
    /// follows the redirection and reads the cluster's new map.
    alone: VecDeque<Waiting>,
    /// Since when the oldest command of each group has waited.
    since: Vec<Option<Instant>>,
    waiting: usize,
    cluster: bool,
    flights: HashMap<u64, Flight>,
    next_flight: u64,
    inflight_cmds: usize,
    inflight_bytes: u64,
    retry_at: Option<Instant>,
    retry_backoff: Duration,
    /// Follow-ups (expiry, index) are waiting: send without waiting for the flush interval, so
    /// a new chunk is without its expiry for one round trip, not a flush interval.
    urgent: bool,
    open: bool,
    connected_once: bool,
    /// Confirmation on replicas is paused until then (a `WAIT` fell short).
    wait_paused_until: Option<Instant>,
    /// When an unreplicated warning was last logged, and points since.
    unreplicated_logged: Option<Instant>,
    unreplicated_since_log: u64,
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
        let groups = usize::from(SHARDS);
        let writer = RedisWriter {
            config,
            table,
            rx,
            buffer,
            metrics,
            queues: (0..groups).map(|_| VecDeque::new()).collect(),
            alone: VecDeque::new(),
            since: vec![None; groups],
            waiting: 0,
            cluster: false,
            flights: HashMap::new(),
            next_flight: 0,
            inflight_cmds: 0,
            inflight_bytes: 0,
            retry_at: None,
            retry_backoff: Duration::from_millis(100),
            urgent: false,
            open: true,
            connected_once: false,
            wait_paused_until: None,
            unreplicated_logged: None,
            unreplicated_since_log: 0,
        };
        (writer, handle)
    }

    fn idle(&self) -> bool {
        !self.open && self.waiting == 0 && self.alone.is_empty() && self.flights.is_empty()
    }

    fn group(&self, meta: &Meta) -> usize {
        if self.cluster {
            usize::from(meta.shard % SHARDS)
        } else {
            0
        }
    }

    fn enqueue(&mut self, w: Waiting, front: bool) {
        let g = self.group(&w.meta);
        if self.queues[g].is_empty() {
            self.since[g] = Some(Instant::now());
        }
        if front {
            self.queues[g].push_front(w);
        } else {
            self.queues[g].push_back(w);
        }
        self.waiting += 1;
    }

    fn accept(&mut self, batch: EncodedBatch) {
        for c in batch.cmds {
            let charge = c.size() as u32;
            self.enqueue(Waiting::new(c, charge), false);
        }
    }

    /// Puts every command in flight back at the front of its queue, in the order it was
    /// sent, to go out again first.
    fn requeue_flights(&mut self) -> u64 {
        let mut ids: Vec<u64> = self.flights.keys().copied().collect();
        ids.sort_unstable();
        let mut n = 0u64;
        for id in ids.into_iter().rev() {
            if let Some(f) = self.flights.remove(&id) {
                n += self.requeue(f);
            }
        }
        n
    }

    /// One flight's commands back at the front of their queue; returns how many.
    fn requeue(&mut self, f: Flight) -> u64 {
        self.inflight_cmds -= f.metas.len();
        self.inflight_bytes -= f.bytes;
        // The pipeline's own `WAIT`, if any, is not sent again.
        let cmds: Vec<redis::Cmd> = f.pipe.commands().take(f.metas.len()).cloned().collect();
        let n = cmds.len() as u64;
        for (cmd, (meta, charge, _)) in cmds.into_iter().zip(f.metas).rev() {
            self.enqueue(
                Waiting {
                    cmd,
                    meta,
                    charge,
                    resent: true,
                },
                true,
            );
        }
        n
    }

    /// Runs until every listener handle is dropped and everything accepted is answered.
    pub async fn run(mut self) {
        let mut backoff = Duration::from_millis(100);
        let timeout = Duration::from_secs(self.config.timeout_secs.max(1));
        let addr = self.config.addr();
        loop {
            if self.idle() {
                return;
            }
            match link::connect(&addr, timeout).await {
                Ok(conn) => {
                    backoff = Duration::from_millis(100);
                    if self.connected_once {
                        self.metrics.redis_reconnects.inc();
                    }
                    self.connected_once = true;
                    self.metrics.redis_connected.set(1);
                    tracing::info!(redis = %addr, "connected to Redis");
                    self.regroup(conn.is_cluster());
                    let reason = self.session(conn).await;
                    self.metrics.redis_connected.set(0);
                    let unanswered = self.requeue_flights();
                    self.metrics.redis_unwritten_bytes.set(0);
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

    /// Sorts the waiting commands into the queues a connection of this kind uses.
    fn regroup(&mut self, cluster: bool) {
        if self.cluster == cluster {
            return;
        }
        self.cluster = cluster;
        let all: Vec<Waiting> = self.queues.iter_mut().flat_map(|q| q.drain(..)).collect();
        self.waiting = 0;
        self.since.iter_mut().for_each(|s| *s = None);
        for w in all {
            self.enqueue(w, false);
        }
    }

    /// Sends the due pipelines, as many as the in-flight bound allows.
    fn launch(&mut self, conn: &Conn, sending: &mut FuturesUnordered<Sending>, flush: Duration) {
        let now = Instant::now();
        if self.retry_at.is_some_and(|t| now < t) {
            return;
        }
        let size = self.config.pipeline_size.max(1);
        let max_inflight = size.saturating_mul(self.config.max_in_flight.max(1));
        while self.inflight_cmds < max_inflight
            && let Some(w) = self.alone.pop_front()
        {
            let mut pipe = Pipe::new();
            pipe.add(w.cmd);
            let id = self.start(Flight {
                pipe: Arc::new(pipe),
                metas: vec![(w.meta, w.charge, w.resent)],
                bytes: u64::from(w.charge.max(1)),
                sent: now,
                confirm: Confirm::Off,
            });
            let (mut c, p) = (conn.clone(), self.flights[&id].pipe.clone());
            sending.push(Box::pin(async move {
                let reply = match p.commands().next() {
                    Some(cmd) => c.query(cmd).await.map(|v| vec![v]),
                    None => Ok(Vec::new()),
                };
                (id, reply)
            }));
        }
        for g in 0..self.queues.len() {
            while !self.queues[g].is_empty() && self.inflight_cmds < max_inflight {
                let due = self.queues[g].len() >= size
                    || self.urgent
                    || !self.open
                    || self.since[g].is_some_and(|t| now >= t + flush);
                if !due {
                    break;
                }
                let n = self.queues[g].len().min(size);
                let mut pipe = if self.cluster {
                    Pipe::for_shard(g as u16)
                } else {
                    Pipe::new()
                };
                let mut metas = Vec::with_capacity(n);
                let mut bytes = 0u64;
                for w in self.queues[g].drain(..n) {
                    bytes += u64::from(w.charge.max(1));
                    pipe.add(w.cmd);
                    metas.push((w.meta, w.charge, w.resent));
                }
                self.waiting -= n;
                self.since[g] = (!self.queues[g].is_empty()).then_some(now);
                let confirm = self.confirm(now);
                if confirm == Confirm::Wait {
                    let replicas = self.config.wait_replicas.to_string();
                    pipe.args(&[b"WAIT", replicas.as_bytes(), WAIT_MS]);
                }
                let pipe = Arc::new(pipe);
                let id = self.start(Flight {
                    pipe: pipe.clone(),
                    metas,
                    bytes,
                    sent: now,
                    confirm,
                });
                let mut c = conn.clone();
                sending.push(Box::pin(async move { (id, c.send(&pipe).await) }));
            }
        }
        self.urgent = false;
    }

    /// Whether a pipeline sent now is confirmed on replicas.
    fn confirm(&self, now: Instant) -> Confirm {
        if self.config.wait_replicas == 0 {
            Confirm::Off
        } else if self.wait_paused_until.is_some_and(|t| now < t) {
            Confirm::Paused
        } else {
            Confirm::Wait
        }
    }

    /// Records a flight as sent; returns its id.
    fn start(&mut self, flight: Flight) -> u64 {
        self.inflight_cmds += flight.metas.len();
        self.inflight_bytes += flight.bytes;
        let id = self.next_flight;
        self.next_flight += 1;
        self.flights.insert(id, flight);
        id
    }

    /// The next moment a queue falls due (its oldest command has waited the flush interval),
    /// or the end of a retry pause.
    fn next_due(&self, flush: Duration) -> Option<Instant> {
        let oldest = self.since.iter().flatten().min().map(|t| *t + flush);
        match (self.retry_at, oldest) {
            (Some(r), Some(_)) => Some(r.max(Instant::now())),
            (_, o) => o,
        }
    }

    /// Works one connection until it is lost (Err) or the sink is done (Ok).
    async fn session(&mut self, conn: Conn) -> Result<(), Lost> {
        let flush = Duration::from_millis(self.config.flush_interval_ms.max(1));
        let timeout = Duration::from_secs(self.config.timeout_secs.max(1));
        let mut sending: FuturesUnordered<Sending> = FuturesUnordered::new();
        let mut ticker = tokio::time::interval(Duration::from_secs(1));
        let mut last_tick = Instant::now();
        let mut last_trim = Instant::now() - TRIM_EVERY;
        // On a cluster a failing node fails only its pipelines; the connection is made again
        // when nothing has succeeded for `timeout`.
        let mut failing_since: Option<Instant> = None;
        loop {
            if self.idle() {
                return Ok(());
            }
            self.launch(&conn, &mut sending, flush);
            self.metrics.redis_unwritten_bytes.set(self.inflight_bytes);
            let deadline = self.next_due(flush);
            tokio::select! {
                Some((id, result)) = sending.next(), if !sending.is_empty() => {
                    let Some(flight) = self.flights.remove(&id) else { continue };
                    match result {
                        Ok(replies) => {
                            failing_since = None;
                            self.settle(flight, replies);
                        }
                        Err(e) => {
                            let lost = match &e {
                                am_store::Error::Timeout(m) => Lost::Timeout(m.clone()),
                                other => Lost::Failed(other.to_string()),
                            };
                            if !self.cluster {
                                self.flights.insert(id, flight);
                                return Err(lost);
                            }
                            let since = *failing_since.get_or_insert_with(Instant::now);
                            let n = self.requeue(flight);
                            self.metrics.redis_retries.add(n);
                            self.pause();
                            tracing::warn!(error = %e, commands = n, "a pipeline to a cluster node failed; it will be sent again");
                            if since.elapsed() >= timeout {
                                return Err(lost);
                            }
                        }
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
                        let mut trims = Vec::new();
                        encode_trim(&self.table, unix_now(), &mut trims);
                        for c in trims {
                            self.enqueue(Waiting::new(c, 0), false);
                        }
                    }
                    self.shrink_idle_queues();
                }
                _ = sleep_until_opt(deadline) => {}
            }
        }
    }

    /// A transient refusal: nothing goes out for a while (0.1 s doubling to 5 s).
    fn pause(&mut self) {
        let wait = self.retry_backoff;
        self.retry_backoff = (self.retry_backoff * 2).min(Duration::from_secs(5));
        self.retry_at = Some(Instant::now() + wait);
    }

    /// Gives back the memory of queues a burst left large once they are empty again.
    fn shrink_idle_queues(&mut self) {
        for q in &mut self.queues {
            if q.is_empty() && q.capacity() > 1024 {
                q.shrink_to(64);
            }
        }
        if self.flights.is_empty() && self.flights.capacity() > 1024 {
            self.flights.shrink_to(64);
        }
    }
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d.into()).await,
        None => std::future::pending().await,
    }
}

//! Plugins' output series to carbon: the plaintext protocol over one persistent TCP connection.
//!
//! [`GraphiteSink::start`] spawns one writer task and returns a [`GraphiteHandle`] (cheap to
//! clone) whose [`send`](GraphiteHandle::send) never blocks: it formats the points and appends
//! them to a bounded in-memory buffer. The writer takes batches from the front of the buffer
//! and a point leaves the buffer only once its batch has been written to the socket.
//!
//! **Reconnecting.** When carbon is unreachable the writer retries with a backoff of 100 ms
//! doubling to 5 s (reset after a connection that lived at least a second). Anything not yet
//! written stays buffered and goes first on the next connection.
//!
//! **The bound.** At most `buffer_max_points` points wait. Past it the *oldest* waiting points
//! are dropped (never the batch being written), counted in `points_dropped`, with a warning at
//! most every 10 s. Oldest, because after a long outage the recent analysis is what people
//! look at (and what alerts on); carbon-relay, by contrast, refuses new points when full.
//!
//! **What can still be lost.** The plaintext protocol has no acknowledgement: bytes accepted by
//! the kernel may still die with carbon (in our send buffer, in flight, or in carbon's receive
//! buffer, unread). To narrow that window the writer
//! - watches the socket for EOF/RST (carbon never sends anything, so a readable socket means
//!   the peer closed) and stops writing into a dead connection at once;
//! - sets TCP keepalive and, on Linux, `TCP_USER_TIMEOUT` (30 s) so a silent peer is noticed;
//! - keeps the tail of what it wrote (the last 2 s, at most 256 KiB) and writes it again first
//!   after a reconnect. A duplicate is harmless in Graphite (same name and timestamp overwrite),
//!   so a resent tail is better than a lost one. Resent points are not counted again in
//!   `points_sent`.
//!
//! Points written more than 2 s before carbon died, but never processed by it, are the
//! remaining risk.
//!
//! **Shutdown.** [`GraphiteHandle::flush`] waits until the buffer is empty. When the last
//! handle is dropped the writer writes what is left (one more connection attempt if it is
//! disconnected), half-closes the socket, waits up to 2 s for carbon to close its side (which
//! means carbon has read everything), and ends; points it could not write are counted in
//! `points_dropped`.
//!
//! Counters: `points_invalid` (NaN and infinite values, never sent), `points_sent`,
//! `points_dropped` (buffer overflow, points left at shutdown), `points_buffered`,
//! `graphite_connected`, `graphite_reconnects`. `points_emitted` is the caller's to count.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::{ConfigIssue, LogLimit};
use crate::metrics::RunnerMetrics;
use am_carbon::plaintext::{format_line, series_name};

/// `output_sink.GraphiteSink` in `analyzer.json`: where output series go. anna-molly's keys
/// (`host`, `port`, `prefix`, `url`) load unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GraphiteConfig {
    /// Host of carbon's plaintext receiver (carbon-cache, carbon-relay or carbon-c-relay).
    pub host: String,
    /// Port of carbon's plaintext receiver (`LINE_RECEIVER_PORT`), 2003 by default.
    #[serde(default = "default_port")]
    pub port: u16,
    /// First component of every output series name: `<prefix>.<Plugin>.<service>.<field>`.
    /// Empty (the default) means no prefix.
    #[serde(default)]
    pub prefix: String,
    /// Points kept in memory while carbon is unreachable, 1 000 000 by default; past it the
    /// oldest are dropped (and counted in `points_dropped`).
    #[serde(default = "default_buffer_max_points")]
    pub buffer_max_points: usize,
    /// Base URL of graphite-web (e.g. `http://graphite/`). Accepted for compatibility with
    /// anna-molly's analyzer.json; not used for writing.
    #[serde(default)]
    pub url: Option<String>,
}

fn default_port() -> u16 {
    2003
}

fn default_buffer_max_points() -> usize {
    1_000_000
}

impl GraphiteConfig {
    /// Checks values serde cannot; `path` is where this config sits (e.g.
    /// `output_sink.GraphiteSink`).
    pub fn validate(&self, path: &str) -> Vec<ConfigIssue> {
        let mut issues = Vec::new();
        if self.host.trim().is_empty() {
            issues.push(ConfigIssue::new(
                format!("{path}.host"),
                "must not be empty",
            ));
        }
        if self.port == 0 {
            issues.push(ConfigIssue::new(
                format!("{path}.port"),
                "must be 1..=65535",
            ));
        }
        if self.buffer_max_points == 0 {
            issues.push(ConfigIssue::new(
                format!("{path}.buffer_max_points"),
                "must be at least 1 (it bounds the points kept while carbon is down)",
            ));
        }
        issues
    }
}

/// One output point, ready for carbon.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputPoint {
    /// Full series name, already built with [`GraphiteHandle::name`] (it is sanitised again,
    /// for free when clean, so it can never break the protocol).
    pub name: String,
    /// The value; NaN and ±infinity are not sent (counted in `points_invalid`).
    pub value: f64,
    /// Seconds since the epoch.
    pub ts: i64,
}

/// Starts the writer task.
#[derive(Debug)]
pub struct GraphiteSink;

impl GraphiteSink {
    /// Spawns the writer on the current tokio runtime. It runs until every [`GraphiteHandle`]
    /// is dropped and what was buffered is written (or found unwritable).
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime (as `tokio::spawn`).
    pub fn start(
        config: GraphiteConfig,
        metrics: Arc<RunnerMetrics>,
    ) -> (GraphiteHandle, JoinHandle<()>) {
        let shared = Arc::new(Shared {
            max_points: config.buffer_max_points.max(1),
            config,
            metrics,
            queue: Mutex::new(Queue::default()),
            data: Notify::new(),
            progress: Notify::new(),
            handles: AtomicUsize::new(1),
            drop_log: LogLimit::new(Duration::from_secs(10)),
            invalid_log: LogLimit::new(Duration::from_secs(10)),
        });
        let task = tokio::spawn(writer::Writer::new(shared.clone()).run());
        (GraphiteHandle { shared }, task)
    }
}

/// Sends points to the writer task. Cloning is cheap; the writer ends once every clone is
/// dropped and the buffer is written.
#[derive(Debug)]
pub struct GraphiteHandle {
    shared: Arc<Shared>,
}

impl Clone for GraphiteHandle {
    fn clone(&self) -> Self {
        self.shared.handles.fetch_add(1, Ordering::Relaxed);
        GraphiteHandle {
            shared: self.shared.clone(),
        }
    }
}

impl Drop for GraphiteHandle {
    fn drop(&mut self) {
        if self.shared.handles.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.shared.lock().closed = true;
            self.shared.data.notify_one();
        }
    }
}

impl GraphiteHandle {
    /// The full series name `<prefix>.<plugin>.<service>.<field>`, sanitised.
    pub fn name(&self, plugin: &str, service: &str, field: &str) -> String {
        series_name(&self.shared.config.prefix, &[plugin, service, field])
    }

    /// Queues points for carbon without blocking (callable from any thread, inside a runtime
    /// or not). Non-finite values are dropped and counted; past the buffer bound the oldest
    /// waiting points are dropped and counted. Returns a mark for [`GraphiteHandle::written`].
    pub fn send(&self, points: Vec<OutputPoint>) -> WriteMark {
        let s = &*self.shared;
        let total = points.len();
        let lines: Vec<Box<str>> = points
            .iter()
            .filter_map(|p| format_line(&p.name, p.value, p.ts).map(String::into_boxed_str))
            .collect();
        let invalid = (total - lines.len()) as u64;
        if invalid > 0 {
            s.metrics.points_invalid.add(invalid);
            if let Some(n) = s.invalid_log.hit(invalid) {
                let example = points
                    .iter()
                    .find(|p| !p.value.is_finite())
                    .map(|p| p.name.as_str());
                tracing::warn!(
                    points = n,
                    example,
                    "output points with NaN or infinite values are not sent to carbon"
                );
            }
        }
        if lines.is_empty() {
            return WriteMark(0);
        }
        let mut dropped = 0u64;
        let mark;
        {
            let mut q = s.lock();
            for line in lines {
                if q.lines.len() >= s.max_points {
                    dropped += 1;
                    if q.lines.len() > q.in_flight {
                        // Drop the oldest point that is not being written right now.
                        let at = q.in_flight;
                        q.lines.remove(at);
                        q.seqs.remove(at);
                    } else {
                        // Everything buffered is being written: the new point goes.
                        continue;
                    }
                }
                q.next_seq += 1;
                let seq = q.next_seq;
                q.lines.push_back(line);
                q.seqs.push_back(seq);
            }
            mark = WriteMark(q.next_seq);
            s.metrics.points_buffered.set(q.lines.len() as u64);
        }
        if dropped > 0 {
            s.metrics.points_dropped.add(dropped);
            if let Some(n) = s.drop_log.hit(dropped) {
                tracing::warn!(
                    points = n,
                    buffer_max_points = s.max_points,
                    host = %s.config.host,
                    port = s.config.port,
                    "carbon output buffer full: oldest points dropped"
                );
            }
            s.progress.notify_waiters();
        }
        s.data.notify_one();
        mark
    }

    /// Waits until every point queued up to `mark` has left the buffer (written to carbon's
    /// socket, or dropped and counted), at most `timeout`. True if they have.
    pub fn written(
        &self,
        mark: WriteMark,
        timeout: Duration,
    ) -> impl Future<Output = bool> + Send + 'static {
        let shared = self.shared.clone();
        async move {
            let done = |q: &Queue| q.seqs.front().is_none_or(|&first| first > mark.0);
            let deadline = tokio::time::Instant::now() + timeout;
            loop {
                let progress = shared.progress.notified();
                tokio::pin!(progress);
                progress.as_mut().enable();
                if done(&shared.lock()) {
                    return true;
                }
                if tokio::time::timeout_at(deadline, progress).await.is_err() {
                    return done(&shared.lock());
                }
            }
        }
    }

    /// Waits until every buffered point has been written to carbon's socket, at most
    /// `timeout`. True when the buffer is empty.
    pub fn flush(&self, timeout: Duration) -> impl Future<Output = bool> + Send + 'static {
        let shared = self.shared.clone();
        async move {
            let deadline = tokio::time::Instant::now() + timeout;
            loop {
                let progress = shared.progress.notified();
                tokio::pin!(progress);
                progress.as_mut().enable();
                if shared.lock().lines.is_empty() {
                    return true;
                }
                if tokio::time::timeout_at(deadline, progress).await.is_err() {
                    return shared.lock().lines.is_empty();
                }
            }
        }
    }

    /// Points waiting (including the batch being written).
    pub fn buffered(&self) -> usize {
        self.shared.lock().lines.len()
    }
}

#[derive(Debug)]
struct Shared {
    config: GraphiteConfig,
    max_points: usize,
    metrics: Arc<RunnerMetrics>,
    queue: Mutex<Queue>,
    /// New points, or the last handle dropped: wakes the writer.
    data: Notify,
    /// Points written or dropped: wakes `flush`.
    progress: Notify,
    handles: AtomicUsize,
    drop_log: LogLimit,
    invalid_log: LogLimit,
}

/// Where a [`GraphiteHandle::send`] left the buffer: the sequence number of its last point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct WriteMark(u64);

/// The buffer: formatted lines, oldest first; the first `in_flight` are being written.
#[derive(Debug, Default)]
struct Queue {
    lines: VecDeque<Box<str>>,
    /// The sequence number of each line in `lines`.
    seqs: VecDeque<u64>,
    /// The last sequence number given out.
    next_seq: u64,
    in_flight: usize,
    closed: bool,
}

impl Shared {
    pub(super) fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Marks the next batch in flight and returns its bytes and point count.
    pub(super) fn take_batch(&self) -> Option<(Vec<u8>, usize)> {
        let mut q = self.lock();
        if q.lines.is_empty() {
            return None;
        }
        let mut bytes = Vec::with_capacity(writer::BATCH_BYTES + 256);
        let mut n = 0;
        for line in &q.lines {
            if bytes.len() >= writer::BATCH_BYTES {
                break;
            }
            bytes.extend_from_slice(line.as_bytes());
            n += 1;
        }
        q.in_flight = n;
        Some((bytes, n))
    }

    /// The batch in flight was written: it leaves the buffer.
    pub(super) fn commit(&self, n: usize) {
        {
            let mut q = self.lock();
            let n = n.min(q.lines.len());
            q.lines.drain(..n);
            q.seqs.drain(..n);
            q.in_flight = 0;
            self.metrics.points_sent.add(n as u64);
            self.metrics.points_buffered.set(q.lines.len() as u64);
        }
        self.progress.notify_waiters();
    }

    /// The batch in flight was not written: it stays first in the buffer.
    pub(super) fn release(&self) {
        self.lock().in_flight = 0;
    }

    pub(super) fn closed(&self) -> bool {
        self.lock().closed
    }

    /// At shutdown, whatever could not be written is dropped and counted.
    pub(super) fn abandon(&self) {
        let n = {
            let mut q = self.lock();
            let n = q.lines.len();
            q.lines.clear();
            q.seqs.clear();
            q.in_flight = 0;
            self.metrics.points_buffered.set(0);
            n
        };
        if n > 0 {
            self.metrics.points_dropped.add(n as u64);
            tracing::warn!(points = n, host = %self.config.host, port = self.config.port, "carbon unreachable at shutdown: buffered points dropped");
        }
        self.progress.notify_waiters();
    }
}

mod writer;

#[cfg(test)]
mod tests;

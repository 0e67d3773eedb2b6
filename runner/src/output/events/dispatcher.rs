//! One bounded queue and one task per event output.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio::task::JoinHandle;

use super::http::{HttpError, HttpTarget, parse_url, post_json};
use super::{EventOutputConfig, EventRecord, validate_outputs};
use crate::metrics::RunnerMetrics;
use crate::output::{ConfigIssue, LogLimit};

/// Retry timing (the defaults are what the runner uses; tests shorten them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DispatchOptions {
    /// Delay before the first retry, doubled for each next one (0.5 s).
    pub retry_base: Duration,
    /// Longest delay between retries (60 s).
    pub retry_max: Duration,
}

impl Default for DispatchOptions {
    fn default() -> Self {
        DispatchOptions {
            retry_base: Duration::from_millis(500),
            retry_max: Duration::from_secs(60),
        }
    }
}

/// Starts the event outputs.
#[derive(Debug)]
pub struct EventDispatcher;

impl EventDispatcher {
    /// Validates `outputs` and spawns one task per output on the current tokio runtime (must be
    /// called inside one). With no outputs, events are only logged.
    pub fn start(
        outputs: Vec<EventOutputConfig>,
        metrics: Arc<RunnerMetrics>,
    ) -> Result<EventsHandle, Vec<ConfigIssue>> {
        Self::start_with(outputs, metrics, DispatchOptions::default())
    }

    /// [`start`](Self::start) with other retry timing.
    pub fn start_with(
        outputs: Vec<EventOutputConfig>,
        metrics: Arc<RunnerMetrics>,
        options: DispatchOptions,
    ) -> Result<EventsHandle, Vec<ConfigIssue>> {
        let issues = validate_outputs(&outputs);
        if !issues.is_empty() {
            return Err(issues);
        }
        let mut queues = Vec::with_capacity(outputs.len());
        let mut tasks = Vec::with_capacity(outputs.len());
        for (index, config) in outputs.into_iter().enumerate() {
            let common = config.common();
            let target = parse_url(common.url).map_err(|e| {
                vec![ConfigIssue::new(
                    format!("event_outputs[{index}].{}.url", common.kind),
                    e,
                )]
            })?;
            let (tx, rx) = mpsc::channel(common.queue_max_events.max(1));
            let pending = Arc::new(AtomicU64::new(0));
            let output = Output {
                name: format!("{}[{index}] {}", common.kind, common.url),
                target,
                headers: common.headers.clone(),
                timeout: Duration::from_secs(common.timeout_secs.max(1)),
                max_retries: common.max_retries,
                extra_tags: match &config {
                    EventOutputConfig::GraphiteEvents(g) => Some(g.tags.clone()),
                    EventOutputConfig::Webhook(_) => None,
                },
                options,
                metrics: metrics.clone(),
                fail_log: LogLimit::new(Duration::from_secs(10)),
            };
            tracing::info!(output = %output.name, "event output started");
            queues.push(Queue {
                name: output.name.clone(),
                tx,
                pending: pending.clone(),
                drop_log: LogLimit::new(Duration::from_secs(10)),
            });
            tasks.push(tokio::spawn(output.run(rx, pending)));
        }
        Ok(EventsHandle {
            inner: Arc::new(Inner {
                queues: RwLock::new(queues),
                tasks: Mutex::new(tasks),
                metrics,
            }),
        })
    }
}

/// Emits events to every output. Cloning is cheap; all clones share the outputs.
#[derive(Debug, Clone)]
pub struct EventsHandle {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    queues: RwLock<Vec<Queue>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    metrics: Arc<RunnerMetrics>,
}

#[derive(Debug)]
struct Queue {
    name: String,
    tx: mpsc::Sender<Arc<EventRecord>>,
    /// Events queued or being delivered.
    pending: Arc<AtomicU64>,
    drop_log: LogLimit,
}

impl EventsHandle {
    /// Logs the event and queues it for every output, without blocking (callable from any
    /// thread). An output whose queue is full drops it and counts `events_dropped`.
    pub fn emit(&self, event: EventRecord) {
        tracing::info!(
            plugin = %event.plugin,
            service = %event.service,
            state = %event.state,
            severity = %event.severity,
            metric = %event.subject,
            reason = %event.reason,
            ts = event.ts,
            "event"
        );
        let queues = self.inner.queues.read().unwrap_or_else(|e| e.into_inner());
        if queues.is_empty() {
            return;
        }
        let event = Arc::new(event);
        for q in queues.iter() {
            q.pending.fetch_add(1, Ordering::Relaxed);
            let full = match q.tx.try_send(event.clone()) {
                Ok(()) => continue,
                Err(TrySendError::Full(_)) => true,
                Err(TrySendError::Closed(_)) => false,
            };
            q.pending.fetch_sub(1, Ordering::Relaxed);
            self.inner.metrics.events_dropped.inc();
            if let Some(n) = q.drop_log.hit(1) {
                let why = if full { "queue full" } else { "output stopped" };
                tracing::warn!(output = %q.name, events = n, why, "events dropped for an event output");
            }
        }
    }

    /// Events queued or being delivered, over all outputs.
    pub fn pending(&self) -> u64 {
        let queues = self.inner.queues.read().unwrap_or_else(|e| e.into_inner());
        queues
            .iter()
            .map(|q| q.pending.load(Ordering::Relaxed))
            .sum()
    }

    /// Stops accepting events and waits, at most `timeout`, for every output to deliver (or
    /// give up on) what it has queued. True when everything was handled in time; otherwise
    /// the outputs are stopped and what they still held is counted in `events_dropped`.
    /// Events emitted afterwards are only logged.
    pub async fn shutdown(&self, timeout: Duration) -> bool {
        let queues =
            std::mem::take(&mut *self.inner.queues.write().unwrap_or_else(|e| e.into_inner()));
        let tasks =
            std::mem::take(&mut *self.inner.tasks.lock().unwrap_or_else(|e| e.into_inner()));
        let pending: Vec<(String, Arc<AtomicU64>)> =
            queues.into_iter().map(|q| (q.name, q.pending)).collect(); // senders dropped here
        let deadline = tokio::time::Instant::now() + timeout;
        let mut all_done = true;
        for task in tasks {
            let abort = task.abort_handle();
            if tokio::time::timeout_at(deadline, task).await.is_err() {
                abort.abort();
                all_done = false;
            }
        }
        for (name, left) in pending {
            let left = left.load(Ordering::Relaxed);
            if left > 0 {
                self.inner.metrics.events_dropped.add(left);
                tracing::warn!(output = %name, events = left, "event output stopped at shutdown with events undelivered");
            }
        }
        all_done
    }
}

/// What to do after an attempt.
enum Verdict {
    Delivered,
    Retry(String),
    Fail(String),
}

fn verdict(result: Result<super::http::Response, HttpError>) -> Verdict {
    match result {
        Ok(r) if (200..300).contains(&r.status) => Verdict::Delivered,
        Ok(r) if r.status == 408 || r.status == 429 || r.status >= 500 => {
            Verdict::Retry(format!("HTTP {}", r.status))
        }
        Ok(r) => Verdict::Fail(format!("HTTP {} {}", r.status, r.snippet.trim())),
        Err(e) => Verdict::Retry(e.to_string()),
    }
}

/// One output's delivery task.
struct Output {
    name: String,
    target: HttpTarget,
    headers: BTreeMap<String, String>,
    timeout: Duration,
    max_retries: u32,
    /// `Some` for graphite-web's events API (with its extra tags), `None` for a webhook.
    extra_tags: Option<Vec<String>>,
    options: DispatchOptions,
    metrics: Arc<RunnerMetrics>,
    fail_log: LogLimit,
}

impl Output {
    async fn run(self, mut rx: mpsc::Receiver<Arc<EventRecord>>, pending: Arc<AtomicU64>) {
        while let Some(event) = rx.recv().await {
            self.deliver(&event).await;
            pending.fetch_sub(1, Ordering::Relaxed);
        }
        tracing::debug!(output = %self.name, "event output stopped");
    }

    async fn deliver(&self, event: &EventRecord) {
        let body = match &self.extra_tags {
            Some(tags) => serde_json::to_vec(&super::GraphiteEvent::of(event, tags)),
            None => serde_json::to_vec(event),
        };
        let body = match body {
            Ok(b) => b,
            Err(e) => {
                self.metrics.events_failed.inc();
                tracing::warn!(output = %self.name, error = %e, "cannot encode an event");
                return;
            }
        };
        let mut delay = self.options.retry_base;
        let mut attempt = 0u32;
        loop {
            let result = post_json(&self.target, &self.headers, &body, self.timeout).await;
            let why = match verdict(result) {
                Verdict::Delivered => {
                    self.metrics.events_delivered.inc();
                    tracing::debug!(output = %self.name, plugin = %event.plugin, service = %event.service, metric = %event.subject, attempts = attempt + 1, "event delivered");
                    return;
                }
                Verdict::Fail(why) => why,
                Verdict::Retry(why) if attempt < self.max_retries => {
                    attempt += 1;
                    self.metrics.events_retried.inc();
                    tracing::debug!(output = %self.name, error = %why, attempt, retry_in = ?delay, "event delivery failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(self.options.retry_max);
                    continue;
                }
                Verdict::Retry(why) => format!("{why} (after {attempt} retries)"),
            };
            self.metrics.events_failed.inc();
            if let Some(n) = self.fail_log.hit(1) {
                tracing::warn!(output = %self.name, error = %why, events = n, plugin = %event.plugin, service = %event.service, metric = %event.subject, "event delivery failed; event given up");
            }
            return;
        }
    }
}

//! Where the runner's results go: [`Outputs::deliver`] is the one delivery of a task's
//! result, used by the single-process runner and by the workers alike.
//!
//! - [`graphite`]: plugins' output series, written to carbon in the plaintext protocol
//!   (`name value timestamp\n`) over one persistent TCP connection, with a bounded buffer
//!   while carbon is unreachable ([`GraphiteSink`], [`GraphiteHandle`]).
//! - [`events`]: plugins' events, delivered to webhooks and graphite-web's events API, each
//!   output with its own bounded queue and retries ([`EventDispatcher`], [`EventsHandle`]).
//!
//! Nothing here blocks a plugin: [`GraphiteHandle::send`] and [`EventsHandle::emit`] only
//! queue; when a queue is full the oldest points (Graphite) or the new events (event outputs)
//! are dropped and counted in [`RunnerMetrics`](crate::metrics::RunnerMetrics).
//!
//! Config checks ([`GraphiteConfig::validate`], [`events::validate_outputs`]) return
//! [`ConfigIssue`]s naming a JSON path inside `analyzer.json`, for the config loader to report.

pub mod events;
pub mod graphite;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use events::{EventDispatcher, EventOutputConfig, EventRecord, EventsHandle};
pub use graphite::{GraphiteConfig, GraphiteHandle, GraphiteSink, OutputPoint, WriteMark};

use am_plugin_host::TaskResult;

use crate::metrics::RunnerMetrics;

/// The outputs a task's result goes to: carbon for its points, the event outputs for its
/// events.
#[derive(Debug, Clone)]
pub struct Outputs {
    graphite: GraphiteHandle,
    events: EventsHandle,
    metrics: Arc<RunnerMetrics>,
}

impl Outputs {
    /// Outputs writing to `graphite` and `events`, counting in `metrics`.
    pub fn new(
        graphite: GraphiteHandle,
        events: EventsHandle,
        metrics: Arc<RunnerMetrics>,
    ) -> Self {
        Outputs {
            graphite,
            events,
            metrics,
        }
    }

    /// The Graphite writer.
    pub fn graphite(&self) -> &GraphiteHandle {
        &self.graphite
    }

    /// The event outputs.
    pub fn events(&self) -> &EventsHandle {
        &self.events
    }

    /// Counts what a task read, failed and logged, and sends what it left (a failed task
    /// left nothing): its points to carbon, its events to every event output. Never blocks;
    /// the mark tells [`GraphiteHandle::written`] when carbon's socket took the points.
    pub fn deliver(&self, result: TaskResult) -> WriteMark {
        let m = &self.metrics;
        m.series_read.add(result.stats.series_read);
        m.store_errors.add(result.stats.store_errors);
        m.plugin_log_lines.add(result.stats.log_lines);
        m.points_emitted.add(result.emitted.len() as u64);
        let points: Vec<OutputPoint> = result
            .emitted
            .into_iter()
            .map(|e| OutputPoint {
                name: self.graphite.name(&e.plugin, &e.service, &e.field),
                value: e.value,
                ts: e.ts,
            })
            .collect();
        let mark = self.graphite.send(points);
        for event in result.verdicts {
            // The dispatcher logs every event it is given.
            m.events_emitted.inc();
            self.events.emit(event);
        }
        mark
    }
}

/// A problem in an output's config: where (a JSON path such as
/// `event_outputs[0].Webhook.url`) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    /// JSON path of the offending value inside `analyzer.json`.
    pub path: String,
    /// What is wrong and what was expected.
    pub message: String,
}

impl ConfigIssue {
    /// A problem at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigIssue {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

impl std::error::Error for ConfigIssue {}

/// Rate limit for a repeated warning: at most one log line per `every`, carrying how many
/// occurrences it covers.
#[derive(Debug)]
pub(crate) struct LogLimit {
    every: Duration,
    last: Mutex<Option<Instant>>,
    pending: AtomicU64,
}

impl LogLimit {
    /// A limit of one line per `every`.
    pub(crate) fn new(every: Duration) -> Self {
        LogLimit {
            every,
            last: Mutex::new(None),
            pending: AtomicU64::new(0),
        }
    }

    /// Records `n` occurrences; returns the number to report when a line is due now.
    pub(crate) fn hit(&self, n: u64) -> Option<u64> {
        self.pending.fetch_add(n, Ordering::Relaxed);
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if last.is_some_and(|t| now.duration_since(t) < self.every) {
            return None;
        }
        *last = Some(now);
        Some(self.pending.swap(0, Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_limit_reports_totals() {
        let l = LogLimit::new(Duration::from_secs(3600));
        assert_eq!(l.hit(2), Some(2));
        assert_eq!(l.hit(3), None);
        assert_eq!(l.hit(4), None);
        let l0 = LogLimit::new(Duration::ZERO);
        assert_eq!(l0.hit(1), Some(1));
        assert_eq!(l0.hit(5), Some(5));
    }

    #[test]
    fn issue_display() {
        let i = ConfigIssue::new("event_outputs[0].Webhook.url", "bad");
        assert_eq!(i.to_string(), "event_outputs[0].Webhook.url: bad");
    }
}

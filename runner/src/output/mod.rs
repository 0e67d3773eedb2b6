//! Where the runner's results go: [`Outputs::deliver`] is the one delivery of a task's
//! result, used by the single-process runner and by the workers alike.
//!
//! - [`graphite`]: plugins' output series, written to carbon in the plaintext protocol
//!   (`name value timestamp\n`) over one persistent TCP connection, with a bounded buffer
//!   while carbon is unreachable ([`GraphiteSink`], [`GraphiteHandle`]).
//! - verdicts go to the alarm layer ([`crate::alarm::Alarms`]), whose transitions the
//!   notifiers ([`crate::notify`]) deliver; the alarm states go to Graphite too.
//!
//! Nothing here blocks a plugin: [`GraphiteHandle::send`] only queues; when its buffer is full
//! the oldest points are dropped and counted in [`RunnerMetrics`](crate::metrics::RunnerMetrics).
//!
//! Config checks ([`GraphiteConfig::validate`], [`crate::notify::validate_outputs`]) return
//! [`ConfigIssue`]s naming a JSON path inside `analyzer.json`, for the config loader to report.

pub mod graphite;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use graphite::{GraphiteConfig, GraphiteHandle, GraphiteSink, OutputPoint, WriteMark};

use am_plugin_host::{Task, TaskResult};

use crate::alarm::{Alarms, Policy};

use crate::metrics::RunnerMetrics;

/// The outputs a task's result goes to: carbon for its points, the alarm layer for its
/// verdicts.
#[derive(Debug, Clone)]
pub struct Outputs {
    graphite: GraphiteHandle,
    alarms: Arc<Alarms>,
    metrics: Arc<RunnerMetrics>,
}

impl Outputs {
    /// Outputs writing to `graphite` and judging alarms with `alarms`, counting in `metrics`.
    pub fn new(graphite: GraphiteHandle, alarms: Arc<Alarms>, metrics: Arc<RunnerMetrics>) -> Self {
        Outputs {
            graphite,
            alarms,
            metrics,
        }
    }

    /// The Graphite writer.
    pub fn graphite(&self) -> &GraphiteHandle {
        &self.graphite
    }

    /// Counts what a task read, failed and logged; sends its points to carbon; applies its
    /// verdicts (or its failure) to its service's alarms under `policy`, and sends the alarm
    /// states to carbon too. The mark tells [`GraphiteHandle::written`] when carbon's socket
    /// took the points.
    pub async fn deliver(&self, task: &Task, policy: &Policy, result: TaskResult) -> WriteMark {
        let m = &self.metrics;
        m.series_read.add(result.stats.series_read);
        m.store_errors.add(result.stats.store_errors);
        m.plugin_log_lines.add(result.stats.log_lines);
        m.points_emitted.add(result.emitted.len() as u64);
        m.verdicts.add(result.verdicts.len() as u64);
        let states = self.alarms.judge(task, policy, &result).await;
        let mut points: Vec<OutputPoint> = result
            .emitted
            .into_iter()
            .map(|e| OutputPoint {
                name: self.graphite.name(&e.plugin, &e.service, &e.field),
                value: e.value,
                ts: e.ts,
            })
            .collect();
        points.extend(states.into_iter().map(|(subject, value, ts)| {
            OutputPoint {
                name: self
                    .graphite
                    .name(&task.plugin, &task.service, &format!("alarm.{subject}")),
                value,
                ts,
            }
        }));
        self.graphite.send(points)
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

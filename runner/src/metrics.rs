//! The runner's own metrics (served on `/metrics` with prefix `am_runner_`, and optionally sent
//! to Graphite).

use am_telemetry::{Counter, Gauge, Histogram, Sample, Telemetry};

/// Every counter of the runner.
#[derive(Debug, Default)]
pub struct RunnerMetrics {
    /// Ticks fired by the scheduler (one poll task each).
    pub ticks: Counter,
    /// Plugin tasks started.
    pub tasks_started: Counter,
    /// Plugin tasks that returned success.
    pub tasks_ok: Counter,
    /// Plugin tasks that returned an error.
    pub tasks_failed: Counter,
    /// Plugin tasks that panicked (the instance is rebuilt).
    pub tasks_panicked: Counter,
    /// Tasks not started because the previous run of the same service was still going.
    pub tasks_skipped: Counter,
    /// Plugins loaded at start.
    pub plugins_loaded: Gauge,
    /// Files in the plugin folder that were skipped (not a plugin, wrong ABI, ...).
    pub plugins_skipped: Gauge,
    /// Series read by plugins.
    pub series_read: Counter,
    /// Reads from the metric store that failed.
    pub store_errors: Counter,
    /// Output points emitted by plugins.
    pub points_emitted: Counter,
    /// Output points written to carbon's socket.
    pub points_sent: Counter,
    /// Output points dropped: the buffer was full while carbon was unreachable, or shutdown
    /// gave up on them.
    pub points_dropped: Counter,
    /// Output points not sent because the value was NaN or infinite (carbon would drop them).
    pub points_invalid: Counter,
    /// Output points waiting for carbon.
    pub points_buffered: Gauge,
    /// 1 while connected to carbon.
    pub graphite_connected: Gauge,
    /// Reconnections to carbon after the first connection.
    pub graphite_reconnects: Counter,
    /// Events emitted by plugins.
    pub events_emitted: Counter,
    /// Event deliveries that succeeded (one per output).
    pub events_delivered: Counter,
    /// Event deliveries retried.
    pub events_retried: Counter,
    /// Event deliveries abandoned after the last retry.
    pub events_failed: Counter,
    /// Event deliveries dropped because an output's queue was full.
    pub events_dropped: Counter,
    /// Plugin log lines forwarded.
    pub plugin_log_lines: Counter,
    /// Run time of plugin tasks.
    pub task_duration: Histogram,
}

impl Telemetry for RunnerMetrics {
    fn prefix(&self) -> &'static str {
        "am_runner_"
    }

    fn histograms(&self) -> Vec<(&'static str, &'static str, &Histogram)> {
        vec![(
            "task_duration_seconds",
            "Run time of plugin tasks",
            &self.task_duration,
        )]
    }

    fn samples(&self) -> Vec<Sample> {
        let c = "counter";
        let g = "gauge";
        vec![
            (
                "ticks_total",
                "Ticks fired by the scheduler",
                c,
                self.ticks.get(),
            ),
            (
                "tasks_started_total",
                "Plugin tasks started",
                c,
                self.tasks_started.get(),
            ),
            (
                "tasks_ok_total",
                "Plugin tasks that succeeded",
                c,
                self.tasks_ok.get(),
            ),
            (
                "tasks_failed_total",
                "Plugin tasks that returned an error",
                c,
                self.tasks_failed.get(),
            ),
            (
                "tasks_panicked_total",
                "Plugin tasks that panicked",
                c,
                self.tasks_panicked.get(),
            ),
            (
                "tasks_skipped_total",
                "Ticks skipped because the previous run was still going",
                c,
                self.tasks_skipped.get(),
            ),
            (
                "plugins_loaded",
                "Plugins loaded",
                g,
                self.plugins_loaded.get(),
            ),
            (
                "plugins_skipped",
                "Files in the plugin folder skipped",
                g,
                self.plugins_skipped.get(),
            ),
            (
                "series_read_total",
                "Series read by plugins",
                c,
                self.series_read.get(),
            ),
            (
                "store_errors_total",
                "Metric store reads that failed",
                c,
                self.store_errors.get(),
            ),
            (
                "points_emitted_total",
                "Output points emitted by plugins",
                c,
                self.points_emitted.get(),
            ),
            (
                "points_sent_total",
                "Output points written to carbon",
                c,
                self.points_sent.get(),
            ),
            (
                "points_dropped_total",
                "Output points dropped while carbon was unreachable",
                c,
                self.points_dropped.get(),
            ),
            (
                "points_buffered",
                "Output points waiting for carbon",
                g,
                self.points_buffered.get(),
            ),
            (
                "graphite_connected",
                "1 while connected to carbon",
                g,
                self.graphite_connected.get(),
            ),
            (
                "graphite_reconnects_total",
                "Reconnections to carbon",
                c,
                self.graphite_reconnects.get(),
            ),
            (
                "events_emitted_total",
                "Events emitted by plugins",
                c,
                self.events_emitted.get(),
            ),
            (
                "events_delivered_total",
                "Event deliveries that succeeded",
                c,
                self.events_delivered.get(),
            ),
            (
                "events_retried_total",
                "Event deliveries retried",
                c,
                self.events_retried.get(),
            ),
            (
                "events_failed_total",
                "Event deliveries abandoned after the last retry",
                c,
                self.events_failed.get(),
            ),
            (
                "events_dropped_total",
                "Event deliveries dropped because a queue was full",
                c,
                self.events_dropped.get(),
            ),
            (
                "plugin_log_lines_total",
                "Plugin log lines forwarded",
                c,
                self.plugin_log_lines.get(),
            ),
        ]
    }
}

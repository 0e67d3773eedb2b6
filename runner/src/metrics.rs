//! The runner's own metrics (served on `/metrics` with prefix `am_runner_`, and optionally sent
//! to Graphite).

use am_daemon::{Counter, Gauge, Histogram, Sample, Telemetry};

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
    /// Tasks this scheduler put on the queue.
    pub tasks_enqueued: Counter,
    /// Ticks another scheduler enqueued first (its lease).
    pub ticks_lease_lost: Counter,
    /// Ticks that could not be enqueued (Redis unreachable).
    pub ticks_enqueue_failed: Counter,
    /// Tasks not enqueued because the service's previous task was still queued or running.
    pub tasks_skipped_backlog: Counter,
    /// Tasks taken over from a worker that stopped answering.
    pub tasks_claimed: Counter,
    /// Failed tasks put back on the queue for another attempt.
    pub tasks_retried: Counter,
    /// Tasks moved to the dead-letter stream after their last attempt.
    pub tasks_dead: Counter,
    /// Tasks whose process was killed at the time limit.
    pub tasks_timed_out: Counter,
    /// Queued tasks whose entry was trimmed before a worker finished them.
    pub tasks_lost: Counter,
    /// Finished tasks another worker had taken over before the acknowledgement.
    pub tasks_ack_lost: Counter,
    /// Plugin processes restarted after a crash, a kill or the memory limit.
    pub worker_restarts: Counter,
    /// Queue operations that failed (Redis unreachable or refused).
    pub queue_errors: Counter,
    /// Tasks on the queue not yet finished (queued and running), seen by this process.
    pub queue_backlog: Gauge,
    /// Plugin processes alive.
    pub worker_processes: Gauge,
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
            (
                "tasks_enqueued_total",
                "Tasks this scheduler put on the queue",
                c,
                self.tasks_enqueued.get(),
            ),
            (
                "ticks_lease_lost_total",
                "Ticks another scheduler enqueued first (its lease)",
                c,
                self.ticks_lease_lost.get(),
            ),
            (
                "ticks_enqueue_failed_total",
                "Ticks that could not be enqueued (Redis unreachable)",
                c,
                self.ticks_enqueue_failed.get(),
            ),
            (
                "tasks_skipped_backlog_total",
                "Tasks not enqueued because the service's previous task was still queued or running",
                c,
                self.tasks_skipped_backlog.get(),
            ),
            (
                "tasks_claimed_total",
                "Tasks taken over from a worker that stopped answering",
                c,
                self.tasks_claimed.get(),
            ),
            (
                "tasks_retried_total",
                "Failed tasks put back on the queue for another attempt",
                c,
                self.tasks_retried.get(),
            ),
            (
                "tasks_dead_total",
                "Tasks moved to the dead-letter stream after their last attempt",
                c,
                self.tasks_dead.get(),
            ),
            (
                "tasks_timed_out_total",
                "Tasks whose process was killed at the time limit",
                c,
                self.tasks_timed_out.get(),
            ),
            (
                "tasks_lost_total",
                "Queued tasks whose entry was trimmed before a worker finished them",
                c,
                self.tasks_lost.get(),
            ),
            (
                "tasks_ack_lost_total",
                "Finished tasks another worker had taken over before the acknowledgement",
                c,
                self.tasks_ack_lost.get(),
            ),
            (
                "worker_restarts_total",
                "Plugin processes restarted after a crash, a kill or the memory limit",
                c,
                self.worker_restarts.get(),
            ),
            (
                "queue_errors_total",
                "Queue operations that failed (Redis unreachable or refused)",
                c,
                self.queue_errors.get(),
            ),
            (
                "queue_backlog",
                "Tasks on the queue not yet finished (queued and running), seen by this process",
                g,
                self.queue_backlog.get(),
            ),
            (
                "worker_processes",
                "Plugin processes alive",
                g,
                self.worker_processes.get(),
            ),
        ]
    }
}

//! The runner's own metrics (served on `/metrics` with prefix `am_runner_`, and optionally sent
//! to Graphite).

am_daemon::telemetry! {
    /// Every counter of the runner.
    pub struct RunnerMetrics("am_runner_") {
        /// Ticks fired by the scheduler (one poll task each).
        ticks: Counter = "ticks_total", "Ticks fired by the scheduler";
        /// Plugin tasks started.
        tasks_started: Counter = "tasks_started_total", "Plugin tasks started";
        /// Plugin tasks that returned success.
        tasks_ok: Counter = "tasks_ok_total", "Plugin tasks that succeeded";
        /// Plugin tasks that returned an error.
        tasks_failed: Counter = "tasks_failed_total", "Plugin tasks that returned an error";
        /// Plugin tasks that panicked (the instance is rebuilt).
        tasks_panicked: Counter = "tasks_panicked_total", "Plugin tasks that panicked";
        /// Tasks not started because the previous run of the same service was still going.
        tasks_skipped: Counter = "tasks_skipped_total", "Ticks skipped because the previous run was still going";
        /// Plugins loaded at start.
        plugins_loaded: Gauge = "plugins_loaded", "Plugins loaded";
        /// Files in the plugin folder that were skipped (not a plugin, wrong ABI, ...).
        plugins_skipped: Gauge = "plugins_skipped", "Files in the plugin folder skipped";
        /// Series read by plugins.
        series_read: Counter = "series_read_total", "Series read by plugins";
        /// Reads from the metric store that failed.
        store_errors: Counter = "store_errors_total", "Metric store reads that failed";
        /// Output points emitted by plugins.
        points_emitted: Counter = "points_emitted_total", "Output points emitted by plugins";
        /// Output points written to carbon's socket.
        points_sent: Counter = "points_sent_total", "Output points written to carbon";
        /// Output points dropped: the buffer was full while carbon was unreachable, or shutdown
        /// gave up on them.
        points_dropped: Counter = "points_dropped_total", "Output points dropped while carbon was unreachable";
        /// Output points not sent because the value was NaN or infinite (carbon would drop them).
        points_invalid: Counter = "points_invalid_total", "Output points not sent: NaN or infinite values";
        /// Output points waiting for carbon.
        points_buffered: Gauge = "points_buffered", "Output points waiting for carbon";
        /// 1 while connected to carbon.
        graphite_connected: Gauge = "graphite_connected", "1 while connected to carbon";
        /// Reconnections to carbon after the first connection.
        graphite_reconnects: Counter = "graphite_reconnects_total", "Reconnections to carbon";
        /// Verdicts reported by plugins.
        verdicts: Counter = "verdicts_total", "Verdicts reported by plugins";
        /// Alarm state changes recorded (each once across all runners).
        alarm_transitions: Counter = "alarm_transitions_total", "Alarm state changes recorded";
        /// Alarm changes another runner made first (its transition counts there).
        alarm_conflicts: Counter = "alarm_conflicts_total", "Alarm changes another runner made first";
        /// Runs whose alarms could not be updated (Redis unreachable); their verdicts are lost to the alarms.
        alarm_errors: Counter = "alarm_errors_total", "Runs whose alarms could not be updated";
        /// Notifications delivered, per output.
        notifications_sent: Counter = "notifications_sent_total", "Notifications delivered (per output)";
        /// Notification attempts that failed and were retried.
        notifications_retried: Counter = "notifications_retried_total", "Notification attempts retried";
        /// Notifications given up after the last retry (or refused outright).
        notifications_failed: Counter = "notifications_failed_total", "Notifications given up after the last retry";
        /// Notifications trimmed from the history before an output delivered them.
        notifications_dropped: Counter = "notifications_dropped_total", "Notifications trimmed from the history before delivery";
        /// Failures reading or acknowledging the transitions stream.
        notifications_errors: Counter = "notifications_errors_total", "Failures reading or acknowledging the transitions stream";
        /// Plugin log lines forwarded.
        plugin_log_lines: Counter = "plugin_log_lines_total", "Plugin log lines forwarded";
        /// Tasks this scheduler put on the queue.
        tasks_enqueued: Counter = "tasks_enqueued_total", "Tasks this scheduler put on the queue";
        /// Ticks another scheduler enqueued first (its lease).
        ticks_lease_lost: Counter = "ticks_lease_lost_total", "Ticks another scheduler enqueued first (its lease)";
        /// Ticks that could not be enqueued (Redis unreachable).
        ticks_enqueue_failed: Counter = "ticks_enqueue_failed_total", "Ticks that could not be enqueued (Redis unreachable)";
        /// Tasks not enqueued because the service's previous task was still queued or running.
        tasks_skipped_backlog: Counter = "tasks_skipped_backlog_total", "Tasks not enqueued because the service's previous task was still queued or running";
        /// Tasks taken over from a worker that stopped answering.
        tasks_claimed: Counter = "tasks_claimed_total", "Tasks taken over from a worker that stopped answering";
        /// Failed tasks put back on the queue for another attempt.
        tasks_retried: Counter = "tasks_retried_total", "Failed tasks put back on the queue for another attempt";
        /// Tasks moved to the dead-letter stream after their last attempt.
        tasks_dead: Counter = "tasks_dead_total", "Tasks moved to the dead-letter stream after their last attempt";
        /// Tasks whose process was killed at the time limit.
        tasks_timed_out: Counter = "tasks_timed_out_total", "Tasks whose process was killed at the time limit";
        /// Queued tasks whose entry was trimmed before a worker finished them.
        tasks_lost: Counter = "tasks_lost_total", "Queued tasks whose entry was trimmed before a worker finished them";
        /// Finished tasks another worker had taken over before the acknowledgement.
        tasks_ack_lost: Counter = "tasks_ack_lost_total", "Finished tasks another worker had taken over before the acknowledgement";
        /// Plugin processes restarted after a crash, a kill or the memory limit.
        worker_restarts: Counter = "worker_restarts_total", "Plugin processes restarted after a crash, a kill or the memory limit";
        /// Queue operations that failed (Redis unreachable or refused).
        queue_errors: Counter = "queue_errors_total", "Queue operations that failed (Redis unreachable or refused)";
        /// Tasks on the queue not yet finished (queued and running), seen by this process.
        queue_backlog: Gauge = "queue_backlog", "Tasks on the queue not yet finished (queued and running), seen by this process";
        /// Plugin processes alive.
        worker_processes: Gauge = "worker_processes", "Plugin processes alive";
        /// Run time of plugin tasks.
        task_duration: Histogram = "task_duration_seconds", "Run time of plugin tasks";
    }
}

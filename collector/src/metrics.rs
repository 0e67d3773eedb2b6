//! The collector's own metrics: counters every part updates, served to Prometheus and sent to
//! Graphite.

pub use am_daemon::{
    Counter, Gauge, Histogram, Sample, Telemetry, run_graphite_reporter, serve_prometheus,
};

/// Every counter of the collector. Names follow Prometheus conventions; the Graphite names are
/// the same with `_` kept.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Datapoints decoded from the wire.
    pub received: Counter,
    /// Datapoints whose timestamp or value was not a number (skipped; the frame was kept).
    pub invalid_points: Counter,
    /// Datapoints whose value was NaN (dropped, as carbon drops them).
    pub nan_points: Counter,
    /// Datapoints rejected by the blacklist.
    pub blacklisted: Counter,
    /// Datapoints matching no whitelist pattern.
    pub ignored: Counter,
    /// Point copies routed to a model (a point stored under two models counts twice).
    pub routed: Counter,
    /// Point copies Redis confirmed.
    pub stored: Counter,
    /// Point copies dropped because they were already past their model's retention.
    pub dropped_expired: Counter,
    /// Point copies dropped because the timestamp was not a number or too far in the future.
    pub dropped_bad_timestamp: Counter,
    /// UDP datapoints dropped because the write buffer was full.
    pub dropped_buffer_full: Counter,
    /// Point copies Redis refused permanently (e.g. WRONGTYPE).
    pub dropped_redis_error: Counter,
    /// Point copies still unwritten when the shutdown timeout ran out.
    pub dropped_shutdown: Counter,
    /// Pickle frames refused (the connection was closed).
    pub bad_frames: Counter,
    /// Plaintext lines skipped.
    pub bad_lines: Counter,
    /// TCP connections accepted.
    pub connections: Counter,
    /// TCP connections closed because of bad input.
    pub connections_refused: Counter,
    /// TCP connections open now.
    pub connections_open: Gauge,
    /// TCP connections closed at once because their listener was at `max_connections`.
    pub connections_over_limit: Counter,
    /// TCP connections closed after `idle_timeout_secs` without a complete frame or line.
    pub connections_idle_closed: Counter,
    /// TCP connections closed to keep unfinished frames and lines within
    /// `max_pending_bytes`.
    pub connections_evicted: Counter,
    /// Bytes held by TCP connections for unfinished frames and lines.
    pub pending_bytes: Gauge,
    /// `limits.max_pending_bytes`.
    pub pending_limit_bytes: Gauge,
    /// Warnings about peers not logged because of the per-peer rate limit.
    pub log_suppressed: Counter,
    /// The open-file limit the collector runs with (raised to the hard limit at start).
    pub open_files_limit: Gauge,
    /// Bytes waiting for Redis (queued or unanswered).
    pub buffer_bytes: Gauge,
    /// Current bound on `buffer_bytes`.
    pub buffer_limit_bytes: Gauge,
    /// Times a TCP listener waited for buffer space (backpressure).
    pub backpressure_waits: Counter,
    /// 1 while connected to Redis.
    pub redis_connected: Gauge,
    /// Connections made to Redis after the first.
    pub redis_reconnects: Counter,
    /// Commands sent again after a transient refusal or a lost connection.
    pub redis_retries: Counter,
    /// Connections to Redis dropped because Redis stopped answering or taking bytes for
    /// `timeout_secs`.
    pub redis_timeouts: Counter,
    /// Bytes of pipelines sent to Redis that its socket has not taken yet.
    pub redis_unwritten_bytes: Gauge,
    /// Housekeeping commands (expiry, index) Redis refused.
    pub redis_housekeeping_errors: Counter,
    /// Names dropped from the index after their data expired.
    pub index_trimmed: Counter,
    /// Time from sending a pipeline to its last reply.
    pub redis_write_latency: Histogram,
}

impl Telemetry for Metrics {
    fn prefix(&self) -> &'static str {
        "am_collector_"
    }

    fn histograms(&self) -> Vec<(&'static str, &'static str, &Histogram)> {
        vec![(
            "redis_write_latency_seconds",
            "Time from sending a pipeline to its last reply",
            &self.redis_write_latency,
        )]
    }

    fn samples(&self) -> Vec<Sample> {
        let c = "counter";
        let g = "gauge";
        vec![
            (
                "received_points_total",
                "Datapoints decoded from the wire",
                c,
                self.received.get(),
            ),
            (
                "invalid_points_total",
                "Datapoints with a non-numeric timestamp or value",
                c,
                self.invalid_points.get(),
            ),
            (
                "nan_points_total",
                "Datapoints with a NaN value, dropped as carbon drops them",
                c,
                self.nan_points.get(),
            ),
            (
                "blacklisted_points_total",
                "Datapoints rejected by the blacklist",
                c,
                self.blacklisted.get(),
            ),
            (
                "ignored_points_total",
                "Datapoints matching no whitelist pattern",
                c,
                self.ignored.get(),
            ),
            (
                "routed_points_total",
                "Point copies routed to a model",
                c,
                self.routed.get(),
            ),
            (
                "stored_points_total",
                "Point copies confirmed by Redis",
                c,
                self.stored.get(),
            ),
            (
                "dropped_expired_points_total",
                "Point copies already past retention",
                c,
                self.dropped_expired.get(),
            ),
            (
                "dropped_bad_timestamp_points_total",
                "Point copies with a timestamp not a number or too far ahead",
                c,
                self.dropped_bad_timestamp.get(),
            ),
            (
                "dropped_buffer_full_points_total",
                "UDP datapoints dropped while the buffer was full",
                c,
                self.dropped_buffer_full.get(),
            ),
            (
                "dropped_redis_error_points_total",
                "Point copies Redis refused permanently",
                c,
                self.dropped_redis_error.get(),
            ),
            (
                "dropped_shutdown_points_total",
                "Point copies unwritten at shutdown",
                c,
                self.dropped_shutdown.get(),
            ),
            (
                "bad_frames_total",
                "Pickle frames refused",
                c,
                self.bad_frames.get(),
            ),
            (
                "bad_lines_total",
                "Plaintext lines skipped",
                c,
                self.bad_lines.get(),
            ),
            (
                "connections_total",
                "TCP connections accepted",
                c,
                self.connections.get(),
            ),
            (
                "connections_refused_total",
                "TCP connections closed for bad input",
                c,
                self.connections_refused.get(),
            ),
            (
                "connections_open",
                "TCP connections open now",
                g,
                self.connections_open.get(),
            ),
            (
                "connections_over_limit_total",
                "TCP connections refused at max_connections",
                c,
                self.connections_over_limit.get(),
            ),
            (
                "connections_idle_closed_total",
                "TCP connections closed after idle_timeout_secs without a complete frame or line",
                c,
                self.connections_idle_closed.get(),
            ),
            (
                "connections_evicted_total",
                "TCP connections closed to keep unfinished frames and lines within max_pending_bytes",
                c,
                self.connections_evicted.get(),
            ),
            (
                "pending_bytes",
                "Bytes held for unfinished frames and lines",
                g,
                self.pending_bytes.get(),
            ),
            (
                "pending_limit_bytes",
                "limits.max_pending_bytes",
                g,
                self.pending_limit_bytes.get(),
            ),
            (
                "log_suppressed_total",
                "Warnings about peers not logged because of the per-peer rate limit",
                c,
                self.log_suppressed.get(),
            ),
            (
                "open_files_limit",
                "The open-file limit the collector runs with",
                g,
                self.open_files_limit.get(),
            ),
            (
                "buffer_bytes",
                "Bytes waiting for Redis",
                g,
                self.buffer_bytes.get(),
            ),
            (
                "buffer_limit_bytes",
                "Current bound on buffered bytes",
                g,
                self.buffer_limit_bytes.get(),
            ),
            (
                "backpressure_waits_total",
                "Times a TCP listener waited for buffer space",
                c,
                self.backpressure_waits.get(),
            ),
            (
                "redis_connected",
                "1 while connected to Redis",
                g,
                self.redis_connected.get(),
            ),
            (
                "redis_reconnects_total",
                "Reconnections to Redis",
                c,
                self.redis_reconnects.get(),
            ),
            (
                "redis_retries_total",
                "Commands sent again",
                c,
                self.redis_retries.get(),
            ),
            (
                "redis_timeouts_total",
                "Redis connections dropped because Redis stopped answering for timeout_secs",
                c,
                self.redis_timeouts.get(),
            ),
            (
                "redis_unwritten_bytes",
                "Bytes of sent pipelines the Redis socket has not taken yet",
                g,
                self.redis_unwritten_bytes.get(),
            ),
            (
                "redis_housekeeping_errors_total",
                "Expiry or index commands Redis refused",
                c,
                self.redis_housekeeping_errors.get(),
            ),
            (
                "index_trimmed_names_total",
                "Names dropped from the index after expiry",
                c,
                self.index_trimmed.get(),
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        use am_daemon::render_prometheus;
        m.received.add(5);
        m.redis_write_latency
            .observe(std::time::Duration::from_millis(3));
        let text = render_prometheus(&m);
        assert!(text.contains("am_collector_received_points_total 5\n"));
        assert!(text.contains("am_collector_redis_write_latency_seconds_bucket{le=\"0.005\"} 1\n"));
        assert!(text.contains("am_collector_redis_write_latency_seconds_count 1\n"));
    }
}

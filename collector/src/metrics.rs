//! The collector's own metrics: counters every part updates, served to Prometheus and sent to
//! Graphite.

pub use am_daemon::{
    Counter, Gauge, Histogram, Sample, Telemetry, run_graphite_reporter, serve_prometheus,
};

am_daemon::telemetry! {
    /// Every counter of the collector. Names follow Prometheus conventions; the Graphite names are
    /// the same with `_` kept.
    pub struct Metrics("am_collector_") {
        /// Datapoints decoded from the wire.
        received: Counter = "received_points_total", "Datapoints decoded from the wire";
        /// Datapoints whose timestamp or value was not a number (skipped; the frame was kept).
        invalid_points: Counter = "invalid_points_total", "Datapoints with a non-numeric timestamp or value";
        /// Datapoints whose value was NaN (dropped, as carbon drops them).
        nan_points: Counter = "nan_points_total", "Datapoints with a NaN value, dropped as carbon drops them";
        /// Datapoints rejected by the blacklist.
        blacklisted: Counter = "blacklisted_points_total", "Datapoints rejected by the blacklist";
        /// Datapoints matching no whitelist pattern.
        ignored: Counter = "ignored_points_total", "Datapoints matching no whitelist pattern";
        /// Point copies routed to a model (a point stored under two models counts twice).
        routed: Counter = "routed_points_total", "Point copies routed to a model";
        /// Point copies Redis confirmed.
        stored: Counter = "stored_points_total", "Point copies confirmed by Redis";
        /// Point copies dropped because they were already past their model's retention.
        dropped_expired: Counter = "dropped_expired_points_total", "Point copies already past retention";
        /// Point copies dropped because the timestamp was not a number or too far in the future.
        dropped_bad_timestamp: Counter = "dropped_bad_timestamp_points_total", "Point copies with a timestamp not a number or too far ahead";
        /// UDP datapoints dropped because the write buffer was full.
        dropped_buffer_full: Counter = "dropped_buffer_full_points_total", "UDP datapoints dropped while the buffer was full";
        /// Point copies Redis refused permanently (e.g. WRONGTYPE).
        dropped_redis_error: Counter = "dropped_redis_error_points_total", "Point copies Redis refused permanently";
        /// Point copies still unwritten when the shutdown timeout ran out.
        dropped_shutdown: Counter = "dropped_shutdown_points_total", "Point copies unwritten at shutdown";
        /// Pickle frames refused (the connection was closed).
        bad_frames: Counter = "bad_frames_total", "Pickle frames refused";
        /// Plaintext lines skipped.
        bad_lines: Counter = "bad_lines_total", "Plaintext lines skipped";
        /// TCP connections accepted.
        connections: Counter = "connections_total", "TCP connections accepted";
        /// TCP connections closed because of bad input.
        connections_refused: Counter = "connections_refused_total", "TCP connections closed for bad input";
        /// TCP connections open now.
        connections_open: Gauge = "connections_open", "TCP connections open now";
        /// TCP connections closed at once because their listener was at `max_connections`.
        connections_over_limit: Counter = "connections_over_limit_total", "TCP connections refused at max_connections";
        /// TCP connections closed after `idle_timeout_secs` without a complete frame or line.
        connections_idle_closed: Counter = "connections_idle_closed_total", "TCP connections closed after idle_timeout_secs without a complete frame or line";
        /// TCP connections closed to keep unfinished frames and lines within
        /// `max_pending_bytes`.
        connections_evicted: Counter = "connections_evicted_total", "TCP connections closed to keep unfinished frames and lines within max_pending_bytes";
        /// Bytes held by TCP connections for unfinished frames and lines.
        pending_bytes: Gauge = "pending_bytes", "Bytes held for unfinished frames and lines";
        /// `limits.max_pending_bytes`.
        pending_limit_bytes: Gauge = "pending_limit_bytes", "limits.max_pending_bytes";
        /// Warnings about peers not logged because of the per-peer rate limit.
        log_suppressed: Counter = "log_suppressed_total", "Warnings about peers not logged because of the per-peer rate limit";
        /// The open-file limit the collector runs with (raised to the hard limit at start).
        open_files_limit: Gauge = "open_files_limit", "The open-file limit the collector runs with";
        /// Bytes waiting for Redis (queued or unanswered).
        buffer_bytes: Gauge = "buffer_bytes", "Bytes waiting for Redis";
        /// Current bound on `buffer_bytes`.
        buffer_limit_bytes: Gauge = "buffer_limit_bytes", "Current bound on buffered bytes";
        /// Times a TCP listener waited for buffer space (backpressure).
        backpressure_waits: Counter = "backpressure_waits_total", "Times a TCP listener waited for buffer space";
        /// 1 while connected to Redis.
        redis_connected: Gauge = "redis_connected", "1 while connected to Redis";
        /// Connections made to Redis after the first.
        redis_reconnects: Counter = "redis_reconnects_total", "Reconnections to Redis";
        /// Commands sent again after a transient refusal or a lost connection.
        redis_retries: Counter = "redis_retries_total", "Commands sent again";
        /// Connections to Redis dropped because Redis stopped answering or taking bytes for
        /// `timeout_secs`.
        redis_timeouts: Counter = "redis_timeouts_total", "Redis connections dropped because Redis stopped answering for timeout_secs";
        /// Bytes of pipelines handed to the Redis connection and not answered yet.
        redis_unwritten_bytes: Gauge = "redis_unwritten_bytes", "Bytes of pipelines sent to Redis and not answered yet";
        /// Point copies Redis acknowledged that `WAIT` could not confirm on `wait_replicas`
        /// replicas (or sent while confirmation was off after such a failure): a failover
        /// before the replicas catch up loses them.
        unreplicated: Counter = "unreplicated_points_total", "Point copies acknowledged but not confirmed on wait_replicas replicas";
        /// Housekeeping commands (expiry, index) Redis refused.
        redis_housekeeping_errors: Counter = "redis_housekeeping_errors_total", "Expiry or index commands Redis refused";
        /// Names dropped from the index after their data expired.
        index_trimmed: Counter = "index_trimmed_names_total", "Names dropped from the index after expiry";
        /// Time from sending a pipeline to its last reply.
        redis_write_latency: Histogram = "redis_write_latency_seconds", "Time from sending a pipeline to its last reply";
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

//! The console's own counters, on its `/metrics` (prefix `am_console_`).

am_daemon::telemetry! {
    /// Every counter of the console.
    pub struct ConsoleMetrics("am_console_") {
        /// Requests answered (any status).
        requests: Counter = "requests_total", "Requests answered";
        /// Requests refused for missing or wrong credentials.
        unauthorized: Counter = "unauthorized_total", "Requests refused for missing or wrong credentials";
        /// Requests that failed on Redis (answered 502).
        upstream_errors: Counter = "redis_errors_total", "Requests that failed reading Redis";
        /// Correlations run.
        correlations: Counter = "correlations_total", "Correlations run over the stored metrics";
        /// How long a correlation took.
        correlation_seconds: Histogram = "correlation_seconds", "Time of one correlation over the stored metrics";
        /// Searches by shape run.
        shape_searches: Counter = "shape_searches_total", "Searches by shape run";
        /// How long a search by shape took.
        shape_search_seconds: Histogram = "shape_search_seconds", "Time of one search by shape";
        /// Series read by searches.
        series_scanned: Counter = "series_scanned_total", "Series read by correlations and searches by shape";
        /// Searches waiting for the one running.
        searches_waiting: Gauge = "searches_waiting", "Searches waiting for the one running";
    }
}

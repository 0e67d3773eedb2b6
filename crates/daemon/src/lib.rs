//! # am-daemon: what both of anna-molly's daemons need around their work
//!
//! `am-collector` and `am-runner` share this crate so that they behave alike where an operator
//! sees them:
//!
//! - [`config`]: reading their JSON files so every error names the file, the JSON path and
//!   what was expected;
//! - [`metrics`]: self-metrics (counters, gauges, histograms), the Prometheus `/metrics`
//!   endpoint and the reporter that sends the same numbers to carbon;
//! - [`process`]: logging set-up, this host's name, and the stop signal;
//! - [`text`]: outside names shown as text (control characters escaped).

pub mod config;
pub mod metrics;
pub mod process;
pub mod text;

pub use metrics::{
    Counter, Gauge, GraphiteMetricsConfig, Histogram, MetricsConfig, Sample, Telemetry,
    render_prometheus, run_graphite_reporter, serve_prometheus,
};
pub use process::{hostname, init_tracing, shutdown_signal};

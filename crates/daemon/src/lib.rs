//! # am-daemon: what both of anna-molly's daemons need around their work
//!
//! `am-collector` and `am-runner` share this crate so that they behave alike where an operator
//! sees them:
//!
//! - [`config`]: reading their JSON files so every error names the file, the JSON path and
//!   what was expected;
//! - [`metrics`]: self-metrics (counters, gauges, histograms), the Prometheus `/metrics`
//!   endpoint and the reporter that sends the same numbers to carbon;
//! - [`process`]: logging set-up, this host's name, and the stop signal; and
//!   [`raise_open_files_limit`], since systemd's soft limit of 1024 is too low for a server;
//! - [`text`]: outside names shown as text (control characters escaped).

pub mod config;
mod limits;
pub mod metrics;
pub mod process;
pub mod text;

pub use limits::raise_open_files_limit;
pub use metrics::{
    Counter, Gauge, GraphiteMetricsConfig, Histogram, MetricsConfig, Sample, Telemetry,
    render_prometheus, run_graphite_reporter, serve_prometheus,
};
pub use process::{hostname, init_tracing, shutdown_signal};

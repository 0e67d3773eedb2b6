//! Self-metrics: lock-free counters, gauges and histograms, the Prometheus text exposition
//! served on `GET /metrics`, and a reporter that sends the same numbers to carbon as carbon's
//! own daemons report theirs.

mod graphite;
mod prometheus;

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use graphite::{GraphiteMetricsConfig, run_graphite_reporter};

/// A daemon's self-metrics settings (the `metrics` section of its config); `PORT` is the
/// daemon's default `/metrics` port on 127.0.0.1.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig<const PORT: u16> {
    /// `host:port` serving `GET /metrics` in Prometheus text format; `null` turns it off.
    #[serde(default = "default_listen::<PORT>")]
    pub listen: Option<String>,
    /// Where to send the same numbers in carbon's plaintext protocol every `interval` seconds.
    #[serde(default)]
    pub graphite: Option<GraphiteMetricsConfig>,
}

impl<const PORT: u16> Default for MetricsConfig<PORT> {
    fn default() -> Self {
        MetricsConfig {
            listen: default_listen::<PORT>(),
            graphite: None,
        }
    }
}

impl<const PORT: u16> MetricsConfig<PORT> {
    /// Starts what this config asks for: the `/metrics` endpoint (bound before this returns,
    /// so an address in use fails the start) and the Graphite reporter, whose prefix is
    /// `graphite_prefix` unless the config names one. A bind error is `listen`'s.
    pub async fn start(
        &self,
        metrics: Arc<dyn Telemetry>,
        graphite_prefix: &'static str,
    ) -> std::io::Result<Vec<JoinHandle<()>>> {
        let mut tasks = Vec::new();
        if let Some(listen) = &self.listen {
            let sock = TcpListener::bind(listen).await?;
            tracing::info!(bind = %listen, "serving self-metrics at /metrics");
            tasks.push(tokio::spawn(serve_prometheus(sock, metrics.clone())));
        }
        if let Some(g) = &self.graphite {
            let reporter = run_graphite_reporter(g.clone(), graphite_prefix, metrics);
            tasks.push(tokio::spawn(reporter));
        }
        Ok(tasks)
    }
}

fn default_listen<const PORT: u16>() -> Option<String> {
    Some(format!("127.0.0.1:{PORT}"))
}
pub use prometheus::serve_prometheus;

/// A monotonically increasing count.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds `n`.
    pub fn add(&self, n: u64) {
        if n > 0 {
            self.0.fetch_add(n, Relaxed);
        }
    }
    /// Adds one.
    pub fn inc(&self) {
        self.0.fetch_add(1, Relaxed);
    }
    /// The current count.
    pub fn get(&self) -> u64 {
        self.0.load(Relaxed)
    }
}

/// A value that goes up and down.
#[derive(Debug, Default)]
pub struct Gauge(AtomicU64);

impl Gauge {
    /// Sets the value.
    pub fn set(&self, v: u64) {
        self.0.store(v, Relaxed);
    }
    /// Adds `n`.
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Relaxed);
    }
    /// Subtracts `n` (stopping at 0).
    pub fn sub(&self, n: u64) {
        let _ = self
            .0
            .fetch_update(Relaxed, Relaxed, |v| Some(v.saturating_sub(n)));
    }
    /// The current value.
    pub fn get(&self) -> u64 {
        self.0.load(Relaxed)
    }
}

/// Upper bounds of the latency histograms, in seconds.
pub const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// A latency histogram in Prometheus' cumulative-bucket shape.
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
            self.buckets[i].fetch_add(1, Relaxed);
        }
        self.count.fetch_add(1, Relaxed);
        self.sum_micros
            .fetch_add(u64::try_from(d.as_micros()).unwrap_or(u64::MAX), Relaxed);
    }

    /// Number of observations.
    pub fn count(&self) -> u64 {
        self.count.load(Relaxed)
    }

    /// Mean of the observations in seconds (0 when there are none).
    pub fn mean_secs(&self) -> f64 {
        let n = self.count();
        if n == 0 {
            0.0
        } else {
            self.sum_micros.load(Relaxed) as f64 / 1e6 / n as f64
        }
    }
}

/// One counter or gauge: name (without prefix), help, kind (`counter` or `gauge`), value.
pub type Sample = (&'static str, &'static str, &'static str, u64);

/// A set of metrics the exporters can read.
pub trait Telemetry: Send + Sync + 'static {
    /// Prefix of every Prometheus name (e.g. `am_collector_`).
    fn prefix(&self) -> &'static str;
    /// Every counter and gauge.
    fn samples(&self) -> Vec<Sample>;
    /// Every histogram: name, help, histogram.
    fn histograms(&self) -> Vec<(&'static str, &'static str, &Histogram)> {
        Vec::new()
    }
}

/// A metric a [`telemetry!`](crate::telemetry) struct exposes: counters and gauges as samples,
/// histograms as histograms.
pub trait Exposed {
    /// Adds this metric to `samples` if it is a counter or a gauge.
    fn sample(&self, _name: &'static str, _help: &'static str, _samples: &mut Vec<Sample>) {}
    /// Adds this metric to `histograms` if it is one.
    fn histogram<'a>(
        &'a self,
        _name: &'static str,
        _help: &'static str,
        _histograms: &mut Vec<(&'static str, &'static str, &'a Histogram)>,
    ) {
    }
}

impl Exposed for Counter {
    fn sample(&self, name: &'static str, help: &'static str, samples: &mut Vec<Sample>) {
        samples.push((name, help, "counter", self.get()));
    }
}

impl Exposed for Gauge {
    fn sample(&self, name: &'static str, help: &'static str, samples: &mut Vec<Sample>) {
        samples.push((name, help, "gauge", self.get()));
    }
}

impl Exposed for Histogram {
    fn histogram<'a>(
        &'a self,
        name: &'static str,
        help: &'static str,
        histograms: &mut Vec<(&'static str, &'static str, &'a Histogram)>,
    ) {
        histograms.push((name, help, self));
    }
}

/// Declares a daemon's metrics once: each field's type (`Counter`, `Gauge`, `Histogram`), its
/// exposed name and its help, and derives the struct (with `Default`) and its [`Telemetry`].
///
/// ```
/// am_daemon::telemetry! {
///     /// What the thing counts.
///     pub struct ThingMetrics("am_thing_") {
///         /// Requests served.
///         requests: Counter = "requests_total", "Requests served";
///         /// Requests waiting.
///         queued: Gauge = "queued", "Requests waiting";
///     }
/// }
/// let m = ThingMetrics::default();
/// m.requests.inc();
/// let text = am_daemon::render_prometheus(&m);
/// assert!(text.contains("am_thing_requests_total 1"));
/// ```
#[macro_export]
macro_rules! telemetry {
    (
        $(#[$meta:meta])*
        pub struct $name:ident ($prefix:literal) {
            $(
                $(#[$fmeta:meta])*
                $field:ident : $kind:ident = $metric:literal, $help:literal;
            )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Default)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $crate::metrics::$kind, )*
        }

        impl $crate::metrics::Telemetry for $name {
            fn prefix(&self) -> &'static str {
                $prefix
            }

            fn samples(&self) -> Vec<$crate::metrics::Sample> {
                let mut out = Vec::new();
                $( $crate::metrics::Exposed::sample(&self.$field, $metric, $help, &mut out); )*
                out
            }

            fn histograms(
                &self,
            ) -> Vec<(&'static str, &'static str, &$crate::metrics::Histogram)> {
                let mut out = Vec::new();
                $( $crate::metrics::Exposed::histogram(&self.$field, $metric, $help, &mut out); )*
                out
            }
        }
    };
}

/// The Prometheus text exposition (format 0.0.4) of every metric.
pub fn render_prometheus(t: &dyn Telemetry) -> String {
    let p = t.prefix();
    let mut out = String::with_capacity(4096);
    for (name, help, kind, v) in t.samples() {
        let _ = writeln!(out, "# HELP {p}{name} {help}.");
        let _ = writeln!(out, "# TYPE {p}{name} {kind}");
        let _ = writeln!(out, "{p}{name} {v}");
    }
    for (name, help, h) in t.histograms() {
        let _ = writeln!(out, "# HELP {p}{name} {help}.");
        let _ = writeln!(out, "# TYPE {p}{name} histogram");
        let mut cumulative = 0;
        for (b, n) in BUCKETS.iter().zip(&h.buckets) {
            cumulative += n.load(Relaxed);
            let _ = writeln!(out, "{p}{name}_bucket{{le=\"{b}\"}} {cumulative}");
        }
        let _ = writeln!(out, "{p}{name}_bucket{{le=\"+Inf\"}} {}", h.count());
        let _ = writeln!(
            out,
            "{p}{name}_sum {}",
            h.sum_micros.load(Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "{p}{name}_count {}", h.count());
    }
    out
}

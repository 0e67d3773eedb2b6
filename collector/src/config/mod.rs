//! `collector.json`: what the collector listens on, which metrics it keeps and where it writes.
//!
//! anna-molly's file loads unchanged; everything added here has a default. Unknown keys are
//! errors, and every error names the file, the JSON path and what was expected.

mod listener;
mod load;

use indexmap::IndexMap;
use serde::Deserialize;

pub use listener::{
    LineSpoutConfig, Listener, Listeners, PickleSpoutConfig, TcpLimits, UdpSpoutConfig,
};
pub use load::{ConfigError, Problem, load, parse};

/// The whole `collector.json`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectorConfig {
    /// Bounds shared by every listener.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// Which metrics are kept and under which models.
    pub router: RouterConfig,
    /// Where points are written.
    pub writer: WriterConfig,
    /// Where metrics arrive: one listener or several.
    pub listener: Listeners,
    /// The collector's own metrics.
    #[serde(default)]
    pub metrics: MetricsConfig,
}

/// Bounds shared by every listener.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Most bytes all TCP connections together may hold in unfinished frames and lines. Past
    /// it the connections holding the most are closed first (counted, logged once per peer),
    /// so a crowd of half-sent frames cannot take the host's memory. By default 256 MiB, or
    /// twice the largest `max_frame_bytes`/`max_line_bytes` of a TCP listener if that is more.
    #[serde(default)]
    pub max_pending_bytes: Option<u64>,
}

/// 256 full-size pickle frames at once: far more than the few connections of carbon-relays
/// ever hold, small beside the write buffer.
pub const DEFAULT_MAX_PENDING_BYTES: u64 = 256 << 20;

impl CollectorConfig {
    /// The least `max_pending_bytes` that lets one whole frame or line of the largest kind in,
    /// with as much again for the other connections (and at least 1 MiB).
    pub fn min_pending_bytes(&self) -> u64 {
        let largest = self
            .listener
            .0
            .iter()
            .filter(|l| l.tcp_limits().is_some())
            .map(|l| l.max_unit_bytes() as u64)
            .max()
            .unwrap_or(0);
        (2 * largest).max(1 << 20)
    }

    /// `limits.max_pending_bytes`, or its default.
    pub fn max_pending_bytes(&self) -> u64 {
        self.limits
            .max_pending_bytes
            .unwrap_or_else(|| DEFAULT_MAX_PENDING_BYTES.max(self.min_pending_bytes()))
    }
}

/// Blacklist, whitelist and routing cache.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouterConfig {
    /// Regexes; a metric whose name matches one *anywhere* is rejected (Python `re.search`).
    #[serde(default)]
    pub blacklist: Vec<String>,
    /// Regex → models. A pattern matches at the *start* of the name (Python `re.match`); a
    /// metric is stored once under each distinct model of every pattern it matches, and
    /// ignored when it matches none.
    pub whitelist: IndexMap<String, Vec<ModelSpec>>,
    /// How many per-name routing decisions to remember (names repeat every interval).
    #[serde(default = "default_cache_size")]
    pub cache_size: usize,
}

fn default_cache_size() -> usize {
    1_000_000
}

/// One storage model, as anna-molly spelled it: `{"RedisTimeStamped": {"ttl": 10000}}`.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub enum ModelSpec {
    /// Every datapoint, kept for `ttl` seconds.
    RedisTimeStamped(TimeStampedSpec),
    /// The latest value per `interval`-second bucket, kept for `ttl` seconds.
    RedisIntervalTimeStamped(IntervalSpec),
}

/// Options of `RedisTimeStamped`.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TimeStampedSpec {
    /// Seconds each point is kept.
    pub ttl: u32,
}

/// Options of `RedisIntervalTimeStamped`.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct IntervalSpec {
    /// Seconds each point is kept.
    pub ttl: u32,
    /// Bucket width in seconds; only the latest value in each bucket is kept.
    pub interval: u32,
}

impl ModelSpec {
    /// The store model this spec describes.
    pub fn model(&self) -> am_store::Model {
        match *self {
            ModelSpec::RedisTimeStamped(s) => am_store::Model::Raw { ttl: s.ttl },
            ModelSpec::RedisIntervalTimeStamped(s) => am_store::Model::Interval {
                interval: s.interval,
                ttl: s.ttl,
            },
        }
    }
}

/// The writer: anna-molly's `{"RedisSink": {...}}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum WriterConfig {
    /// Write to Redis.
    RedisSink(RedisSinkConfig),
}

impl WriterConfig {
    /// The Redis sink's settings.
    pub fn redis(&self) -> &RedisSinkConfig {
        match self {
            WriterConfig::RedisSink(r) => r,
        }
    }
}

am_store::redis_config! {
    /// Redis connection, pipelining and buffering.
    #[derive(Debug, Clone, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct RedisSinkConfig {
    /// Most commands sent in one pipeline (anna-molly's batch bound).
    #[serde(default = "default_pipeline_size")]
    pub pipeline_size: usize,
    /// Most pipelines sent and not yet answered, so throughput does not wait on round trips.
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: usize,
    /// A pipeline that is not full is sent after waiting this long.
    #[serde(default = "default_flush_interval_ms")]
    pub flush_interval_ms: u64,
    /// Most bytes held while Redis is slow or unreachable.
    #[serde(default = "default_buffer_max_bytes")]
    pub buffer_max_bytes: u64,
    /// Most seconds of traffic (at the recent rate) held while Redis is slow or unreachable;
    /// the smaller of the two bounds applies. Past it, TCP listeners stop reading and UDP
    /// points are dropped and counted.
    #[serde(default = "default_buffer_max_seconds")]
    pub buffer_max_seconds: u64,
    /// Seconds to keep flushing on shutdown before giving up (and counting what is left).
    #[serde(default = "default_shutdown_timeout")]
    pub shutdown_timeout_secs: u64,
    /// Seconds Redis may leave sent commands unanswered, or take none of the bytes being
    /// written, before the connection is presumed dead: it is dropped (counted) and everything
    /// unanswered is sent again on a new one. It also bounds connecting, and sets the socket's
    /// TCP keepalive and `TCP_USER_TIMEOUT`, so the kernel gives up on a silently dropped
    /// path within about the same time.
    #[serde(default = "default_redis_timeout")]
    pub timeout_secs: u64,
    /// Replicas each pipeline must reach before its points count as safe (0: none; with
    /// Sentinel, 1). Each pipeline then ends with `WAIT wait_replicas 1000`: points a failover
    /// could lose are those not yet confirmed, and a connection lost before the confirmation
    /// sends them again to the new master. Points `WAIT` cannot confirm within a second are
    /// counted (`unreplicated_points_total`) and logged, and confirmation pauses for 10 s so a
    /// missing replica does not stall the writes.
    #[serde(default)]
    pub wait_replicas: u32,
    }
}

fn default_pipeline_size() -> usize {
    1000
}
fn default_max_in_flight() -> usize {
    64
}
fn default_flush_interval_ms() -> u64 {
    100
}
fn default_buffer_max_bytes() -> u64 {
    1 << 30
}
fn default_buffer_max_seconds() -> u64 {
    60
}
fn default_shutdown_timeout() -> u64 {
    30
}
fn default_redis_timeout() -> u64 {
    30
}

/// The collector's own metrics: `/metrics` on 127.0.0.1:9108 by default.
pub type MetricsConfig = am_daemon::MetricsConfig<9108>;

//! `analyzer.json`: where the runner reads metrics, where it writes, which plugins run when.
//!
//! anna-molly's analyzer.json loads unchanged (its `celery` section is accepted); the schedule
//! lives under `services` here, and anna-molly's separate `services.json` is accepted too, as a
//! path in `services` or with `--services FILE`. Unknown keys are errors; every error names
//! the file, the JSON path and what was expected.

mod console;
mod load;
mod queue;
mod schedule;

use std::path::PathBuf;

use indexmap::IndexMap;
use serde::Deserialize;

use crate::alarm::{AlarmConfig, AlarmsConfig, Policy};
use crate::notify::OutputConfig;
use crate::output::GraphiteConfig;

pub use console::{ConsoleAuth, ConsoleConfig};
pub use load::{ConfigError, Problem, load, parse, parse_services};
pub use queue::{DEFAULT_TIME_LIMIT, QueueConfig};
pub use schedule::Schedule;

/// The whole `analyzer.json`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalyzerConfig {
    /// Where plugins read metric series: the Redis the collector writes.
    pub metric_sink: MetricSinkConfig,
    /// Where plugins' output points go.
    pub output_sink: OutputSinkConfig,
    /// Folder holding the plugin files (`*.so`); relative paths are taken from the current
    /// directory. `--plugin-dir` overrides it.
    #[serde(default = "default_plugin_dir")]
    pub plugin_dir: PathBuf,
    /// The algorithms and their schedules: an object, or the path of anna-molly's
    /// `services.json` (relative to this file).
    #[serde(default)]
    pub services: ServicesSource,
    /// Where alarm transitions go (Alertmanager, PagerDuty, Slack, email, webhooks, Graphite's
    /// events API). None by default: transitions are then only logged and kept in the history.
    #[serde(default)]
    pub event_outputs: Vec<OutputConfig>,
    /// Where alarm state and history live.
    #[serde(default)]
    pub alarms: AlarmsConfig,
    /// The runner's own metrics.
    #[serde(default)]
    pub metrics: MetricsConfig,
    /// anna-molly's Celery section, accepted so old files load; `time_limit` is read, the
    /// broker and backend are not used (Redis in `metric_sink` is the broker).
    pub celery: Option<CeleryConfig>,
    /// How runners on several hosts share the work (`--role`), and task limits.
    #[serde(default)]
    pub queue: QueueConfig,
    /// The web console's settings (`am-console`); the runner ignores them.
    #[serde(default)]
    pub console: ConsoleConfig,
}

impl AnalyzerConfig {
    /// Seconds a task may run: `queue.time_limit`, else `celery.time_limit`, else 60.
    pub fn time_limit_secs(&self) -> u64 {
        self.queue
            .time_limit
            .or_else(|| {
                self.celery
                    .as_ref()
                    .and_then(|c| c.time_limit.as_ref())
                    .and_then(load::time_limit_secs)
            })
            .unwrap_or(DEFAULT_TIME_LIMIT)
            .max(1)
    }
}

fn default_plugin_dir() -> PathBuf {
    PathBuf::from("target/release")
}

/// `{"RedisSink": {...}}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum MetricSinkConfig {
    /// The collector's Redis.
    RedisSink(RedisConfig),
}

impl MetricSinkConfig {
    /// The Redis address.
    pub fn redis(&self) -> am_store::RedisAddr {
        match self {
            MetricSinkConfig::RedisSink(r) => r.addr(),
        }
    }
}

am_store::redis_config! {
    /// The Redis the collector writes: the metric store, the state, and the queue.
    #[derive(Debug, Clone, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct RedisConfig {
        /// Accepted for anna-molly compatibility (the collector's batch size); unused here.
        pub pipeline_size: Option<u64>,
    }
}

/// `{"GraphiteSink": {...}}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum OutputSinkConfig {
    /// Carbon's plaintext protocol.
    GraphiteSink(GraphiteConfig),
}

impl OutputSinkConfig {
    /// The Graphite settings.
    pub fn graphite(&self) -> &GraphiteConfig {
        match self {
            OutputSinkConfig::GraphiteSink(g) => g,
        }
    }
}

/// The services, inline or in a separate file.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ServicesSource {
    /// Path of a services.json (anna-molly's separate file), relative to analyzer.json.
    File(PathBuf),
    /// Algorithm name → its schedule and services.
    Inline(IndexMap<String, AlgorithmConfig>),
}

impl Default for ServicesSource {
    fn default() -> Self {
        ServicesSource::Inline(IndexMap::new())
    }
}

/// One algorithm: when its poll task fires and the services it runs for.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlgorithmConfig {
    /// When to fire, and which plugin.
    pub scheduler_options: SchedulerOptions,
    /// Service name → the plugin's options for it. Each tick runs the plugin once per service.
    pub worker_options: IndexMap<String, serde_json::Value>,
    /// Flap control of the algorithm's alarms (`for`, `keep_firing_for`,
    /// `undetermined_after`, `severity`, `labels`), with per-service overrides in `services`.
    pub alarm: Option<AlarmConfig>,
}

/// anna-molly's `scheduler_options`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchedulerOptions {
    /// A cron expression: 6 fields with seconds (`*/30 * * * * *`), or classic 5 fields
    /// (`*/5 * * * *`), evaluated in UTC.
    pub cron: Option<String>,
    /// anna-molly's fixed interval in seconds; ticks fall on multiples of it since the epoch.
    pub interval_secs: Option<u64>,
    /// Which plugin runs: `{"name": "TukeysFilter"}` (anna-molly's `PollTukeysFilter` is
    /// accepted too). Defaults to the algorithm's own name.
    pub plugin_args: Option<PluginArgs>,
    /// Tasks per service and tick (1 to 1024, default 1): a plugin that can split its work
    /// (such as `Skyline` over many metrics) runs as this many tasks, each told its share, so
    /// several workers share one service's tick.
    pub shards: Option<u32>,
}

/// anna-molly's `plugin_args`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginArgs {
    /// The plugin's name.
    pub name: String,
}

/// anna-molly's `celery` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CeleryConfig {
    /// Celery's broker (unused).
    pub broker: Option<serde_json::Value>,
    /// Celery's result backend (unused).
    pub backend: Option<serde_json::Value>,
    /// Seconds a task may run (anna-molly wrote it as a string).
    pub time_limit: Option<serde_json::Value>,
}

/// The runner's own metrics: `/metrics` on 127.0.0.1:9109 by default.
pub type MetricsConfig = am_daemon::MetricsConfig<9109>;

/// One runnable unit: an algorithm's plugin for one service, on the algorithm's schedule.
#[derive(Debug, Clone)]
pub struct ServiceSpec {
    /// The algorithm's key in `services`.
    pub algorithm: String,
    /// The plugin name asked for (before aliases).
    pub plugin: String,
    /// The service's key in `worker_options`.
    pub service: String,
    /// Its options, as JSON text for the plugin.
    pub options: String,
    /// JSON path of its options, for messages.
    pub path: String,
}

impl AlgorithmSpec {
    /// The seconds between two of its ticks (what `"N ticks"` in its alarm settings counts).
    pub fn period(&self) -> u64 {
        let now = am_store::unix_now();
        self.schedule
            .next_after(now)
            .and_then(|a| self.schedule.next_after(a).map(|b| b - a))
            .and_then(|p| u64::try_from(p).ok())
            .unwrap_or(60)
            .max(1)
    }

    /// The alarm policy of `service`.
    pub fn policy(&self, service: &str) -> Policy {
        Policy::resolve(self.alarm.as_ref(), service, self.period())
    }

    /// Its tasks at tick 0: one per service and shard.
    pub fn tasks(&self) -> Vec<am_plugin_host::Task> {
        self.services
            .iter()
            .flat_map(|svc| {
                (0..self.shards).map(move |shard| am_plugin_host::Task {
                    algorithm: self.name.clone(),
                    plugin: svc.plugin.clone(),
                    service: svc.service.clone(),
                    options: svc.options.clone(),
                    tick: 0,
                    shard,
                    shards: self.shards,
                })
            })
            .collect()
    }
}

/// One algorithm's schedule and services, resolved.
#[derive(Debug, Clone)]
pub struct AlgorithmSpec {
    /// The file it was configured in (analyzer.json, or a separate services.json).
    pub file: PathBuf,
    /// The algorithm's key.
    pub name: String,
    /// Its JSON path (`services.<name>`, or `<name>` in a separate services.json).
    pub path: String,
    /// When it fires.
    pub schedule: Schedule,
    /// Tasks per service and tick.
    pub shards: u32,
    /// Its services.
    pub services: Vec<ServiceSpec>,
    /// Its alarm settings.
    pub alarm: Option<AlarmConfig>,
}

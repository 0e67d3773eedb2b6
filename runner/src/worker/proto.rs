//! What a worker and its plugin processes say to each other: one JSON line per request on
//! the process' stdin, one per response on its stdout.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Everything a plugin process needs to start, passed in [`SETUP_ENV`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Setup {
    /// Where the plugins are.
    pub plugin_dir: PathBuf,
    /// The metric store's Redis: host.
    pub redis_host: String,
    /// Port.
    pub redis_port: u16,
    /// Database.
    pub redis_db: u32,
    /// Password.
    pub redis_password: Option<String>,
    /// `RLIMIT_DATA` in MiB.
    pub memory_limit_mb: Option<u64>,
    /// The supervisor's pid: the process exits if its parent is not this one.
    pub parent_pid: u32,
}

/// The environment variable carrying the [`Setup`] as JSON.
pub const SETUP_ENV: &str = "AM_RUNNER_PLUGIN_PROCESS";

/// Runs one task.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Request {
    /// The plugin.
    pub plugin: String,
    /// The service.
    pub service: String,
    /// Its options (JSON text).
    pub options: String,
    /// The tick.
    pub tick: i64,
    /// The shard.
    pub shard: u32,
    /// The shard count.
    pub shards: u32,
}

/// How the task ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Ended {
    /// It worked.
    Ok,
    /// The plugin (or the host) failed it.
    Failed(String),
    /// The plugin panicked.
    Panicked(String),
}

/// One output point; a non-finite value travels as `null` (JSON has no NaN).
pub type WirePoint = (String, Option<f64>, i64);

/// An event as the plugin emitted it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WireEvent {
    /// State word.
    pub state: String,
    /// Severity word.
    pub severity: String,
    /// The metric it is about.
    pub metric: String,
    /// A sentence.
    pub reason: String,
    /// Values behind the verdict.
    pub values: Vec<(String, Option<f64>)>,
    /// When.
    pub ts: i64,
}

/// The answer to a [`Request`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Response {
    /// How it ended.
    pub ended: Ended,
    /// Output points (field, value, ts).
    pub outputs: Vec<WirePoint>,
    /// Events.
    pub events: Vec<WireEvent>,
    /// Series the task read.
    pub series_read: u64,
    /// Store calls that failed.
    pub store_errors: u64,
    /// Log lines the plugin wrote.
    pub log_lines: u64,
}

/// A finite value, or `None`.
pub fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

//! What a worker and its plugin processes say to each other: one JSON line per
//! [`Task`](am_plugin_host::Task) on the process' stdin, one
//! [`TaskResult`](am_plugin_host::TaskResult) per line on its stdout.

use std::path::PathBuf;

use am_store::RedisAddr;
use serde::{Deserialize, Serialize};

/// Everything a plugin process needs to start, passed in [`SETUP_ENV`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Setup {
    /// Where the plugins are.
    pub plugin_dir: PathBuf,
    /// The metric store.
    pub redis: RedisAddr,
    /// `RLIMIT_DATA` in MiB.
    pub memory_limit_mb: Option<u64>,
    /// The supervisor's pid: the process exits if its parent is not this one.
    pub parent_pid: u32,
}

/// The environment variable carrying the [`Setup`] as JSON.
pub const SETUP_ENV: &str = "AM_RUNNER_PLUGIN_PROCESS";

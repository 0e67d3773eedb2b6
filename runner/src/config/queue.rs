//! The `queue` section: how schedulers and workers on many hosts share tasks through Redis.

use serde::Deserialize;

/// Settings of the distributed roles (`--role scheduler|worker|all`). The single-process
/// default ignores them: it runs plugins on its own threads, which cannot be stopped or
/// limited; the roles run them in supervised processes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueConfig {
    /// Prefix of every queue key in Redis (the stream is `{<prefix>}:tasks`: a hash tag, so
    /// the queue is one slot of a Redis Cluster). Runners that
    /// should share work use the same prefix and the same Redis (`metric_sink`'s).
    pub prefix: String,
    /// Plugin processes a worker keeps (prefork); each runs one task at a time. Default: the
    /// number of CPUs.
    pub processes: Option<usize>,
    /// Seconds a task may run before its process is killed and the task failed. Overrides
    /// anna-molly's `celery.time_limit`; default 60.
    pub time_limit: Option<u64>,
    /// Memory limit of each plugin process in MiB (its data segment and anonymous mappings,
    /// `RLIMIT_DATA`); a task that exceeds it fails and its process is restarted. None: no
    /// limit.
    pub memory_limit_mb: Option<u64>,
    /// Attempts a task gets before it goes to the dead-letter stream with its last error.
    pub max_attempts: u32,
    /// Upper bound of the task stream's length; the oldest entries are trimmed past it (each
    /// trimmed pending task is counted as lost by `status`).
    pub max_len: u64,
    /// Dead letters kept (the oldest are trimmed).
    pub dead_letter_max_len: u64,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            prefix: "am1:q".into(),
            processes: None,
            time_limit: None,
            memory_limit_mb: None,
            max_attempts: 3,
            max_len: 100_000,
            dead_letter_max_len: 10_000,
        }
    }
}

/// The default `time_limit` in seconds.
pub const DEFAULT_TIME_LIMIT: u64 = 60;

//! The task queue that lets runners on many hosts share the work, on the metric store's Redis.
//!
//! - **Tasks** travel on one stream, `{<prefix>}:tasks`, read by the consumer group `workers`
//!   (`XREADGROUP`). A worker acknowledges a task (`XACK` + `XDEL`) only after its outputs were
//!   written to carbon's socket; while it works it renews its claim (`XCLAIM … JUSTID`), so a
//!   task whose worker died is idle for `time_limit` and another worker takes it over
//!   (`XAUTOCLAIM`), counting that as a failed attempt.
//! - **Attempts**: a failed task is re-queued with its attempt number and last error; after
//!   `max_attempts` it goes to `{<prefix>}:dead` instead.
//! - **Leases**: each tick of each algorithm is enqueued by whichever scheduler first takes
//!   `{<prefix>}:lease:<algorithm>:<tick>` (`SET NX PX`), so several schedulers may run and every
//!   tick is enqueued once; the lease and the tasks are written by one script, so a scheduler
//!   that dies cannot leave half a tick behind.
//! - **No pile-up**: `{<prefix>}:busy:<algorithm>:<service>:<shard>` marks a task queued or
//!   running; while it exists that service's new ticks are skipped and counted, as the
//!   single-process runner skips a tick whose previous run is still going.
//! - **Status**: workers register in `{<prefix>}:workers` (a sorted set by last heartbeat) and
//!   outcomes are counted per service in `{<prefix>}:stats`, so `am-runner status` works from
//!   any host.
//!
//! Every key is under `{<prefix>}` (the configured prefix as a Redis Cluster hash tag, e.g.
//! `{am1:q}:tasks`), so on a cluster the whole queue lives in one slot and the scripts, which
//! name keys they compute, may touch them all.

mod client;
pub mod enqueue;
mod scripts;

pub mod status;

pub use client::{Claimed, Enqueued, Failed, QueueClient, QueueError, TaskEntry};

use std::collections::HashMap;
use std::time::Duration;

use am_plugin_host::Task;
use am_store::Client;
use am_store::reply::Entry;
use am_store::resp::Value;

use crate::alarm::Policy;

/// The consumer group every worker joins.
pub const GROUP: &str = "workers";

/// Separates algorithm and service in the fields of the stats hash.
pub const SEP: char = '\u{1f}';

/// The queue's Redis keys under one prefix.
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    /// Keys under `prefix`, as a hash tag (see the module docs).
    pub fn new(prefix: &str) -> Keys {
        Keys {
            prefix: am_store::keys::tagged(prefix),
        }
    }
    /// The task stream.
    pub fn tasks(&self) -> String {
        format!("{}:tasks", self.prefix)
    }
    /// The dead-letter stream.
    pub fn dead(&self) -> String {
        format!("{}:dead", self.prefix)
    }
    /// The lease of one tick of one algorithm.
    pub fn lease(&self, algorithm: &str, tick: i64) -> String {
        format!("{}:lease:{algorithm}:{tick}", self.prefix)
    }
    /// Prefix of the busy markers (`<this><algorithm>:<service>:<shard>`).
    pub fn busy_prefix(&self) -> String {
        format!("{}:busy:", self.prefix)
    }
    /// The busy marker of one service's shard.
    pub fn busy(&self, algorithm: &str, service: &str, shard: u32) -> String {
        format!("{}{algorithm}:{service}:{shard}", self.busy_prefix())
    }
    /// Workers by last heartbeat (ms).
    pub fn workers(&self) -> String {
        format!("{}:workers", self.prefix)
    }
    /// One worker's description.
    pub fn worker(&self, consumer: &str) -> String {
        format!("{}:worker:{consumer}", self.prefix)
    }
    /// Outcome counters per service.
    pub fn stats(&self) -> String {
        format!("{}:stats", self.prefix)
    }
}

/// The stats field of an outcome for one service.
pub fn stat_field(kind: &str, algorithm: &str, service: &str) -> String {
    format!("{kind}{SEP}{algorithm}{SEP}{service}")
}

/// One task as it travels on the stream: what runs, and the queue's bookkeeping.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedTask {
    /// What runs: algorithm, plugin, service, options (so workers need no copy of the
    /// services), tick and shard.
    pub task: Task,
    /// The service's alarm policy (flap control), which travels with the task for the same
    /// reason.
    pub policy: Policy,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// The error of the previous attempt, if any.
    pub last_error: Option<String>,
    /// When the scheduler enqueued it (ms since the epoch).
    pub enqueued_ms: i64,
}

impl QueuedTask {
    /// Reads a task from a stream entry's fields; `None` names what is missing or wrong.
    pub fn from_fields(fields: &HashMap<String, String>) -> Result<QueuedTask, String> {
        let get = |k: &str| {
            fields
                .get(k)
                .cloned()
                .ok_or_else(|| format!("field `{k}` missing"))
        };
        let num = |k: &str| -> Result<i64, String> {
            get(k)?
                .parse::<i64>()
                .map_err(|_| format!("field `{k}` is not a number"))
        };
        Ok(QueuedTask {
            policy: match fields.get("m") {
                Some(m) => serde_json::from_str(m).map_err(|e| format!("field `m`: {e}"))?,
                None => Policy::default(),
            },
            task: Task {
                algorithm: get("a")?,
                plugin: get("p")?,
                service: get("s")?,
                options: get("o")?,
                tick: num("t")?,
                shard: u32::try_from(num("i")?).map_err(|_| "bad shard".to_string())?,
                shards: u32::try_from(num("n")?).map_err(|_| "bad shards".to_string())?,
            },
            attempt: u32::try_from(num("k")?).map_err(|_| "bad attempt".to_string())?,
            last_error: fields.get("e").cloned(),
            enqueued_ms: num("q").unwrap_or(0),
        })
    }

    /// The busy marker this task holds.
    pub fn busy_key(&self, keys: &Keys) -> String {
        keys.busy(&self.task.algorithm, &self.task.service, self.task.shard)
    }
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// `XAUTOCLAIM`: takes over for `consumer` up to `count` entries of `stream` that `group` has
/// left idle for at least `min_idle` (their consumer died), from the stream's start. Answers
/// the entries and the ids of those trimmed from the stream meanwhile, or `Err` with a reply
/// of another shape.
pub(crate) async fn autoclaim(
    client: &mut Client,
    stream: &str,
    group: &str,
    consumer: &str,
    min_idle: Duration,
    count: usize,
) -> Result<Result<(Vec<Entry>, Vec<String>), Value>, am_store::Error> {
    let (idle, count) = (min_idle.as_millis().to_string(), count.to_string());
    let reply = client
        .call(
            &[
                b"XAUTOCLAIM",
                stream.as_bytes(),
                group.as_bytes(),
                consumer.as_bytes(),
                idle.as_bytes(),
                b"0-0",
                b"COUNT",
                count.as_bytes(),
            ],
            Duration::ZERO,
        )
        .await?;
    let Value::Array(Some(mut parts)) = reply else {
        return Ok(Err(reply));
    };
    let deleted = if parts.len() >= 3 {
        parts.remove(2).into_strings()
    } else {
        Vec::new()
    };
    let entries = if parts.len() >= 2 {
        parts.remove(1).into_entries()
    } else {
        Vec::new()
    };
    Ok(Ok((entries, deleted)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_fields_round_trip() {
        let fields: HashMap<String, String> = [
            ("a", "Alg"),
            ("p", "Plug"),
            ("s", "svc"),
            ("o", "{}"),
            ("t", "1700000000"),
            ("i", "2"),
            ("n", "4"),
            ("k", "1"),
            ("q", "5"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let t = QueuedTask::from_fields(&fields).unwrap();
        assert_eq!(
            (t.task.shard, t.task.shards, t.task.tick, t.attempt),
            (2, 4, 1_700_000_000, 1)
        );
        assert_eq!(t.busy_key(&Keys::new("am1:q")), "{am1:q}:busy:Alg:svc:2");
        let mut broken = fields.clone();
        broken.remove("t");
        assert!(
            QueuedTask::from_fields(&broken)
                .unwrap_err()
                .contains("`t`")
        );
    }
}

//! What `am-runner status` reads from Redis: workers, tasks per service, dead letters. Works
//! from any host that reaches the Redis.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use am_store::resp::Value;
use serde::Serialize;

use super::TaskEntry;
use super::{GROUP, QueueClient, QueueError, SEP, now_ms};

/// A worker is alive when its last heartbeat is this recent (heartbeats come every 5 s at
/// most).
pub const ALIVE_WITHIN_MS: i64 = 20_000;

/// Entries inspected per call (the queue holds at most one task per service and shard).
const SCAN: usize = 10_000;

/// One worker.
#[derive(Debug, Clone, Serialize)]
pub struct WorkerInfo {
    /// Its consumer name (`host:pid`).
    pub name: String,
    /// Whether it renewed within [`ALIVE_WITHIN_MS`].
    pub alive: bool,
    /// Milliseconds since its last heartbeat.
    pub seen_ms_ago: i64,
    /// What it reported (host, pid, processes, running, tasks_ok, ...).
    pub info: BTreeMap<String, String>,
}

/// Counts for one service.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ServiceCounts {
    /// Waiting for a worker.
    pub queued: u64,
    /// Held by a worker.
    pub running: u64,
    /// Finished (since the queue's stats were created).
    pub ok: u64,
    /// Failed attempts.
    pub failed: u64,
    /// Moved to the dead letters.
    pub dead: u64,
    /// Ticks skipped because the previous task was still queued or running.
    pub skipped: u64,
    /// Tasks trimmed from the stream before they finished.
    pub lost: u64,
}

/// One dead letter.
#[derive(Debug, Clone, Serialize)]
pub struct DeadLetter {
    /// Stream id (its time).
    pub id: String,
    /// Its fields: `a` algorithm, `s` service, `t` tick, `k` attempts, `e` last error, `w`
    /// last worker.
    pub fields: BTreeMap<String, String>,
}

/// The whole picture.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// The task stream's key.
    pub stream: String,
    /// Workers, alive first.
    pub workers: Vec<WorkerInfo>,
    /// (algorithm, service) → counts.
    pub services: BTreeMap<String, BTreeMap<String, ServiceCounts>>,
    /// Dead letters in total.
    pub dead_letters: u64,
    /// The newest dead letters.
    pub recent_dead: Vec<DeadLetter>,
}

/// Reads the status, keeping `recent` dead letters.
pub async fn read(client: &mut QueueClient, recent: usize) -> Result<Status, QueueError> {
    let keys = client.keys.clone();
    let now = now_ms();
    let mut workers = Vec::new();
    let reply = client
        .call(
            &[
                b"ZRANGE",
                keys.workers().as_bytes(),
                b"0",
                b"-1",
                b"WITHSCORES",
            ],
            Duration::ZERO,
        )
        .await?;
    let flat = into_strings_of(reply);
    for pair in flat.chunks(2) {
        let [name, score] = pair else { continue };
        let seen = score.parse::<f64>().unwrap_or(0.0) as i64;
        let info = into_strings_of(
            client
                .call(&[b"HGETALL", keys.worker(name).as_bytes()], Duration::ZERO)
                .await?,
        );
        workers.push(WorkerInfo {
            name: name.clone(),
            alive: now - seen <= ALIVE_WITHIN_MS,
            seen_ms_ago: now - seen,
            info: info
                .chunks(2)
                .filter_map(|kv| match kv {
                    [k, v] => Some((k.clone(), v.clone())),
                    _ => None,
                })
                .collect(),
        });
    }
    workers.sort_by_key(|w| (!w.alive, w.seen_ms_ago));

    let mut services: BTreeMap<String, BTreeMap<String, ServiceCounts>> = BTreeMap::new();
    let stream = keys.tasks();
    let count = SCAN.to_string();
    let pending = client
        .call(
            &[
                b"XPENDING",
                stream.as_bytes(),
                GROUP.as_bytes(),
                b"-",
                b"+",
                count.as_bytes(),
            ],
            Duration::ZERO,
        )
        .await;
    let running: HashSet<String> = match pending {
        Ok(Value::Array(Some(items))) => items
            .into_iter()
            .filter_map(|i| into_strings_of(i).into_iter().next())
            .collect(),
        // No stream or group yet: nothing is running.
        _ => HashSet::new(),
    };
    let entries = entries_of(
        client
            .call(
                &[
                    b"XRANGE",
                    stream.as_bytes(),
                    b"-",
                    b"+",
                    b"COUNT",
                    count.as_bytes(),
                ],
                Duration::ZERO,
            )
            .await?,
    );
    for e in entries {
        let (Some(a), Some(s)) = (e.fields.get("a"), e.fields.get("s")) else {
            continue;
        };
        let c = services
            .entry(a.clone())
            .or_default()
            .entry(s.clone())
            .or_default();
        if running.contains(&e.id) {
            c.running += 1;
        } else {
            c.queued += 1;
        }
    }
    let stats = into_strings_of(
        client
            .call(&[b"HGETALL", keys.stats().as_bytes()], Duration::ZERO)
            .await?,
    );
    for kv in stats.chunks(2) {
        let [field, value] = kv else { continue };
        let mut parts = field.splitn(3, SEP);
        let (Some(kind), Some(a), Some(s)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let n = value.parse::<u64>().unwrap_or(0);
        let c = services
            .entry(a.to_string())
            .or_default()
            .entry(s.to_string())
            .or_default();
        match kind {
            "ok" => c.ok += n,
            "failed" => c.failed += n,
            "dead" => c.dead += n,
            "skipped" => c.skipped += n,
            "lost" => c.lost += n,
            _ => {}
        }
    }
    let dead_key = keys.dead();
    let dead_letters = match client
        .call(&[b"XLEN", dead_key.as_bytes()], Duration::ZERO)
        .await?
    {
        Value::Int(n) => u64::try_from(n).unwrap_or(0),
        _ => 0,
    };
    let recent_n = recent.to_string();
    let recent_dead = entries_of(
        client
            .call(
                &[
                    b"XREVRANGE",
                    dead_key.as_bytes(),
                    b"+",
                    b"-",
                    b"COUNT",
                    recent_n.as_bytes(),
                ],
                Duration::ZERO,
            )
            .await?,
    )
    .into_iter()
    .map(|e| DeadLetter {
        id: e.id,
        fields: e
            .fields
            .into_iter()
            .filter(|(k, _)| k != "o")
            .collect::<HashMap<_, _>>()
            .into_iter()
            .collect(),
    })
    .collect();
    Ok(Status {
        stream,
        workers,
        services,
        dead_letters,
        recent_dead,
    })
}

/// The strings of an array reply.
fn into_strings_of(v: Value) -> Vec<String> {
    v.into_strings()
}

/// The entries of a stream range reply.
fn entries_of(v: Value) -> Vec<TaskEntry> {
    v.into_entries().into_iter().map(TaskEntry::from).collect()
}

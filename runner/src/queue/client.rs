//! The queue's Redis calls, on a connection that is re-made after any failure.

use std::collections::HashMap;
use std::time::Duration;

use am_store::Client;
use am_store::RedisAddr;
use am_store::resp::Value;

/// What went wrong talking to the queue.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// Redis could not be reached or the connection broke.
    #[error("{what} on {addr}: {source}")]
    Redis {
        /// The command or step.
        what: String,
        /// The server.
        addr: String,
        /// Why.
        #[source]
        source: am_store::Error,
    },
    /// Redis did not answer in time.
    #[error("{what} on {addr}: no answer in time")]
    Timeout {
        /// The command.
        what: String,
        /// The server.
        addr: String,
    },
    /// Redis refused the command.
    #[error("{what}: {message}")]
    Refused {
        /// The command.
        what: String,
        /// Redis' error.
        message: String,
    },
    /// A reply of an unexpected shape.
    #[error("{0}")]
    Reply(String),
}

type Result<T> = std::result::Result<T, QueueError>;

use super::{GROUP, Keys, scripts};

/// One stream entry: its id and fields.
#[derive(Debug, Clone)]
pub struct TaskEntry {
    /// The stream id.
    pub id: String,
    /// Its fields.
    pub fields: HashMap<String, String>,
}

impl From<am_store::reply::Entry> for TaskEntry {
    fn from((id, fields): am_store::reply::Entry) -> Self {
        TaskEntry { id, fields }
    }
}

/// What `XAUTOCLAIM` took over.
#[derive(Debug, Default)]
pub struct Claimed {
    /// Entries now held by this consumer.
    pub entries: Vec<TaskEntry>,
    /// Ids that were pending but whose entries no longer exist (trimmed).
    pub deleted: Vec<String>,
}

/// What enqueueing one tick did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    /// Another scheduler took this tick.
    LeaseTaken,
    /// This scheduler took it: tasks queued, and tasks skipped because the service's previous
    /// task was still queued or running.
    Done {
        /// Tasks queued.
        queued: u64,
        /// Tasks skipped.
        skipped: u64,
        /// Tasks on the queue afterwards (queued and running).
        backlog: u64,
    },
}

/// How a failed task was disposed of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failed {
    /// Re-queued for this attempt number.
    Retried(u32),
    /// Moved to the dead-letter stream after this many attempts.
    Dead(u32),
    /// Another worker holds it now; nothing was done.
    NotOurs,
    /// Its entry had been trimmed from the stream.
    Gone,
}

/// A queue connection.
#[derive(Debug)]
pub struct QueueClient {
    client: Client,
    /// The key names.
    pub keys: Keys,
}

impl QueueClient {
    /// A client for the queue under `prefix` on `addr`; connects on first use.
    pub fn new(addr: RedisAddr, prefix: &str) -> QueueClient {
        QueueClient {
            client: Client::new(addr),
            keys: Keys::new(prefix),
        }
    }

    /// Runs `args`, reconnecting first if needed; an error reply is an error. Any failure
    /// drops the connection so the next call starts afresh.
    pub async fn call(&mut self, args: &[&[u8]], extra: Duration) -> Result<Value> {
        let name = String::from_utf8_lossy(args.first().copied().unwrap_or_default()).to_string();
        self.client
            .call(args, extra)
            .await
            .map_err(|e| self.error(name, e))
    }

    async fn eval(&mut self, script: &str, keys: &[&str], args: &[&[u8]]) -> Result<Value> {
        self.client
            .eval(script, keys, args)
            .await
            .map_err(|e| self.error("EVAL".into(), e))
    }

    fn error(&self, what: String, e: am_store::Error) -> QueueError {
        let addr = self.client.addr().to_string();
        match e {
            am_store::Error::Server(message) => QueueError::Refused { what, message },
            am_store::Error::Timeout(_) => QueueError::Timeout { what, addr },
            source => QueueError::Redis { what, addr, source },
        }
    }

    /// Creates the consumer group (and the stream) if missing.
    pub async fn ensure_group(&mut self) -> Result<()> {
        let tasks = self.keys.tasks();
        match self
            .call(
                &[
                    b"XGROUP",
                    b"CREATE",
                    tasks.as_bytes(),
                    GROUP.as_bytes(),
                    b"0",
                    b"MKSTREAM",
                ],
                Duration::ZERO,
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.to_string().contains("BUSYGROUP") => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Enqueues one tick of an algorithm (see [`scripts::ENQUEUE`]): its `tasks` (one per
    /// service and shard; their plugin and tick are `plugin` and `tick`), each with its alarm
    /// policy as JSON.
    #[allow(clippy::too_many_arguments)]
    pub async fn enqueue(
        &mut self,
        algorithm: &str,
        plugin: &str,
        tick: i64,
        holder: &str,
        tasks: &[(am_plugin_host::Task, String)],
        lease_ms: u64,
        busy_ms: u64,
        max_len: u64,
    ) -> Result<Enqueued> {
        let (lease, stream) = (self.keys.lease(algorithm, tick), self.keys.tasks());
        let (busy, stats) = (self.keys.busy_prefix(), self.keys.stats());
        let nums: Vec<String> = [lease_ms, busy_ms, max_len]
            .iter()
            .map(ToString::to_string)
            .collect();
        let now = super::now_ms().to_string();
        let tick_s = tick.to_string();
        let shard_texts: Vec<(String, String)> = tasks
            .iter()
            .map(|(t, _)| (t.shard.to_string(), t.shards.to_string()))
            .collect();
        let mut args: Vec<&[u8]> = vec![
            nums[0].as_bytes(),
            nums[1].as_bytes(),
            nums[2].as_bytes(),
            busy.as_bytes(),
            stats.as_bytes(),
            now.as_bytes(),
            tick_s.as_bytes(),
            algorithm.as_bytes(),
            plugin.as_bytes(),
            holder.as_bytes(),
        ];
        for ((t, policy), (i, n)) in tasks.iter().zip(&shard_texts) {
            args.extend([
                t.service.as_bytes(),
                t.options.as_bytes(),
                i.as_bytes(),
                n.as_bytes(),
                policy.as_bytes(),
            ]);
        }
        let reply = self
            .eval(scripts::ENQUEUE, &[&lease, &stream], &args)
            .await?;
        match reply.ints().as_slice() {
            [-1] => Ok(Enqueued::LeaseTaken),
            [q, s, b] => Ok(Enqueued::Done {
                queued: u64::try_from(*q).unwrap_or(0),
                skipped: u64::try_from(*s).unwrap_or(0),
                backlog: u64::try_from(*b).unwrap_or(0),
            }),
            _ => Err(QueueError::Reply(format!(
                "enqueue script: unexpected reply {reply:?}"
            ))),
        }
    }

    /// Reads up to `count` new tasks for `consumer`, waiting at most `block`.
    pub async fn read(
        &mut self,
        consumer: &str,
        count: usize,
        block: Duration,
    ) -> Result<Vec<TaskEntry>> {
        let tasks = self.keys.tasks();
        let (count, block_ms) = (count.to_string(), block.as_millis().to_string());
        let reply = self
            .call(
                &[
                    b"XREADGROUP",
                    b"GROUP",
                    GROUP.as_bytes(),
                    consumer.as_bytes(),
                    b"COUNT",
                    count.as_bytes(),
                    b"BLOCK",
                    block_ms.as_bytes(),
                    b"STREAMS",
                    tasks.as_bytes(),
                    b">",
                ],
                block,
            )
            .await?;
        Ok(reply
            .into_read_entries()
            .into_iter()
            .map(TaskEntry::from)
            .collect())
    }

    /// Takes over up to `count` tasks idle for at least `min_idle` (their worker died).
    pub async fn autoclaim(
        &mut self,
        consumer: &str,
        min_idle: Duration,
        count: usize,
    ) -> Result<Claimed> {
        let tasks = self.keys.tasks();
        let claimed = super::autoclaim(&mut self.client, &tasks, GROUP, consumer, min_idle, count)
            .await
            .map_err(|e| self.error("XAUTOCLAIM".into(), e))?;
        let (entries, deleted) = claimed.map_err(|reply| {
            QueueError::Reply(format!("XAUTOCLAIM: unexpected reply {reply:?}"))
        })?;
        let entries = entries.into_iter().map(TaskEntry::from).collect();
        Ok(Claimed { entries, deleted })
    }

    /// Renews this consumer's hold on `ids` (resetting their idle time) and the busy markers,
    /// and records the worker as alive with `info` (field, value pairs).
    pub async fn heartbeat(
        &mut self,
        consumer: &str,
        ids: &[String],
        busy: &[String],
        busy_ms: u64,
        info: &[(String, String)],
    ) -> Result<()> {
        let tasks = self.keys.tasks();
        if !ids.is_empty() {
            let mut args: Vec<&[u8]> = vec![
                b"XCLAIM",
                tasks.as_bytes(),
                GROUP.as_bytes(),
                consumer.as_bytes(),
                b"0",
            ];
            args.extend(ids.iter().map(|i| i.as_bytes()));
            args.push(b"JUSTID");
            self.call(&args, Duration::ZERO).await?;
        }
        let ms = busy_ms.to_string();
        for key in busy {
            self.call(&[b"PEXPIRE", key.as_bytes(), ms.as_bytes()], Duration::ZERO)
                .await?;
        }
        let (workers, me) = (self.keys.workers(), self.keys.worker(consumer));
        let now = super::now_ms().to_string();
        self.call(
            &[
                b"ZADD",
                workers.as_bytes(),
                now.as_bytes(),
                consumer.as_bytes(),
            ],
            Duration::ZERO,
        )
        .await?;
        let mut args: Vec<&[u8]> = vec![b"HSET", me.as_bytes()];
        for (k, v) in info {
            args.extend([k.as_bytes(), v.as_bytes()]);
        }
        if info.is_empty() {
            args.extend([b"seen".as_slice(), now.as_bytes()]);
        }
        self.call(&args, Duration::ZERO).await?;
        self.call(&[b"PEXPIRE", me.as_bytes(), b"86400000"], Duration::ZERO)
            .await?;
        // Workers not seen for a day are forgotten.
        let old = (super::now_ms() - 86_400_000).to_string();
        self.call(
            &[
                b"ZREMRANGEBYSCORE",
                workers.as_bytes(),
                b"0",
                old.as_bytes(),
            ],
            Duration::ZERO,
        )
        .await?;
        Ok(())
    }

    /// Tasks on the queue (queued and running: finished ones are deleted).
    pub async fn backlog(&mut self) -> Result<u64> {
        let tasks = self.keys.tasks();
        match self
            .call(&[b"XLEN", tasks.as_bytes()], Duration::ZERO)
            .await?
        {
            Value::Int(n) => Ok(u64::try_from(n).unwrap_or(0)),
            other => Err(QueueError::Reply(format!(
                "XLEN: unexpected reply {other:?}"
            ))),
        }
    }

    /// Removes this worker from the registry (a clean stop).
    pub async fn unregister(&mut self, consumer: &str) -> Result<()> {
        let (workers, me) = (self.keys.workers(), self.keys.worker(consumer));
        self.call(
            &[b"ZREM", workers.as_bytes(), consumer.as_bytes()],
            Duration::ZERO,
        )
        .await?;
        self.call(&[b"DEL", me.as_bytes()], Duration::ZERO).await?;
        let tasks = self.keys.tasks();
        // The consumer has nothing pending after a clean stop; forget it.
        self.call(
            &[
                b"XGROUP",
                b"DELCONSUMER",
                tasks.as_bytes(),
                GROUP.as_bytes(),
                consumer.as_bytes(),
            ],
            Duration::ZERO,
        )
        .await?;
        Ok(())
    }

    /// Acknowledges a task whose outputs were written. False if another worker holds it now.
    pub async fn finish(
        &mut self,
        consumer: &str,
        id: &str,
        task: &super::QueuedTask,
    ) -> Result<bool> {
        let (tasks, busy, stats) = (
            self.keys.tasks(),
            task.busy_key(&self.keys),
            self.keys.stats(),
        );
        let field = super::stat_field("ok", &task.task.algorithm, &task.task.service);
        let tick = task.task.tick.to_string();
        let reply = self
            .eval(
                scripts::FINISH,
                &[&tasks, &busy, &stats],
                &[
                    GROUP.as_bytes(),
                    id.as_bytes(),
                    tick.as_bytes(),
                    field.as_bytes(),
                    consumer.as_bytes(),
                ],
            )
            .await?;
        Ok(matches!(reply, Value::Int(1)))
    }

    /// Fails a task this consumer holds (see [`scripts::FAIL`]). `task` may be `None` for an
    /// entry that could not be read (it then goes straight to the dead letters).
    #[allow(clippy::too_many_arguments)]
    pub async fn fail(
        &mut self,
        consumer: &str,
        id: &str,
        task: Option<&super::QueuedTask>,
        error: &str,
        max_attempts: u32,
        max_len: u64,
        dead_max_len: u64,
        busy_ms: u64,
    ) -> Result<Failed> {
        let (tasks, stats, dead) = (self.keys.tasks(), self.keys.stats(), self.keys.dead());
        let (busy, tick, who, max) = match task {
            Some(t) => (
                t.busy_key(&self.keys),
                t.task.tick.to_string(),
                format!("{}{}{}", t.task.algorithm, super::SEP, t.task.service),
                max_attempts.to_string(),
            ),
            None => (
                self.keys.busy_prefix(),
                String::new(),
                format!("?{}?", super::SEP),
                "1".to_string(),
            ),
        };
        let nums: Vec<String> = [max_len, dead_max_len, busy_ms]
            .iter()
            .map(ToString::to_string)
            .collect();
        let now = super::now_ms().to_string();
        let reply = self
            .eval(
                scripts::FAIL,
                &[&tasks, &busy, &stats, &dead],
                &[
                    GROUP.as_bytes(),
                    id.as_bytes(),
                    tick.as_bytes(),
                    consumer.as_bytes(),
                    error.as_bytes(),
                    max.as_bytes(),
                    nums[0].as_bytes(),
                    nums[1].as_bytes(),
                    now.as_bytes(),
                    nums[2].as_bytes(),
                    who.as_bytes(),
                ],
            )
            .await?;
        let n = reply.ints();
        Ok(match n.as_slice() {
            [0] => Failed::NotOurs,
            [-1] => Failed::Gone,
            [1, k] => Failed::Retried(u32::try_from(*k).unwrap_or(0)),
            [2, k] => Failed::Dead(u32::try_from(*k).unwrap_or(0)),
            _ => {
                return Err(QueueError::Reply(format!(
                    "fail script: unexpected reply {reply:?}"
                )));
            }
        })
    }
}

//! The read side: finding series through the index and reading their points.

use std::time::Duration;

use crate::codec::{decode_chunk, resolve};
use crate::conn::{Conn, Sharded, command};
use crate::resp::{RedisAddr, Value};
use crate::{Error, Model, Pattern, Point, keys};

/// Names fetched per `ZRANGEBYLEX` page of one index shard.
const PAGE: usize = 10_000;

/// One stored series: a metric name under one model.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesId {
    /// The metric name.
    pub name: String,
    /// The model it is stored under.
    pub model: Model,
}

/// Reads series from Redis.
#[derive(Debug, Clone)]
pub struct Reader {
    conn: Conn,
}

impl Reader {
    /// Connects to the store.
    pub async fn connect(addr: &RedisAddr, timeout: Duration) -> Result<Reader, Error> {
        Ok(Reader {
            conn: Conn::connect(addr, timeout).await?,
        })
    }

    /// Wraps an existing connection.
    pub fn new(conn: Conn) -> Reader {
        Reader { conn }
    }

    /// The connection.
    pub fn conn(&self) -> &Conn {
        &self.conn
    }

    /// The models that have been written to, from the tag set.
    pub async fn models(&mut self) -> Result<Vec<Model>, Error> {
        let reply = self
            .conn
            .cmd_ok(&[b"SMEMBERS", keys::tags().as_bytes()])
            .await?;
        let mut models: Vec<Model> = bulk_strings(reply)?
            .iter()
            .filter_map(|t| Model::from_tag(&String::from_utf8_lossy(t)))
            .collect();
        models.sort();
        Ok(models)
    }

    /// Every series whose name matches `pattern`, sorted by name then model.
    ///
    /// Asks every shard of each model's index at once (one pipeline on one server, one per
    /// shard on a cluster, all in flight together): O(log n + k) per shard for a glob with a
    /// literal prefix (k names sharing it), never a scan of the keyspace.
    pub async fn find(&mut self, pattern: &Pattern) -> Result<Vec<SeriesId>, Error> {
        let models = self.models().await?;
        let first_min = if pattern.prefix().is_empty() {
            b"-".to_vec()
        } else {
            [b"[", pattern.prefix().as_bytes()].concat()
        };
        let max = if pattern.prefix().is_empty() {
            b"+".to_vec()
        } else {
            // 0xff never occurs in UTF-8, so this bounds every name with the prefix.
            [b"(", pattern.prefix().as_bytes(), b"\xff"].concat()
        };
        // (model, shard, where the next page starts) of every index shard still to read.
        // A name without wildcards lives in one shard.
        let shards: Vec<u16> = match pattern.exact_name() {
            Some(name) => vec![keys::shard_of(name)],
            None => (0..keys::SHARDS).collect(),
        };
        let mut todo: Vec<(Model, u16, Vec<u8>)> = models
            .iter()
            .flat_map(|m| shards.iter().map(|s| (*m, *s, first_min.clone())))
            .collect();
        let page = PAGE.to_string();
        let mut found = Vec::new();
        while !todo.is_empty() {
            let mut batch = Sharded::new(&self.conn);
            for (model, shard, min) in &todo {
                let index = keys::index(*shard, &model.tag());
                batch.add(
                    *shard,
                    command(&[
                        b"ZRANGEBYLEX",
                        index.as_bytes(),
                        min,
                        &max,
                        b"LIMIT",
                        b"0",
                        page.as_bytes(),
                    ]),
                );
            }
            let replies = batch.send(&self.conn).await?;
            let mut next = Vec::new();
            for ((model, shard, _), reply) in todo.into_iter().zip(replies) {
                let names = bulk_strings(reply)?;
                if names.len() == PAGE
                    && let Some(last) = names.last()
                {
                    next.push((model, shard, [b"(", last.as_slice()].concat()));
                }
                for raw in names {
                    let Ok(name) = String::from_utf8(raw) else {
                        continue;
                    };
                    if pattern.matches(&name) {
                        found.push(SeriesId { name, model });
                    }
                }
            }
            todo = next;
        }
        found.sort();
        Ok(found)
    }

    /// The series stored under each of `names`, in one round trip per shard (a `ZSCORE` per
    /// name and model, pipelined): one list per name, sorted by model, empty for an unknown
    /// name.
    pub async fn locate(&mut self, names: &[String]) -> Result<Vec<Vec<SeriesId>>, Error> {
        let models = self.models().await?;
        if names.is_empty() || models.is_empty() {
            return Ok(vec![Vec::new(); names.len()]);
        }
        let tags: Vec<String> = models.iter().map(Model::tag).collect();
        let mut batch = Sharded::new(&self.conn);
        for name in names {
            let shard = keys::shard_of(name);
            for tag in &tags {
                let index = keys::index(shard, tag);
                batch.add(
                    shard,
                    command(&[b"ZSCORE", index.as_bytes(), name.as_bytes()]),
                );
            }
        }
        let mut replies = batch.send(&self.conn).await?.into_iter();
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            let mut ids = Vec::new();
            for model in &models {
                match replies.next() {
                    Some(Value::Bulk(Some(_))) => ids.push(SeriesId {
                        name: name.clone(),
                        model: *model,
                    }),
                    Some(Value::Bulk(None)) => {}
                    Some(other) => return Err(reply_error("ZSCORE", &other)),
                    None => return Err(Error::Protocol("ZSCORE: missing reply".into())),
                }
            }
            out.push(ids);
        }
        Ok(out)
    }

    /// The points of one series with `from <= ts <= until`, oldest first, one per timestamp.
    pub async fn read(
        &mut self,
        id: &SeriesId,
        from: i64,
        until: i64,
    ) -> Result<Vec<Point>, Error> {
        let mut all = self
            .read_many(std::slice::from_ref(id), from, until)
            .await?;
        Ok(all.pop().unwrap_or_default())
    }

    /// The points of several series in one round trip per shard (one `MGET` per series,
    /// pipelined).
    ///
    /// Each series costs one key lookup per chunk its window overlaps plus its k points: the
    /// window is clipped to what retention can still hold, so an open-ended `from` stays cheap.
    pub async fn read_many(
        &mut self,
        ids: &[SeriesId],
        from: i64,
        until: i64,
    ) -> Result<Vec<Vec<Point>>, Error> {
        let mut out = Vec::with_capacity(ids.len());
        self.read_many_each(ids, from, until, |_, points| out.push(points.to_vec()))
            .await?;
        Ok(out)
    }

    /// [`read_many`](Self::read_many) without collecting: `each(i, points)` gets the points of
    /// `ids[i]` (oldest first, one per timestamp), in order, borrowed from a buffer reused for
    /// every series.
    pub async fn read_many_each(
        &mut self,
        ids: &[SeriesId],
        from: i64,
        until: i64,
        mut each: impl FnMut(usize, &[Point]),
    ) -> Result<(), Error> {
        if ids.is_empty() {
            return Ok(());
        }
        let now = unix_now();
        let mut batch = Sharded::new(&self.conn);
        // The first chunk start and the chunk count of each series.
        let mut starts: Vec<(i64, i64)> = Vec::with_capacity(ids.len());
        let mut key = String::new();
        let mut tag = String::new();
        let mut tag_of: Option<Model> = None;
        for id in ids {
            let m = &id.model;
            let span = i64::from(m.span());
            let oldest_live = now - i64::from(m.ttl()) - 2 * span;
            let first = m.chunk_start(from.max(oldest_live));
            // Reads look at most one retention ahead of now: far-future chunks are not
            // enumerated for an open-ended `until`.
            let newest_live = now + i64::from(m.ttl()) + 2 * span;
            let last = m.chunk_start(until.min(newest_live));
            let count = if first > last {
                0
            } else {
                (last - first) / span + 1
            };
            if tag_of != Some(*m) {
                tag = m.tag();
                tag_of = Some(*m);
            }
            let shard = keys::shard_of(&id.name);
            let mut cmd = redis::Cmd::with_capacity(
                1 + usize::try_from(count).unwrap_or(0).max(1),
                (id.name.len() + tag.len() + 32) * usize::try_from(count).unwrap_or(1).max(1),
            );
            cmd.arg(&b"MGET"[..]);
            if count == 0 {
                // MGET needs a key; this one (in the series' slot) never exists in the layout.
                cmd.arg(format!("{}none", keys::chunk_prefix(shard)).as_bytes());
            }
            for k in 0..count {
                key.clear();
                keys::push_chunk(&mut key, &tag, &id.name, first + k * span);
                cmd.arg(key.as_bytes());
            }
            batch.add(shard, cmd);
            starts.push((first, count));
        }
        let mut points: Vec<Point> = Vec::new();
        batch
            .send_each(&self.conn, |i, items| {
                let (first, count) = starts.get(i).copied().unwrap_or((0, 0));
                let span = ids.get(i).map_or(0, |id| i64::from(id.model.span()));
                points.clear();
                for (k, item) in items.take(usize::try_from(count).unwrap_or(0)).enumerate() {
                    if let Some(bytes) = item.map_err(|e| e.context("MGET"))? {
                        decode_chunk(first + k as i64 * span, bytes, &mut points);
                    }
                }
                // Chunks cover disjoint, ascending time ranges, so resolving the whole series
                // is resolving each chunk.
                resolve(&mut points);
                let lo = points.partition_point(|p| p.ts < from);
                let hi = points.partition_point(|p| p.ts <= until);
                each(i, points.get(lo..hi.max(lo)).unwrap_or_default());
                Ok(())
            })
            .await
            .map_err(|e| match e {
                Error::Server(m) => Error::Server(format!("MGET: {m}")),
                other => other,
            })
    }

    /// Sends a raw command, for tools and tests that need more than reads (on a cluster it
    /// goes to the node of its first key). An error reply is returned, not raised.
    pub async fn raw(&mut self, args: &[&[u8]]) -> Result<Value, Error> {
        self.conn.cmd(args).await
    }
}

fn reply_error(cmd: &str, reply: &Value) -> Error {
    match reply.as_error() {
        Some(e) => Error::Server(format!("{cmd}: {e}")),
        None => Error::Protocol(format!("{cmd}: unexpected reply {reply:?}")),
    }
}

fn bulk_strings(reply: Value) -> Result<Vec<Vec<u8>>, Error> {
    match reply {
        Value::Array(Some(items)) => Ok(items
            .into_iter()
            .filter_map(|v| match v {
                Value::Bulk(Some(b)) => Some(b),
                _ => None,
            })
            .collect()),
        Value::Array(None) => Ok(Vec::new()),
        other => Err(reply_error("lookup", &other)),
    }
}

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

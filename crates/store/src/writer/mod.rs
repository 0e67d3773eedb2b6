//! The write side of the layout, free of I/O: batching points into commands, and deciding from
//! each reply what else to send.
//!
//! One point costs one `APPEND` (several points of the same chunk in a batch share one). The
//! rest is driven by replies: when `APPEND` answers with exactly the length it appended, the
//! chunk was just created, so the writer follows up once per chunk with its expiry, the index
//! entries and the seal of the chunk before it. The writer keeps no per-series state, so a
//! restart, a `FLUSHDB` or a failover cannot leave a chunk without its expiry.
//!
//! Every command carries the shard its keys are in ([`Cmd::shard`]): on a cluster a pipeline
//! holds the commands of one shard, so it goes to one node in one round trip.

mod batch;

pub use batch::{Batch, MAX_FUTURE_SECS, PushCounts};

use crate::Model;
use crate::conn::{Conn, Sharded, command};
use crate::keys;
use crate::resp::Value;
use crate::scripts::{SEAL, Script, TRIM};

/// Names dropped from an index shard per trim call, to keep each script short.
const TRIM_LIMIT: &[u8] = b"1000";

/// The models a writer stores into, addressed by a small id (the router's model numbers).
#[derive(Debug, Clone)]
pub struct ModelTable {
    models: Vec<Model>,
    tags: Vec<String>,
}

impl ModelTable {
    /// Builds the table; ids are positions in `models`.
    pub fn new(models: Vec<Model>) -> ModelTable {
        let tags = models.iter().map(Model::tag).collect();
        ModelTable { models, tags }
    }

    /// The model with this id.
    pub fn get(&self, id: u16) -> Option<&Model> {
        self.models.get(usize::from(id))
    }

    /// All models, by id.
    pub fn models(&self) -> &[Model] {
        &self.models
    }

    /// The tag of the model with this id.
    pub(crate) fn tag(&self, id: u16) -> Option<&str> {
        self.tags.get(usize::from(id)).map(String::as_str)
    }
}

/// One command and what it is for.
#[derive(Debug, Clone)]
pub struct Cmd {
    /// The command.
    pub cmd: redis::Cmd,
    /// What it is for.
    pub meta: Meta,
}

/// What a command is for, kept beside it while it travels (a pipeline owns the command).
#[derive(Debug, Clone)]
pub struct Meta {
    /// What it does.
    pub kind: CmdKind,
    /// The shard of the layout its keys are in.
    pub shard: u16,
}

impl Meta {
    /// Datapoints the command stores.
    pub fn points(&self) -> u32 {
        match self.kind {
            CmdKind::Append { points, .. } => points,
            _ => 0,
        }
    }
}

impl Cmd {
    /// Datapoints this command stores.
    pub fn points(&self) -> u32 {
        self.meta.points()
    }

    /// Roughly the bytes it takes, for buffer accounting.
    pub fn size(&self) -> usize {
        size_of(&self.cmd)
    }
}

/// Roughly the bytes a command takes on the wire.
pub fn size_of(cmd: &redis::Cmd) -> usize {
    cmd.args_iter()
        .map(|a| match a {
            redis::Arg::Simple(b) => b.len() + 16,
            _ => 16,
        })
        .sum::<usize>()
        + 16
}

/// A command's name (`APPEND`, `EVALSHA`...), for messages.
pub fn name_of(cmd: &redis::Cmd) -> String {
    match cmd.args_iter().next() {
        Some(redis::Arg::Simple(b)) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    }
}

/// What a command does.
#[derive(Debug, Clone)]
pub enum CmdKind {
    /// Appends records to a chunk.
    Append {
        /// Model id.
        model: u16,
        /// Where the metric name starts in the key (it is part of the key, so it is not
        /// stored twice).
        name_at: u32,
        /// Length of the metric name.
        name_len: u32,
        /// Chunk start.
        chunk_start: i64,
        /// Bytes appended: a reply equal to this means the chunk is new.
        appended: u32,
        /// Points in the records.
        points: u32,
    },
    /// Sets a new chunk's expiry, or updates an index.
    Housekeeping,
    /// Seals the chunk under this key (and gives it this expiry if it has none).
    Seal(String, i64),
    /// Trims one shard of the index of a model.
    Trim(u16),
}

/// What a reply means for the command it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The points are stored.
    Stored(u32),
    /// A housekeeping command succeeded.
    Done,
    /// An index trim dropped this many names.
    Trimmed(i64),
    /// A transient refusal (out of memory, loading, read-only replica, a cluster slot
    /// moving...): send the same command again later.
    Retry(String),
    /// The server did not know a script; an equivalent `EVAL` was encoded in its place.
    Replaced,
    /// A permanent refusal: these points are lost (the caller counts and logs them).
    Failed {
        /// Points lost (0 for housekeeping).
        points: u32,
        /// The server's message.
        error: String,
    },
}

/// Interprets `reply` to `cmd` (for what `meta` says) and adds any follow-up commands to
/// `out`.
///
/// `resent` says the command was sent again after a lost connection: its reply may then not
/// show that the chunk is new (the first copy created it), so the follow-ups are sent anyway;
/// they are idempotent.
#[allow(clippy::too_many_arguments)]
pub fn on_reply(
    table: &ModelTable,
    cmd: &redis::Cmd,
    meta: &Meta,
    reply: &Value,
    resent: bool,
    now: i64,
    out: &mut Vec<Cmd>,
) -> Outcome {
    if let Some(err) = reply.as_error() {
        if err.starts_with("NOSCRIPT") {
            match &meta.kind {
                CmdKind::Seal(key, expiry) => {
                    out.push(script(
                        &SEAL,
                        false,
                        &[key.as_bytes()],
                        &[expiry.to_string().as_bytes()],
                        meta.kind.clone(),
                        meta.shard,
                    ));
                    return Outcome::Replaced;
                }
                CmdKind::Trim(id) => {
                    if let Some(model) = table.get(*id) {
                        out.push(trim_one(model, now, false, *id, meta.shard));
                        return Outcome::Replaced;
                    }
                }
                _ => {}
            }
        }
        if is_transient(err) {
            return Outcome::Retry(err.to_string());
        }
        return Outcome::Failed {
            points: meta.points(),
            error: err.to_string(),
        };
    }
    match &meta.kind {
        CmdKind::Append {
            model,
            name_at,
            name_len,
            chunk_start,
            appended,
            points,
        } => {
            let new_chunk = matches!(reply, Value::Int(n) if *n == i64::from(*appended));
            if new_chunk || resent {
                let key = match cmd.args_iter().nth(1) {
                    Some(redis::Arg::Simple(k)) => k,
                    _ => &[][..],
                };
                let name = key
                    .get(*name_at as usize..(*name_at + *name_len) as usize)
                    .and_then(|b| std::str::from_utf8(b).ok());
                if let (Some(m), Some(tag), Some(name)) =
                    (table.get(*model), table.tag(*model), name)
                {
                    follow_ups(m, tag, name, *chunk_start, out);
                }
            }
            Outcome::Stored(*points)
        }
        CmdKind::Trim(_) => match reply {
            Value::Int(n) => Outcome::Trimmed(*n),
            _ => Outcome::Done,
        },
        CmdKind::Housekeeping | CmdKind::Seal(..) => Outcome::Done,
    }
}

/// Server errors that go away by themselves; the command is worth sending again.
fn is_transient(err: &str) -> bool {
    [
        "OOM",
        "LOADING",
        "BUSY",
        "TRYAGAIN",
        "MASTERDOWN",
        "READONLY",
        "CLUSTERDOWN",
        "NOREPLICAS",
        "MOVED",
        "ASK",
    ]
    .iter()
    .any(|p| err.starts_with(p))
}

fn one(args: &[&[u8]], kind: CmdKind, shard: u16) -> Cmd {
    Cmd {
        cmd: command(args),
        meta: Meta { kind, shard },
    }
}

fn follow_ups(model: &Model, tag: &str, name: &str, chunk_start: i64, out: &mut Vec<Cmd>) {
    let shard = keys::shard_of(name);
    let key = keys::chunk(model, name, chunk_start);
    let expiry = model.chunk_expiry(chunk_start).to_string();
    out.push(one(
        &[b"EXPIREAT", key.as_bytes(), expiry.as_bytes()],
        CmdKind::Housekeeping,
        shard,
    ));
    let index = keys::index(shard, tag);
    out.push(one(
        &[b"ZADD", index.as_bytes(), b"0", name.as_bytes()],
        CmdKind::Housekeeping,
        shard,
    ));
    let seen = keys::seen(shard, tag);
    let start = chunk_start.to_string();
    out.push(one(
        &[
            b"ZADD",
            seen.as_bytes(),
            b"GT",
            start.as_bytes(),
            name.as_bytes(),
        ],
        CmdKind::Housekeeping,
        shard,
    ));
    out.push(one(
        &[b"SADD", keys::tags().as_bytes(), tag.as_bytes()],
        CmdKind::Housekeeping,
        0,
    ));
    let previous_start = chunk_start - i64::from(model.span());
    let previous = keys::chunk(model, name, previous_start);
    let previous_expiry = model.chunk_expiry(previous_start);
    out.push(script(
        &SEAL,
        true,
        &[previous.as_bytes()],
        &[previous_expiry.to_string().as_bytes()],
        CmdKind::Seal(previous.clone(), previous_expiry),
        shard,
    ));
}

fn script(
    script: &Script,
    by_sha: bool,
    keys_: &[&[u8]],
    argv: &[&[u8]],
    kind: CmdKind,
    shard: u16,
) -> Cmd {
    let numkeys = keys_.len().to_string();
    let mut args: Vec<&[u8]> = Vec::with_capacity(3 + keys_.len() + argv.len());
    if by_sha {
        args.push(b"EVALSHA");
        args.push(script.sha().as_bytes());
    } else {
        args.push(b"EVAL");
        args.push(script.body.as_bytes());
    }
    args.push(numkeys.as_bytes());
    args.extend_from_slice(keys_);
    args.extend_from_slice(argv);
    one(&args, kind, shard)
}

fn trim_one(model: &Model, now: i64, by_sha: bool, id: u16, shard: u16) -> Cmd {
    let tag = model.tag();
    let cutoff = (now - i64::from(model.ttl()) - 2 * i64::from(model.span())).to_string();
    let seen = keys::seen(shard, &tag);
    let index = keys::index(shard, &tag);
    script(
        &TRIM,
        by_sha,
        &[seen.as_bytes(), index.as_bytes()],
        &[cutoff.as_bytes(), TRIM_LIMIT],
        CmdKind::Trim(id),
        shard,
    )
}

/// One index trim per model and shard: names whose newest chunk has expired leave the index.
///
/// The writer calls this periodically (the collector: every minute), so the index never
/// holds more than the live names plus a minute's worth of expired ones, without a sweeper.
pub fn encode_trim(table: &ModelTable, now: i64, out: &mut Vec<Cmd>) {
    for (i, model) in table.models.iter().enumerate() {
        for shard in 0..keys::SHARDS {
            out.push(trim_one(model, now, true, i as u16, shard));
        }
    }
}

/// What [`write_batch`] or [`execute`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WriteReport {
    /// Point copies Redis confirmed.
    pub stored: u64,
    /// Point copies Redis refused permanently.
    pub failed: u64,
    /// Names trimmed from indexes.
    pub trimmed: u64,
}

/// Writes a batch over one connection and waits for every reply and follow-up: the simple
/// writer for tools, tests and loaders. (The collector's sink does the same with many
/// pipelines in flight, reconnects and buffering.)
pub async fn write_batch(
    conn: &mut Conn,
    table: &ModelTable,
    batch: &mut Batch,
) -> Result<WriteReport, crate::Error> {
    let mut cmds = Vec::new();
    batch.encode(table, &mut cmds);
    execute(conn, table, cmds).await
}

/// Sends `cmds` (as [`Batch::encode`] or [`encode_trim`] leave them) and everything their
/// replies call for, round trip by round trip, until nothing is left.
pub async fn execute(
    conn: &mut Conn,
    table: &ModelTable,
    mut cmds: Vec<Cmd>,
) -> Result<WriteReport, crate::Error> {
    let mut report = WriteReport::default();
    // Follow-ups of follow-ups are bounded: seals and index updates have none.
    for _round in 0..8 {
        if cmds.is_empty() {
            break;
        }
        let mut batch = Sharded::new(conn);
        for c in &cmds {
            batch.add(c.meta.shard, c.cmd.clone());
        }
        let replies = batch.send(conn).await?;
        let mut next = Vec::new();
        let now = crate::unix_now();
        for (cmd, reply) in cmds.iter().zip(&replies) {
            match on_reply(table, &cmd.cmd, &cmd.meta, reply, false, now, &mut next) {
                Outcome::Stored(n) => report.stored += u64::from(n),
                Outcome::Failed { points, .. } => report.failed += u64::from(points),
                Outcome::Retry(e) => return Err(crate::Error::Server(e)),
                Outcome::Trimmed(n) => report.trimmed += u64::try_from(n).unwrap_or(0),
                Outcome::Done | Outcome::Replaced => {}
            }
        }
        cmds = next;
    }
    Ok(report)
}

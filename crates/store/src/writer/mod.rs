//! The write side of the layout, free of I/O: batching points into commands, and deciding from
//! each reply what else to send.
//!
//! One point costs one `APPEND` (several points of the same chunk in a batch share one). The
//! rest is driven by replies: when `APPEND` answers with exactly the length it appended, the
//! chunk was just created, so the writer follows up once per chunk with its expiry, the index
//! entries and the seal of the chunk before it. The writer keeps no per-series state, so a
//! restart, a `FLUSHDB` or a failover cannot leave a chunk without its expiry.

mod batch;

pub use batch::{Batch, MAX_FUTURE_SECS, PushCounts};

use std::ops::Range;

use bytes::BytesMut;

use crate::Model;
use crate::keys;
use crate::resp::{Value, push_cmd};
use crate::scripts::{SEAL, Script, TRIM};

/// Names dropped from an index per trim call, to keep each script short.
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

/// One encoded command and what it was for.
#[derive(Debug, Clone)]
pub struct Cmd {
    /// Where the command's bytes are in the buffer it was encoded into.
    pub range: Range<usize>,
    /// What the command does.
    pub kind: CmdKind,
}

impl Cmd {
    /// Datapoints this command stores.
    pub fn points(&self) -> u32 {
        match self.kind {
            CmdKind::Append { points, .. } => points,
            _ => 0,
        }
    }
}

/// What a command does.
#[derive(Debug, Clone)]
pub enum CmdKind {
    /// Appends records to a chunk.
    Append {
        /// Model id.
        model: u16,
        /// Where the metric name starts in the command's bytes (it is part of the key, so it is
        /// not stored twice).
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
    /// Trims the index of a model.
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
    /// A transient refusal (out of memory, loading, read-only replica...): send the same
    /// command bytes again later.
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

/// Interprets `reply` to `cmd` (whose encoded bytes are `bytes`) and encodes any follow-up
/// commands at the end of `out`.
///
/// `resent` says the command was sent again after a lost connection: its reply may then not
/// show that the chunk is new (the first copy created it), so the follow-ups are sent anyway;
/// they are idempotent.
#[allow(clippy::too_many_arguments)]
pub fn on_reply(
    table: &ModelTable,
    cmd: &Cmd,
    bytes: &[u8],
    reply: &Value,
    resent: bool,
    now: i64,
    out: &mut BytesMut,
    cmds: &mut Vec<Cmd>,
) -> Outcome {
    if let Some(err) = reply.as_error() {
        if err.starts_with("NOSCRIPT") {
            match &cmd.kind {
                CmdKind::Seal(key, expiry) => {
                    encode_script(
                        out,
                        cmds,
                        &SEAL,
                        false,
                        &[key.as_bytes()],
                        &[expiry.to_string().as_bytes()],
                        cmd.kind.clone(),
                    );
                    return Outcome::Replaced;
                }
                CmdKind::Trim(id) => {
                    if let Some(model) = table.get(*id) {
                        encode_trim_one(model, now, false, out, cmds, *id);
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
            points: cmd.points(),
            error: err.to_string(),
        };
    }
    match &cmd.kind {
        CmdKind::Append {
            model,
            name_at,
            name_len,
            chunk_start,
            appended,
            points,
        } => {
            let new_chunk = matches!(reply, Value::Int(n) if *n == i64::from(*appended));
            let name = bytes
                .get(*name_at as usize..(*name_at + *name_len) as usize)
                .and_then(|b| std::str::from_utf8(b).ok());
            if (new_chunk || resent)
                && let (Some(m), Some(tag), Some(name)) =
                    (table.get(*model), table.tags.get(usize::from(*model)), name)
            {
                encode_follow_ups(m, tag, name, *chunk_start, out, cmds);
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
    ]
    .iter()
    .any(|p| err.starts_with(p))
}

fn push_one(out: &mut BytesMut, cmds: &mut Vec<Cmd>, args: &[&[u8]], kind: CmdKind) {
    let start = out.len();
    push_cmd(out, args);
    cmds.push(Cmd {
        range: start..out.len(),
        kind,
    });
}

fn encode_follow_ups(
    model: &Model,
    tag: &str,
    name: &str,
    chunk_start: i64,
    out: &mut BytesMut,
    cmds: &mut Vec<Cmd>,
) {
    let key = keys::chunk(model, name, chunk_start);
    let expiry = model.chunk_expiry(chunk_start).to_string();
    push_one(
        out,
        cmds,
        &[b"EXPIREAT", key.as_bytes(), expiry.as_bytes()],
        CmdKind::Housekeeping,
    );
    let index = keys::index(tag);
    push_one(
        out,
        cmds,
        &[b"ZADD", index.as_bytes(), b"0", name.as_bytes()],
        CmdKind::Housekeeping,
    );
    let seen = keys::seen(tag);
    let start = chunk_start.to_string();
    push_one(
        out,
        cmds,
        &[
            b"ZADD",
            seen.as_bytes(),
            b"GT",
            start.as_bytes(),
            name.as_bytes(),
        ],
        CmdKind::Housekeeping,
    );
    push_one(
        out,
        cmds,
        &[b"SADD", keys::TAGS.as_bytes(), tag.as_bytes()],
        CmdKind::Housekeeping,
    );
    let previous_start = chunk_start - i64::from(model.span());
    let previous = keys::chunk(model, name, previous_start);
    let previous_expiry = model.chunk_expiry(previous_start).to_string();
    encode_script(
        out,
        cmds,
        &SEAL,
        true,
        &[previous.as_bytes()],
        &[previous_expiry.as_bytes()],
        CmdKind::Seal(previous.clone(), model.chunk_expiry(previous_start)),
    );
}

fn encode_script(
    out: &mut BytesMut,
    cmds: &mut Vec<Cmd>,
    script: &Script,
    by_sha: bool,
    keys_: &[&[u8]],
    argv: &[&[u8]],
    kind: CmdKind,
) {
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
    push_one(out, cmds, &args, kind);
}

fn encode_trim_one(
    model: &Model,
    now: i64,
    by_sha: bool,
    out: &mut BytesMut,
    cmds: &mut Vec<Cmd>,
    id: u16,
) {
    let tag = model.tag();
    let cutoff = (now - i64::from(model.ttl()) - 2 * i64::from(model.span())).to_string();
    let seen = keys::seen(&tag);
    let index = keys::index(&tag);
    encode_script(
        out,
        cmds,
        &TRIM,
        by_sha,
        &[seen.as_bytes(), index.as_bytes()],
        &[cutoff.as_bytes(), TRIM_LIMIT],
        CmdKind::Trim(id),
    );
}

/// Encodes one index trim per model: names whose newest chunk has expired leave the index.
///
/// The writer calls this periodically (the collector: every minute), so the index never
/// holds more than the live names plus a minute's worth of expired ones, without a sweeper.
pub fn encode_trim(table: &ModelTable, now: i64, out: &mut BytesMut, cmds: &mut Vec<Cmd>) {
    for (i, model) in table.models.iter().enumerate() {
        encode_trim_one(model, now, true, out, cmds, i as u16);
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
/// writer for tools, tests and plugins' own series. (The collector's sink does the same with
/// many pipelines in flight, reconnects and buffering.)
pub async fn write_batch(
    conn: &mut crate::Conn,
    table: &ModelTable,
    batch: &mut Batch,
) -> Result<WriteReport, crate::Error> {
    let mut out = BytesMut::new();
    let mut cmds = Vec::new();
    batch.encode(table, &mut out, &mut cmds);
    execute(conn, table, &mut out, cmds).await
}

/// Sends commands encoded in `out` (as [`Batch::encode`] or [`encode_trim`] leave them) and
/// everything their replies call for, round trip by round trip, until nothing is left.
pub async fn execute(
    conn: &mut crate::Conn,
    table: &ModelTable,
    out: &mut BytesMut,
    mut cmds: Vec<Cmd>,
) -> Result<WriteReport, crate::Error> {
    let mut report = WriteReport::default();
    // Follow-ups of follow-ups are bounded: seals and index updates have none.
    for _round in 0..8 {
        if cmds.is_empty() {
            break;
        }
        let bytes = out.split().freeze();
        let replies = conn.pipeline(&bytes, cmds.len()).await?;
        let mut next = Vec::new();
        let now = crate::unix_now();
        for (cmd, reply) in cmds.iter().zip(&replies) {
            let cmd_bytes = bytes.get(cmd.range.clone()).unwrap_or_default();
            match on_reply(table, cmd, cmd_bytes, reply, false, now, out, &mut next) {
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

//! # am-store: how anna-molly keeps metric series in Redis
//!
//! The collector writes and the runner reads through this crate, so both agree on one layout.
//! It needs Redis 6.2 or newer (`ZADD GT`). Connections go through the `redis` crate
//! ([`Conn`]): one server, a master watched by Sentinel, or a Redis Cluster, each with TLS and
//! ACL users ([`RedisAddr`], [`redis_config!`]). Window reads go over the store's own
//! connections (to the one server, or to each cluster node), which read the chunks where they
//! lie in the reply (`conn/bulk.rs`, `conn/slots.rs`).
//!
//! ## Keys
//!
//! Every key starts with `am2:` (the digit is the layout version). A *series* is one metric name
//! under one [`Model`]; the model's *tag* is `r<ttl>` for `RedisTimeStamped` or
//! `i<interval>r<ttl>` for `RedisIntervalTimeStamped`, and a metric routed to two models is two
//! series. Each name belongs to one of 64 *shards* ([`keys::shard_of`]), whose Redis Cluster
//! hash tag `{<shard>}` ([`keys::shard_tag`]) every key of its series carries.
//!
//! | key | type | holds |
//! |---|---|---|
//! | `am2:c:{<shard>}:<tag>:<name>:<chunk_start>` | string | the points of one chunk (see Encoding) |
//! | `am2:idx:{<shard>}:<tag>` | sorted set, all scores 0 | the shard's live names of that model, for lookups |
//! | `am2:seen:{<shard>}:<tag>` | sorted set | name → start of its newest chunk, for trimming the index |
//! | `am2:tags:{<shard 0>}` | set | every tag ever written, i.e. which indexes exist |
//!
//! A chunk covers `span` seconds starting at a multiple of `span`. The span follows from the
//! model alone ([`Model::span`]: about a third of the ttl, from 60 s to 4 h, a multiple of the
//! interval for interval models), so a reader computes the keys of any window directly.
//!
//! On a Redis Cluster a series' chunks, its index entry and its last-seen entry share one
//! slot, so a read of many series is one pipeline per shard (all sent at once: one round trip
//! per node), a write batch the same, and a lookup asks the 64 index shards at once. The shard
//! tags are spread evenly over the slots (see [`keys`]).
//!
//! ## Encoding
//!
//! A chunk is a string of 10-byte records: the offset from the chunk start (`u16` LE) and the
//! value (`f64` LE), in arrival order. The writer appends records in arrival order (`APPEND`); a duplicate or
//! out-of-order timestamp therefore resolves deterministically on read: sort by timestamp and
//! keep the **last written** record per timestamp. Timestamps are whole seconds (carbon
//! truncates the same way). For `RedisIntervalTimeStamped` every point is stored at its bucket
//! start `ts - ts % interval`, so "last write wins" keeps the latest value of each bucket.
//!
//! When a chunk's successor is created, the writer *seals* the old chunk with a two-line Lua
//! script that rewrites it at exactly its size: `APPEND` grows strings geometrically and Redis
//! never returns the slack, which would otherwise cost up to half the memory. Sealing does not
//! reorder: every read resolves order and duplicates itself, which costs far less than decoding
//! records inside Redis.
//!
//! ## Costs
//!
//! - Reading a series over `[from, until]`: one `MGET` of the chunks the window overlaps (the
//!   window clipped to what retention can hold), then decoding the k points in them:
//!   O(chunks + k), no scan. [`Reader::read_many`] pipelines many series in one round trip
//!   (per node, on a cluster); [`Reader::read_many_each`] decodes each into one reused buffer.
//! - Finding names: `ZRANGEBYLEX` on each index shard for the literal prefix of a glob, then the
//!   glob itself: O(log n + m) for m names sharing the prefix; a name without wildcards asks its
//!   own shard only. `KEYS` and `SCAN` are never used.
//! - Writing: one `APPEND` per chunk per batch. When an `APPEND` reply shows it created the
//!   chunk, the writer follows up once per chunk: `EXPIREAT`, `ZADD` to the index and the
//!   last-seen set, `SADD` of the tag and the seal of the previous chunk.
//! - Memory: 10 bytes per point plus a key per chunk; `bench/memory` measures it (about 11
//!   bytes per point at 100k metrics × 1 day at 60 s; see the README).
//!
//! ## Retention
//!
//! Redis expires each chunk at `chunk_start + span + ttl`, the moment its newest possible point
//! is `ttl` seconds old, so a point is kept at least `ttl` and at most `ttl + span` seconds. The
//! writer drops points already past that before sending them (and counts them). Names whose
//! newest chunk has expired are removed from the index by the writer itself once a minute
//! ([`writer::encode_trim`]): no separate sweeper has to keep up.

mod addr;
pub mod client;
mod codec;
pub mod config;
pub mod conn;
pub mod keys;
mod model;
mod pattern;
mod reader;
pub mod reply;
pub mod resp;
pub mod scripts;
pub mod writer;

pub use addr::{NodeAddr, RedisAddr, SentinelAddr, TlsFiles};
pub use client::Client;
pub use codec::{RECORD_LEN, decode_chunk, push_record, record, resolve};
pub use conn::{Conn, Pipe, Sharded};
pub use model::{MAX_SPAN, Model};
pub use pattern::Pattern;
pub use reader::{Reader, SeriesId, unix_now};
/// The `redis` crate, for callers that build their own commands ([`Pipe::add`]).
pub use redis;

/// One datapoint: a whole-second Unix timestamp and a value. The plugin ABI's own point, so
/// the runner lends a series read from the store to a plugin without converting it.
pub use am_plugin_api::Point;

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A model's parameter is out of range.
    #[error("invalid model: {field} {reason}")]
    InvalidModel {
        /// The parameter (`ttl`, `interval`).
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A lookup pattern does not parse.
    #[error("invalid pattern {0}")]
    InvalidPattern(String),
    /// The server sent something the client could not read.
    #[error("Redis protocol error: {0}")]
    Protocol(String),
    /// Connecting failed, or the connection broke.
    #[error("{0}")]
    Connection(String),
    /// The Redis settings cannot work (a TLS file that cannot be read, a bad combination).
    #[error("Redis settings: {0}")]
    Config(String),
    /// An operation did not finish in time.
    #[error("timed out {0}")]
    Timeout(String),
    /// The server refused a command.
    #[error("Redis refused {0}")]
    Server(String),
}

impl Error {
    /// The same error, its message prefixed with what was being done.
    pub fn context(self, what: &str) -> Error {
        match self {
            Error::Connection(m) => Error::Connection(format!("{what}: {m}")),
            Error::Config(m) => Error::Config(format!("{what}: {m}")),
            Error::Protocol(m) => Error::Protocol(format!("{what}: {m}")),
            other => other,
        }
    }
}

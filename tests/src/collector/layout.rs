//! The Redis layout the collector writes (described in `store/src/lib.rs`), read and decoded
//! here independently of the product's reader.

use std::collections::BTreeMap;

use anyhow::{Result, anyhow, bail};

use crate::redis::RedisServer;
use crate::resp::Resp;

/// One chunk key of the store layout, `am2:c:{<shard>}:<tag>:<name>:<chunk_start>`, split up
/// (the shard's hash tag is checked to be one, not kept).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ChunkKey {
    /// The model tag (`r86400`, `i300r86400`).
    pub tag: String,
    /// The metric name.
    pub name: String,
    /// The chunk's first second.
    pub chunk_start: i64,
}

impl ChunkKey {
    /// Parses a chunk key; `None` for any other key.
    pub fn parse(key: &str) -> Option<Self> {
        let rest = key.strip_prefix("am2:c:{")?;
        let (_shard, rest) = rest.split_once("}:")?;
        let (tag, rest) = rest.split_once(':')?;
        let (name, start) = rest.rsplit_once(':')?;
        Some(Self {
            tag: tag.to_owned(),
            name: name.to_owned(),
            chunk_start: start.parse().ok()?,
        })
    }
}

/// Escapes Redis glob characters in `text`.
pub(super) fn glob_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Decodes one chunk string: 10-byte records, offset `u16` LE and value `f64` LE, in write
/// order. A trailing partial record is an error (the layout never writes one).
pub fn decode_records(chunk_start: i64, bytes: &[u8]) -> Result<Vec<(i64, f64)>> {
    if !bytes.len().is_multiple_of(10) {
        bail!(
            "chunk of {} bytes is not a whole number of 10-byte records",
            bytes.len()
        );
    }
    Ok(bytes
        .chunks_exact(10)
        .map(|r| {
            let offset = u16::from_le_bytes([r[0], r[1]]);
            let mut value = [0u8; 8];
            value.copy_from_slice(&r[2..]);
            (chunk_start + i64::from(offset), f64::from_le_bytes(value))
        })
        .collect())
}

/// Reads one series straight from the layout: every chunk key of `tag` and `name` (found with
/// `KEYS`, fine in a test), records decoded, the last written per timestamp kept, oldest first.
pub fn read_series(redis: &RedisServer, tag: &str, name: &str) -> Result<Vec<(i64, f64)>> {
    let pattern = format!("am2:c:{{*}}:{}:{}:*", glob_escape(tag), glob_escape(name));
    let mut chunks: Vec<(i64, String)> = redis
        .keys(&pattern)?
        .into_iter()
        .filter_map(|k| {
            let parsed = ChunkKey::parse(&k)?;
            (parsed.tag == tag && parsed.name == name).then_some((parsed.chunk_start, k))
        })
        .collect();
    chunks.sort();
    let mut by_ts: BTreeMap<i64, f64> = BTreeMap::new();
    for (start, key) in chunks {
        let reply = redis.cmd(&["GET", &key])?;
        let Resp::Bulk(bytes) = reply else {
            if reply.is_nil() {
                continue; // expired or removed in the meantime
            }
            bail!("GET {key} answered {reply:?}, not a string");
        };
        for (ts, value) in decode_records(start, &bytes)? {
            by_ts.insert(ts, value);
        }
    }
    Ok(by_ts.into_iter().collect())
}

/// Every name in a model's index: the members of all its shards (`am2:idx:{<shard>}:<tag>`),
/// sorted.
pub fn index_names(redis: &RedisServer, tag: &str) -> Result<Vec<String>> {
    shard_members(redis, &format!("am2:idx:{{*}}:{}", glob_escape(tag)))
}

/// Every name in a model's last-seen sets, sorted.
pub fn seen_names(redis: &RedisServer, tag: &str) -> Result<Vec<String>> {
    shard_members(redis, &format!("am2:seen:{{*}}:{}", glob_escape(tag)))
}

fn shard_members(redis: &RedisServer, pattern: &str) -> Result<Vec<String>> {
    let mut all = Vec::new();
    for key in redis.keys(pattern)? {
        all.extend(zrange_all(redis, &key)?);
    }
    all.sort();
    Ok(all)
}

/// The members of a sorted set, `ZRANGE key 0 -1`.
pub fn zrange_all(redis: &RedisServer, key: &str) -> Result<Vec<String>> {
    let reply = redis.cmd(&["ZRANGE", key, "0", "-1"])?;
    let items = reply
        .as_array()
        .ok_or_else(|| anyhow!("ZRANGE {key} answered {reply:?}"))?;
    Ok(items.iter().filter_map(Resp::as_text).collect())
}

/// The members of a set, sorted.
pub fn smembers(redis: &RedisServer, key: &str) -> Result<Vec<String>> {
    let reply = redis.cmd(&["SMEMBERS", key])?;
    let items = reply
        .as_array()
        .ok_or_else(|| anyhow!("SMEMBERS {key} answered {reply:?}"))?;
    let mut out: Vec<String> = items.iter().filter_map(Resp::as_text).collect();
    out.sort();
    Ok(out)
}

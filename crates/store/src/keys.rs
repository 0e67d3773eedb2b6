//! Key names. Every key starts with [`PREFIX`], whose digit is the layout version.
//!
//! Each metric name belongs to one of [`SHARDS`] shards ([`shard_of`]), and every key of its
//! series (chunks, its index and last-seen entries) carries that shard's Redis Cluster hash
//! tag ([`shard_tag`]): on a cluster a series' chunks live on one node, a batch of reads or
//! writes goes out as one pipeline per shard, and the name index is spread over the shards
//! rather than one hot key. The tags are chosen so that shard `i`'s slot lies in the `i`-th
//! sixty-fourth of the 16384 slots: a cluster whose nodes own equal ranges of slots (what
//! `redis-cli --cluster create` makes) holds equal numbers of shards. On one server the tags
//! cost a few bytes per key and nothing else.

use std::fmt::Write as _;
use std::sync::OnceLock;

use crate::Model;

/// Prefix of every key this layout writes; bump the digit when the layout changes.
pub const PREFIX: &str = "am2:";

/// The set of model tags that have ever been written (`SMEMBERS` lists the indexes to
/// search): `am2:tags:{<shard 0>}`, in shard 0's slot so that the writer's follow-ups of a
/// new chunk go out with shard 0's pipeline.
pub fn tags() -> &'static str {
    static KEY: OnceLock<String> = OnceLock::new();
    KEY.get_or_init(|| format!("{PREFIX}tags:{}", shard_tag(0)))
}

/// Shards of the metric names.
pub const SHARDS: u16 = 64;

/// Redis Cluster's slots.
pub const SLOTS: u16 = 16384;

/// The shard of a metric name: FNV-1a's high bits, so that it is independent of the plugins'
/// own `FNV-1a mod N` sharding of names (Skyline's).
pub fn shard_of(name: &str) -> u16 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    ((h >> 40) % u64::from(SHARDS)) as u16
}

/// The hash tag of a shard, braces included (`{7.12}`): the first tag whose slot lies in
/// the shard's sixty-fourth of the slots.
pub fn shard_tag(shard: u16) -> &'static str {
    static TAGS_: OnceLock<Vec<String>> = OnceLock::new();
    let tags = TAGS_.get_or_init(|| {
        let width = SLOTS / SHARDS;
        (0..SHARDS)
            .map(|i| {
                let mut j = 0u32;
                loop {
                    let label = format!("{i}.{j}");
                    if crc16(label.as_bytes()) % SLOTS / width == i {
                        return format!("{{{label}}}");
                    }
                    j += 1;
                }
            })
            .collect()
    });
    tags.get(usize::from(shard % SHARDS))
        .map_or("{0.0}", String::as_str)
}

/// `{prefix}` — a hash tag putting every key under `prefix` in one slot, for key families
/// that scripts touch together (the runner's queue and alarms) — or `prefix` unchanged when
/// it holds a tag already.
pub fn tagged(prefix: &str) -> String {
    if prefix.contains('{') {
        prefix.to_owned()
    } else {
        format!("{{{prefix}}}")
    }
}

/// CRC16-CCITT (XMODEM), Redis Cluster's key hash.
pub fn crc16(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in bytes {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// The cluster slot of a key (its hash tag's, if it has a non-empty one).
pub fn slot(key: &[u8]) -> u16 {
    let tagged = key
        .iter()
        .position(|&b| b == b'{')
        .and_then(|open| {
            let rest = key.get(open + 1..)?;
            let close = rest.iter().position(|&b| b == b'}')?;
            (close > 0).then(|| rest.get(..close)).flatten()
        })
        .unwrap_or(key);
    crc16(tagged) % SLOTS
}

/// The key of one chunk: `am2:c:{<shard>}:<tag>:<name>:<chunk_start>`.
pub fn chunk(model: &Model, name: &str, chunk_start: i64) -> String {
    let mut key = String::with_capacity(name.len() + 40);
    push_chunk(&mut key, &model.tag(), name, chunk_start);
    key
}

/// Appends the chunk key to `out`, for callers that reuse a buffer.
pub fn push_chunk(out: &mut String, tag: &str, name: &str, chunk_start: i64) {
    out.push_str(chunk_prefix(shard_of(name)));
    out.push_str(tag);
    out.push(':');
    out.push_str(name);
    out.push(':');
    // Writing to a String cannot fail.
    let _ = write!(out, "{chunk_start}");
}

/// `am2:c:{<shard>}:`, what every chunk key of the shard starts with.
pub fn chunk_prefix(shard: u16) -> &'static str {
    static PREFIXES: OnceLock<Vec<String>> = OnceLock::new();
    let all = PREFIXES.get_or_init(|| {
        (0..SHARDS)
            .map(|s| format!("{PREFIX}c:{}:", shard_tag(s)))
            .collect()
    });
    all.get(usize::from(shard % SHARDS))
        .map_or("am2:c:", String::as_str)
}

/// One shard of a model's name index: a sorted set with every score 0, so `ZRANGEBYLEX`
/// finds the names sharing a prefix in O(log n + k). `am2:idx:{<shard>}:<tag>`.
pub fn index(shard: u16, tag: &str) -> String {
    format!("{PREFIX}idx:{}:{tag}", shard_tag(shard))
}

/// One shard of a model's last-seen set: name scored by the start of its newest chunk, so
/// the writer can drop names whose data has expired from the index.
/// `am2:seen:{<shard>}:<tag>`.
pub fn seen(shard: u16, tag: &str) -> String {
    format!("{PREFIX}seen:{}:{tag}", shard_tag(shard))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_redis_clusters() {
        // CLUSTER KEYSLOT of these, from a real server, and CRC16/XMODEM's check value.
        assert_eq!(crc16(b"123456789"), 0x31c3);
        assert_eq!(slot(b"foo"), 12182);
        assert_eq!(slot(b"{user1000}.following"), slot(b"{user1000}.followers"));
        assert_eq!(slot(b"foo{}{bar}"), crc16(b"foo{}{bar}") % SLOTS);
        assert_eq!(slot(b"foo{{bar}}zap"), crc16(b"{bar") % SLOTS);
    }

    #[test]
    fn shard_tags_spread_evenly_over_the_slots() {
        let width = SLOTS / SHARDS;
        for s in 0..SHARDS {
            let tag = shard_tag(s);
            assert!(tag.starts_with('{') && tag.ends_with('}'), "{tag}");
            assert_eq!(slot(tag.as_bytes()) / width, s, "{tag}");
        }
        // Three nodes with equal ranges hold 21 or 22 shards each.
        let mut per_node = [0u32; 3];
        for s in 0..SHARDS {
            per_node[usize::from(slot(shard_tag(s).as_bytes()) / 5462)] += 1;
        }
        assert!(
            per_node.iter().all(|n| (21..=22).contains(n)),
            "{per_node:?}"
        );
        // The layout is fixed: these names must never change.
        assert_eq!(shard_tag(0), "{0.178}");
    }

    #[test]
    fn a_series_keys_share_its_shards_slot() {
        let m = Model::Raw { ttl: 86400 };
        let name = "servers.web01.cpu";
        let s = shard_of(name);
        let k1 = chunk(&m, name, 0);
        let k2 = chunk(&m, name, 28800);
        assert!(k1.starts_with("am2:c:{"), "{k1}");
        assert!(k1.ends_with(":r86400:servers.web01.cpu:0"), "{k1}");
        assert_eq!(slot(k1.as_bytes()), slot(k2.as_bytes()));
        assert_eq!(slot(k1.as_bytes()), slot(index(s, "r86400").as_bytes()));
        assert_eq!(slot(k1.as_bytes()), slot(seen(s, "r86400").as_bytes()));
        // A name holding braces does not move its keys: the shard's tag comes first.
        let odd = "a{b}c";
        assert_eq!(
            slot(chunk(&m, odd, 0).as_bytes()),
            slot(shard_tag(shard_of(odd)).as_bytes())
        );
        assert_eq!(slot(tags().as_bytes()), slot(shard_tag(0).as_bytes()));
        assert_eq!(tagged("am1:q"), "{am1:q}");
        assert_eq!(tagged("x{y}"), "x{y}");
    }

    #[test]
    fn names_spread_over_the_shards() {
        let mut count = vec![0u32; usize::from(SHARDS)];
        for i in 0..64_000 {
            count[usize::from(shard_of(&format!("servers.host{i}.cpu")))] += 1;
        }
        assert!(count.iter().all(|&c| (800..1200).contains(&c)), "{count:?}");
    }
}

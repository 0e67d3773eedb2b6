//! Lua scripts run inside Redis, by `EVALSHA` with an `EVAL` fallback.

/// A script and its SHA-1, computed here so a writer never waits for `SCRIPT LOAD`.
#[derive(Debug)]
pub struct Script {
    /// The Lua source.
    pub body: &'static str,
    sha: std::sync::OnceLock<String>,
}

impl Script {
    const fn new(body: &'static str) -> Script {
        Script {
            body,
            sha: std::sync::OnceLock::new(),
        }
    }

    /// Hex SHA-1 of the body, as `EVALSHA` wants it.
    pub fn sha(&self) -> &str {
        self.sha
            .get_or_init(|| sha1_smol::Sha1::from(self.body).digest().to_string())
    }
}

/// Seals a chunk: rewrites it as a string of exactly its length. `APPEND` grows strings
/// geometrically and Redis never gives the slack back; a chunk that has stopped growing is
/// copied once into an exact-size string (a Lua string becomes a new, exact allocation), which
/// saves up to half its memory. It does not reorder records: readers resolve order and
/// duplicates anyway, and decoding records in Lua would cost ~100 µs a chunk. It also gives
/// the chunk its expiry if it has none: a writer killed between a chunk's first `APPEND` and
/// its `EXPIREAT` would otherwise leave a key that never expires. `KEYS[1]` = chunk key,
/// `ARGV[1]` = its expiry (Unix time). Returns the chunk's length (0 when the key is gone).
pub static SEAL: Script = Script::new(
    r#"local s = redis.call('GET', KEYS[1])
if not s then return 0 end
redis.call('SET', KEYS[1], s, 'KEEPTTL')
if redis.call('TTL', KEYS[1]) == -1 then redis.call('EXPIREAT', KEYS[1], ARGV[1]) end
return #s"#,
);

/// Drops names whose newest chunk has expired from a model's index and last-seen set.
/// `KEYS[1]` = seen set, `KEYS[2]` = index, `ARGV[1]` = cutoff (newest chunk start below it is
/// expired), `ARGV[2]` = most names to drop in one call. Returns how many were dropped.
pub static TRIM: Script = Script::new(
    r#"local names = redis.call('ZRANGE', KEYS[1], '-inf', ARGV[1], 'BYSCORE', 'LIMIT', 0, ARGV[2])
if #names > 0 then
  redis.call('ZREM', KEYS[1], unpack(names))
  redis.call('ZREM', KEYS[2], unpack(names))
end
return #names"#,
);

#[cfg(test)]
mod tests {
    #[test]
    fn sha_is_hex_sha1() {
        assert_eq!(super::SEAL.sha().len(), 40);
        assert_ne!(super::SEAL.sha(), super::TRIM.sha());
    }
}

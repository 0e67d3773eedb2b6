//! Small pieces of the compact state encodings and of sharding: unsigned LEB128 varints and
//! the FNV-1a hash (stable across processes and versions, unlike std's hashers).

/// Appends `v` as an unsigned LEB128 varint (7 bits a byte, low first, the high bit set on
/// every byte but the last).
pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads a varint at `*pos` and moves `*pos` past it; `None` at the end of `bytes` or after
/// 10 bytes without an end.
pub fn get_varint(bytes: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v: u64 = 0;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(*pos)?;
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Some(v);
        }
    }
    None
}

/// FNV-1a 64 of `bytes`.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Whether `key` is shard `shard.0`'s of `shard.1` (by its FNV-1a hash): how a plugin run as
/// several tasks (`"shards"`) splits its series or alarms so that each has one owner.
pub fn in_shard(key: &str, shard: (u32, u32)) -> bool {
    let (k, n) = shard;
    n <= 1 || fnv1a(key.as_bytes()) % u64::from(n) == u64::from(k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_and_refuse_what_is_cut() {
        let values = [0, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX];
        let mut out = Vec::new();
        for v in values {
            put_varint(&mut out, v);
        }
        let mut pos = 0;
        for v in values {
            assert_eq!(get_varint(&out, &mut pos), Some(v));
        }
        assert_eq!((pos, get_varint(&out, &mut pos)), (out.len(), None));
        assert_eq!(get_varint(&[0x80, 0x80], &mut 0), None);
    }

    #[test]
    fn fnv1a_and_shards() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert!(in_shard("x", (0, 1)));
        let owners = |key| (0..4).filter(|k| in_shard(key, (*k, 4))).count();
        assert!(
            ["a", "b", "servers.web01.cpu"]
                .iter()
                .all(|key| owners(key) == 1)
        );
    }
}

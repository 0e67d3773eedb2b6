//! The compact encoding of the tracked series in the plugin state.
//!
//! At 100,000 series the state is read back only when another instance wrote it (see the
//! crate docs) but written at every tick, so it is small and quick to build: a version byte,
//! the tick it was written at (8 bytes), a varint count, then per series in name order:
//!
//! - the name front-coded against the previous one (varint bytes shared, varint length of
//!   the rest, the rest): `servers.web01234.heartbeat` after `servers.web01233.heartbeat`
//!   costs 4 bytes;
//! - `tick − last_seen` as a varint (a few bytes: recent);
//! - a byte: bit 7 retired, bits 0–3 the number of intervals;
//! - the intervals as varints.
//!
//! About 10 bytes per series besides the part of its name after what it shares with the
//! previous name.

use am_plugin_kit::bytes::{get_varint, put_varint};

use crate::track::{Entry, RING, Tracked};

const VERSION: u8 = 1;

/// Encodes the series tracked at `tick`.
pub fn encode(series: &Tracked, tick: i64) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + series.len() * 16);
    out.push(VERSION);
    out.extend_from_slice(&tick.to_le_bytes());
    put_varint(&mut out, series.len() as u64);
    let mut prev: &[u8] = &[];
    for (name, e) in series {
        let name = name.as_bytes();
        let shared = prev.iter().zip(name).take_while(|(a, b)| a == b).count();
        put_varint(&mut out, shared as u64);
        put_varint(&mut out, (name.len() - shared) as u64);
        out.extend_from_slice(&name[shared..]);
        put_varint(&mut out, u64::try_from(tick - e.last_seen).unwrap_or(0));
        let intervals = e.intervals();
        out.push(u8::from(e.retired) << 7 | intervals.len() as u8);
        for i in intervals {
            put_varint(&mut out, u64::from(*i));
        }
        prev = name;
    }
    out
}

/// Decodes [`encode`]'s bytes: the tick they were written at and the series; `None` when they
/// are not such bytes (another version, damage).
pub fn decode(bytes: &[u8]) -> Option<(i64, Tracked)> {
    if bytes.first() != Some(&VERSION) {
        return None;
    }
    let tick = i64::from_le_bytes(bytes.get(1..9)?.try_into().ok()?);
    let mut pos = 9;
    let count = get_varint(bytes, &mut pos)?;
    let mut series: Tracked = Vec::with_capacity(usize::try_from(count).unwrap_or(0).min(1 << 20));
    let mut prev: Vec<u8> = Vec::new();
    for _ in 0..count {
        let shared = usize::try_from(get_varint(bytes, &mut pos)?).ok()?;
        let rest = usize::try_from(get_varint(bytes, &mut pos)?).ok()?;
        let mut name = prev.get(..shared)?.to_vec();
        name.extend_from_slice(bytes.get(pos..pos.checked_add(rest)?)?);
        pos += rest;
        let age = i64::try_from(get_varint(bytes, &mut pos)?).ok()?;
        let flags = *bytes.get(pos)?;
        pos += 1;
        let n = usize::from(flags & 0x0f);
        if n > RING {
            return None;
        }
        let mut intervals = Vec::with_capacity(n);
        for _ in 0..n {
            intervals.push(u32::try_from(get_varint(bytes, &mut pos)?).ok()?);
        }
        let text = String::from_utf8(name.clone()).ok()?;
        // Names are stored in order: anything else is damage.
        if series.last().is_some_and(|(last, _)| *last >= text) {
            return None;
        }
        series.push((text, Entry::with(tick - age, flags & 0x80 != 0, &intervals)));
        prev = name;
    }
    (pos == bytes.len()).then_some((tick, series))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_is_compact() {
        let mut series = Vec::new();
        for i in 0..1000 {
            let mut e = Entry::new(1_000_000 - i);
            for k in 1..=(i % 9) {
                e.point(e.last_seen + k, i % 5 == 0);
            }
            series.push((format!("servers.web{i:05}.heartbeat"), e));
        }
        series.push(("é".into(), Entry::new(5)));
        let bytes = encode(&series, 1_000_100);
        assert_eq!(decode(&bytes), Some((1_000_100, series.clone())));
        assert!(bytes.len() < 1000 * 30, "{} bytes", bytes.len());
        assert_eq!(decode(&bytes[..bytes.len() - 1]), None);
        assert_eq!(decode(b"\x02"), None);
    }
}

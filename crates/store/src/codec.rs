//! The chunk encoding: a string of fixed 10-byte records.
//!
//! A record is the point's offset from the chunk start (`u16`, little-endian) followed by its
//! value (`f64`, little-endian). Records are appended in write order, so "last write wins" is
//! the last record with a given offset.

use crate::Point;

/// Bytes per stored point.
pub const RECORD_LEN: usize = 10;

/// One encoded record.
pub fn record(offset: u16, value: f64) -> [u8; RECORD_LEN] {
    let mut r = [0u8; RECORD_LEN];
    r[..2].copy_from_slice(&offset.to_le_bytes());
    r[2..].copy_from_slice(&value.to_le_bytes());
    r
}

/// Appends one record to `out`.
pub fn push_record(out: &mut Vec<u8>, offset: u16, value: f64) {
    out.extend_from_slice(&record(offset, value));
}

/// Decodes a chunk's records in write order into `out`.
///
/// A trailing partial record (which this layout never writes) is ignored rather than trusted.
pub fn decode_chunk(chunk_start: i64, bytes: &[u8], out: &mut Vec<Point>) {
    // `extend` from an exact-size iterator reserves once and writes without a capacity check
    // per record (a `push` loop does both, and is the hot spot of a series read).
    out.extend(bytes.chunks_exact(RECORD_LEN).map(|rec| {
        let mut o = [0u8; 2];
        let mut v = [0u8; 8];
        o.copy_from_slice(&rec[..2]);
        v.copy_from_slice(&rec[2..]);
        Point {
            ts: chunk_start + i64::from(u16::from_le_bytes(o)),
            value: f64::from_le_bytes(v),
        }
    }));
}

/// Orders points by timestamp and keeps, for each timestamp, the one written last.
///
/// `points` must be in write order (as [`decode_chunk`] leaves them); the sort is stable, so
/// the last of a run of equal timestamps is the last written.
pub fn resolve(points: &mut Vec<Point>) {
    if points.windows(2).all(|w| w[0].ts < w[1].ts) {
        return;
    }
    points.sort_by_key(|p| p.ts);
    let mut w = 0usize;
    for r in 0..points.len() {
        if r + 1 < points.len() && points[r + 1].ts == points[r].ts {
            continue;
        }
        points[w] = points[r];
        w += 1;
    }
    points.truncate(w);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn last_write_wins_and_sorted() {
        let mut buf = Vec::new();
        push_record(&mut buf, 5, 1.0);
        push_record(&mut buf, 2, 2.0);
        push_record(&mut buf, 5, 3.0);
        push_record(&mut buf, 2, 4.0);
        push_record(&mut buf, 9, 5.0);
        buf.extend_from_slice(&[1, 2, 3]); // partial trailing record
        let mut pts = Vec::new();
        decode_chunk(100, &buf, &mut pts);
        resolve(&mut pts);
        assert_eq!(
            pts,
            vec![
                Point {
                    ts: 102,
                    value: 4.0
                },
                Point {
                    ts: 105,
                    value: 3.0
                },
                Point {
                    ts: 109,
                    value: 5.0
                }
            ]
        );
    }

    proptest! {
        #[test]
        fn resolve_matches_a_map(writes in proptest::collection::vec((0u16..50, -1e9f64..1e9), 0..200)) {
            let mut buf = Vec::new();
            let mut expect = std::collections::BTreeMap::new();
            for (o, v) in &writes {
                push_record(&mut buf, *o, *v);
                expect.insert(i64::from(*o), *v);
            }
            let mut pts = Vec::new();
            decode_chunk(0, &buf, &mut pts);
            resolve(&mut pts);
            let got: Vec<(i64, f64)> = pts.iter().map(|p| (p.ts, p.value)).collect();
            let want: Vec<(i64, f64)> = expect.into_iter().collect();
            prop_assert_eq!(got, want);
        }
    }
}

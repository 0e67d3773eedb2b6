//! A pickle encoder producing exactly what carbon-relay (graphite-carbon 1.1, Python 3) sends:
//! protocol 2, a list memoised as 0, items `(name, (timestamp, value))` written as BINUNICODE,
//! two BINFLOATs and two TUPLE2s, each object memoised in turn (BINPUT below 256, LONG_BINPUT
//! above), and APPENDS in batches of 1000 as CPython's pickler writes them.

use super::frame::PREFIX_LEN;
use super::opcodes as op;

/// CPython's `Pickler._BATCHSIZE`.
const BATCH: usize = 1000;

/// One frame (4-byte big-endian length + pickle) holding `points` as
/// `(name, timestamp, value)`. Frames over carbon's 1 MiB cap are not split: keep batches to
/// carbon-relay's default of 500 points.
pub fn encode_frame(points: &[(&str, f64, f64)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + points.iter().map(|p| p.0.len() + 36).sum::<usize>());
    encode_frame_into(points, &mut out);
    out
}

/// Like [`encode_frame`], appending the frame to `out` (for load generators reusing a buffer).
pub fn encode_frame_into(points: &[(&str, f64, f64)], out: &mut Vec<u8>) {
    let prefix_at = out.len();
    out.extend_from_slice(&[0; PREFIX_LEN]);
    out.extend_from_slice(&[op::PROTO, 2, op::EMPTY_LIST]);
    let mut memo = 0usize;
    put(out, &mut memo);
    for batch in points.chunks(BATCH) {
        if batch.len() > 1 {
            out.push(op::MARK);
        }
        for &(name, ts, value) in batch {
            out.push(op::BINUNICODE);
            out.extend_from_slice(&len32(name.len()).to_le_bytes());
            out.extend_from_slice(name.as_bytes());
            put(out, &mut memo);
            out.push(op::BINFLOAT);
            out.extend_from_slice(&ts.to_be_bytes());
            out.push(op::BINFLOAT);
            out.extend_from_slice(&value.to_be_bytes());
            out.push(op::TUPLE2);
            put(out, &mut memo);
            out.push(op::TUPLE2);
            put(out, &mut memo);
        }
        out.push(if batch.len() > 1 {
            op::APPENDS
        } else {
            op::APPEND
        });
    }
    out.push(op::STOP);
    let payload_len = len32(out.len() - prefix_at - PREFIX_LEN);
    if let Some(prefix) = out.get_mut(prefix_at..prefix_at + PREFIX_LEN) {
        prefix.copy_from_slice(&payload_len.to_be_bytes());
    }
}

/// Lengths beyond 4 GiB cannot be framed; saturating keeps this total (such a frame would be
/// refused by any receiver anyway).
fn len32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn put(out: &mut Vec<u8>, memo: &mut usize) {
    match u8::try_from(*memo) {
        Ok(i) => out.extend_from_slice(&[op::BINPUT, i]),
        Err(_) => {
            out.push(op::LONG_BINPUT);
            out.extend_from_slice(&len32(*memo).to_le_bytes());
        }
    }
    *memo += 1;
}

//! The model's compact binary form, kept in the plugin state (`model` key): little-endian,
//! a magic and version, the sizes it was built with, the counters, the three rings as `f32`s,
//! then the times of the recent detections as `u64`s. A blob written with other sizes
//! (changed options) or another version decodes to `None`, and the plugin starts afresh.

use am_nab_detectors::SeriesModel;
use am_nab_detectors::novelty::{Model, Params, Ring};

/// v3 (Novelty v11): the distance ring holds distances in the units of the values, not their
/// logarithms. v4 (Novelty v13): a byte after `origin` says whether the last detection was a value
/// beyond the range. An older blob is not read (the model starts afresh).
const MAGIC: &[u8; 4] = b"NOV4";

/// The bytes of `m`, plus the time of the newest point it has learned.
pub fn encode(m: &Model, p: &Params, last_ts: i64) -> Vec<u8> {
    let v = m.values.as_slice();
    let d = m.dists.as_slice();
    let mut out = Vec::with_capacity(73 + 4 * (v.len() + d.len()) + 8 * m.alerts.len());
    out.extend_from_slice(MAGIC);
    for size in [m.values.capacity(), m.dists.capacity(), p.window, p.stride] {
        out.extend_from_slice(&(size as u32).to_le_bytes());
    }
    out.extend_from_slice(&last_ts.to_le_bytes());
    out.extend_from_slice(&m.n.to_le_bytes());
    out.extend_from_slice(&m.min.to_le_bytes());
    out.extend_from_slice(&m.max.to_le_bytes());
    out.extend_from_slice(&m.since_flag.to_le_bytes());
    out.extend_from_slice(&m.origin.to_le_bytes());
    out.push(u8::from(m.flag_extreme));
    for ring in [v, d, m.recent.as_slice()] {
        out.extend_from_slice(&(ring.len() as u32).to_le_bytes());
        for x in ring {
            out.extend_from_slice(&x.to_le_bytes());
        }
    }
    out.extend_from_slice(&(m.alerts.len() as u32).to_le_bytes());
    for t in &m.alerts {
        out.extend_from_slice(&t.to_le_bytes());
    }
    out
}

/// A reader over a byte slice that fails softly (`None`) at the end.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }
    fn u32(&mut self) -> Option<usize> {
        self.take::<4>().map(|b| u32::from_le_bytes(b) as usize)
    }
    fn u64(&mut self) -> Option<u64> {
        self.take::<8>().map(u64::from_le_bytes)
    }
    fn f64(&mut self) -> Option<f64> {
        self.take::<8>().map(f64::from_le_bytes)
    }
    fn ring(&mut self, cap: usize) -> Option<Ring> {
        let len = self.u32()?;
        if len > cap {
            return None;
        }
        let mut ring = Ring::new(cap);
        for _ in 0..len {
            ring.push(f32::from_le_bytes(self.take::<4>()?));
        }
        Some(ring)
    }
}

/// The model and newest time in `bytes`, or `None` if they were written with other sizes,
/// by another version, or are damaged.
pub fn decode(bytes: &[u8], p: &Params) -> Option<(Model, i64)> {
    let mut r = Reader(bytes);
    if &r.take::<4>()? != MAGIC {
        return None;
    }
    let fresh = Model::new(p);
    let sizes = [r.u32()?, r.u32()?, r.u32()?, r.u32()?];
    if sizes
        != [
            fresh.values.capacity(),
            fresh.dists.capacity(),
            p.window,
            p.stride,
        ]
    {
        return None;
    }
    let last_ts = r.u64()? as i64;
    let n = r.u64()?;
    let min = r.f64()?;
    let max = r.f64()?;
    let since_flag = r.u64()?;
    let origin = r.f64()?;
    let flag_extreme = match r.take::<1>()? {
        [0] => false,
        [1] => true,
        _ => return None,
    };
    let values = r.ring(sizes[0])?;
    let dists = r.ring(sizes[1])?;
    let recent = r.ring(sizes[3])?;
    let count = r.u32()?;
    if count > p.alert_capacity() {
        return None;
    }
    let mut alerts = Vec::with_capacity(p.alert_capacity());
    for _ in 0..count {
        alerts.push(r.u64()?);
    }
    if !r.0.is_empty() {
        return None;
    }
    let mut model = Model {
        n,
        min,
        max,
        since_flag,
        flag_extreme,
        origin,
        values,
        logs: Ring::new(dists.capacity()),
        logs_range: 0.0,
        dists,
        recent,
        alerts,
    };
    model.relog(max - min);
    Some((model, last_ts))
}

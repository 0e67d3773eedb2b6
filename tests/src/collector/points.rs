//! Points as sent and as stored: what a reader should see after a sequence of writes, how two
//! readings differ, and plaintext lines to send.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::{Result, bail};

/// `(name, timestamp, value)` as sent.
pub type Sent = (String, f64, f64);

/// One stored point as `inspect` prints it: `(name, timestamp, value)`.
pub type StoredPoint = (String, i64, f64);

/// Points as a map `(name, ts) → value`; an error if a `(name, ts)` occurs twice (one series
/// never shows a timestamp twice, so a duplicate means two series were mixed).
pub fn to_map(points: &[StoredPoint]) -> Result<BTreeMap<(String, i64), f64>> {
    let mut map = BTreeMap::new();
    for (name, ts, value) in points {
        if let Some(old) = map.insert((name.clone(), *ts), *value) {
            bail!("{name} {ts} shown twice (values {old} and {value})");
        }
    }
    Ok(map)
}

/// What a reader should see after `sent` (in send order, `(name, timestamp, value)`) was
/// written to one series per name: timestamps floored to whole seconds (and to the bucket
/// start when `interval` is given), the last value sent per timestamp.
pub fn last_write_wins(
    sent: &[(String, f64, f64)],
    interval: Option<i64>,
) -> BTreeMap<(String, i64), f64> {
    let mut out = BTreeMap::new();
    for (name, ts, value) in sent {
        let mut at = ts.floor() as i64;
        if let Some(i) = interval {
            at -= at.rem_euclid(i);
        }
        out.insert((name.clone(), at), *value);
    }
    out
}

/// A short description of how `got` differs from `expected`, for failure messages.
pub fn describe_diff(
    expected: &BTreeMap<(String, i64), f64>,
    got: &BTreeMap<(String, i64), f64>,
) -> String {
    let missing: Vec<_> = expected.keys().filter(|k| !got.contains_key(*k)).collect();
    let extra: Vec<_> = got.keys().filter(|k| !expected.contains_key(*k)).collect();
    let differ: Vec<_> = expected
        .iter()
        .filter_map(|(k, v)| got.get(k).filter(|g| *g != v).map(|g| (k, *v, *g)))
        .collect();
    format!(
        "expected {} points, got {}: {} missing (first: {:?}), {} unexpected (first: {:?}), {} \
         with another value (first, as (key, expected, got): {:?})",
        expected.len(),
        got.len(),
        missing.len(),
        missing.iter().take(5).collect::<Vec<_>>(),
        extra.len(),
        extra.iter().take(5).collect::<Vec<_>>(),
        differ.len(),
        differ.iter().take(5).collect::<Vec<_>>()
    )
}

/// Plaintext lines `name value timestamp\n` for `points` `(name, timestamp, value)`.
pub fn lines(points: &[(String, f64, f64)]) -> String {
    let mut out = String::new();
    for (name, ts, value) in points {
        let _ = writeln!(out, "{name} {value} {ts}");
    }
    out
}

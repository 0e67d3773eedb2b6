//! Shortcuts for the collector's test files (`tests/tests/collector_*.rs`): each panics with the
//! error (and, where there is one, the collector's logs) instead of returning it, so that a
//! `#[test]` reads as the steps it takes. Shared here so that no test file copies another's.

// These run inside #[test] functions only (clippy.toml allows panics there): a panic is a
// failing test with its message.
#![allow(clippy::panic)]

use std::collections::BTreeMap;
use std::time::Duration;

use super::daemon::Collector;
use super::options::CollectorOptions;
use super::points::{Sent, StoredPoint};
use crate::redis::RedisServer;

/// Upper bound of every wait for data to arrive.
pub const WAIT: Duration = Duration::from_secs(60);

/// The point `(name, ts, value)` as sent, with a whole-second timestamp.
pub fn p(name: &str, ts: i64, value: f64) -> Sent {
    (name.to_owned(), ts as f64, value)
}

/// One pickle frame (length prefix included) holding `points`, as carbon-relay sends it.
pub fn frame_of(points: &[Sent]) -> Vec<u8> {
    let borrowed: Vec<(&str, f64, f64)> = points
        .iter()
        .map(|(n, t, v)| (n.as_str(), *t, *v))
        .collect();
    am_carbon::pickle::encode_frame(&borrowed)
}

/// [`Collector::start`] with Redis at `redis`.
pub fn start(redis: &RedisServer, options: &CollectorOptions) -> Collector {
    Collector::start(redis.port(), options).unwrap_or_else(|e| panic!("{e:#}"))
}

/// Asserts a counter's value, with the collector's logs on failure.
#[track_caller]
pub fn assert_counter(collector: &Collector, name: &str, expected: f64) {
    let got = collector
        .counter(name)
        .unwrap_or_else(|e| panic!("{e:#}\n{}", collector.logs()));
    assert_eq!(got, expected, "{name}\n{}", collector.logs());
}

/// Waits until a counter equals `expected` (counters are updated asynchronously).
#[track_caller]
pub fn wait_counter_eq(collector: &mut Collector, name: &str, expected: f64) {
    collector
        .wait_counter(name, WAIT, |v| v == expected)
        .unwrap_or_else(|e| panic!("{name} never became {expected}: {e:#}"));
}

/// [`Collector::wait_inspect`] with [`WAIT`].
#[track_caller]
pub fn wait_inspect(
    collector: &mut Collector,
    pattern: &str,
    expected: &BTreeMap<(String, i64), f64>,
) {
    collector
        .wait_inspect(pattern, expected, WAIT)
        .unwrap_or_else(|e| panic!("{e:#}"));
}

/// [`Collector::inspect`], with the collector's logs on failure.
#[track_caller]
pub fn inspect(collector: &Collector, pattern: &str) -> Vec<StoredPoint> {
    collector
        .inspect(pattern)
        .unwrap_or_else(|e| panic!("{e:#}\n{}", collector.logs()))
}

//! Shortcuts for the collector's test files (`tests/tests/collector_*.rs`): each panics with the
//! error (and, where there is one, the collector's logs) instead of returning it, so that a
//! `#[test]` reads as the steps it takes. Shared here so that no test file copies another's.

// These run inside #[test] functions only (clippy.toml allows panics there): a panic is a
// failing test with its message.
#![allow(clippy::panic)]

use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::TcpStream;
use std::time::Duration;

use super::daemon::Collector;
use super::options::CollectorOptions;
use super::points::{Sent, StoredPoint};
use crate::net::now_unix;
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

/// A connection to `127.0.0.1:port` (a listener of the collector); each read and each write
/// give up after `timeout`. A plain `connect`: it succeeds once the handshake is done, even
/// when the collector closes the connection at once (over its connection limit, say), which is
/// what some tests look at next.
#[track_caller]
pub fn connect(port: u16, timeout: Duration) -> TcpStream {
    let stream = TcpStream::connect((crate::ports::LOOPBACK, port))
        .unwrap_or_else(|e| panic!("connecting to 127.0.0.1:{port}: {e}"));
    stream
        .set_write_timeout(Some(timeout))
        .and_then(|()| stream.set_read_timeout(Some(timeout)))
        .unwrap_or_else(|e| panic!("setting timeouts on a connection to 127.0.0.1:{port}: {e}"));
    stream
}

/// A well-behaved pickle sender: connects to `port` (30 s timeouts), writes `frames` frames of
/// `per_frame` points, `gap` apart (frame `f` holds `PREFIX.mJJ` = `f * 100 + JJ` at
/// `now - 3000 + f`), and returns the connection, still open, and what it sent.
#[track_caller]
pub fn send_good_frames(
    port: u16,
    prefix: &str,
    (frames, per_frame): (i64, i64),
    gap: Duration,
) -> (TcpStream, Vec<Sent>) {
    let mut stream = connect(port, Duration::from_secs(30));
    let now = now_unix();
    let mut sent = Vec::new();
    for f in 0..frames {
        let points: Vec<Sent> = (0..per_frame)
            .map(|j| {
                let name = format!("{prefix}.m{j:02}");
                (name, (now - 3000 + f) as f64, (f * 100 + j) as f64)
            })
            .collect();
        stream
            .write_all(&frame_of(&points))
            .unwrap_or_else(|e| panic!("sending frame {f} of {frames}: {e}"));
        sent.extend(points);
        std::thread::sleep(gap);
    }
    (stream, sent)
}

/// [`Collector::start`] with Redis at `redis`.
pub fn start(redis: &RedisServer, options: &CollectorOptions) -> Collector {
    Collector::start(redis.port(), options).unwrap_or_else(|e| panic!("{e:#}"))
}

/// A fresh [`RedisServer`] and a collector on it with `options` (see [`start`]).
pub fn redis_and_collector(options: &CollectorOptions) -> (RedisServer, Collector) {
    let redis = RedisServer::start().unwrap_or_else(|e| panic!("{e:#}"));
    let collector = start(&redis, options);
    (redis, collector)
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

//! End-to-end tests of `am-collector` under faults: hostile pickle frames, Redis going away,
//! Redis too slow (backpressure), and shutdown with points still buffered.
//!
//! Each test starts its own daemons on free ports and stops them by PID through the guards;
//! every wait is bounded.

// Helpers of a test crate are test code too (clippy.toml allows these in #[test] functions
// only): a failing unwrap or panic is a failing test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::io::{ErrorKind, Read as _, Write as _};
use std::net::{Shutdown, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use am_tests::collector::test_helpers::{
    self, WAIT, assert_counter, frame_of, redis_and_collector, send_good_frames, start,
    wait_counter_eq,
};
use am_tests::collector::{RAW_TAG, Sent, index_names, last_write_wins, lines};
use am_tests::{Collector, CollectorOptions, RedisServer, now_unix};

fn connect(port: u16) -> TcpStream {
    test_helpers::connect(port, Duration::from_secs(10))
}

/// A length-prefixed frame around `payload`.
fn framed(payload: &[u8]) -> Vec<u8> {
    let mut out = u32::try_from(payload.len()).unwrap().to_be_bytes().to_vec();
    out.extend_from_slice(payload);
    out
}

/// Proves that a bad pickle frame costs only its own connection: a 2 MiB length prefix, a
/// GLOBAL opcode (code execution in Python's unpickler), 50 000 nested lists and 100 KB of
/// MARKs, each on its own connection, are each answered by closing that connection within
/// seconds and counted once; a connection streaming good frames at the same time loses nothing
/// and stays open; new connections are still served.
#[test]
fn bad_pickle_frames_close_only_their_connection() {
    let (_redis, mut collector) =
        redis_and_collector(&CollectorOptions::default().listeners(true, false, false));
    let port = collector.ports().pickle;
    let now = now_unix();
    let (frames, per_frame) = (120, 20);

    // Connection A: good frames, 25 ms apart, throughout.
    let good = thread::spawn(move || {
        let (mut stream, sent) = send_good_frames(
            port,
            "test.good",
            (frames, per_frame),
            Duration::from_millis(25),
        );
        // Still open: the collector has not closed A (a closed peer would refuse more bytes or
        // show EOF).
        stream.set_nonblocking(true).unwrap();
        let mut byte = [0u8; 1];
        match stream.read(&mut byte) {
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            other => panic!("connection A was closed by the collector: {other:?}"),
        }
        stream.shutdown(Shutdown::Write).unwrap();
        sent
    });
    collector
        .wait_counter("stored_points_total", WAIT, |v| v > 0.0)
        .unwrap();

    let mut nested = vec![0x80, 2];
    nested.extend(std::iter::repeat_n(b']', 50_000));
    nested.extend(std::iter::repeat_n(b'a', 49_999));
    nested.push(b'.');
    let mut marks = vec![0x80, 2];
    marks.extend(std::iter::repeat_n(b'(', 100_000));
    marks.push(b'.');
    let mut too_large = vec![0x00, 0x20, 0x00, 0x00]; // 2 MiB announced
    too_large.extend(std::iter::repeat_n(b'(', 1000));
    let bad: Vec<(&str, Vec<u8>)> = vec![
        ("a 2 MiB length prefix", too_large),
        (
            "a GLOBAL opcode",
            framed(b"\x80\x02cos\nsystem\n(S'echo pwned'\ntR."),
        ),
        ("50 000 nested lists", framed(&nested)),
        ("100 KB of MARKs", framed(&marks)),
        ("a good frame, then a GLOBAL opcode", {
            let mut both = frame_of(&[("test.before.bad".to_owned(), (now - 5) as f64, 5.0)]);
            both.extend(framed(b"\x80\x02cos\nsystem\n(S'echo pwned'\ntR."));
            both
        }),
    ];
    for (what, bytes) in &bad {
        let mut stream = connect(port);
        // The collector may close before it has read everything: write errors are fine.
        let _ = stream.write_all(bytes);
        let started = Instant::now();
        let mut buf = [0u8; 64];
        let outcome = stream.read(&mut buf);
        match outcome {
            Ok(0) => {}
            Err(e) if matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe) => {}
            other => panic!(
                "{what}: expected the collector to close the connection, got {other:?} after \
                 {:?}\n{}",
                started.elapsed(),
                collector.logs()
            ),
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{what}: closed only after {:?}",
            started.elapsed()
        );
        assert!(collector.is_running(), "{what} took the collector down");
    }

    let sent = good.join().unwrap();
    assert_eq!(sent.len(), (frames * per_frame) as usize);
    let expected = last_write_wins(&sent, None);
    wait_counter_eq(
        &mut collector,
        "stored_points_total",
        (sent.len() + 1) as f64,
    );
    collector
        .wait_inspect("test.good.*", &expected, WAIT)
        .unwrap_or_else(|e| panic!("{e:#}"));
    wait_counter_eq(&mut collector, "bad_frames_total", bad.len() as f64);
    wait_counter_eq(
        &mut collector,
        "connections_refused_total",
        bad.len() as f64,
    );
    assert_counter(&collector, "received_points_total", (sent.len() + 1) as f64);
    let logs = collector.logs();
    assert!(logs.contains("bad pickle frame"), "{logs}");

    // The good frame that came before a bad one on the same connection was kept.
    collector
        .wait_inspect(
            "test.before.*",
            &last_write_wins(
                &[("test.before.bad".to_owned(), (now - 5) as f64, 5.0)],
                None,
            ),
            WAIT,
        )
        .unwrap_or_else(|e| panic!("{e:#}"));

    // The listener still serves new connections.
    let late = vec![("test.late.x".to_owned(), (now - 5) as f64, 1.0)];
    let mut stream = connect(port);
    stream.write_all(&frame_of(&late)).unwrap();
    drop(stream);
    collector
        .wait_inspect("test.late.*", &last_write_wins(&late, None), WAIT)
        .unwrap_or_else(|e| panic!("{e:#}"));
}

/// How Redis goes away in [`outage`].
#[derive(Debug, Clone, Copy)]
enum Outage {
    /// `SIGTERM`: Redis shuts down cleanly.
    Stop,
    /// `SIGKILL`: Redis dies mid-pipeline; only what it fsynced survives.
    Kill,
}

/// How many metrics stream in [`outage`].
const OUTAGE_METRICS: i64 = 20;

/// Streams [`OUTAGE_METRICS`] metrics over one pickle connection, one point each per 100 ms for
/// `rounds` rounds, takes Redis (fsync-always AOF, so what it acknowledged survives its
/// restart) away after `down_at` for `down_for`, and checks that every point sent ends up in
/// Redis, with `redis_connected` 0 during the outage and 1 after, every chunk key live and
/// indexed, no point dropped and the buffer empty again.
fn outage(how: Outage, rounds: i64, down_at: Duration, down_for: Duration) {
    let metrics = OUTAGE_METRICS;
    let mut redis =
        RedisServer::start_with_args(&["--appendonly", "yes", "--appendfsync", "always"]).unwrap();
    let mut collector = start(
        &redis,
        &CollectorOptions::default().listeners(true, false, false),
    );
    wait_counter_eq(&mut collector, "redis_connected", 1.0);
    let port = collector.ports().pickle;
    let now = now_unix();
    let sender = thread::spawn(move || {
        let mut stream = connect(port);
        let started = Instant::now();
        let mut sent = Vec::new();
        for r in 0..rounds {
            let points: Vec<Sent> = (0..metrics)
                .map(|m| {
                    (
                        format!("test.outage.m{m:02}"),
                        (now - 1000 + r) as f64,
                        (r * 1000 + m) as f64 + 0.5,
                    )
                })
                .collect();
            stream.write_all(&frame_of(&points)).unwrap();
            sent.extend(points);
            let next = started + Duration::from_millis(100 * (r as u64 + 1));
            thread::sleep(next.saturating_duration_since(Instant::now()));
        }
        stream.shutdown(Shutdown::Write).unwrap();
        sent
    });

    thread::sleep(down_at);
    match how {
        Outage::Stop => redis.stop().unwrap(),
        Outage::Kill => redis.kill_hard().unwrap(),
    }
    let stopped = Instant::now();
    collector
        .wait_counter("redis_connected", down_for, |v| v == 0.0)
        .unwrap_or_else(|e| panic!("redis_connected stayed 1 with Redis gone: {e:#}"));
    thread::sleep(down_for.saturating_sub(stopped.elapsed()));
    redis.start_again().unwrap();
    collector
        .wait_counter("redis_connected", Duration::from_secs(30), |v| v == 1.0)
        .unwrap_or_else(|e| panic!("the collector did not reconnect: {e:#}"));

    let sent = sender.join().unwrap();
    assert_eq!(sent.len(), (rounds * metrics) as usize);
    let expected = last_write_wins(&sent, None);
    collector
        .wait_inspect("test.outage.*", &expected, WAIT)
        .unwrap_or_else(|e| panic!("{e:#}\n{}", redis.logs()));
    assert!(collector.counter("redis_reconnects_total").unwrap() >= 1.0);
    assert_counter(&collector, "routed_points_total", sent.len() as f64);

    // The housekeeping of chunks created around the outage was not lost either.
    let names: Vec<String> = (0..metrics)
        .map(|m| format!("test.outage.m{m:02}"))
        .collect();
    am_tests::wait_until("every name in the index", WAIT, || {
        Ok((index_names(&redis, RAW_TAG)? == names).then_some(()))
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}", collector.logs()));
    for key in redis.keys("am2:c:*").unwrap() {
        let ttl = redis.cmd(&["TTL", &key]).unwrap().as_int().unwrap();
        assert!(ttl > 0, "{key} has TTL {ttl}\n{}", collector.logs());
    }
    wait_counter_eq(&mut collector, "buffer_bytes", 0.0);
    for counter in [
        "dropped_redis_error_points_total",
        "dropped_shutdown_points_total",
        "dropped_buffer_full_points_total",
    ] {
        assert_counter(&collector, counter, 0.0);
    }
}

/// Proves that a Redis outage loses nothing: 20 metrics stream over one pickle connection, one
/// point each per 100 ms for 20 s, while Redis is stopped for 10 s in the middle (see
/// [`outage`] for everything checked).
#[test]
fn redis_down_for_ten_seconds_loses_nothing() {
    outage(
        Outage::Stop,
        200,
        Duration::from_secs(5),
        Duration::from_secs(10),
    );
}

/// Proves the same when Redis is killed with SIGKILL mid-stream (replies to sent pipelines are
/// lost, so the collector must send them again) and is back 3 s later.
#[test]
fn redis_killed_mid_stream_loses_nothing() {
    outage(
        Outage::Kill,
        100,
        Duration::from_secs(3),
        Duration::from_secs(3),
    );
}

/// Proves the backpressure bound: with the smallest buffer (1 MiB) and Redis suspended, the
/// collector stops reading a TCP sender, whose writes then block (time out), while it stays
/// alive, keeps its buffer within the bound and drops (and counts) UDP datagrams; once Redis
/// resumes, the sender's backlog drains and every point it wrote is stored.
#[test]
fn backpressure_blocks_tcp_drops_udp_and_loses_no_tcp_point() {
    let mut redis = RedisServer::start().unwrap();
    let max_bytes = 1_048_576.0;
    let mut collector = start(
        &redis,
        &CollectorOptions::default()
            .listeners(false, true, true)
            .sink("buffer_max_bytes", "1048576"),
    );
    let now = now_unix();
    collector
        .send_tcp_raw(format!("test.bp.warm 1 {}\n", now - 5).as_bytes())
        .unwrap();
    wait_counter_eq(&mut collector, "stored_points_total", 1.0);

    redis.suspend().unwrap();
    let suspended = Instant::now();
    let port = collector.ports().line;
    let (blocked_tx, blocked_rx) = mpsc::channel::<usize>();
    let (resume_tx, resume_rx) = mpsc::channel::<()>();
    let (names, per_name) = (500usize, 3000usize);
    let base = now - 3100;
    let sender = thread::spawn(move || -> Result<usize, String> {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
        stream
            .set_write_timeout(Some(Duration::from_secs(2)))
            .map_err(|e| e.to_string())?;
        let chunk_lines = 1000;
        let mut written_lines = 0;
        for first in (0..names * per_name).step_by(chunk_lines) {
            let mut chunk = String::new();
            for i in first..first + chunk_lines {
                chunk.push_str(&format!(
                    "test.bp.n{:03} {i} {}\n",
                    i % names,
                    base + (i / names) as i64
                ));
            }
            let bytes = chunk.as_bytes();
            let mut off = 0;
            while off < bytes.len() {
                match stream.write(&bytes[off..]) {
                    Ok(n) => off += n,
                    Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                        // Blocked: tell the test, wait for Redis, then finish this chunk.
                        blocked_tx.send(written_lines).map_err(|e| e.to_string())?;
                        resume_rx
                            .recv_timeout(Duration::from_secs(120))
                            .map_err(|e| e.to_string())?;
                        stream
                            .set_write_timeout(Some(Duration::from_secs(60)))
                            .map_err(|e| e.to_string())?;
                        stream.write_all(&bytes[off..]).map_err(|e| e.to_string())?;
                        stream
                            .shutdown(Shutdown::Write)
                            .map_err(|e| e.to_string())?;
                        return Ok(written_lines + chunk_lines);
                    }
                    Err(e) => return Err(format!("write failed: {e}")),
                }
            }
            written_lines += chunk_lines;
        }
        Err(format!(
            "never blocked: wrote all {written_lines} lines with Redis suspended"
        ))
    });
    let before_block = match blocked_rx.recv_timeout(Duration::from_secs(20)) {
        Ok(n) => n,
        Err(e) => {
            let _ = redis.resume();
            drop(resume_tx);
            panic!("the TCP sender never blocked ({e}): {:?}", sender.join());
        }
    };
    assert!(before_block > 0);
    assert!(collector.is_running(), "{}", collector.logs());
    let buffered = collector.counter("buffer_bytes").unwrap();
    assert!(
        buffered > 0.0 && buffered <= max_bytes,
        "buffer_bytes {buffered} outside (0, {max_bytes}]"
    );
    assert!(collector.counter("backpressure_waits_total").unwrap() > 0.0);

    // UDP meanwhile: dropped and counted, never waited for.
    let udp_lines: String = (0..200)
        .map(|i| format!("test.bp.udp{i:03} {i} {}\n", now - 7))
        .collect();
    for _ in 0..20 {
        collector.send_udp(udp_lines.as_bytes()).unwrap();
        thread::sleep(Duration::from_millis(5));
    }
    collector
        .wait_counter(
            "dropped_buffer_full_points_total",
            Duration::from_secs(10),
            |v| v > 0.0,
        )
        .unwrap_or_else(|e| {
            let _ = redis.resume();
            panic!("{e:#}")
        });
    let buffered = collector.counter("buffer_bytes").unwrap();
    assert!(
        buffered <= max_bytes,
        "buffer_bytes {buffered} > {max_bytes}"
    );
    assert!(collector.is_running(), "{}", collector.logs());
    assert!(
        suspended.elapsed() < Duration::from_secs(25),
        "Redis was suspended for {:?}: the sink's stall detection (30 s) would interfere",
        suspended.elapsed()
    );

    redis.resume().unwrap();
    resume_tx.send(()).unwrap();
    let written = sender.join().unwrap().unwrap();
    let mut expected = BTreeMap::new();
    for i in 0..written {
        expected.insert(
            (
                format!("test.bp.n{:03}", i % names),
                base + (i / names) as i64,
            ),
            i as f64,
        );
    }
    // Every datagram has been read once received counts them all; then the drops are final.
    let udp_points = 200 * 20;
    collector
        .wait_counter("received_points_total", WAIT, |v| {
            v == (1 + written + udp_points) as f64
        })
        .unwrap();
    let udp_dropped = collector
        .counter("dropped_buffer_full_points_total")
        .unwrap();
    collector
        .wait_counter("stored_points_total", WAIT, |v| {
            v == (1 + written + udp_points) as f64 - udp_dropped
        })
        .unwrap();
    collector
        .wait_inspect("test.bp.n*", &expected, WAIT)
        .unwrap_or_else(|e| panic!("{e:#}"));
    // Everything answered: the buffer is empty again (no charge leaked).
    wait_counter_eq(&mut collector, "buffer_bytes", 0.0);
    eprintln!(
        "backpressure: {before_block} lines written before the sender blocked, {written} in \
         all; {udp_dropped} of {udp_points} UDP points dropped"
    );
}

/// Sends `n` points over a fresh plaintext connection and waits until the collector has them
/// (received); returns what was sent.
fn send_buffered(collector: &mut Collector, prefix: &str, n: i64) -> Vec<Sent> {
    let now = now_unix();
    let sent: Vec<Sent> = (0..n)
        .map(|i| {
            (
                format!("{prefix}.m{:02}", i % 10),
                (now - 1000 + i / 10) as f64,
                i as f64,
            )
        })
        .collect();
    collector.send_tcp_raw(lines(&sent).as_bytes()).unwrap();
    wait_counter_eq(collector, "routed_points_total", n as f64);
    sent
}

fn stopped_redis_and_collector(shutdown_timeout: Option<&str>) -> (RedisServer, Collector) {
    let mut redis = RedisServer::start().unwrap();
    let mut options = CollectorOptions::default().listeners(false, true, false);
    if let Some(t) = shutdown_timeout {
        options = options.sink("shutdown_timeout_secs", t);
    }
    let mut collector = start(&redis, &options);
    wait_counter_eq(&mut collector, "redis_connected", 1.0);
    redis.stop().unwrap();
    wait_counter_eq(&mut collector, "redis_connected", 0.0);
    (redis, collector)
}

/// Proves that SIGTERM flushes: points buffered while Redis is down are all written when Redis
/// is back and the collector is told to stop right away; it exits 0.
#[test]
fn sigterm_flushes_buffered_points() {
    let (mut redis, mut collector) = stopped_redis_and_collector(None);
    let sent = send_buffered(&mut collector, "test.term", 500);
    assert_counter(&collector, "stored_points_total", 0.0);
    redis.start_again().unwrap();
    let status = collector
        .terminate(Duration::from_secs(40))
        .unwrap_or_else(|e| panic!("{e:#}"));
    let logs = collector.logs();
    assert!(status.success(), "exit status {status}\n{logs}");
    assert!(logs.contains("flushed"), "{logs}");
    // inspect reads Redis directly: it does not need the daemon.
    let got = am_tests::collector::to_map(&collector.inspect("test.term.*").unwrap()).unwrap();
    assert_eq!(got, last_write_wins(&sent, None), "{logs}");
}

/// Proves that on SIGTERM with Redis still down the collector keeps trying (within its
/// shutdown timeout, 30 s by default) and writes everything once Redis returns.
#[test]
fn sigterm_during_outage_waits_for_redis() {
    let (mut redis, mut collector) = stopped_redis_and_collector(None);
    let sent = send_buffered(&mut collector, "test.wait", 300);
    collector
        .process()
        .signal(nix::sys::signal::Signal::SIGTERM)
        .unwrap();
    thread::sleep(Duration::from_secs(2));
    assert!(
        collector.is_running(),
        "exited with points unwritten and the shutdown timeout not reached\n{}",
        collector.logs()
    );
    redis.start_again().unwrap();
    let status = collector
        .wait_exit(Duration::from_secs(40))
        .unwrap_or_else(|e| panic!("{e:#}"));
    let logs = collector.logs();
    assert!(status.success(), "exit status {status}\n{logs}");
    let got = am_tests::collector::to_map(&collector.inspect("test.wait.*").unwrap()).unwrap();
    assert_eq!(got, last_write_wins(&sent, None), "{logs}");
}

/// Proves that the shutdown timeout bounds a shutdown while Redis stays down: the collector
/// exits soon after it and logs how many points were lost.
#[test]
fn shutdown_timeout_bounds_the_wait_and_reports_the_loss() {
    let (_redis, mut collector) = stopped_redis_and_collector(Some("2"));
    send_buffered(&mut collector, "test.lost", 120);
    let started = Instant::now();
    collector
        .terminate(Duration::from_secs(20))
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert!(started.elapsed() >= Duration::from_secs(2));
    let logs = collector.logs();
    assert!(logs.contains("datapoints lost"), "{logs}");
    assert!(logs.contains("unwritten=120"), "{logs}");
}

//! End-to-end tests of `am-collector` against the seven findings of the issue-23 probe (the
//! collector treated as an attacker and a bad network would treat it): unbounded memory of
//! unfinished frames, connections that never finish, a frozen Redis, logs as a weapon, the
//! open-file limit, names that forge output, and memory kept after a burst.
//!
//! Each test starts its own redis-server and collector on free ports and stops them by PID
//! through the guards; every wait is bounded. Nothing here asserts how fast anything is:
//! where a test waits "within" a timeout it waits several times longer than the timeout, and
//! checks the order of events (detected while Redis was still frozen), not their speed.

// Helpers of a test crate are test code too (clippy.toml allows these in #[test] functions
// only): a failing unwrap or panic is a failing test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{ErrorKind, Read as _, Write as _};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::thread;
use std::time::{Duration, Instant};

use am_tests::collector::test_helpers::{
    self, WAIT, assert_counter, frame_of, redis_and_collector, send_good_frames, start,
    wait_counter_eq,
};
use am_tests::collector::{Sent, last_write_wins, lines};
use am_tests::{Collector, CollectorOptions, RedisServer, now_unix};

const MIB: u64 = 1 << 20;

fn connect(port: u16) -> TcpStream {
    test_helpers::connect(port, Duration::from_secs(30))
}

/// True once the collector has closed `stream` (EOF or reset); false while it is open.
fn closed_by_peer(stream: &mut TcpStream) -> bool {
    stream.set_nonblocking(true).unwrap();
    let mut byte = [0u8; 1];
    let closed = match stream.read(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) if e.kind() == ErrorKind::WouldBlock => false,
        Err(_) => true,
    };
    stream.set_nonblocking(false).unwrap();
    closed
}

/// Waits (bounded) until the collector has closed `stream`.
fn wait_closed(what: &str, stream: &mut TcpStream, within: Duration, collector: &Collector) {
    let started = Instant::now();
    while !closed_by_peer(stream) {
        assert!(
            started.elapsed() < within,
            "{what}: still open after {within:?}\n{}",
            collector.logs()
        );
        thread::sleep(Duration::from_millis(50));
    }
}

/// Log lines containing `needle`.
fn log_lines(collector: &Collector, needle: &str) -> Vec<String> {
    collector
        .log()
        .lines()
        .filter(|l| l.contains(needle))
        .map(str::to_owned)
        .collect()
}

/// The number after `field=` in a log line.
fn field(line: &str, field: &str) -> u64 {
    let at = line
        .find(&format!("{field}="))
        .unwrap_or_else(|| panic!("no {field}= in {line:?}"));
    line[at + field.len() + 1..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap_or_else(|_| panic!("no number after {field}= in {line:?}"))
}

/// Samples the collector's RSS every 100 ms on a thread until dropped; keeps the maximum.
struct RssPeak {
    peak: Arc<AtomicU64>,
    running: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl RssPeak {
    fn start(collector: &mut Collector) -> Self {
        let pid = collector.pid().unwrap();
        let peak = Arc::new(AtomicU64::new(am_tests::sys::rss_bytes(pid).unwrap()));
        let running = Arc::new(AtomicBool::new(true));
        let (p, r) = (peak.clone(), running.clone());
        let thread = thread::spawn(move || {
            while r.load(Relaxed) {
                if let Ok(rss) = am_tests::sys::rss_bytes(pid) {
                    p.fetch_max(rss, Relaxed);
                }
                thread::sleep(Duration::from_millis(100));
            }
        });
        RssPeak {
            peak,
            running,
            thread: Some(thread),
        }
    }

    fn peak(&self) -> u64 {
        self.peak.load(Relaxed)
    }
}

impl Drop for RssPeak {
    fn drop(&mut self) {
        self.running.store(false, Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// `n` connections to `port`, each writing `bytes` (which never finish a frame or line) and
/// staying open. A write the collector cuts short (it evicted the connection) is fine.
fn hold_unfinished(port: u16, n: usize, bytes: &[u8]) -> Vec<TcpStream> {
    (0..n)
        .map(|_| {
            let mut s = connect(port);
            let _ = s.write_all(bytes);
            s
        })
        .collect()
}

/// A 1 MiB pickle frame, all but its last byte.
fn unfinished_frame() -> Vec<u8> {
    let len: u32 = 1 << 20;
    let mut out = len.to_be_bytes().to_vec();
    out.extend(std::iter::repeat_n(b'(', len as usize - 1));
    out
}

/// Streams `frames` frames of `per_frame` points over one pickle connection, 20 ms apart, on
/// a thread; returns what it sent.
fn good_sender(
    port: u16,
    prefix: &'static str,
    frames: i64,
    per_frame: i64,
) -> thread::JoinHandle<Vec<Sent>> {
    thread::spawn(move || {
        let (stream, sent) =
            send_good_frames(port, prefix, (frames, per_frame), Duration::from_millis(20));
        stream.shutdown(Shutdown::Write).unwrap();
        sent
    })
}

/// Finding 1: 500 connections each holding an unfinished 1 MiB pickle frame and 200 holding
/// an unfinished 65,000-byte line leave the collector within `max_pending_bytes` (64 MiB)
/// plus a fixed overhead: the largest holders are closed (counted, and logged once per peer,
/// not once per connection), and a well-behaved sender streaming at the same time stores
/// every point.
#[test]
fn pending_budget_bounds_unfinished_frames_and_lines() {
    let redis = RedisServer::start().unwrap();
    let budget = 64 * MIB;
    let mut collector = start(
        &redis,
        &CollectorOptions::default()
            .listeners(true, true, false)
            .limits(format!(r#"{{ "max_pending_bytes": {budget} }}"#))
            .tcp_listener("max_connections", "10000"),
    );
    let ports = collector.ports();
    wait_counter_eq(&mut collector, "redis_connected", 1.0);
    let before = collector.rss_bytes().unwrap();
    let rss = RssPeak::start(&mut collector);

    let good = good_sender(ports.pickle, "test.good", 150, 20);
    let frames = hold_unfinished(ports.pickle, 500, &unfinished_frame());
    let lines_held = hold_unfinished(ports.line, 200, &[b'a'; 65_000]);
    let sent = good.join().unwrap();
    wait_inspect_all(&mut collector, "test.good.*", &sent);

    let pending = collector.counter("pending_bytes").unwrap();
    assert!(
        pending <= budget as f64,
        "pending_bytes {pending} over the budget {budget}\n{}",
        collector.logs()
    );
    let evicted = collector.counter("connections_evicted_total").unwrap();
    // At most 64 of the 1 MiB frames can fit; every other one was closed.
    assert!(
        evicted >= 436.0,
        "only {evicted} connections evicted\n{}",
        collector.logs()
    );
    let overhead = 96 * MIB;
    eprintln!(
        "RSS before {} MiB, peak {} MiB; {evicted} connections evicted; pending_bytes {pending}",
        before / MIB,
        rss.peak() / MIB
    );
    assert!(
        rss.peak() <= before + budget + overhead,
        "RSS peaked at {} MiB (before: {} MiB, budget 64 MiB, overhead allowed 96 MiB)",
        rss.peak() / MIB,
        before / MIB
    );
    // Every connection came from 127.0.0.1: one warning line per 10 s, not one per eviction.
    let warned = log_lines(&collector, "closing the connection holding the most");
    assert!(
        !warned.is_empty() && warned.len() <= 3,
        "{} eviction warnings for {evicted} evictions:\n{}",
        warned.len(),
        warned.join("\n")
    );
    assert!(collector.is_running());
    drop((frames, lines_held));
    wait_counter_eq(&mut collector, "pending_bytes", 0.0);
}

/// Finding 1, the allocation: 300 connections that announce a 1 MiB frame and send 100 bytes
/// of it hold about what they sent, not what they announced (the collector's own count of
/// what its buffers allocate, `pending_bytes`, stays under 300 × 1 KiB).
#[test]
fn an_announced_frame_length_reserves_nothing() {
    let (_redis, mut collector) =
        redis_and_collector(&CollectorOptions::default().listeners(true, false, false));
    let mut start_of_frame = (1u32 << 20).to_be_bytes().to_vec();
    start_of_frame.extend([b'('; 100]);
    let held = hold_unfinished(collector.ports().pickle, 300, &start_of_frame);
    wait_counter_eq(&mut collector, "connections_open", 300.0);
    // Every connection's 104 bytes have been read once pending_bytes reaches 300 × 104.
    let pending = collector
        .wait_counter("pending_bytes", WAIT, |v| v >= 300.0 * 104.0)
        .unwrap();
    thread::sleep(Duration::from_millis(500));
    let pending = collector.counter("pending_bytes").unwrap().max(pending);
    assert!(
        pending <= 300.0 * 1024.0,
        "300 connections with 104 bytes each hold {pending} bytes\n{}",
        collector.logs()
    );
    drop(held);
}

fn wait_inspect_all(collector: &mut Collector, pattern: &str, sent: &[Sent]) {
    collector
        .wait_inspect(pattern, &last_write_wins(sent, None), WAIT)
        .unwrap_or_else(|e| panic!("{e:#}"));
}

/// Finding 2: with `max_connections` 5 and `idle_timeout_secs` 2, a sixth connection is
/// refused (counted) while the five keep working and `/metrics` answers; the silent and the
/// trickling connections are closed after the idle timeout (counted), the one delivering a
/// line every 300 ms stays open and loses nothing, and a new connection is served once there
/// is room again.
#[test]
fn idle_connections_are_closed_and_max_connections_refuses_the_rest() {
    let (_redis, mut collector) = redis_and_collector(
        &CollectorOptions::default()
            .listeners(false, true, false)
            .tcp_listener("max_connections", "5")
            .tcp_listener("idle_timeout_secs", "2"),
    );
    let port = collector.ports().line;
    let now = now_unix();
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    let mut busy = connect(port);
    let busy_copy = busy.try_clone().unwrap();
    let busy_sender = thread::spawn(move || {
        let mut stream = busy_copy;
        let mut sent = Vec::new();
        for i in 0..100i64 {
            let point = (
                format!("test.busy.m{}", i % 3),
                (now - 500 + i) as f64,
                i as f64,
            );
            stream
                .write_all(lines(std::slice::from_ref(&point)).as_bytes())
                .unwrap();
            sent.push(point);
            if stop_rx.recv_timeout(Duration::from_millis(300)).is_ok() {
                break;
            }
        }
        sent
    });
    let mut silent: Vec<TcpStream> = (0..3).map(|_| connect(port)).collect();
    let mut trickle = connect(port);
    wait_counter_eq(&mut collector, "connections_open", 5.0);

    let mut sixth = connect(port);
    wait_closed(
        "the sixth connection",
        &mut sixth,
        Duration::from_secs(20),
        &collector,
    );
    wait_counter_eq(&mut collector, "connections_over_limit_total", 1.0);
    assert!(
        collector.metrics_text().is_ok(),
        "/metrics stopped answering"
    );

    // One byte every 300 ms, never a newline: no complete line, so it is idle too.
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(20) && !closed_by_peer(&mut trickle) {
        let _ = trickle.write_all(b"x");
        thread::sleep(Duration::from_millis(300));
    }
    assert!(
        closed_by_peer(&mut trickle),
        "the trickling connection was never closed\n{}",
        collector.logs()
    );
    for (i, s) in silent.iter_mut().enumerate() {
        wait_closed(
            &format!("silent connection {i}"),
            s,
            Duration::from_secs(20),
            &collector,
        );
    }
    wait_counter_eq(&mut collector, "connections_idle_closed_total", 4.0);
    assert!(
        !closed_by_peer(&mut busy),
        "the connection delivering lines was closed\n{}",
        collector.logs()
    );

    // Room again: a new connection is served.
    let late = vec![("test.late.x".to_owned(), (now - 5) as f64, 7.0)];
    collector.send_tcp_raw(lines(&late).as_bytes()).unwrap();
    wait_inspect_all(&mut collector, "test.late.*", &late);

    stop_tx.send(()).unwrap();
    let sent = busy_sender.join().unwrap();
    busy.shutdown(Shutdown::Write).unwrap();
    wait_inspect_all(&mut collector, "test.busy.*", &sent);
    assert_counter(&collector, "connections_over_limit_total", 1.0);
}

/// Finding 3: Redis frozen (SIGSTOP) while the collector is writing a backlog of about
/// 15 MB: the writer's socket stops taking bytes (`redis_unwritten_bytes` > 0, a write is
/// blocked), and the writer notices within its `timeout_secs` (3) while Redis is still
/// frozen — connection dropped, `redis_timeouts_total` counted, `redis_connected` 0 —
/// rather than waiting on the write; after SIGCONT it reconnects, sends again what was
/// unanswered (`redis_retries_total`) and every point is stored, none dropped.
#[test]
fn frozen_redis_is_noticed_mid_write_and_nothing_is_lost() {
    let (mut redis, mut collector) = redis_and_collector(
        &CollectorOptions::default()
            .listeners(true, false, false)
            .sink("timeout_secs", "3"),
    );
    wait_counter_eq(&mut collector, "redis_connected", 1.0);
    let now = now_unix();
    // Long names make each point its own ~260-byte APPEND: 60,000 points, about 15 MB.
    let pad = "x".repeat(180);
    let mut sent: Vec<Sent> = Vec::new();
    let mut frames = Vec::new();
    for round in 0..20i64 {
        let points: Vec<Sent> = (0..3000)
            .map(|m| {
                (
                    format!("test.frozen.{pad}.m{m:04}"),
                    (now - 3000 + round * 60) as f64,
                    (round * 10_000 + m) as f64,
                )
            })
            .collect();
        for chunk in points.chunks(500) {
            frames.push(frame_of(chunk));
        }
        sent.extend(points);
    }

    redis.suspend().unwrap();
    let frozen_at = Instant::now();
    let port = collector.ports().pickle;
    let sender = thread::spawn(move || {
        let mut stream = connect(port);
        stream
            .set_write_timeout(Some(Duration::from_secs(120)))
            .unwrap();
        for f in &frames {
            stream.write_all(f).unwrap();
        }
        stream.shutdown(Shutdown::Write).unwrap();
    });
    let blocked = collector.wait_counter("redis_unwritten_bytes", Duration::from_secs(60), |v| {
        v > 0.0
    });
    let timed_out = collector.wait_counter("redis_timeouts_total", Duration::from_secs(60), |v| {
        v >= 1.0
    });
    let still_frozen = frozen_at.elapsed();
    let connected = collector.counter("redis_connected");
    thread::sleep(Duration::from_secs(4)); // a reconnect attempt or two meets the frozen Redis
    redis.resume().unwrap();
    blocked.unwrap_or_else(|e| panic!("no write ever blocked: {e:#}"));
    timed_out.unwrap_or_else(|e| panic!("the frozen Redis was never noticed: {e:#}"));
    assert_eq!(connected.unwrap(), 0.0, "redis_connected with Redis frozen");
    let noticed = log_lines(&collector, "Redis stopped answering");
    assert!(!noticed.is_empty(), "{}", collector.logs());
    eprintln!(
        "frozen Redis noticed {still_frozen:?} after SIGSTOP: {}",
        noticed[0]
    );

    sender.join().unwrap();
    collector
        .wait_counter("stored_points_total", WAIT, |v| v == sent.len() as f64)
        .unwrap_or_else(|e| panic!("{e:#}"));
    wait_inspect_all(&mut collector, "test.frozen.*", &sent);
    assert!(collector.counter("redis_retries_total").unwrap() > 0.0);
    assert!(collector.counter("redis_reconnects_total").unwrap() >= 1.0);
    for counter in [
        "dropped_redis_error_points_total",
        "dropped_shutdown_points_total",
        "dropped_buffer_full_points_total",
    ] {
        assert_counter(&collector, counter, 0.0);
    }
    wait_counter_eq(&mut collector, "buffer_bytes", 0.0);
}

/// Finding 4: 300 connections each sending a bad pickle frame (each closed) and 100
/// connections each sending 20 bad lines, all from 127.0.0.1, are all counted but logged once
/// per peer and kind per 10 s, reconnecting or not; the next warning after the interval says
/// how many were suppressed.
#[test]
fn warnings_are_rate_limited_per_peer_across_reconnects() {
    let (_redis, mut collector) =
        redis_and_collector(&CollectorOptions::default().listeners(true, true, false));
    let ports = collector.ports();
    let started = Instant::now();
    let bad_frame = {
        let payload = b"\x80\x02cos\nsystem\n(S'echo pwned'\ntR.";
        let mut f = u32::try_from(payload.len()).unwrap().to_be_bytes().to_vec();
        f.extend_from_slice(payload);
        f
    };
    for _ in 0..300 {
        let mut s = connect(ports.pickle);
        let _ = s.write_all(&bad_frame);
        let mut buf = [0u8; 16];
        let _ = s.read(&mut buf);
    }
    let bad_lines: String = (0..20)
        .map(|i| format!("test.bad.{i} notanumber 1\n"))
        .collect();
    let lines_started = Instant::now();
    for _ in 0..100 {
        collector.send_tcp_raw(bad_lines.as_bytes()).unwrap();
    }
    wait_counter_eq(&mut collector, "bad_frames_total", 300.0);
    wait_counter_eq(&mut collector, "bad_lines_total", 2000.0);
    let windows = 1 + started.elapsed().as_secs() / 10;
    let frame_warnings = log_lines(&collector, "bad pickle frame");
    let line_warnings = log_lines(&collector, "skipped a bad plaintext line");
    assert!(
        (1..=windows as usize + 1).contains(&frame_warnings.len())
            && (1..=windows as usize + 1).contains(&line_warnings.len()),
        "{} frame and {} line warnings in {} s:\n{}\n{}",
        frame_warnings.len(),
        line_warnings.len(),
        started.elapsed().as_secs(),
        frame_warnings.join("\n"),
        line_warnings.join("\n")
    );
    let logged = (frame_warnings.len() + line_warnings.len()) as f64;
    assert_counter(&collector, "log_suppressed_total", 2300.0 - logged);

    // After the interval the next bad line is logged with the count of those suppressed.
    // The first line warning came after `lines_started`; the next may come 10 s after it.
    thread::sleep(
        (lines_started + Duration::from_secs(12)).saturating_duration_since(Instant::now()),
    );
    collector
        .send_tcp_raw(b"test.bad.late notanumber 1\n")
        .unwrap();
    wait_counter_eq(&mut collector, "bad_lines_total", 2001.0);
    let line_warnings = log_lines(&collector, "skipped a bad plaintext line");
    let last = line_warnings.last().unwrap();
    let suppressed: u64 = line_warnings.iter().map(|l| field(l, "suppressed")).sum();
    assert_eq!(
        suppressed + line_warnings.len() as u64,
        2001,
        "the warnings do not account for every bad line:\n{}",
        line_warnings.join("\n")
    );
    assert_eq!(field(last, "bad_lines_from_peer"), 2001, "{last}");
}

/// Finding 5: started with a soft open-file limit of 256 (hard 4096), the collector raises
/// it to 4096, says so in its log and its metrics, and serves 600 connections at once.
#[test]
fn open_file_soft_limit_is_raised_to_the_hard_limit() {
    let (_redis, mut collector) = redis_and_collector(
        &CollectorOptions::default()
            .listeners(false, true, false)
            .open_files(256, 4096),
    );
    let pid = collector.pid().unwrap();
    assert_eq!(am_tests::sys::open_files_limits(pid).unwrap(), (4096, 4096));
    let raised = log_lines(&collector, "raised the open-file limit");
    assert!(
        raised.len() == 1
            && raised[0].contains("open_files_limit=4096")
            && raised[0].contains("was=256"),
        "{}",
        collector.logs()
    );
    assert_counter(&collector, "open_files_limit", 4096.0);

    let now = now_unix();
    let port = collector.ports().line;
    let mut sent = Vec::new();
    let mut open = Vec::new();
    for i in 0..600i64 {
        let point = (format!("test.fd.m{i:03}"), (now - 100) as f64, i as f64);
        let mut s = connect(port);
        s.write_all(lines(std::slice::from_ref(&point)).as_bytes())
            .unwrap();
        sent.push(point);
        open.push(s);
    }
    collector
        .wait_counter("connections_open", WAIT, |v| v == 600.0)
        .unwrap_or_else(|e| panic!("{e:#}"));
    wait_counter_eq(&mut collector, "stored_points_total", 600.0);
    drop(open);
    wait_inspect_all(&mut collector, "test.fd.*", &sent);
    assert_counter(&collector, "connections_over_limit_total", 0.0);
}

/// Finding 5, the other daemon: am-runner started with a soft open-file limit of 256 (hard
/// 4096) runs with 4096 and says so in its log.
#[test]
fn runner_raises_its_open_file_limit_too() {
    let redis = RedisServer::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let metrics_port = am_tests::free_port().unwrap();
    let carbon_port = am_tests::free_port().unwrap();
    let setup = am_tests::RunnerSetup::new(redis.port(), carbon_port);
    let (config, _) = setup.write(dir.path(), Some(metrics_port)).unwrap();
    let spec = am_tests::DaemonSpec::new(
        "am-runner",
        am_tests::runner::runner_binary().unwrap(),
        dir.path(),
    )
    .arg("--config")
    .arg(&config)
    .env("RUST_LOG", "info")
    .open_files(256, 4096);
    let mut runner = am_tests::DaemonProcess::spawn(spec).unwrap();
    runner
        .wait_for_port(metrics_port, Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("{e:#}"));
    let pid = runner.pid().unwrap();
    assert_eq!(am_tests::sys::open_files_limits(pid).unwrap(), (4096, 4096));
    let log = std::fs::read_to_string(runner.stderr_log()).unwrap();
    assert!(
        log.lines().any(|l| l.contains("raised the open-file limit")
            && l.contains("open_files_limit=4096")
            && l.contains("was=256")),
        "{log}"
    );
}

/// Finding 6: names holding a newline, ESC sequences, a right-to-left override, a bell and a
/// backslash are stored as sent and printed by `inspect` escaped: one line per point, no
/// control character in the output. `check` escapes a config key holding ESC too.
#[test]
fn inspect_and_check_escape_control_characters() {
    let (_redis, mut collector) =
        redis_and_collector(&CollectorOptions::default().listeners(true, true, false));
    let ts = now_unix() - 60;
    let pickled: Vec<Sent> = [
        "test.esc.a\nforged.line 1 2",
        "test.esc.\u{1b}[2J\u{1b}[31mred",
        "test.esc.rtl\u{202e}txt",
        "test.esc.back\\slash",
    ]
    .iter()
    .map(|n| ((*n).to_owned(), ts as f64, 1.0))
    .collect();
    let mut s = connect(collector.ports().pickle);
    s.write_all(&frame_of(&pickled)).unwrap();
    drop(s);
    collector
        .send_tcp_raw(format!("test.esc.bell\u{7} 2 {ts}\n").as_bytes())
        .unwrap();
    wait_counter_eq(&mut collector, "stored_points_total", 5.0);

    let out = am_tests::collector::run_cli(
        &[
            "inspect",
            "--config",
            collector.config_path().to_str().unwrap(),
            "test.esc.*",
        ],
        Duration::from_secs(30),
    )
    .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = &out.stdout;
    assert!(
        !text
            .chars()
            .any(|c| (c.is_control() && c != '\n') || c == '\u{202e}'),
        "control characters in inspect's output: {text:?}"
    );
    let printed: Vec<&str> = text.lines().collect();
    assert_eq!(printed.len(), 5, "{text:?}");
    for expected in [
        format!("test.esc.a\\nforged.line 1 2 {ts} 1"),
        format!("test.esc.\\u{{1b}}[2J\\u{{1b}}[31mred {ts} 1"),
        format!("test.esc.rtl\\u{{202e}}txt {ts} 1"),
        format!("test.esc.back\\\\slash {ts} 1"),
        format!("test.esc.bell\\u{{7}} {ts} 2"),
    ] {
        assert!(
            printed.contains(&expected.as_str()),
            "{expected:?} not in {printed:?}"
        );
    }

    let config = collector.config_text().replacen(
        "\"router\": {",
        "\"router\": { \"\\u001b[31mevil\": 1,",
        1,
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("collector.json");
    std::fs::write(&path, config).unwrap();
    let out = am_tests::collector::run_cli(
        &["check", "--config", path.to_str().unwrap()],
        Duration::from_secs(30),
    )
    .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        !out.stderr.contains('\u{1b}') && out.stderr.contains("\\u{1b}[31mevil"),
        "{:?}",
        out.stderr
    );
}

/// Finding 7: after three waves of 300 connections each holding an unfinished 1 MiB frame
/// and 300 holding an unfinished 65,000-byte line (no budget in the way: the collector's RSS
/// grows by more than 200 MiB), all closed, the collector gives the memory back to the
/// system: its RSS comes back to within 16 MiB of what it was before.
#[test]
fn memory_returns_to_the_system_after_a_burst() {
    let (_redis, mut collector) = redis_and_collector(
        &CollectorOptions::default()
            .listeners(true, true, false)
            .limits(r#"{ "max_pending_bytes": 4294967296 }"#),
    );
    wait_counter_eq(&mut collector, "redis_connected", 1.0);
    let sent: Vec<Sent> = (0..2000)
        .map(|i| {
            (
                format!("test.warm.m{}", i % 100),
                (now_unix() - 1000 + i / 100) as f64,
                i as f64,
            )
        })
        .collect();
    let mut s = connect(collector.ports().pickle);
    for chunk in sent.chunks(500) {
        s.write_all(&frame_of(chunk)).unwrap();
    }
    drop(s);
    wait_counter_eq(&mut collector, "stored_points_total", 2000.0);
    thread::sleep(Duration::from_secs(1));
    let before = collector.rss_bytes().unwrap();

    // Three bursts, as a probe comes in waves: each 300 unfinished 1 MiB frames and 300
    // unfinished 65,000-byte lines, held, then dropped. (One burst alone is given back even
    // by glibc's malloc, whose large blocks start out mmapped; the next ones come from its
    // heaps, which it kept.)
    let mut peak = 0;
    for _ in 0..3 {
        let frames = hold_unfinished(collector.ports().pickle, 300, &unfinished_frame());
        let lines_held = hold_unfinished(collector.ports().line, 300, &[b'a'; 65_000]);
        let full = 300.0 * (MIB as f64 - 1.0) + 300.0 * 65_000.0;
        collector
            .wait_counter("pending_bytes", WAIT, |v| v >= full)
            .unwrap_or_else(|e| panic!("{e:#}"));
        peak = peak.max(collector.rss_bytes().unwrap());
        drop((frames, lines_held));
        wait_counter_eq(&mut collector, "connections_open", 0.0);
    }
    assert!(
        peak >= before + 200 * MIB,
        "the burst did not show in RSS: {} MiB before, {} MiB at the peak",
        before / MIB,
        peak / MIB
    );
    let closed = Instant::now();
    let mut after = collector.rss_bytes().unwrap();
    while after > before + 16 * MIB && closed.elapsed() < Duration::from_secs(90) {
        thread::sleep(Duration::from_secs(1));
        after = collector.rss_bytes().unwrap();
    }
    eprintln!(
        "RSS before {} MiB, peak {} MiB, {} MiB {:?} after closing",
        before / MIB,
        peak / MIB,
        after / MIB,
        closed.elapsed()
    );
    assert!(
        after <= before + 16 * MIB,
        "RSS still {} MiB 90 s after the burst (before: {} MiB)",
        after / MIB,
        before / MIB
    );
}

//! The side-by-side plaintext ingest benchmark behind `bench/ingest-vs-carbon-c-relay`: the same
//! plaintext load, generated once, is sent to carbon-c-relay (relaying to a counting, discarding
//! sink) and then to am-collector (writing to Redis), and both rates are printed, the ratio last.
//!
//! The script starts and stops the daemons; this program has three modes:
//! - `ports N`: prints N free TCP ports of 127.0.0.1, one a line;
//! - `sink --port P --stats-port S [--max-seconds T]`: accepts connections on P, reads and
//!   discards everything while counting lines and bytes; a connection to S receives
//!   `LINES BYTES\n`. Exits after T seconds at the latest;
//! - `run ...`: generates the load, feeds both daemons one after the other, checks that the
//!   relay forwarded every line and that am-collector stored every point (zero loss, a sample
//!   read back from Redis), and prints `ingest_ratio_vs_carbon_c_relay VALUE x` last.

// A benchmark reports on stdout.
#![allow(clippy::print_stdout)]

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use am_bench::{collector_counters, counter, flag, machine, read_back, run_mode, send_share};
use am_tests::wait_for_tcp;
use anyhow::{Context, bail};

/// Longest a whole delivery (send and drain) may take before the run fails.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(90);
/// A delivery whose count has not moved for this long has stalled (lost points).
const STALL_TIMEOUT: Duration = Duration::from_secs(15);

fn main() -> anyhow::Result<()> {
    run_mode(
        "ingest_vs_relay ports N | sink --port P --stats-port S | run ...",
        &[("sink", sink), ("run", run)],
    )
}

/// The discarding sink: counts lines and bytes of everything it receives.
fn sink(f: &[(String, String)]) -> anyhow::Result<()> {
    let port: u16 = flag(f, "--port", None)?;
    let stats_port: u16 = flag(f, "--stats-port", None)?;
    let max_seconds: u64 = flag(f, "--max-seconds", Some(600))?;
    let data = TcpListener::bind(("127.0.0.1", port)).context("binding the sink port")?;
    let stats = TcpListener::bind(("127.0.0.1", stats_port)).context("binding the stats port")?;
    let lines = Arc::new(AtomicU64::new(0));
    let bytes = Arc::new(AtomicU64::new(0));
    {
        let (lines, bytes) = (lines.clone(), bytes.clone());
        std::thread::spawn(move || {
            for conn in data.incoming() {
                let Ok(mut conn) = conn else { continue };
                let (lines, bytes) = (lines.clone(), bytes.clone());
                std::thread::spawn(move || {
                    // Polled rather than blocking: carbon-c-relay writes one line per write(),
                    // and a reader woken for every line would slow the relay down (and cost
                    // more CPU than the relay itself). Polling lets lines pile up in the
                    // socket buffer and be read 1 MiB at a time.
                    if conn.set_nonblocking(true).is_err() {
                        return;
                    }
                    let mut buf = vec![0u8; 1 << 20];
                    loop {
                        match conn.read(&mut buf) {
                            Ok(0) => break,
                            Ok(n) => {
                                let got = buf.get(..n).unwrap_or_default();
                                let nl = got.iter().filter(|&&b| b == b'\n').count();
                                lines.fetch_add(nl as u64, Ordering::Relaxed);
                                bytes.fetch_add(n as u64, Ordering::Relaxed);
                            }
                            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                                std::thread::sleep(Duration::from_millis(1));
                            }
                            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                            Err(_) => break,
                        }
                    }
                });
            }
        });
    }
    std::thread::spawn(move || {
        for mut conn in stats.incoming().flatten() {
            let msg = format!(
                "{} {}\n",
                lines.load(Ordering::Relaxed),
                bytes.load(Ordering::Relaxed)
            );
            conn.write_all(msg.as_bytes()).ok();
        }
    });
    std::thread::sleep(Duration::from_secs(max_seconds));
    Ok(())
}

/// The 1, 5 and 15 minute load averages, as `/proc/loadavg` gives them.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// Asks the sink for `(lines, bytes)` received so far.
fn sink_count(stats_port: u16) -> anyhow::Result<(u64, u64)> {
    let mut s = TcpStream::connect(("127.0.0.1", stats_port)).context("connecting to the sink")?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut text = String::new();
    s.read_to_string(&mut text)?;
    let mut it = text.split_whitespace().map(str::parse::<u64>);
    match (it.next(), it.next()) {
        (Some(Ok(l)), Some(Ok(b))) => Ok((l, b)),
        _ => bail!("sink answered {text:?}"),
    }
}

/// Retention of the bench's model (`RedisTimeStamped`), whose chunks span 4 hours.
const TTL: u32 = 86_400;

/// The load: `metrics` names (`hosts` hosts × metrics per host), each sending one point per
/// round, 60 s apart: a warm-up round (which creates each metric's Redis chunk, as a running
/// collector has it; not timed) and `rounds` timed rounds, all within one chunk span, so the
/// figure does not depend on the time of day. Connection k carries the hosts with
/// `host % connections == k`, round after round, as a host-group relay would.
struct Load {
    metrics: usize,
    hosts: usize,
    rounds: usize,
    base_ts: i64,
    warmup: Vec<Vec<u8>>,
    timed: Vec<Vec<u8>>,
}

fn name(i: usize, hosts: usize) -> String {
    format!("bench.host{:04}.service.metric{:03}", i % hosts, i / hosts)
}

/// The value of metric `i` at round `r`: a mix of integers and decimals, as real metrics are.
fn value(i: usize, r: usize) -> f64 {
    let x = (i * 7919 + r * 104_729) % 100_000;
    if i.is_multiple_of(3) {
        x as f64
    } else {
        x as f64 / 16.0
    }
}

fn load(metrics: usize, hosts: usize, rounds: usize, connections: usize) -> Load {
    let span = i64::from(am_store::Model::Raw { ttl: TTL }.span());
    let first = am_store::unix_now() - 60 * (rounds as i64 + 1);
    let base_ts = first - first.rem_euclid(span);
    let names: Vec<String> = (0..metrics).map(|i| name(i, hosts)).collect();
    let shares = |rounds: std::ops::Range<usize>| {
        let mut per_connection = vec![String::new(); connections.max(1)];
        for r in rounds {
            let ts = base_ts + 60 * r as i64;
            for (i, n) in names.iter().enumerate() {
                if let Some(out) = per_connection.get_mut((i % hosts) % connections.max(1)) {
                    // Writing to a String cannot fail.
                    let _ = writeln!(out, "{n} {} {ts}", value(i, r));
                }
            }
        }
        per_connection
            .into_iter()
            .map(String::into_bytes)
            .collect::<Vec<_>>()
    };
    Load {
        metrics,
        hosts,
        rounds,
        base_ts,
        warmup: shares(0..1),
        timed: shares(1..rounds + 1),
    }
}

/// Sends every connection's share in parallel, 1 MB per write; returns when all is written.
fn send(shares: &[Vec<u8>], port: u16) -> anyhow::Result<Duration> {
    let start = Instant::now();
    std::thread::scope(|scope| {
        let senders: Vec<_> = shares
            .iter()
            .map(|share| scope.spawn(move || send_share(port, share)))
            .collect();
        for s in senders {
            s.join().map_err(|_| anyhow::anyhow!("sender panicked"))??;
        }
        anyhow::Ok(())
    })?;
    Ok(start.elapsed())
}

/// Sends `shares` to `port` and waits until `progress` has grown by `lines`; returns the time
/// to send and the time until the last line arrived, and checks that no more arrived.
fn deliver(
    what: &str,
    shares: &[Vec<u8>],
    port: u16,
    lines: u64,
    mut progress: impl FnMut() -> anyhow::Result<u64>,
) -> anyhow::Result<(Duration, Duration)> {
    let before = progress()?;
    let start = Instant::now();
    let sent = send(shares, port)?;
    wait_for(what, before + lines, &mut progress)?;
    let done = start.elapsed();
    let after = progress()?;
    if after != before + lines {
        bail!("{what}: {} lines arrived, {lines} sent", after - before);
    }
    Ok((sent, done))
}

/// Polls `progress` until it reaches `total`; fails on timeout or a stall.
fn wait_for(
    what: &str,
    total: u64,
    progress: &mut impl FnMut() -> anyhow::Result<u64>,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + DELIVERY_TIMEOUT;
    let (mut last, mut last_change) = (0, Instant::now());
    loop {
        let n = progress()?;
        if n >= total {
            return Ok(());
        }
        if n > last {
            (last, last_change) = (n, Instant::now());
        }
        if Instant::now() > deadline || last_change.elapsed() > STALL_TIMEOUT {
            bail!("{what}: only {n} of {total} lines delivered");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Longest the whole run may take; past it the process exits (the script's daemons are bounded
/// by their own timeouts).
const RUN_TIMEOUT: Duration = Duration::from_secs(240);

fn run(f: &[(String, String)]) -> anyhow::Result<()> {
    std::thread::spawn(|| {
        std::thread::sleep(RUN_TIMEOUT);
        eprintln!("ingest_vs_relay: no result after {RUN_TIMEOUT:?}; giving up");
        std::process::exit(124);
    });
    let metrics: usize = flag(f, "--metrics", Some(100_000))?;
    let hosts: usize = flag(f, "--hosts", Some(1000))?;
    let rounds: usize = flag(f, "--rounds", Some(60))?;
    let connections: usize = flag(f, "--connections", Some(2))?;
    let relay_port: u16 = flag(f, "--relay-port", None)?;
    let sink_stats: u16 = flag(f, "--sink-stats-port", None)?;
    let collector_port: u16 = flag(f, "--collector-port", None)?;
    let metrics_port: u16 = flag(f, "--collector-metrics-port", None)?;
    let redis_port: u16 = flag(f, "--redis-port", None)?;
    // `--only relay` or `--only collector` measures one side (for tuning and profiling).
    let only: String = flag(f, "--only", Some("both".to_string()))?;
    let (do_relay, do_collector) = match only.as_str() {
        "both" => (true, true),
        "relay" => (true, false),
        "collector" => (false, true),
        other => bail!("--only {other}: relay, collector or both"),
    };
    let mut ports = Vec::new();
    if do_relay {
        ports.extend([relay_port, sink_stats]);
    }
    if do_collector {
        ports.extend([collector_port, metrics_port, redis_port]);
    }
    for p in ports {
        wait_for_tcp(p, Duration::from_secs(20))?;
    }

    let load = load(metrics, hosts, rounds, connections);
    let total = (load.metrics * load.rounds) as u64;
    let warmup = load.metrics as u64;
    let bytes: usize = load.timed.iter().map(Vec::len).sum();
    println!("machine: {}; load average {}", machine(), loadavg());
    println!(
        "load: {} distinct metrics ({} hosts) x {} rounds 60 s apart = {} plaintext lines ({:.0} MB, {:.1} bytes/line) over {} connection(s), sent as fast as taken, after an untimed warm-up round",
        load.metrics,
        load.hosts,
        load.rounds,
        total,
        bytes as f64 / 1e6,
        bytes as f64 / total as f64,
        connections
    );

    let relay_rate = if do_relay {
        // carbon-c-relay → counting, discarding sink.
        let at_sink = || Ok(sink_count(sink_stats)?.0);
        deliver(
            "carbon-c-relay warm-up",
            &load.warmup,
            relay_port,
            warmup,
            at_sink,
        )?;
        let bytes0 = sink_count(sink_stats)?.1;
        let (sent, took) = deliver("carbon-c-relay", &load.timed, relay_port, total, at_sink)?;
        let forwarded = sink_count(sink_stats)?.1 - bytes0;
        let rate = total as f64 / took.as_secs_f64();
        println!(
            "carbon-c-relay -> sink: sent in {:.2} s; all {total} lines ({:.0} MB) at the sink after {:.2} s: {rate:.0} lines/s",
            sent.as_secs_f64(),
            forwarded as f64 / 1e6,
            took.as_secs_f64()
        );
        rate
    } else {
        f64::NAN
    };

    let collector_rate = if do_collector {
        // am-collector → Redis.
        let stored = || {
            Ok(counter(
                &collector_counters(metrics_port)?,
                "am_collector_stored_points_total",
            ) as u64)
        };
        let (_, took) = deliver(
            "am-collector warm-up",
            &load.warmup,
            collector_port,
            warmup,
            stored,
        )?;
        println!(
            "am-collector warm-up round ({warmup} points, creating as many chunks): {:.2} s",
            took.as_secs_f64()
        );
        let (sent, took) = deliver("am-collector", &load.timed, collector_port, total, stored)?;
        let c = collector_counters(metrics_port)?;
        let lost: f64 = [
            "am_collector_dropped_expired_points_total",
            "am_collector_dropped_bad_timestamp_points_total",
            "am_collector_dropped_redis_error_points_total",
            "am_collector_dropped_buffer_full_points_total",
            "am_collector_dropped_shutdown_points_total",
            "am_collector_bad_lines_total",
            "am_collector_invalid_points_total",
        ]
        .iter()
        .map(|n| counter(&c, n))
        .sum();
        let received = counter(&c, "am_collector_received_points_total") as u64;
        if lost > 0.0 || received != warmup + total {
            bail!(
                "loss: received {received} of {}, dropped/bad {lost}",
                warmup + total
            );
        }
        verify_sample(&load, redis_port)?;
        let rate = total as f64 / took.as_secs_f64();
        println!(
            "am-collector -> Redis: sent in {:.2} s; all {total} points stored after {:.2} s, zero loss (counters; {SAMPLE} series read back in full): {rate:.0} points/s",
            sent.as_secs_f64(),
            took.as_secs_f64()
        );
        rate
    } else {
        f64::NAN
    };
    println!("load average after the run: {}", loadavg());
    if do_collector {
        println!("am_collector_plaintext_points_per_s {collector_rate:.0} points/s");
    }
    if do_relay {
        println!("carbon_c_relay_lines_per_s {relay_rate:.0} lines/s");
    }
    if do_relay && do_collector {
        println!(
            "ingest_ratio_vs_carbon_c_relay {:.2} x",
            collector_rate / relay_rate
        );
    }
    Ok(())
}

/// Series read back from Redis after the run.
const SAMPLE: usize = 50;

/// Reads a sample of series back and compares every point with what was sent.
fn verify_sample(load: &Load, redis_port: u16) -> anyhow::Result<()> {
    let sample: Vec<usize> = (0..load.metrics)
        .step_by((load.metrics / SAMPLE).max(1))
        .take(SAMPLE)
        .collect();
    let names: Vec<String> = sample.iter().map(|&i| name(i, load.hosts)).collect();
    let end = load.base_ts + 60 * load.rounds as i64;
    let stored = read_back(
        &am_tests::local_redis(redis_port),
        TTL,
        &names,
        load.base_ts,
        end,
    )?;
    for ((&i, n), pts) in sample.iter().zip(&names).zip(stored) {
        if pts.len() != load.rounds + 1 {
            bail!("{n}: {} points stored, {} sent", pts.len(), load.rounds + 1);
        }
        for (r, p) in pts.iter().enumerate() {
            let want = (load.base_ts + 60 * r as i64, value(i, r));
            if (p.ts, p.value) != want {
                bail!("{n}: stored {p:?} at round {r}, sent {want:?}");
            }
        }
    }
    Ok(())
}

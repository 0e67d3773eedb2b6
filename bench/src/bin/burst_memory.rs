//! Memory of am-collector through a burst of unfinished frames and lines, and after it.
//!
//! Starts redis-server and the release am-collector (pickle and plaintext TCP listeners),
//! stores some points the normal way, then, in `--waves` waves (3), opens `--pickle-conns`
//! connections (1000) that each announce a 1 MiB pickle frame and send all of it but its
//! last byte, and `--line-conns` connections (500) that each send a 65,000-byte line without
//! its newline (the issue-23 probe), holds them 3 s and closes them. It samples the
//! collector's RSS (`VmRSS`) throughout and for `--after-secs` (60) after the last wave. Run it with `--budget BYTES` (`limits.max_pending_bytes`) and
//! with `--budget none` (a budget far above the burst) to see both. Prints the figures last:
//! `rss_before_mib`, `rss_peak_mib`, `rss_after_mib`.

// A benchmark reports on stdout.
#![allow(clippy::print_stdout)]

use std::io::Write as _;
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use am_bench::{counter, flags, machine};
use am_tests::collector::test_helpers::frame_of;
use am_tests::{Collector, CollectorOptions, RedisServer, now_unix};
use anyhow::{Context, bail};

const MIB: f64 = 1024.0 * 1024.0;

struct Args {
    pickle_conns: usize,
    line_conns: usize,
    budget: Option<u64>,
    after_secs: u64,
    waves: usize,
}

fn args() -> anyhow::Result<Args> {
    let mut a = Args {
        pickle_conns: 1000,
        line_conns: 500,
        budget: Some(64 << 20),
        after_secs: 60,
        waves: 3,
    };
    let rest: Vec<String> = std::env::args().skip(1).collect();
    for (flag, val) in flags(&rest)? {
        match flag.as_str() {
            "--pickle-conns" => a.pickle_conns = val.parse()?,
            "--line-conns" => a.line_conns = val.parse()?,
            "--budget" if val == "none" => a.budget = None,
            "--budget" => a.budget = Some(val.parse()?),
            "--after-secs" => a.after_secs = val.parse()?,
            "--waves" => a.waves = val.parse()?,
            other => bail!("unknown flag {other}"),
        }
    }
    Ok(a)
}

fn main() -> anyhow::Result<()> {
    let a = args()?;
    // "none": a budget the burst cannot reach, so nothing is evicted.
    let budget = a.budget.unwrap_or(1 << 40);
    let redis = RedisServer::start().context("starting redis-server")?;
    let options = CollectorOptions::default()
        .listeners(true, true, false)
        .limits(format!(r#"{{ "max_pending_bytes": {budget} }}"#))
        .tcp_listener("max_connections", "100000");
    let mut collector = Collector::start(redis.port(), &options)?;
    let ports = collector.ports();

    // Normal traffic first, so "before" is a collector that has worked, not a fresh one.
    let now = now_unix();
    let mut warm = TcpStream::connect(("127.0.0.1", ports.pickle))?;
    let mut sent = 0u64;
    for f in 0..200 {
        let points: Vec<(String, f64, f64)> = (0..500)
            .map(|m| {
                (
                    format!("test.burst.m{m:03}"),
                    (now - 600 + f) as f64,
                    m as f64,
                )
            })
            .collect();
        warm.write_all(&frame_of(&points))?;
        sent += points.len() as u64;
    }
    drop(warm);
    collector.wait_counter("stored_points_total", Duration::from_secs(60), |v| {
        v >= sent as f64
    })?;
    std::thread::sleep(Duration::from_secs(2));
    let before = collector.rss_bytes()?;

    let pid = collector.pid()?;
    let peak = Arc::new(AtomicU64::new(before));
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (peak, sampling) = (peak.clone(), sampling.clone());
        std::thread::spawn(move || {
            while sampling.load(Relaxed) {
                if let Ok(rss) = am_tests::sys::rss_bytes(pid) {
                    peak.fetch_max(rss, Relaxed);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };

    let started = Instant::now();
    let mut refused = 0usize;
    let frame_len: u32 = 1 << 20;
    let mut partial_frame = frame_len.to_be_bytes().to_vec();
    partial_frame.extend(std::iter::repeat_n(b'(', frame_len as usize - 1));
    let partial_line = vec![b'a'; 65_000];
    let (mut pending, mut evicted) = (0.0, 0.0);
    for wave in 0..a.waves {
        let mut held = Vec::new();
        let plan = std::iter::repeat_n((ports.pickle, &partial_frame), a.pickle_conns).chain(
            std::iter::repeat_n((ports.line, &partial_line), a.line_conns),
        );
        for (port, bytes) in plan {
            let mut s = TcpStream::connect(("127.0.0.1", port))?;
            s.set_write_timeout(Some(Duration::from_secs(10)))?;
            // An evicted connection is reset: its writes fail, which is the point.
            if s.write_all(bytes).is_err() {
                refused += 1;
            }
            held.push(s);
        }
        std::thread::sleep(Duration::from_secs(3));
        let counters = collector.metrics()?;
        pending = f64::max(pending, counter(&counters, "am_collector_pending_bytes"));
        evicted = counter(&counters, "am_collector_connections_evicted_total");
        drop(held);
        if wave + 1 < a.waves {
            collector.wait_counter("connections_open", Duration::from_secs(60), |v| v == 0.0)?;
        }
    }
    let written = started.elapsed();
    let at_peak = peak.load(Relaxed);
    let closed = Instant::now();
    let mut after = Vec::new();
    for mark in [1u64, 10, 30, a.after_secs] {
        let until = closed + Duration::from_secs(mark);
        std::thread::sleep(until.saturating_duration_since(Instant::now()));
        after.push((mark, collector.rss_bytes()?));
    }
    sampling.store(false, Relaxed);
    let _ = sampler.join();
    let peak = peak.load(Relaxed).max(at_peak);

    println!("machine: {}", machine());
    println!(
        "burst: {} waves of {} pickle connections x 1 MiB frame less 1 byte and {} plaintext \
         connections x 65,000-byte line without newline, each held 3 s, in {:.1} s; \
         max_pending_bytes {}",
        a.waves,
        a.pickle_conns,
        a.line_conns,
        written.as_secs_f64(),
        a.budget
            .map_or_else(|| "none (2^40)".to_owned(), |b| b.to_string())
    );
    println!(
        "largest pending_bytes {:.1} MiB, connections evicted {evicted}, writes refused {refused}",
        pending / MIB
    );
    for (mark, rss) in &after {
        println!(
            "rss {mark:>3} s after closing: {:.1} MiB",
            *rss as f64 / MIB
        );
    }
    let last = after.last().map_or(0, |(_, rss)| *rss);
    println!(
        "rss_before_mib {:.1} rss_peak_mib {:.1} rss_after_mib {:.1} (after {} s)",
        before as f64 / MIB,
        peak as f64 / MIB,
        last as f64 / MIB,
        a.after_secs
    );
    Ok(())
}

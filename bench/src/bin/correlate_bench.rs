//! `bench/correlate`: the console's correlation of one anomaly against every stored metric
//! (`am_console::search::correlate`, what `/api/correlate` runs), and its search by shape,
//! against a real redis-server started here on a free port.
//!
//! Loads `--metrics N` series (default 100,000) at `--step S` seconds (default 60) with the
//! store's writer (`RedisTimeStamped`, ttl 1 day, as the collector stores them), from the start
//! of the chunk holding the oldest point a correlation reads up to now, so every chunk read is
//! as full as in production. One metric, `bench.anomaly`, has a bump 45 minutes ago; another,
//! `bench.follower`, the same bump three minutes later; the rest are noisy daily cycles with
//! drift. Then, `--runs R` times (default 5): the read alone (every series read over the same
//! window, nothing scored: the baseline) and the whole correlation (find the names, read,
//! score every lag, rank), and one search by shape over the last hour. Fails unless the
//! follower ranks first with a lag of 180 s.
//!
//! The figure depends on the machine's load (printed) and on how many points the chunks
//! overlapping the window hold: chunks span 4 hours at a 1-day ttl, so from 90 to about 330
//! points per series at 60 s, depending on the time of day (printed).
//!
//! Last line: `correlate_seconds_100k_1h N` (the median run at 100k metrics).

// A benchmark reports on stdout.
#![allow(clippy::print_stdout)]

use std::time::{Duration, Instant};

use am_bench::{flag, flags, machine};
use am_console::search::{CorrelateRequest, correlate, shape_search};
use am_console::shape::Query;
use am_console::source::Source;
use am_store::{Model, Pattern, RedisAddr};
use am_tests::RedisServer;
use anyhow::bail;

const MODEL: Model = Model::Raw { ttl: 86_400 };
const WINDOW: i64 = 3600;
const MAX_LAG: i64 = 900;

fn name(i: usize) -> String {
    match i {
        0 => "bench.anomaly".into(),
        1 => "bench.follower".into(),
        _ => format!("bench.host{:04}.metric{:03}", i % 1000, i / 1000),
    }
}

/// Metric `i`'s value at each of `ts`: the anomaly (0) and its follower (1) get a bump that
/// decays over 5 minutes, at `bump_at` and 3 minutes later.
fn values(i: usize, ts: &[i64], bump_at: i64) -> Vec<f64> {
    let bump = match i {
        0 => Some(bump_at),
        1 => Some(bump_at + 180),
        _ => None,
    };
    am_bench::daily_values(i as u64 * 0x9e37_79b9 + 7, ts, |_, t, sd, _| match bump {
        Some(b) if t >= b => 30.0 * sd * (-((t - b) as f64) / 300.0).exp(),
        _ => 0.0,
    })
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let f = flags(&args)?;
    let metrics: usize = flag(&f, "--metrics", Some(100_000))?;
    let step: i64 = flag(&f, "--step", Some(60))?;
    let runs: usize = flag(&f, "--runs", Some(5))?;
    let batch: usize = flag(&f, "--batch", Some(am_console::source::SCAN_BATCH))?;
    let connections: usize = flag(
        &f,
        "--connections",
        Some(am_console::source::SCAN_CONNECTIONS),
    )?;
    let redis = RedisServer::start()?;
    let addr = redis.addr();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let now = am_store::unix_now();
    let at = now - 2700;
    let oldest = MODEL.chunk_start(at - WINDOW / 2 - MAX_LAG - step);
    let newest = now - now.rem_euclid(step);
    let ts: Vec<i64> = (0..)
        .map(|k| oldest + k * step)
        .take_while(|&t| t <= newest)
        .collect();
    let started = Instant::now();
    let stored = rt.block_on(load(&addr, metrics, &ts, at))?;
    println!(
        "loaded {metrics} metrics x {} points at {step} s ({stored} points) in {:.1} s",
        ts.len(),
        started.elapsed().as_secs_f64()
    );
    let version = redis
        .info("server")
        .ok()
        .and_then(|i| i.get("redis_version").cloned())
        .unwrap_or_else(|| "?".into());
    let source = Source::new(addr, "am1:alarm", 1000).with_scan(batch, connections);
    let req = CorrelateRequest {
        metric: name(0),
        at,
        window: WINDOW,
        max_lag: MAX_LAG,
        among: None,
        top: 20,
    };
    let mut read_only = Vec::new();
    let mut whole = Vec::new();
    for run in 0..runs.max(1) {
        // Baseline: the same reads, nothing scored.
        let (r0, c0) = (redis_cpu(&redis), own_cpu());
        let t = Instant::now();
        let ids = rt.block_on(source.names(&Pattern::parse("*")?))?;
        let (from, until) = (at - WINDOW / 2 - MAX_LAG, at + WINDOW / 2 + MAX_LAG);
        let counts =
            rt.block_on(source.scan(&ids, from, until, || 0usize, |n, _, p| *n += p.len()))?;
        let read = t.elapsed();
        let (r1, c1) = (redis_cpu(&redis), own_cpu());
        read_only.push(read);
        let c = rt.block_on(correlate(&source, &req, am_store::unix_now()))?;
        let (r2, c2) = (redis_cpu(&redis), own_cpu());
        println!(
            "  cpu seconds: read only: Redis {:.3}, console {:.3}; correlate: Redis {:.3}, console {:.3}",
            r1 - r0,
            c1 - c0,
            r2 - r1,
            c2 - c1
        );
        whole.push(c.elapsed);
        let first = c.ranked.first().map(|(r, _)| r.clone());
        println!(
            "run {run}: read only {:.3} s ({} series, {} points); correlate {:.3} s (finding the names {:.3} s, reading and scoring {:.3} s; grid {} s x {} points, lags -{}..+{}, {} read, {} skipped); first {:?}",
            read.as_secs_f64(),
            ids.len(),
            counts.iter().sum::<usize>(),
            c.elapsed.as_secs_f64(),
            c.finding.as_secs_f64(),
            c.scanning.as_secs_f64(),
            c.plan.step,
            c.plan.n,
            c.plan.lead,
            c.plan.trail,
            c.read,
            c.skipped,
            first,
        );
        match first {
            Some(r) if r.metric == "bench.follower" && r.lag == 180 => {}
            other => bail!("the planted follower should rank first with lag 180 s, got {other:?}"),
        }
    }
    let shape: Vec<f64> = (0..60)
        .map(|k| {
            if k < 20 {
                0.0
            } else {
                (-(k as f64 - 20.0) / 5.0).exp()
            }
        })
        .collect();
    let query = Query::new(&shape)?;
    let s = rt.block_on(shape_search(
        &source,
        &query,
        &Pattern::parse("*")?,
        now - WINDOW,
        now,
        20,
    ))?;
    println!(
        "shape search over the last hour: {:.3} s ({} series, {} pruned by the lower bound, {} abandoned mid-warping); first {:?}",
        s.elapsed.as_secs_f64(),
        s.read,
        s.pruned,
        s.abandoned,
        s.matches.first().map(|(m, _)| m)
    );
    let med = |v: &mut Vec<Duration>| {
        v.sort();
        v.get(v.len() / 2)
            .copied()
            .unwrap_or_default()
            .as_secs_f64()
    };
    println!(
        "machine: {}, Redis {version}, load average {}; step {step} s, {} points per series in the chunks read; median of {runs}: read only (baseline) {:.3} s, correlate {:.3} s",
        machine(),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
        ts.len(),
        med(&mut read_only),
        med(&mut whole.clone()),
    );
    let label = if metrics == 100_000 {
        "100k".to_owned()
    } else {
        metrics.to_string()
    };
    println!("correlate_seconds_{label}_1h {:.3}", med(&mut whole));
    Ok(())
}

/// Redis's CPU seconds so far (user + system).
fn redis_cpu(redis: &RedisServer) -> f64 {
    redis.info("cpu").map_or(0.0, |i| {
        ["used_cpu_user", "used_cpu_sys"]
            .iter()
            .filter_map(|k| i.get(*k).and_then(|v| v.parse::<f64>().ok()))
            .sum()
    })
}

/// This process's CPU seconds so far (user + system), from /proc.
fn own_cpu() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // After the command's closing parenthesis and the state letter: ppid first, so utime
    // and stime (fields 14 and 15 of proc(5)) are the 11th and 12th numbers.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    let ticks = 100.0;
    (f.get(10).copied().unwrap_or(0.0) + f.get(11).copied().unwrap_or(0.0)) / ticks
}

async fn load(addr: &RedisAddr, metrics: usize, ts: &[i64], at: i64) -> anyhow::Result<u64> {
    let bump = at - at.rem_euclid(60);
    let series = move |i: usize, ts: &[i64]| (name(i), values(i, ts, bump));
    am_bench::load_series(addr, MODEL, metrics, 4, ts, series).await
}

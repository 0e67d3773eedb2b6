//! The pieces behind `bench/analysis` and `bench/latency` (the Skyline plugin run by
//! `am-runner`); the scripts start and stop the daemons, this program has three modes:
//!
//! - `ports N`: prints N free TCP ports of 127.0.0.1, one a line;
//! - `load --redis-port P (or --cluster P1,P2,P3) --metrics N [--points 1440] [--step 60] [--anomalous-every 100]
//!   [--connections 4]`: writes N series of `points` points `step` seconds apart, the newest
//!   one step before now, straight into Redis with the store's writer (`RedisTimeStamped`,
//!   ttl 86400, as the collector stores them); one metric in `anomalous-every` ends with a
//!   jump. Fails unless Redis confirms every point;
//! - `sink --port P --prefix PFX --ticks K [--max-seconds T]`: a carbon plaintext receiver on
//!   `127.0.0.1:P` that stamps every line with its arrival time (wall clock, ms). A tick is
//!   complete once its totals (`PFX.analysed`, `PFX.anomalous`, `PFX.skipped_*`,
//!   `PFX.run_time_ms`) and a `PFX.<metric>.flag` line for each anomalous metric have arrived;
//!   after K complete ticks it prints one line per tick and exits 0 (exit 1 after T seconds
//!   without them): `tick T analysed A anomalous N flags F skipped S run_time_ms R latency_s L
//!   metrics_per_min M`, where L is the arrival of the tick's last line minus T (the tick's
//!   scheduled time, the timestamp of its output points) and M = A / L × 60.

// A benchmark reports on stdout.
#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use am_bench::{flag, run_mode};
use am_store::Model;
use am_tests::local_redis;
use anyhow::{Context, bail};

/// The model the series are stored under (the collector's default for raw metrics).
const MODEL: Model = Model::Raw { ttl: 86_400 };

fn main() -> anyhow::Result<()> {
    run_mode(
        "skyline_bench ports N | load ... | sink ...",
        &[("load", load), ("sink", sink)],
    )
}

/// The name of metric `i`: 1000 hosts, then metrics per host.
fn name(i: usize) -> String {
    format!("bench.host{:04}.metric{:03}", i % 1000, i / 1000)
}

/// Metric `i`'s values at `ts`: a level, a daily cycle, noise and a slow drift; a metric with
/// `anomalous` set jumps by 40 noise deviations in its last three points.
fn values(i: usize, ts: &[i64], anomalous: bool) -> Vec<f64> {
    let n = ts.len();
    am_bench::daily_values(i as u64 * 0x9e37_79b9 + 1, ts, |k, _, sd, amp| {
        if anomalous && k + 3 >= n {
            40.0 * sd + amp
        } else {
            0.0
        }
    })
    .into_iter()
    .map(|v| (v * 100.0).round() / 100.0)
    .collect()
}

fn load(f: &[(String, String)]) -> anyhow::Result<()> {
    // One server on 127.0.0.1 (`--redis-port`), or a cluster (`--cluster P1,P2,P3`).
    let addr = match f.iter().find(|(k, _)| k == "--cluster") {
        Some((_, ports)) => am_store::RedisAddr::cluster_of(
            ports
                .split(',')
                .map(|p| p.parse::<u16>().map(|p| ("127.0.0.1".to_string(), p)))
                .collect::<Result<Vec<_>, _>>()
                .context("--cluster: ports separated by commas")?,
        ),
        None => local_redis(flag(f, "--redis-port", None)?),
    };
    let metrics: usize = flag(f, "--metrics", None)?;
    let points: usize = flag(f, "--points", Some(1440))?;
    let step: i64 = flag(f, "--step", Some(60))?;
    let every: usize = flag(f, "--anomalous-every", Some(100))?;
    let connections: usize = flag(f, "--connections", Some(4))?;
    let now = am_store::unix_now();
    let newest = now - now.rem_euclid(step) - step;
    let ts: Vec<i64> = (0..points as i64)
        .map(|k| newest - (points as i64 - 1 - k) * step)
        .collect();
    let started = Instant::now();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let series = move |i: usize, ts: &[i64]| {
        let anomalous = every > 0 && i % every == every - 1;
        (name(i), values(i, ts, anomalous))
    };
    let stored = rt.block_on(am_bench::load_series(
        &addr,
        MODEL,
        metrics,
        connections,
        &ts,
        series,
    ))?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "loaded {metrics} metrics x {points} points at {step} s = {stored} points in {secs:.1} s ({:.0} points/s); one in {every} anomalous",
        stored as f64 / secs
    );
    Ok(())
}

/// Milliseconds since the epoch.
fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

const FIELDS: [&str; 6] = [
    "analysed",
    "anomalous",
    "skipped_short",
    "skipped_stale",
    "skipped_boring",
    "run_time_ms",
];

fn sink(f: &[(String, String)]) -> anyhow::Result<()> {
    let port: u16 = flag(f, "--port", None)?;
    let prefix: String = flag(f, "--prefix", None)?;
    let ticks: usize = flag(f, "--ticks", None)?;
    let max_seconds: u64 = flag(f, "--max-seconds", Some(280))?;
    let listener = TcpListener::bind(("127.0.0.1", port)).context("binding the sink port")?;
    let (tx, rx) = mpsc::channel::<(i64, String)>();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::with_capacity(1 << 20, conn);
                let mut line = String::new();
                loop {
                    line.clear();
                    match reader.read_line(&mut line) {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {
                            if tx.send((now_ms(), line.trim_end().to_owned())).is_err() {
                                break;
                            }
                        }
                    }
                }
            });
        }
    });
    let deadline = Instant::now() + Duration::from_secs(max_seconds);
    let started_s = now_ms() / 1000;
    let mut by_tick: BTreeMap<i64, Tick> = BTreeMap::new();
    let want = format!("{prefix}.");
    loop {
        let complete: Vec<(&i64, &Tick)> = by_tick.iter().filter(|(_, t)| t.complete()).collect();
        if complete.len() >= ticks {
            for (ts, tick) in complete.iter().take(ticks) {
                tick.print(**ts);
            }
            return Ok(());
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            bail!(
                "the sink had all the lines of {} of {ticks} ticks after {max_seconds} s",
                complete.len()
            );
        }
        let Ok((at, line)) = rx.recv_timeout(left.min(Duration::from_secs(1))) else {
            continue;
        };
        let mut parts = line.split_whitespace();
        let (Some(path), Some(value), Some(ts)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let Some(field) = path.strip_prefix(&want) else {
            continue;
        };
        let (Ok(value), Ok(ts)) = (value.parse::<f64>(), ts.parse::<i64>()) else {
            continue;
        };
        // A tick before the sink started is a leftover of an earlier runner.
        if ts < started_s {
            continue;
        }
        let tick = by_tick.entry(ts).or_default();
        if field.ends_with(".flag") {
            tick.flags += 1;
        } else if FIELDS.contains(&field) {
            tick.fields.entry(field.to_owned()).or_insert(value);
        } else {
            continue;
        }
        tick.last_ms = tick.last_ms.max(at);
    }
}

/// What the sink received for one tick.
#[derive(Debug, Default)]
struct Tick {
    /// The totals, by field.
    fields: BTreeMap<String, f64>,
    /// Flag lines.
    flags: u64,
    /// Arrival of the latest line (ms since the epoch).
    last_ms: i64,
}

impl Tick {
    fn get(&self, field: &str) -> f64 {
        self.fields.get(field).copied().unwrap_or(0.0)
    }

    /// Every total, and a flag line for every anomalous metric (the shards' outputs reach
    /// carbon in the order the shards finish, so some flags may come after the totals).
    fn complete(&self) -> bool {
        FIELDS.iter().all(|k| self.fields.contains_key(*k))
            && self.flags as f64 >= self.get("anomalous")
    }

    fn print(&self, ts: i64) {
        let latency = (self.last_ms - ts * 1000) as f64 / 1000.0;
        let analysed = self.get("analysed");
        let skipped =
            self.get("skipped_short") + self.get("skipped_stale") + self.get("skipped_boring");
        let rate = if latency > 0.0 {
            analysed / latency * 60.0
        } else {
            0.0
        };
        println!(
            "tick {ts} analysed {analysed} anomalous {} flags {} skipped {skipped} run_time_ms {:.0} latency_s {latency:.3} metrics_per_min {rate:.0}",
            self.get("anomalous"),
            self.flags,
            self.get("run_time_ms"),
        );
    }
}

//! Ingest benchmark: pickle frames over loopback into am-collector, into a local redis-server
//! (or, with `--cluster N`, a Redis Cluster of N masters this bench starts), with zero loss
//! checked at the end. Prints `ingest_points_per_s N points/s` last.
//!
//! Workloads (`--workload`):
//! - `distinct` (default): every point of a frame is a different metric, so every point costs
//!   Redis one `APPEND` — the worst case, as with 1-point-per-minute metrics.
//! - `relay`: frames shaped like carbon-relay's under load (the `batch` fixtures): 100 metrics ×
//!   5 consecutive timestamps per frame, so points of a metric share an `APPEND`.

// A benchmark reports on stdout.
#![allow(clippy::print_stdout)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use am_bench::{collector_counters, counter, machine, read_back, send_share};
use am_tests::{DaemonProcess, DaemonSpec, RedisCluster, RedisServer, free_port, wait_for_tcp};
use anyhow::{Context, bail};

struct Args {
    metrics: usize,
    rounds: usize,
    connections: usize,
    workload: String,
    collector: PathBuf,
    /// Cluster masters; 0 for one redis-server.
    cluster: usize,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut a = Args {
        metrics: 100_000,
        rounds: 200,
        connections: 2,
        workload: "distinct".into(),
        collector: PathBuf::from("target/release/am-collector"),
        cluster: 0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let val = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--metrics" => a.metrics = val.parse()?,
            "--rounds" => a.rounds = val.parse()?,
            "--connections" => a.connections = val.parse()?,
            "--workload" => a.workload = val,
            "--collector" => a.collector = val.into(),
            "--cluster" => a.cluster = val.parse()?,
            other => bail!("unknown flag {other}"),
        }
    }
    Ok(a)
}

/// Encodes every frame up front, so the sender costs the collector no CPU while measuring.
fn frames(a: &Args, base_ts: i64) -> anyhow::Result<Vec<Vec<u8>>> {
    let names: Vec<String> = (0..a.metrics)
        .map(|i| format!("bench.host{:03}.metric{:05}", i % 1000, i / 1000))
        .collect();
    let mut out = Vec::new();
    match a.workload.as_str() {
        "distinct" => {
            for r in 0..a.rounds {
                let ts = (base_ts + r as i64) as f64;
                for block in names.chunks(500) {
                    let pts: Vec<(&str, f64, f64)> =
                        block.iter().map(|n| (n.as_str(), ts, r as f64)).collect();
                    out.push(am_carbon::pickle::encode_frame(&pts));
                }
            }
        }
        "relay" => {
            if !a.rounds.is_multiple_of(5) {
                bail!("--rounds must be a multiple of 5 for the relay workload");
            }
            for r0 in (0..a.rounds).step_by(5) {
                for block in names.chunks(100) {
                    let mut pts = Vec::with_capacity(500);
                    for r in r0..r0 + 5 {
                        let ts = (base_ts + r as i64) as f64;
                        pts.extend(block.iter().map(|n| (n.as_str(), ts, r as f64)));
                    }
                    out.push(am_carbon::pickle::encode_frame(&pts));
                }
            }
        }
        other => bail!("unknown workload {other} (distinct or relay)"),
    }
    Ok(out)
}

/// (commands processed, CPU seconds, used_memory bytes) summed over `servers`.
fn redis_totals(servers: &[&RedisServer]) -> anyhow::Result<(f64, f64, f64)> {
    let mut t = (0.0, 0.0, 0.0);
    for s in servers {
        let stats = s.info("stats")?;
        let cpu = s.info("cpu")?;
        let mem = s.info("memory")?;
        let num = |m: &std::collections::BTreeMap<String, String>, k: &str| -> f64 {
            m.get(k).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        };
        t.0 += num(&stats, "total_commands_processed");
        t.1 += num(&cpu, "used_cpu_sys") + num(&cpu, "used_cpu_user");
        t.2 += num(&mem, "used_memory");
    }
    Ok(t)
}

fn main() -> anyhow::Result<()> {
    let a = parse_args()?;
    if !a.collector.exists() {
        bail!(
            "{} not found: build it with `cargo build --release -p am-collector`",
            a.collector.display()
        );
    }
    // Kept running until the end: one server, or a cluster.
    let (_one, _cluster, addr, sink) = if a.cluster > 0 {
        let c = RedisCluster::start(a.cluster).context("starting the Redis Cluster")?;
        let urls: Vec<String> = c.urls().iter().map(|u| format!("{u:?}")).collect();
        let sink = format!(r#""cluster": [{}]"#, urls.join(", "));
        let addr = c.addr();
        (None, Some(c), addr, sink)
    } else {
        let r = RedisServer::start().context("starting redis-server")?;
        let sink = format!(r#""host": "127.0.0.1", "port": {}"#, r.port());
        let addr = r.addr();
        (Some(r), None, addr, sink)
    };
    let dir = tempfile::tempdir()?;
    let pickle_port = free_port()?;
    let metrics_port = free_port()?;
    let config = dir.path().join("collector.json");
    std::fs::write(
        &config,
        format!(
            r#"{{ "router": {{ "whitelist": {{ "bench\\.": [ {{ "RedisTimeStamped": {{ "ttl": 86400 }} }} ] }} }},
  "writer": {{ "RedisSink": {{ {sink}, "pipeline_size": 1000 }} }},
  "listener": {{ "CarbonAsyncTcpSpout": {{ "host": "127.0.0.1", "port": {pickle_port} }} }},
  "metrics": {{ "listen": "127.0.0.1:{metrics_port}" }} }}"#
        ),
    )?;
    let _collector = DaemonProcess::spawn(
        DaemonSpec::new(
            "am-collector",
            std::fs::canonicalize(&a.collector)?,
            dir.path(),
        )
        .arg("--config")
        .arg(&config)
        .env("RUST_LOG", "warn"),
    )?;
    wait_for_tcp(pickle_port, Duration::from_secs(10))?;
    wait_for_tcp(metrics_port, Duration::from_secs(10))?;

    let servers: Vec<&RedisServer> = match (&_one, &_cluster) {
        (Some(r), _) => vec![r],
        (_, Some(c)) => c.nodes().iter().collect(),
        _ => Vec::new(),
    };
    let before = redis_totals(&servers)?;
    let base_ts = am_store::unix_now() - a.rounds as i64 - 60;
    let frames = frames(&a, base_ts)?;
    let total = (a.metrics * a.rounds) as f64;
    let bytes: usize = frames.iter().map(Vec::len).sum();
    println!("machine: {}", machine());
    println!("redis: {addr}");
    println!(
        "workload {}: {} metrics x {} timestamps = {} points in {} frames ({:.0} MB), {} connection(s)",
        a.workload,
        a.metrics,
        a.rounds,
        total,
        frames.len(),
        bytes as f64 / 1e6,
        a.connections
    );

    // Each connection sends a contiguous share, 1 MB per write.
    let per = frames.len().div_ceil(a.connections.max(1));
    let start = Instant::now();
    let senders: Vec<_> = frames
        .chunks(per)
        .map(|share| {
            let share: Vec<u8> = share.concat();
            std::thread::spawn(move || send_share(pickle_port, &share))
        })
        .collect();
    for s in senders {
        s.join().map_err(|_| anyhow::anyhow!("sender panicked"))??;
    }
    let sent = start.elapsed();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut last = 0.0;
    let mut last_change = Instant::now();
    loop {
        let c = collector_counters(metrics_port)?;
        let stored = counter(&c, "am_collector_stored_points_total");
        if stored >= total {
            break;
        }
        if stored > last {
            last = stored;
            last_change = Instant::now();
        }
        if Instant::now() > deadline || last_change.elapsed() > Duration::from_secs(20) {
            bail!("only {stored} of {total} points stored; counters: {c:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let elapsed = start.elapsed();
    let c = collector_counters(metrics_port)?;
    let lost: f64 = [
        "am_collector_dropped_expired_points_total",
        "am_collector_dropped_bad_timestamp_points_total",
        "am_collector_dropped_redis_error_points_total",
        "am_collector_bad_frames_total",
        "am_collector_invalid_points_total",
    ]
    .iter()
    .map(|n| counter(&c, n))
    .sum();
    let received = counter(&c, "am_collector_received_points_total");
    if lost > 0.0 || received != total {
        bail!("loss: received {received} of {total}, dropped/bad {lost}");
    }
    // Check the data itself: a sample of series holds every timestamp.
    let names: Vec<String> = (0..a.metrics)
        .step_by((a.metrics / 20).max(1))
        .map(|i| format!("bench.host{:03}.metric{:05}", i % 1000, i / 1000))
        .collect();
    let stored = read_back(&addr, 86_400, &names, base_ts, base_ts + a.rounds as i64)?;
    for (name, pts) in names.iter().zip(stored) {
        if pts.len() != a.rounds {
            bail!("{name}: {} points stored, {} sent", pts.len(), a.rounds);
        }
    }
    let after = redis_totals(&servers)?;
    println!(
        "redis: {:.3} commands/point, {:.2} us CPU/point, {:.1} bytes/point of used_memory ({} node(s), the read-back included)",
        (after.0 - before.0) / total,
        (after.1 - before.1) * 1e6 / total,
        (after.2 - before.2) / total,
        servers.len()
    );
    let latency = counter(&c, "am_collector_redis_write_latency_seconds_sum")
        / counter(&c, "am_collector_redis_write_latency_seconds_count").max(1.0);
    println!(
        "sent in {:.2} s; all {} points stored and verified after {:.2} s; zero loss; mean pipeline latency {:.1} ms",
        sent.as_secs_f64(),
        total,
        elapsed.as_secs_f64(),
        latency * 1e3
    );
    println!(
        "ingest_points_per_s {:.0} points/s",
        total / elapsed.as_secs_f64()
    );
    Ok(())
}

//! The plaintext ingest path on one core, stage by stage, without sockets or Redis: split and
//! parse lines, route the names, queue the points in a batch, encode the batch as Redis commands.
//! The load is `bench/ingest-vs-carbon-c-relay`'s: 100,000 distinct metrics, one point each per
//! round, batches of one 64 KiB read.
//!
//! `cargo run --release -p am-collector --example line_bench [REPS]`; prints CPU ns per line for
//! each cumulative stage (the best of REPS runs, default 5, as the machine may be shared).
#![allow(clippy::print_stdout, clippy::expect_used, clippy::unwrap_used)]

use std::hint::black_box;
use std::time::Instant;

use am_carbon::plaintext::{LineSplitter, parse_line};
use am_collector::config::{ModelSpec, RouterConfig, TimeStampedSpec};
use am_collector::router::{Decision, Router};
use am_store::writer::{Batch, Cmd};
use bytes::BytesMut;
use indexmap::IndexMap;

const METRICS: usize = 100_000;
const HOSTS: usize = 1000;
const ROUNDS: usize = 3;
const READ: usize = 64 * 1024;

fn load(base_ts: i64) -> Vec<u8> {
    let mut out = String::new();
    for r in 0..ROUNDS {
        for i in 0..METRICS {
            let x = (i * 7919 + r * 104_729) % 100_000;
            let v = if i.is_multiple_of(3) {
                x as f64
            } else {
                x as f64 / 16.0
            };
            out.push_str(&format!(
                "bench.host{:04}.service.metric{:03} {v} {}\n",
                i % HOSTS,
                i / HOSTS,
                base_ts + 60 * r as i64
            ));
        }
    }
    out.into_bytes()
}

#[derive(Clone, Copy, PartialEq, PartialOrd)]
enum Stage {
    Parse,
    Route,
    PushEncode,
}

/// Nanoseconds this thread has run on a CPU (from `/proc/thread-self/schedstat`), so that a
/// shared machine's other work does not count; falls back to the wall clock elsewhere.
fn cpu_ns(wall: Instant) -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .unwrap_or_else(|| wall.elapsed().as_secs_f64() * 1e9)
}

/// One pass over the load, in 64 KiB reads, up to `stage`; returns lines handled.
fn pass(data: &[u8], stage: Stage, router: &Router, batch: &mut Batch, now: i64) -> usize {
    let mut splitter = LineSplitter::default();
    let mut buf = BytesMut::with_capacity(2 * READ);
    let mut lines = 0;
    let mut sum = 0.0;
    for read in data.chunks(READ) {
        buf.extend_from_slice(read);
        splitter.for_each_line(&mut buf, |line| {
            let Ok((name, value, ts)) = parse_line(line.unwrap_or_default()) else {
                return;
            };
            lines += 1;
            sum += value;
            if stage >= Stage::Route {
                let d = router.route(name);
                if let (true, Decision::Store(models)) = (stage >= Stage::PushEncode, d) {
                    batch.push(router.models(), models.ids(), name, ts, value, now);
                }
            }
        });
        if stage >= Stage::PushEncode {
            let mut cmds: Vec<Cmd> = Vec::with_capacity(batch.points());
            batch.encode(router.models(), &mut cmds);
            black_box(cmds);
        }
    }
    black_box(sum);
    lines
}

fn main() {
    let reps: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5);
    let mut whitelist = IndexMap::new();
    whitelist.insert(
        "bench\\.".to_string(),
        vec![ModelSpec::RedisTimeStamped(TimeStampedSpec { ttl: 86400 })],
    );
    let router = Router::new(&RouterConfig {
        blacklist: vec![],
        whitelist,
        cache_size: 1_000_000,
    })
    .expect("router");
    let now = am_store::unix_now();
    let data = load(now - 600);
    let mut batch = Batch::default();
    for (label, stage) in [
        ("split+parse", Stage::Parse),
        ("+route", Stage::Route),
        ("+push+encode", Stage::PushEncode),
    ] {
        let mut best = f64::INFINITY;
        for _ in 0..reps {
            let wall = Instant::now();
            let start = cpu_ns(wall);
            let lines = pass(&data, stage, &router, &mut batch, now);
            best = best.min((cpu_ns(wall) - start) / lines as f64);
        }
        println!("{label:<12} {best:6.1} ns/line");
    }
}

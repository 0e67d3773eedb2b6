//! `bench/alarms`: the cost of the alarm layer per tick at N subjects (default 100,000): one
//! service whose plugin reports a verdict on every subject every tick, judged against the
//! alarms kept in a real redis-server (started here on a free port, stopped at exit).
//!
//! Ticks: the first judges every subject for the first time (each gets its stored OK record);
//! the steady ticks judge them all again (1 % anomalous: the same ones, so after the first
//! steady tick nothing changes but the firing alarms' bookkeeping); a storm tick turns a
//! tenth of them anomalous at once (10,000 transitions at 100k). Prints each tick's time and,
//! last, `alarm_layer_seconds_per_tick_100k N` for the steady ticks' median.
//!
//! Usage: `alarm_bench [SUBJECTS] [STEADY_TICKS]`.

// A benchmark reports on stdout.
#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::time::Instant;

use am_plugin_api::Reporting;
use am_plugin_api::hosting::Outcome;
use am_plugin_api::records::VerdictRecord;
use am_plugin_host::{Task, TaskResult, TaskStats};
use am_runner::alarm::{Alarms, AlarmsConfig, Policy};
use am_runner::metrics::RunnerMetrics;
use am_tests::RedisServer;
use anyhow::Context;

fn verdicts(n: usize, tick: i64, anomalous: impl Fn(usize) -> bool) -> Vec<VerdictRecord> {
    (0..n)
        .map(|i| VerdictRecord {
            plugin: "Bench".into(),
            service: "all".into(),
            state: if anomalous(i) { "anomalous" } else { "ok" }.into(),
            severity: "warning".into(),
            subject: format!("bench.host{:04}.metric{:03}", i % 1000, i / 1000),
            reason: String::new(),
            values: vec![("last".into(), 1.0)],
            ts: tick,
        })
        .collect()
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args
        .first()
        .map_or(Ok(100_000), |a| a.parse())
        .context("SUBJECTS")?;
    let steady: usize = args
        .get(1)
        .map_or(Ok(5), |a| a.parse())
        .context("STEADY_TICKS")?;
    let redis = RedisServer::start()?;
    let addr = redis.addr();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let metrics = Arc::new(RunnerMetrics::default());
    let alarms = Alarms::new(addr, AlarmsConfig::default(), metrics.clone());
    let policy = Policy::resolve(None, "all", 60);
    let mut tick = 1_700_000_000;
    let run = |label: &str, verdicts: Vec<VerdictRecord>, tick: i64| -> f64 {
        let task = Task {
            algorithm: "Bench".into(),
            plugin: "Bench".into(),
            service: "all".into(),
            options: "{}".into(),
            tick,
            shard: 0,
            shards: 1,
        };
        let result = TaskResult {
            outcome: Outcome::Ok,
            emitted: Vec::new(),
            verdicts,
            reporting: Reporting::EveryRun,
            stats: TaskStats::default(),
        };
        let started = Instant::now();
        let points = rt.block_on(alarms.judge(&task, &policy, &result));
        let secs = started.elapsed().as_secs_f64();
        println!(
            "{label:<8} tick {tick}: {secs:.3} s, {} state points",
            points.len()
        );
        secs
    };
    println!(
        "alarm layer, {n} subjects, one Redis on 127.0.0.1 ({})",
        am_bench::machine()
    );
    run("first", verdicts(n, tick, |i| i % 100 == 0), tick);
    let mut times = Vec::new();
    for _ in 0..steady {
        tick += 60;
        times.push(run("steady", verdicts(n, tick, |i| i % 100 == 0), tick));
    }
    tick += 60;
    run("storm", verdicts(n, tick, |i| i % 10 == 0), tick);
    times.sort_by(f64::total_cmp);
    let median = times.get(times.len() / 2).copied().unwrap_or(0.0);
    println!(
        "transitions recorded {}, errors {}",
        metrics.alarm_transitions.get(),
        metrics.alarm_errors.get()
    );
    println!("alarm_layer_seconds_per_tick_{}k {median:.3}", n / 1000);
    Ok(())
}

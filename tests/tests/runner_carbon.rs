//! End-to-end tests of `am-runner`'s output to carbon when things stop: carbon-cache going
//! away for ten seconds and coming back, and the runner itself stopping on SIGTERM. No output
//! point may be lost in either.
//!
//! Each test starts its own daemons on free ports and stops them by PID through the guards;
//! every wait is bounded.

// Helpers of a test crate are test code too (clippy.toml allows these in #[test] functions
// only): a failing unwrap or panic is a failing test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use am_tests::now_unix;
use am_tests::runner::test_helpers::{
    WAIT, assert_counters, daemons, start_faulty, wait_counter, wait_points,
};
use am_tests::runner::{missing_seconds, wait_whisper};
use serde_json::json;

const TICK: &str = "AnnaMolly.Faulty.f1.tick";
const RUNS: &str = "AnnaMolly.Faulty.f1.runs";

/// Proves that while carbon-cache is down for ten seconds the runner buffers its output and,
/// once carbon-cache is back on the same port, delivers everything: every second between the
/// first and the last tick seen is in the whisper file with its own timestamp as value, the
/// per-instance run count goes up by one each second, `graphite_connected` went 0 then 1, and
/// nothing was dropped.
#[test]
fn carbon_cache_down_for_ten_seconds_loses_no_output_point() {
    let (redis, mut carbon) = daemons();
    let mut runner = start_faulty(&redis, &carbon, "f1", json!({ "mode": "ok" }));
    wait_points(&carbon, &runner, TICK, 2);
    wait_counter(&mut runner, "graphite_connected", |v| v == 1.0);

    let down = Instant::now();
    carbon.stop().unwrap();
    let stopped_at = now_unix();
    wait_counter(&mut runner, "graphite_connected", |v| v == 0.0);
    // Points pile up in the runner while carbon is away.
    wait_counter(&mut runner, "points_buffered", |v| v >= 6.0);
    let outage = Duration::from_secs(10);
    std::thread::sleep(outage.saturating_sub(down.elapsed()));
    assert!(
        counter_at_least(&runner, "points_buffered", 12.0),
        "{}",
        runner.logs()
    );
    carbon.start_again().unwrap();
    let restarted_at = now_unix();

    wait_counter(&mut runner, "graphite_connected", |v| v == 1.0);
    wait_counter(&mut runner, "graphite_reconnects_total", |v| v >= 1.0);
    // Ticks from after the restart arrive, and with them everything buffered.
    let ticks = wait_whisper(
        &carbon,
        TICK,
        &format!("a tick at {} or later", restarted_at + 2),
        WAIT,
        |p| p.last().is_some_and(|l| l.0 >= restarted_at + 2),
    )
    .unwrap_or_else(|e| panic!("{e:#}\n{}", runner.logs()));
    assert!(ticks[0].0 < stopped_at, "{ticks:?}");
    assert_eq!(
        missing_seconds(&ticks),
        Vec::<i64>::new(),
        "{ticks:?}\n{}",
        runner.logs()
    );
    for (ts, value) in &ticks {
        assert_eq!(*value, *ts as f64, "{ticks:?}");
    }
    let last = ticks[ticks.len() - 1].0;
    let runs = wait_whisper(&carbon, RUNS, &format!("a point at {last}"), WAIT, |p| {
        p.last().is_some_and(|l| l.0 >= last)
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}", runner.logs()));
    let runs: Vec<(i64, f64)> = runs.into_iter().filter(|p| p.0 <= last).collect();
    let times: Vec<i64> = runs.iter().map(|p| p.0).collect();
    assert_eq!(times, ticks.iter().map(|p| p.0).collect::<Vec<_>>());
    let values: Vec<f64> = runs.iter().map(|p| p.1).collect();
    assert_eq!(
        values,
        (1..=runs.len()).map(|i| i as f64).collect::<Vec<_>>()
    );

    assert_counters(
        &runner,
        &[("points_dropped_total", 0.0), ("tasks_failed_total", 0.0)],
    );
    wait_counter(&mut runner, "points_buffered", |v| v < 4.0);
}

fn counter_at_least(runner: &am_tests::Runner, name: &str, min: f64) -> bool {
    runner.counter(name).is_ok_and(|v| v >= min)
}

/// Proves a clean stop: on SIGTERM in the middle of a slow task (Faulty sleeps 600 ms per run)
/// the runner fires no new tick, waits for the running task, flushes its output and exits 0
/// within a few seconds; every run the plugin logged (`run N`) is in carbon, the last one
/// included, and the log reports nothing lost.
#[test]
fn sigterm_exits_zero_after_delivering_the_last_completed_tick() {
    let (redis, carbon) = daemons();
    let options = json!({ "mode": "ok", "sleep_ms": 600 });
    let mut runner = start_faulty(&redis, &carbon, "f1", options);
    wait_points(&carbon, &runner, RUNS, 3);
    // Signal while a task runs (each second, one runs for 600 ms of it).
    wait_counter(&mut runner, "tasks_started_total", |v| v >= 4.0);
    let started = Instant::now();
    let status = runner.terminate(Duration::from_secs(10)).unwrap();
    let took = started.elapsed();
    let log = runner.log();
    assert!(status.success(), "{status}\n{log}");
    assert!(took < Duration::from_secs(5), "{took:?}\n{log}");
    assert!(log.contains("stopping: no new ticks"), "{log}");
    for bad in [
        "still running at shutdown",
        "did not take every output point",
        "dropped",
    ] {
        assert!(!log.contains(bad), "{bad:?} in the log:\n{log}");
    }

    // The plugin logged "run N" for every run that completed; run N's points are in carbon.
    let completed = log
        .lines()
        .filter(|l| l.contains("plugin=\"Faulty\""))
        .filter_map(|l| {
            l.split(": run ")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .max()
        .unwrap_or(0_u32);
    assert!(completed >= 4, "{log}");
    let runs = wait_whisper(&carbon, RUNS, &format!("run {completed}"), WAIT, |p| {
        p.iter().any(|&(_, v)| v == f64::from(completed))
    })
    .unwrap();
    let values: Vec<f64> = runs.iter().map(|p| p.1).collect();
    assert_eq!(
        values,
        (1..=completed).map(f64::from).collect::<Vec<_>>(),
        "every run, the last one included, and nothing after it\n{log}"
    );
    let ticks = wait_points(&carbon, &runner, TICK, completed as usize);
    assert_eq!(ticks.len(), completed as usize, "{ticks:?}");
    assert_eq!(missing_seconds(&ticks), Vec::<i64>::new(), "{ticks:?}");
}

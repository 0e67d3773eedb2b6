//! Shortcuts for the runner's test files (`tests/tests/runner_*.rs`): each panics with the
//! error (and the runner's logs where there is a runner) instead of returning it, so that a
//! `#[test]` reads as the steps it takes.

// These run inside #[test] functions only (clippy.toml allows panics there): a panic is a
// failing test with its message.
#![allow(clippy::panic)]

use std::time::Duration;

use serde_json::{Value, json};

use super::PluginLib;
use super::daemon::Runner;
use super::series::{Points, wait_whisper};
use super::setup::RunnerSetup;
use super::store::{Series, write_series};
use crate::carbon_cache::CarbonCache;
use crate::redis::RedisServer;

/// Upper bound of every wait for data to arrive.
pub const WAIT: Duration = Duration::from_secs(30);

/// [`RedisServer::start`] and [`CarbonCache::start`] (1-second retention).
pub fn daemons() -> (RedisServer, CarbonCache) {
    let redis = RedisServer::start().unwrap_or_else(|e| panic!("{e:#}"));
    let carbon = CarbonCache::start().unwrap_or_else(|e| panic!("{e:#}"));
    (redis, carbon)
}

/// [`RunnerSetup::new`] for `redis` and `carbon`.
pub fn setup(redis: &RedisServer, carbon: &CarbonCache) -> RunnerSetup {
    RunnerSetup::new(redis.port(), carbon.line_port())
}

/// [`Runner::start`].
pub fn start(setup: &RunnerSetup) -> Runner {
    Runner::start(setup).unwrap_or_else(|e| panic!("{e:#}"))
}

/// [`write_series`] into `redis`.
pub fn write(redis: &RedisServer, series: &[Series<'_>]) {
    write_series(redis.port(), series).unwrap_or_else(|e| panic!("{e:#}\n{}", redis.logs()));
}

/// The `Example` algorithm firing every second (cron `* * * * * *`) for one service `service`
/// watching `metrics` over 600 s with `threshold`.
pub fn example_every_second(service: &str, metrics: &str, threshold: f64) -> Value {
    json!({
        "scheduler_options": { "cron": "* * * * * *", "plugin_args": { "name": "Example" } },
        "worker_options": { service: { "metrics": metrics, "window": 600, "threshold": threshold } }
    })
}

/// An algorithm firing every second (cron `* * * * * *`) for the services of
/// `worker_options` (`{ service: options, ... }`); its plugin is the algorithm's name.
pub fn every_second(worker_options: Value) -> Value {
    json!({
        "scheduler_options": { "cron": "* * * * * *" },
        "worker_options": worker_options
    })
}

/// The `Faulty` algorithm every second (`interval_secs` 1) for one service with `options`.
pub fn faulty_every_second(service: &str, options: Value) -> Value {
    json!({
        "scheduler_options": { "interval_secs": 1 },
        "worker_options": { service: options }
    })
}

/// [`wait_whisper`] until `metric` holds at least `n` points, with the runner's logs on
/// failure.
#[track_caller]
pub fn wait_points(carbon: &CarbonCache, runner: &Runner, metric: &str, n: usize) -> Points {
    wait_whisper(carbon, metric, &format!("{n} point(s)"), WAIT, |p| {
        p.len() >= n
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}", runner.logs()))
}

/// One counter of the runner, with its logs on failure.
#[track_caller]
pub fn counter(runner: &Runner, name: &str) -> f64 {
    runner
        .counter(name)
        .unwrap_or_else(|e| panic!("{e:#}\n{}", runner.logs()))
}

/// Asserts a counter's value, with the runner's logs on failure.
#[track_caller]
pub fn assert_counter(runner: &Runner, name: &str, expected: f64) {
    let got = counter(runner, name);
    assert_eq!(got, expected, "{name}\n{}", runner.logs());
}

/// Asserts the values of several counters, `(name, expected)`, with the runner's logs on
/// failure.
#[track_caller]
pub fn assert_counters(runner: &Runner, expected: &[(&str, f64)]) {
    for &(name, value) in expected {
        assert_counter(runner, name, value);
    }
}

/// Starts a runner with the `Faulty` plugin, its algorithm `Faulty` firing every second (see
/// [`faulty_every_second`]) for one service `service` with `options`.
pub fn start_faulty(
    redis: &RedisServer,
    carbon: &CarbonCache,
    service: &str,
    options: Value,
) -> Runner {
    let algorithm = faulty_every_second(service, options);
    start(
        &setup(redis, carbon)
            .plugin(PluginLib::Faulty)
            .service("Faulty", algorithm),
    )
}

/// Waits (at most [`WAIT`]) until a counter satisfies `ok`, and returns its value.
#[track_caller]
pub fn wait_counter(runner: &mut Runner, name: &str, ok: impl Fn(f64) -> bool) -> f64 {
    wait_counter_within(runner, name, WAIT, ok)
}

/// Waits (at most `timeout`) until a counter satisfies `ok`, and returns its value; panics
/// with the runner's logs.
#[track_caller]
pub fn wait_counter_within(
    runner: &mut Runner,
    name: &str,
    timeout: Duration,
    ok: impl Fn(f64) -> bool,
) -> f64 {
    match runner.wait_counter(name, timeout, ok) {
        Ok(v) => v,
        Err(e) => panic!("{name}: {e:#}\n{}", runner.logs()),
    }
}

/// `am-runner alarms --json` for `runner`'s config, parsed (panics unless it exits 0 with JSON).
pub fn alarms_json(runner: &Runner) -> Value {
    let config = runner.config_path().display().to_string();
    let out = super::cli::run_cli(
        &["alarms", "--json", "--config", &config],
        runner.dir(),
        Duration::from_secs(20),
    )
    .unwrap_or_else(|e| panic!("{e:#}"));
    if out.code() != Some(0) {
        panic!("am-runner alarms: {}\n{}", out.stdout, out.stderr);
    }
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr))
}

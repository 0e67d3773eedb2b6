//! What the rules' end-to-end tests share: a live feed of plaintext points into the collector,
//! the collector and runner set up for them, and the runner's `alarms` and `backtest` commands.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use am_tests::cli::CliOutput;
use am_tests::collector::test_helpers::start as start_collector;
use am_tests::runner::test_helpers::{daemons, every_second, setup, start};
use am_tests::runner::{CLI_TIMEOUT, PluginLib, Runner, RunnerSetup, run_cli};
use am_tests::{
    CarbonCache, Collector, CollectorOptions, RedisServer, line, now_unix, send_lines, wait_until,
};
use serde_json::{Value, json};
use tempfile::TempDir;

/// The collector's router for these tests: everything under `test.` kept raw for three days
/// (the backtest feeds two days of history).
pub const ROUTER: &str = r#"{
    "blacklist": [],
    "whitelist": { "test\\.": [ { "RedisTimeStamped": { "ttl": 259200 } } ] }
  }"#;

/// A collector on `redis` with [`ROUTER`].
pub fn collector(redis: &RedisServer) -> Collector {
    start_collector(redis, &CollectorOptions::default().router(ROUTER))
}

/// Sends `points` (name, value, ts) to the collector's plaintext port, in batches.
pub fn send(collector: &Collector, points: &[(String, f64, i64)]) {
    for chunk in points.chunks(5000) {
        let text: String = chunk.iter().map(|(n, v, t)| line(n, *v, *t)).collect();
        send_lines(collector.ports().line, &text).unwrap();
    }
}

/// Waits until `am-collector inspect` reads `n` points of `pattern` back from Redis.
pub fn wait_stored(collector: &Collector, pattern: &str, n: usize) {
    wait_until(
        &format!("{n} points of {pattern} in Redis"),
        Duration::from_secs(60),
        || {
            let got = collector.inspect_since(pattern, 400_000)?.len();
            Ok((got >= n).then_some(()))
        },
    )
    .unwrap_or_else(|e| panic!("{e:#}\n{}", collector.logs()));
}

/// A live source: every second it sends, for each series that is on, one point stamped with
/// that second to the collector's plaintext port. Stops when dropped.
pub struct Feeder {
    series: Arc<Mutex<BTreeMap<String, Option<f64>>>>,
    last: Arc<Mutex<BTreeMap<String, i64>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Feeder {
    /// Starts feeding `names` with `value` to `port`.
    pub fn start(port: u16, names: &[String], value: f64) -> Feeder {
        let series: Arc<Mutex<BTreeMap<String, Option<f64>>>> = Arc::new(Mutex::new(
            names.iter().map(|n| (n.clone(), Some(value))).collect(),
        ));
        let last = Arc::new(Mutex::new(BTreeMap::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, l, st) = (series.clone(), last.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut second = now_unix();
            while !st.load(Ordering::SeqCst) {
                let on: Vec<(String, f64)> = s
                    .lock()
                    .unwrap()
                    .iter()
                    .filter_map(|(n, v)| v.map(|v| (n.clone(), v)))
                    .collect();
                let text: String = on.iter().map(|(n, v)| line(n, *v, second)).collect();
                if !text.is_empty() && send_lines(port, &text).is_ok() {
                    let mut l = l.lock().unwrap();
                    for (n, _) in &on {
                        l.insert(n.clone(), second);
                    }
                }
                second += 1;
                // Sleep until the next second starts (a little after, so the point is "now").
                let wait_ms = (second * 1000 + 50) - now_ms();
                if wait_ms > 0 {
                    std::thread::sleep(Duration::from_millis(wait_ms as u64));
                }
            }
        });
        Feeder {
            series,
            last,
            stop,
            thread: Some(thread),
        }
    }

    /// Sets a series' value (`None`: it stops reporting).
    pub fn set(&self, name: &str, value: Option<f64>) {
        self.series.lock().unwrap().insert(name.to_owned(), value);
    }

    /// The timestamp of the last point sent for `name`.
    pub fn last_sent(&self, name: &str) -> Option<i64> {
        self.last.lock().unwrap().get(name).copied()
    }
}

impl Drop for Feeder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// `am-runner alarms --config CONFIG --json --history 10000`, run in `dir`.
pub fn alarms(config: &Path, dir: &Path) -> Value {
    let args: Vec<&std::ffi::OsStr> = vec![
        "alarms".as_ref(),
        "--config".as_ref(),
        config.as_os_str(),
        "--json".as_ref(),
        "--history".as_ref(),
        "10000".as_ref(),
    ];
    let out = run_cli(&args, dir, CLI_TIMEOUT).unwrap();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stdout))
}

/// The alarms that are not OK, as (metric, state), sorted.
pub fn active(alarms: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = alarms["alarms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["metric"].as_str().unwrap().to_owned(),
                a["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

/// How long a live run may take to raise or resolve an alarm.
const LIVE_WAIT: Duration = Duration::from_secs(30);

/// A live run of one rule: Redis and carbon-cache, a collector fed every second by a
/// [`Feeder`], and a runner with one service of `plugin`; alarms read with `am-runner alarms`.
/// Dropped in field order: the feeder stops first.
pub struct LiveRules {
    /// The live source (see [`Feeder`]).
    pub feeder: Feeder,
    /// The runner.
    pub runner: Runner,
    /// The collector the feeder sends to.
    pub collector: Collector,
    _daemons: (RedisServer, CarbonCache),
}

impl LiveRules {
    /// Starts the daemons, feeds `names` with `value`, and starts a runner with `plugin` and
    /// its algorithm `algorithm` judging every second (see [`every_second`]) with
    /// `worker_options` and the alarm settings `alarm`.
    pub fn start(
        names: &[String],
        value: f64,
        (plugin, algorithm): (PluginLib, &str),
        worker_options: Value,
        alarm: Value,
    ) -> LiveRules {
        let mut algorithm_options = every_second(worker_options);
        algorithm_options["alarm"] = alarm;
        let (redis, carbon) = daemons();
        let collector = collector(&redis);
        let feeder = Feeder::start(collector.ports().line, names, value);
        let runner = start(
            &setup(&redis, &carbon)
                .plugin(plugin)
                .service(algorithm, algorithm_options),
        );
        LiveRules {
            feeder,
            runner,
            collector,
            _daemons: (redis, carbon),
        }
    }

    /// `am-runner alarms` of the runner's config (see [`alarms`]).
    pub fn alarms(&self) -> Value {
        alarms(self.runner.config_path(), self.runner.dir())
    }

    /// Asserts that no alarm is active, with the runner's logs on failure.
    #[track_caller]
    pub fn assert_quiet(&self) {
        let now = self.alarms();
        assert!(active(&now).is_empty(), "{now}\n{}", self.runner.logs());
    }

    /// Waits (at most 30 s) until the active alarms satisfy `ok`; returns the last reading.
    pub fn wait_alarms(&self, what: &str, ok: impl Fn(&[(String, String)]) -> bool) -> Value {
        let mut last = json!(null);
        let got = wait_until(what, LIVE_WAIT, || {
            let a = self.alarms();
            let done = ok(&active(&a));
            last = a.clone();
            Ok(done.then_some(a))
        });
        got.unwrap_or_else(|e| panic!("{e:#}; last: {last}"))
    }
}

/// The transitions of the history (newest first in the JSON) as (metric, ts, previous, state),
/// oldest first, states upper-case.
pub fn history(alarms: &Value, algorithm: &str) -> Vec<(String, i64, String, String)> {
    let mut out: Vec<(String, i64, String, String)> = alarms["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["algorithm"] == algorithm)
        .map(|t| {
            (
                t["metric"].as_str().unwrap().to_owned(),
                t["ts"].as_i64().unwrap(),
                t["previous_state"]
                    .as_str()
                    .unwrap_or("none")
                    .to_uppercase(),
                t["state"].as_str().unwrap().to_uppercase(),
            )
        })
        .collect();
    out.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
    out
}

/// `setup` with `plugin` and its algorithm `algorithm` firing every minute (cron
/// `0 * * * * *`) for `worker_options`, written into a fresh temporary directory for the
/// one-shot commands (no runner runs there): the directory and the config's path.
pub fn minute_config(
    setup: RunnerSetup,
    (plugin, algorithm): (PluginLib, &str),
    worker_options: Value,
) -> (TempDir, PathBuf) {
    let options = json!({
        "scheduler_options": { "cron": "0 * * * * *" },
        "worker_options": worker_options
    });
    let setup = setup.plugin(plugin).service(algorithm, options);
    let dir = tempfile::tempdir().unwrap();
    let (config, _) = setup.write(dir.path(), None).unwrap();
    (dir, config)
}

/// `--service SERVICE --since SINCE`, and `--until UNTIL` when given: the span a backtest
/// replays.
pub fn replay_args(service: &str, since: &str, until: Option<&str>) -> Vec<String> {
    let mut args = vec!["--service", service, "--since", since];
    if let Some(until) = until {
        args.extend(["--until", until]);
    }
    args.into_iter().map(str::to_owned).collect()
}

/// `am-runner backtest --config CONFIG ARGS`, run in `dir` (at most 120 s).
pub fn backtest_cli(config: &Path, dir: &Path, args: &[String]) -> CliOutput {
    let mut all: Vec<&std::ffi::OsStr> =
        vec!["backtest".as_ref(), "--config".as_ref(), config.as_os_str()];
    all.extend(args.iter().map(std::ffi::OsStr::new));
    run_cli(&all, dir, Duration::from_secs(120)).unwrap()
}

/// [`backtest_cli`] with `--json`; the report (panics unless it exits 0).
pub fn backtest(config: &Path, dir: &Path, args: &[String]) -> Value {
    let mut all = args.to_vec();
    all.push("--json".to_owned());
    let out = backtest_cli(config, dir, &all);
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stdout))
}

/// A backtest report's transitions as (metric, ts, previous, state), oldest first.
pub fn replayed(report: &Value) -> Vec<(String, i64, String, String)> {
    let mut out: Vec<(String, i64, String, String)> = report["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["metric"].as_str().unwrap().to_owned(),
                t["ts"].as_i64().unwrap(),
                t["previous_state"].as_str().unwrap_or("NONE").to_owned(),
                t["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    out.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
    out
}

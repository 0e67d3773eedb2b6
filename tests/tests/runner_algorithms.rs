//! End-to-end tests of anna-molly's four detectors as shipped (TukeysFilter,
//! SeasonalDecomposition, SeasonalDecompositionEnsemble, FlowDifference): their built `.so`
//! files loaded by `am-runner`, reading series the store crate wrote into a real redis-server,
//! keeping their t-digests there across runner restarts, and writing anna-molly's output
//! fields into a real carbon-cache. (The options they refuse up front:
//! `runner_algorithm_options.rs`.)
//!
//! The seasonal and flow series have one point per second and are written up to a minute
//! ahead: a plugin reads only up to its tick, so each tick sees a newest point at its own
//! second and models the one before it (the second-newest), a new point every tick. The clean
//! ticks fill the error distribution in Redis; once enough have run, the anomaly is written
//! two seconds ahead, so the tick one second after it is the one that has it as its modelled
//! (second-newest) point.
//!
//! Each test starts its own daemons on free ports and stops them by PID through the guards;
//! every wait is bounded.

// Helpers of a test crate are test code too (clippy.toml allows these in #[test] functions
// only): a failing unwrap or panic is a failing test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use am_tests::runner::algorithms::{
    flow_in, flow_out, per_second, seasonal_options, seasonal_value, tukeys_options,
};
use am_tests::runner::test_helpers::{
    WAIT, counter, daemons, every_second, setup, start, wait_counter, wait_points, write,
};
use am_tests::runner::{PluginLib, Points, state_digest, tree, wait_whisper};
use am_tests::{CarbonCache, RedisServer, Runner, now_unix, wait_until};
use serde_json::json;

/// Successful tasks before the anomaly is written: the error distribution needs a few
/// values for its quartiles to be those of clean errors.
const WARM_UP: f64 = 7.0;

/// The spike's value, ten times the series' level.
const SPIKE: f64 = 1000.0;

/// A series written by [`daemons_with`]: metric, first and last second relative to now, and
/// the value at each second.
type SeriesSpec = (&'static str, i64, i64, fn(i64) -> f64);

/// [`daemons`], with every series of `specs` written into Redis one point a second; and the
/// `now` they are relative to.
fn daemons_with(specs: &[SeriesSpec]) -> (RedisServer, CarbonCache, i64) {
    let (redis, carbon) = daemons();
    let now = now_unix();
    let points: Vec<Vec<(i64, f64)>> = specs
        .iter()
        .map(|&(_, from, until, value)| per_second(now + from, now + until, value))
        .collect();
    let series: Vec<_> = specs
        .iter()
        .zip(&points)
        .map(|(spec, points)| (spec.0, points.as_slice()))
        .collect();
    write(&redis, &series);
    (redis, carbon, now)
}

/// Starts a runner with `plugin` loaded and its algorithm `algorithm` firing every second for
/// the services of `worker_options`.
fn start_algorithm(
    redis: &RedisServer,
    carbon: &CarbonCache,
    plugin: PluginLib,
    algorithm: &str,
    worker_options: serde_json::Value,
) -> Runner {
    start(
        &setup(redis, carbon)
            .plugin(plugin)
            .service(algorithm, every_second(worker_options)),
    )
}

/// Waits until the runner has completed [`WARM_UP`] tasks, then writes the points
/// `anomaly(at)` (metric, value) at `at`, two seconds from now (overwriting the clean points
/// there: the newest write wins), and returns `at`. The tick one second later models them.
fn anomaly_after_warm_up(
    runner: &mut Runner,
    redis: &RedisServer,
    anomaly: impl Fn(i64) -> Vec<(&'static str, f64)>,
) -> i64 {
    wait_counter(runner, "tasks_ok_total", |v| v >= WARM_UP);
    let at = now_unix() + 2;
    for (metric, value) in anomaly(at) {
        write(redis, &[(metric, &[(at, value)])]);
    }
    // Written before the tick that models it (at + 1) reads.
    assert!(now_unix() <= at, "the anomaly at {at} was written too late");
    at
}

/// The value of `metric` at `ts` in carbon, waiting for it.
#[track_caller]
fn value_at(carbon: &CarbonCache, runner: &Runner, metric: &str, ts: i64) -> f64 {
    let points = wait_whisper(carbon, metric, &format!("a point at {ts}"), WAIT, |p| {
        p.iter().any(|q| q.0 == ts)
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}", runner.logs()));
    points.iter().find(|q| q.0 == ts).unwrap().1
}

/// Every point of `metric` up to `ts`, waiting for the one at `ts`.
#[track_caller]
fn points_until(carbon: &CarbonCache, runner: &Runner, metric: &str, ts: i64) -> Points {
    value_at(carbon, runner, metric, ts);
    let points = carbon.read_whisper(metric).unwrap();
    points.into_iter().filter(|p| p.0 <= ts).collect()
}

/// Asserts that the points before the last are all `before` (and at least [`WARM_UP`] of
/// them), and that the last is `last`.
#[track_caller]
fn assert_verdicts(points: &[(i64, f64)], before: f64, last: f64, runner: &Runner) {
    let (tail, head) = points.split_last().unwrap();
    assert!(head.len() as f64 >= WARM_UP, "{points:?}");
    assert!(
        head.iter().all(|p| p.1 == before),
        "expected {before} before the anomaly: {points:?}\n{}",
        runner.logs()
    );
    assert_eq!(tail.1, last, "{points:?}\n{}", runner.logs());
}

/// Asserts `a` and `b` agree to 1e-9 relative.
#[track_caller]
fn close(a: f64, b: f64, what: &str) {
    assert!(
        (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0),
        "{what}: {a} vs {b}"
    );
}

/// A seasonal plugin run past a spike in its metric (a seasonal series, one point a second).
struct SeasonalRun {
    // Dropped first: the runner stops before the daemons.
    runner: Runner,
    carbon: CarbonCache,
    _redis: RedisServer,
    /// The spike's second.
    spike: i64,
    /// The tick that models the spike (its second-newest point).
    tick: i64,
    /// `AnnaMolly.<algorithm>.<service>`.
    prefix: String,
}

impl SeasonalRun {
    /// Runs `plugin` as `algorithm` with one service `service` watching `metric` with
    /// `error_params`, writes the spike after the warm-up, and asserts that the flag field
    /// `flag` was 0 on every clean tick and is 1 at the tick modelling the spike.
    fn start(
        plugin: PluginLib,
        algorithm: &str,
        service: &str,
        metric: &'static str,
        error_params: serde_json::Value,
        flag: &str,
    ) -> Self {
        let (redis, carbon, _) = daemons_with(&[(metric, -100, 60, seasonal_value)]);
        let options = json!({ service: seasonal_options(metric, error_params) });
        let mut runner = start_algorithm(&redis, &carbon, plugin, algorithm, options);
        let spike = anomaly_after_warm_up(&mut runner, &redis, |_| vec![(metric, SPIKE)]);
        let run = SeasonalRun {
            runner,
            carbon,
            _redis: redis,
            spike,
            tick: spike + 1,
            prefix: format!("AnnaMolly.{algorithm}.{service}"),
        };
        let flags = points_until(&run.carbon, &run.runner, &run.field(flag), run.tick);
        assert_verdicts(&flags, 0.0, 1.0, &run.runner);
        run
    }

    /// The full name of the output field `f`.
    fn field(&self, f: &str) -> String {
        format!("{}.{f}", self.prefix)
    }

    /// The output field `f` at the tick modelling the spike.
    #[track_caller]
    fn get(&self, f: &str) -> f64 {
        value_at(&self.carbon, &self.runner, &self.field(f), self.tick)
    }

    /// Asserts the model of the spike: `input` the spike, `model` near the clean level and
    /// equal to `seasonal` + `trend`; returns `(input, model)`.
    #[track_caller]
    fn assert_spike_modelled(&self) -> (f64, f64) {
        let (input, model) = (self.get("input"), self.get("model"));
        assert_eq!(input, SPIKE);
        let clean = seasonal_value(self.spike);
        assert!((model - clean).abs() < 1.0, "model {model}, clean {clean}");
        let (seasonal, trend) = (self.get("seasonal"), self.get("trend"));
        close(seasonal + trend, model, "seasonal + trend = model");
        (input, model)
    }
}

/// Proves SeasonalDecomposition end to end: with anna-molly's `norm` errors judged by Tukey
/// fences, every clean tick writes `flag` 0 and has its second-newest point as `input`; the
/// tick whose second-newest point is a spike (ten times the level) writes `flag` 1 with
/// `input` the spike, a `model` near the clean level (`seasonal` + `trend`), `error` the
/// relative error `(input − model) / input` above `upper`, and `lower` < `upper`.
#[test]
fn seasonal_decomposition_flags_a_spike_in_the_second_newest_point() {
    let params = json!({ "error_type": "norm", "error_handling": "tukey", "iqr_scaling": 1.5,
                         "minimal_upper_threshold": 0.1, "minimal_lower_threshold": -0.1 });
    let run = SeasonalRun::start(
        PluginLib::SeasonalDecomposition,
        "SeasonalDecomposition",
        "stl",
        "web.hits",
        params,
        "flag",
    );

    // Every tick modelled its second-newest point.
    let inputs = points_until(&run.carbon, &run.runner, &run.field("input"), run.tick - 1);
    for (ts, input) in inputs {
        close(input, seasonal_value(ts - 1), &format!("input at {ts}"));
    }

    let (input, model) = run.assert_spike_modelled();
    let (error, lower, upper) = (run.get("error"), run.get("lower"), run.get("upper"));
    close(error, (input - model) / input, "norm error");
    assert!(lower < upper && error > upper, "{lower} {upper} {error}");
}

/// Proves SeasonalDecompositionEnsemble end to end: clean ticks write `overall.flag` 0; the
/// tick modelling the spike writes `overall.flag` 1 with `overall.consensus` ≥ 2 and equal
/// to the sum of the four judgements (`norm_tukey` and `stl_tukey` both 1), each judgement's
/// `lower`/`upper` (and `alpha` for the quantile ones), `input` the spike, `error`
/// input − model and `error_norm` the relative error.
#[test]
fn seasonal_decomposition_ensemble_votes_a_spike_anomalous() {
    // anna-molly's spellings: `scaling`, `treshold`.
    let params = json!({ "scaling": 2, "minimal_upper_threshold": 0.5,
                         "minimal_lower_threshold": -0.5, "treshold": 2 });
    let run = SeasonalRun::start(
        PluginLib::SeasonalDecompositionEnsemble,
        "SeasonalDecompositionEnsemble",
        "stle",
        "shop.orders",
        params,
        "overall.flag",
    );

    let get = |f: &str| run.get(f);
    let mut sum = 0.0;
    for kind in ["norm_tukey", "norm_quantile", "stl_tukey", "stl_quantile"] {
        let flag = get(&format!("{kind}.flag"));
        let (lower, upper) = (get(&format!("{kind}.lower")), get(&format!("{kind}.upper")));
        assert!(lower <= upper, "{kind}: {lower} {upper}");
        if kind.ends_with("quantile") {
            assert_eq!(get(&format!("{kind}.alpha")), 0.01, "{kind}");
        }
        sum += flag;
    }
    assert_eq!(get("norm_tukey.flag"), 1.0);
    assert_eq!(get("stl_tukey.flag"), 1.0);
    let consensus = get("overall.consensus");
    assert!(consensus >= 2.0, "{consensus}");
    assert_eq!(consensus, sum);
    let (input, model) = run.assert_spike_modelled();
    close(get("error"), input - model, "error");
    close(get("error_norm"), (input - model) / input, "error_norm");
}

/// Proves FlowDifference end to end: after a history of deviations within ±2, an outflow
/// 400 below the inflow in the second-newest points writes `flag` −1 and `deviation` −400
/// below `lower`; every earlier tick wrote `flag` 0 and the deviation of the second-newest
/// points.
#[test]
fn flow_difference_flags_a_leak_in_the_second_newest_points() {
    let (redis, carbon, _) = daemons_with(&[
        ("stage1.out", -100, 60, flow_in),
        ("stage2.in", -100, 60, flow_out),
    ]);
    let options = json!({ "in_metric": "stage1.out", "out_metric": "stage2.in", "stale": 10,
                          "error_params": { "scaling": 2, "minimal_upper_threshold": 50,
                                            "minimal_lower_threshold": -50 } });
    let mut runner = start_algorithm(
        &redis,
        &carbon,
        PluginLib::FlowDifference,
        "FlowDifference",
        json!({ "fd": options }),
    );
    let leak = anomaly_after_warm_up(&mut runner, &redis, |at| {
        vec![("stage2.in", flow_in(at) - 400.0)]
    });
    let tick = leak + 1;
    let m = |f: &str| format!("AnnaMolly.FlowDifference.fd.{f}");
    let flags = points_until(&carbon, &runner, &m("flag"), tick);
    assert_verdicts(&flags, 0.0, -1.0, &runner);
    let deviations = points_until(&carbon, &runner, &m("deviation"), tick);
    let (last, earlier) = deviations.split_last().unwrap();
    // Every tick compared the second-newest points.
    for &(ts, deviation) in earlier {
        assert_eq!(deviation, flow_out(ts - 1) - flow_in(ts - 1), "at {ts}");
    }
    assert_eq!(last.1, -400.0, "{deviations:?}");
    let lower = value_at(&carbon, &runner, &m("lower"), tick);
    let upper = value_at(&carbon, &runner, &m("upper"), tick);
    assert!(-400.0 < lower && lower < upper, "{lower} {upper}");
}

/// Proves TukeysFilter end to end: with quartiles 10 and 20 (fences −5 and 35), the instances
/// `demo.latency.web01`..`web04` at 15, 100, 12 and −30 are written as fields `web01` 0,
/// `web02` 1, `web03` 0, `web04` −1 at the tick, with `quantile_25` 10, `quantile_75` 20,
/// `count` 4 and `invalid` 2; `web05`, whose only point is older than `maximum_delay`, is not
/// judged.
#[test]
fn tukeys_filter_judges_each_instance_against_the_fences() {
    let (redis, carbon) = daemons();
    let now = now_unix();
    let constant = |v: f64| per_second(now - 30, now + 30, move |_| v);
    let (q25, q75) = (constant(10.0), constant(20.0));
    let web = [15.0, 100.0, 12.0, -30.0].map(constant);
    write(
        &redis,
        &[
            ("svc.q25", &q25),
            ("svc.q75", &q75),
            ("demo.latency.web01", &web[0]),
            ("demo.latency.web02", &web[1]),
            ("demo.latency.web03", &web[2]),
            ("demo.latency.web04", &web[3]),
            ("demo.latency.web05", &[(now - 1000, 1e6)]),
        ],
    );
    let runner = start_algorithm(
        &redis,
        &carbon,
        PluginLib::TukeysFilter,
        "TukeysFilter",
        json!({ "svc": tukeys_options() }),
    );
    let m = |f: &str| format!("AnnaMolly.TukeysFilter.svc.{f}");
    let tick = wait_points(&carbon, &runner, &m("count"), 1)[0].0;
    let expected = [
        ("web01", 0.0),
        ("web02", 1.0),
        ("web03", 0.0),
        ("web04", -1.0),
        ("quantile_25", 10.0),
        ("quantile_75", 20.0),
        ("count", 4.0),
        ("invalid", 2.0),
    ];
    for (field, value) in expected {
        assert_eq!(
            value_at(&carbon, &runner, &m(field), tick),
            value,
            "{field}"
        );
    }
    let files = tree(&carbon.whisper_dir().join("AnnaMolly/TukeysFilter/svc")).unwrap();
    assert!(!files.iter().any(|f| f.contains("web05")), "{files:?}");
}

/// Proves that data the seasonal plugins and FlowDifference cannot use yields only their
/// "unknown" verdict, and the log says why: a SeasonalDecomposition metric whose newest point
/// is 30 s old (more than 3 intervals of 1 s) and one with fewer points than the 91 the window
/// needs write only `flag` −1, the Ensemble on the stale metric only `overall.flag` −1,
/// FlowDifference with a missing `out_metric` or a stale one (older than `stale`) only `flag`
/// −1; every task succeeds and emits just that one point.
#[test]
fn stale_short_or_missing_data_writes_only_flag_minus_one() {
    let (redis, carbon, _) = daemons_with(&[
        ("old.load", -130, -30, seasonal_value),
        ("new.load", -15, 45, seasonal_value),
        ("flow.in", -100, 60, flow_in),
    ]);
    let abs = json!({ "error_type": "abs" });
    let flow = |out: &str| json!({ "in_metric": "flow.in", "out_metric": out, "stale": 10 });
    let runner = start(
        &setup(&redis, &carbon)
            .every_second(
                PluginLib::SeasonalDecomposition,
                "SeasonalDecomposition",
                json!({ "stale": seasonal_options("old.load", abs.clone()),
                        "short": seasonal_options("new.load", abs) }),
            )
            .every_second(
                PluginLib::SeasonalDecompositionEnsemble,
                "SeasonalDecompositionEnsemble",
                json!({ "stale": seasonal_options("old.load", json!({})) }),
            )
            .every_second(
                PluginLib::FlowDifference,
                "FlowDifference",
                json!({ "missing": flow("flow.nowhere"), "late": flow("old.load") }),
            ),
    );
    let cases = [
        ("SeasonalDecomposition/stale", "flag"),
        ("SeasonalDecomposition/short", "flag"),
        ("SeasonalDecompositionEnsemble/stale", "overall.flag"),
        ("FlowDifference/missing", "flag"),
        ("FlowDifference/late", "flag"),
    ];
    for (service, field) in cases {
        let metric = format!("AnnaMolly.{}.{field}", service.replace('/', "."));
        let points = wait_points(&carbon, &runner, &metric, 3);
        assert!(points.iter().all(|p| p.1 == -1.0), "{metric}: {points:?}");
    }
    // Each task emitted its one point, nothing else: at a moment no task runs, as many points
    // as tasks, none failed.
    let (ok, emitted) = wait_until("no task running", WAIT, || {
        let snapshot = || -> anyhow::Result<[f64; 3]> {
            let metrics = runner.metrics()?;
            let get = |n: &str| {
                let name = format!("am_runner_{n}");
                metrics
                    .iter()
                    .find(|m| m.0 == name)
                    .map_or(f64::NAN, |m| m.1)
            };
            Ok([
                "tasks_started_total",
                "tasks_ok_total",
                "points_emitted_total",
            ]
            .map(get))
        };
        // Two equal snapshots, every started task done.
        let (a, b) = (snapshot()?, snapshot()?);
        Ok((a == b && a[0] == a[1]).then_some((a[1], a[2])))
    })
    .unwrap();
    assert_eq!(emitted, ok, "{}", runner.logs());
    assert_eq!(counter(&runner, "tasks_failed_total"), 0.0);
    let root = carbon.whisper_dir().join("AnnaMolly");
    for (service, field) in cases {
        let files = tree(&root.join(service)).unwrap();
        let expected = match field {
            "flag" => vec!["flag.wsp"],
            _ => vec!["overall/", "overall/flag.wsp"],
        };
        assert_eq!(files, expected, "{service}");
    }

    let reasons: [(&str, &str, &[&str]); 5] = [
        (
            "SeasonalDecomposition",
            "stale",
            &[
                "`old.load` is stale: its newest point is",
                "s old (more than 3 intervals of 1 s); writing flag -1",
            ],
        ),
        (
            "SeasonalDecomposition",
            "short",
            &[
                "`new.load` has",
                "points on its 1 s grid; the window needs 91",
                "writing flag -1",
            ],
        ),
        (
            "SeasonalDecompositionEnsemble",
            "stale",
            &["`old.load` is stale", "writing overall.flag -1"],
        ),
        (
            "FlowDifference",
            "missing",
            &[
                "`flow.nowhere` has 0 point(s); two are needed",
                "writing flag -1",
            ],
        ),
        (
            "FlowDifference",
            "late",
            &[
                "`old.load` is stale: its newest point is",
                "s old (stale is 10 s); writing flag -1",
            ],
        ),
    ];
    for (plugin, service, words) in reasons {
        assert_logged(&runner, plugin, service, words);
    }
}

/// Asserts a line of the runner's log comes from `plugin`'s `service` and contains `words`.
#[track_caller]
fn assert_logged(runner: &Runner, plugin: &str, service: &str, words: &[&str]) {
    let log = runner.log();
    let (p, s) = (
        format!("plugin=\"{plugin}\""),
        format!("service=\"{service}\""),
    );
    let found = log
        .lines()
        .any(|l| l.contains(&p) && l.contains(&s) && words.iter().all(|w| l.contains(w)));
    assert!(
        found,
        "no log line of {plugin}/{service} with {words:?}:\n{log}"
    );
}

/// Proves the reason logged for a seasonal metric that stopped long ago — newest point 200 s
/// old at an interval of 1 s, so older than the 94 s the plugin reads — says it is stale (or
/// at least over what span nothing was found), as for one that stopped 30 s ago, instead of
/// claiming the metric "has no datapoints", which sends an operator looking for a misspelt or
/// missing metric that is in fact there.
#[test]
fn a_metric_that_stopped_long_ago_is_logged_as_stale_not_as_missing() {
    let (redis, carbon, _) = daemons_with(&[("gone.load", -400, -200, seasonal_value)]);
    let runner = start_algorithm(
        &redis,
        &carbon,
        PluginLib::SeasonalDecomposition,
        "SeasonalDecomposition",
        json!({ "gone": seasonal_options("gone.load", json!({})) }),
    );
    let flags = wait_points(
        &carbon,
        &runner,
        "AnnaMolly.SeasonalDecomposition.gone.flag",
        1,
    );
    assert_eq!(flags[0].1, -1.0, "{flags:?}");
    let log = runner.log();
    let line = log
        .lines()
        .find(|l| l.contains("service=\"gone\"") && l.contains("writing flag -1"))
        .unwrap_or_else(|| panic!("no reason logged:\n{log}"));
    assert!(
        line.contains("is stale") || line.contains("in the last"),
        "`gone.load` has 201 points, the newest 200 s old, yet the log says: {line}"
    );
}

/// The digest counts of SeasonalDecomposition's `errors` and FlowDifference's `deviations`
/// for service `r`.
fn digest_counts(redis: &RedisServer) -> [f64; 2] {
    [
        ("SeasonalDecomposition", "errors"),
        ("FlowDifference", "deviations"),
    ]
    .map(|(plugin, field)| {
        state_digest(redis, plugin, "r", field)
            .unwrap_or_else(|e| panic!("{e:#}"))
            .count()
    })
}

/// Runs the runner until it completed `tasks` tasks, then stops it with SIGTERM (exit 0).
fn run_then_stop(runner: &mut Runner, tasks: f64) {
    wait_counter(runner, "tasks_ok_total", |v| v >= tasks);
    let status = runner.terminate(Duration::from_secs(10)).unwrap();
    assert!(status.success(), "{status}\n{}", runner.logs());
}

/// Proves the error distributions live in Redis, not in the runner: SeasonalDecomposition's
/// t-digest `errors` and FlowDifference's `deviations` (in `am1:state:<plugin>:r`) count N
/// after a first run of the runner (one value per tick: N `flag` points in carbon); after
/// SIGTERM and a new runner process on the same config, they count N + the ticks of the
/// second run (every `flag` point in carbon), not the second run's ticks alone.
#[test]
fn t_digests_survive_a_runner_restart() {
    let (redis, carbon, _) = daemons_with(&[
        ("app.load", -100, 90, seasonal_value),
        ("app.in", -100, 90, flow_in),
        ("app.out", -100, 90, flow_out),
    ]);
    let fd = json!({ "in_metric": "app.in", "out_metric": "app.out", "stale": 10 });
    let mut runner = start(
        &setup(&redis, &carbon)
            .every_second(
                PluginLib::SeasonalDecomposition,
                "SeasonalDecomposition",
                json!({ "r": seasonal_options("app.load", json!({})) }),
            )
            .every_second(
                PluginLib::FlowDifference,
                "FlowDifference",
                json!({ "r": fd }),
            ),
    );
    let flags =
        ["SeasonalDecomposition", "FlowDifference"].map(|p| format!("AnnaMolly.{p}.r.flag"));
    run_then_stop(&mut runner, 6.0);
    let first = digest_counts(&redis);
    let mut last_tick = [0; 2];
    for i in 0..2 {
        let n = first[i] as usize;
        assert!(n >= 3, "{first:?}\n{}", runner.logs());
        let points = wait_points(&carbon, &runner, &flags[i], n);
        assert_eq!(points.len(), n, "{}: {points:?}", flags[i]);
        last_tick[i] = points[n - 1].0;
    }

    runner.start_again().unwrap_or_else(|e| panic!("{e:#}"));
    run_then_stop(&mut runner, 6.0);
    let second = digest_counts(&redis);
    for i in 0..2 {
        let m = second[i] as usize;
        assert!(second[i] >= first[i] + 3.0, "{first:?} then {second:?}");
        let points = wait_points(&carbon, &runner, &flags[i], m);
        assert_eq!(points.len(), m, "{}: {points:?}", flags[i]);
        let since = points.iter().filter(|p| p.0 > last_tick[i]).count();
        assert_eq!(m, first[i] as usize + since, "{}: {points:?}", flags[i]);
    }
}

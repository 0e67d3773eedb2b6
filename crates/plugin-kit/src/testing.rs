//! Test and benchmark scaffolding for the plugins, on `am_plugin_api::testing`'s `TestHost`:
//! the verdicts of a tick; for plugins that judge one metric a point at a time (Novelty,
//! ARTime, ContextOSE, Ensemble), a test series and a replay of it one tick per point through
//! the plugin's C ABI, as the runner would run it; for benchmarks, medians and peak memory.
//! Behind the `testing` feature: a plugin asks for it in its `[dev-dependencies]`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use am_plugin_api::testing::{TestHost, TestRunner, VerdictRecord};
use am_plugin_api::{BaseTask, PluginError};
use serde::de::DeserializeOwned;

pub use am_nab_detectors::signals::periodic;

/// The time of the first point of a replayed series.
pub const T0: i64 = 1_700_000_000;
/// Seconds between the points of a replayed series (one tick per point).
pub const STEP: i64 = 300;
/// The service every replay runs.
pub const SERVICE: &str = "web";
/// The metric the tests of [`one_metric_detector_tests!`](crate::one_metric_detector_tests)
/// replay: their options must watch it.
pub const METRIC: &str = "web.latency";

/// A host holding `values` as `metric`, one point every [`STEP`] seconds from [`T0`].
pub fn host_with(metric: &str, values: &[f64]) -> TestHost {
    let mut host = TestHost::new();
    let points = values.iter().enumerate();
    host.add_points(metric, points.map(|(i, v)| (T0 + i as i64 * STEP, *v)));
    host
}

/// What one tick of a replay wrote and reported.
#[derive(Debug, Clone, PartialEq)]
pub struct Tick {
    /// The `anomaly_score` written, if any.
    pub anomaly_score: Option<f64>,
    /// The `flag` written, if any.
    pub flag: Option<f64>,
    /// The verdicts reported.
    pub verdicts: Vec<VerdictRecord>,
}

impl Tick {
    /// `(anomaly_score, flag)`, 0 for a field not written.
    pub fn scored(&self) -> (f64, f64) {
        (self.anomaly_score.unwrap_or(0.0), self.flag.unwrap_or(0.0))
    }
}

/// Replays `values` of `metric` through plugin `T` with `options`, one tick per point (the
/// tick at each point's time); each tick's outputs. With `rebuild_at`, a new instance takes
/// over at that tick, as after a panic or on another runner.
pub fn replay<T: BaseTask>(
    options: &str,
    metric: &str,
    values: &[f64],
    rebuild_at: Option<usize>,
) -> Vec<Tick> {
    let mut host = host_with(metric, values);
    let mut runner = TestRunner::new::<T>(options, SERVICE, &mut host).unwrap();
    let mut ticks = Vec::with_capacity(values.len());
    for i in 0..values.len() {
        if rebuild_at == Some(i) {
            runner = TestRunner::new::<T>(options, SERVICE, &mut host).unwrap();
        }
        host.clear_outputs();
        runner.run(&mut host, T0 + i as i64 * STEP).unwrap();
        ticks.push(Tick {
            anomaly_score: host.last_value("anomaly_score"),
            flag: host.last_value("flag"),
            verdicts: host.take_verdicts(),
        });
    }
    ticks
}

/// [`replay`], checking that every tick that wrote a `flag` reported one verdict on
/// `metric`, `anomalous` exactly when flagged, and that the others reported none.
pub fn judged_replay<T: BaseTask>(options: &str, metric: &str, values: &[f64]) -> Vec<Tick> {
    let ticks = replay::<T>(options, metric, values, None);
    for (i, tick) in ticks.iter().enumerate() {
        let Some(flag) = tick.flag else {
            assert!(tick.verdicts.is_empty(), "tick {i}: {:?}", tick.verdicts);
            continue;
        };
        let [verdict] = tick.verdicts.as_slice() else {
            panic!("tick {i}: {:?}", tick.verdicts);
        };
        assert_eq!(verdict.subject, metric);
        let want = if flag == 1.0 { "anomalous" } else { "ok" };
        assert_eq!(verdict.state, want, "tick {i}: {verdict:?}");
    }
    ticks
}

/// Asserts that plugin `T` refuses each of `options`, naming what it names when given.
pub fn assert_refused<T: BaseTask>(options: &[(&str, &str)]) {
    let mut host = TestHost::new();
    for (bad, names) in options {
        let failure = TestRunner::new::<T>(bad, SERVICE, &mut host)
            .err()
            .unwrap_or_else(|| panic!("accepted {bad}"));
        assert!(failure.message().contains(names), "{bad}: {failure}");
    }
}

/// Asserts that plugin `T` refuses `{"metric": "x"}` with each option of `bad` (a JSON
/// object) added at its value there, naming that option.
pub fn assert_each_refused<T: BaseTask>(bad: &str) {
    let bad: serde_json::Map<String, serde_json::Value> = serde_json::from_str(bad).unwrap();
    let cases: Vec<(String, String)> = bad
        .into_iter()
        .map(|(option, value)| {
            let options = serde_json::json!({"metric": "x", &option: value});
            (options.to_string(), format!("`{option}`"))
        })
        .collect();
    let cases: Vec<(&str, &str)> = cases.iter().map(|(o, n)| (&o[..], &n[..])).collect();
    assert_refused::<T>(&cases);
}

/// Asserts that the options `{"metric": "x"}`, through `params`, give `model`: the plugin's
/// defaults are its model's.
pub fn assert_defaults_are<O: DeserializeOwned, P: PartialEq + std::fmt::Debug>(
    params: impl Fn(&O) -> Result<P, PluginError>,
    model: P,
) {
    let options: O = serde_json::from_str(r#"{"metric": "x"}"#).unwrap();
    assert_eq!(params(&options).unwrap(), model);
}

/// Asserts that a tick of plugin `T` with `options` over a metric without points writes and
/// judges nothing.
pub fn assert_silent_without_points<T: BaseTask>(options: &str) {
    let mut host = TestHost::new();
    let mut runner = TestRunner::new::<T>(options, SERVICE, &mut host).unwrap();
    runner.run(&mut host, T0).unwrap();
    assert!(host.emitted().is_empty(), "{:?}", host.emitted());
    assert!(host.verdicts().is_empty(), "no point, no judgement");
}

/// Asserts that plugin `T` with `options` (watching [`METRIC`]) flags a level shift (+60 from
/// point 1200 of `periodic(i, 2.0)`) within 60 points, judging every tick.
pub fn assert_flags_a_level_shift<T: BaseTask>(options: &str) {
    let mut v: Vec<f64> = (0..1500).map(|i| periodic(i, 2.0)).collect();
    for x in v.iter_mut().skip(1200) {
        *x += 60.0;
    }
    let ticks = judged_replay::<T>(options, METRIC, &v);
    // Every tick learns a point, so every tick is judged.
    assert!(ticks.iter().all(|t| t.verdicts.len() == 1));
    let hits: Vec<usize> = (0..ticks.len())
        .filter(|i| ticks[*i].scored().1 > 0.0)
        .collect();
    let found = hits.iter().any(|i| (1200..1260).contains(i));
    assert!(found, "detections at {hits:?}");
}

/// Asserts that plugin `T` with `options` (watching [`METRIC`]) flags at most once on a
/// clean periodic series (`periodic(i, 0.5)`) after its first 600 points.
pub fn assert_quiet_on_a_clean_series<T: BaseTask>(options: &str) {
    let v: Vec<f64> = (0..3000).map(|i| periodic(i, 0.5)).collect();
    let ticks = judged_replay::<T>(options, METRIC, &v);
    let flags = ticks
        .iter()
        .skip(600)
        .filter(|t| t.scored().1 > 0.0)
        .count();
    assert!(flags <= 1, "{flags} detections on a clean series");
}

/// The tests every detector of one metric passes, for plugin `$task` with `$options`
/// (watching [`METRIC`]): a level shift is flagged and reported, a clean periodic series
/// stays quiet, a tick without points writes and judges nothing.
#[macro_export]
macro_rules! one_metric_detector_tests {
    ($task:ty, $options:expr) => {
        #[test]
        fn a_level_shift_is_flagged_and_reported() {
            $crate::testing::assert_flags_a_level_shift::<$task>($options);
        }

        #[test]
        fn a_clean_periodic_series_stays_quiet() {
            $crate::testing::assert_quiet_on_a_clean_series::<$task>($options);
        }

        #[test]
        fn a_tick_without_points_writes_nothing() {
            $crate::testing::assert_silent_without_points::<$task>($options);
        }
    };
}

/// The options every held-model detector (ARTime, ContextOSE, the Ensemble:
/// [`held`](crate::held)) refuses, each with the option its error must name.
pub const HELD_REFUSED: &[(&str, &str)] = &[
    (r#"{}"#, "`metric`"),
    (r#"{"metric": "x", "probation": 3}"#, "`probation`"),
    (r#"{"metric": "x", "threshold": 0}"#, "`threshold`"),
    (r#"{"metric": "x", "unknown": 1}"#, "`unknown`"),
];

/// The tests of a held-model detector `$task` (a [`HeldTask`](crate::held::HeldTask)): those
/// of [`one_metric_detector_tests!`](crate::one_metric_detector_tests) with `$options`; its
/// options `{"metric": "x"}` give, through `$params`, its model's defaults `$model`; it
/// refuses [`HELD_REFUSED`] and each of `$refused` (options, what the error names).
#[macro_export]
macro_rules! held_detector_tests {
    ($task:ty, $options:expr, $params:expr => $model:expr, $refused:expr) => {
        $crate::one_metric_detector_tests!($task, $options);

        #[test]
        fn the_defaults_are_the_models() {
            $crate::testing::assert_defaults_are($params, $model);
        }

        #[test]
        fn bad_options_are_refused() {
            let own: &[(&str, &str)] = &$refused;
            let all = [$crate::testing::HELD_REFUSED, own].concat();
            $crate::testing::assert_refused::<$task>(&all);
        }
    };
}

/// The `(subject, state)` of the verdicts `host` recorded, sorted.
pub fn verdict_states(host: &TestHost) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = host
        .verdicts()
        .iter()
        .map(|v| (v.subject.clone(), v.state.clone()))
        .collect();
    v.sort();
    v
}

/// A benchmark's `[SERIES] [TICKS]` arguments, each its default when absent or not a number.
pub fn bench_args(series: usize, ticks: usize) -> (usize, usize) {
    let mut args = std::env::args().skip(1);
    let mut next = |default| args.next().and_then(|a| a.parse().ok()).unwrap_or(default);
    (next(series), next(ticks))
}

/// The median of `values` (the upper one of an even count; NaN when empty): for benchmarks.
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// This process' peak resident memory in MB (Linux's `VmHWM`; 0 where it cannot be read):
/// for benchmarks.
pub fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

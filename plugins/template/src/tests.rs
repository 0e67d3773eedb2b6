//! Unit tests: the plugin runs in `TestHost`, an in-memory runner, through the same
//! `extern "C"` functions the real runner calls (option parsing and panic catching included).
//!
//! CHANGE: keep the four kinds of test below for your detector — a clear anomaly is flagged,
//! normal data is not, a misspelt option is refused naming it, stale/short data is handled —
//! and add one per option whose validation you wrote.

use am_plugin_api::Level;
use am_plugin_api::testing::{TestHost, TestRunner, run_task};

use super::*;

const METRIC: &str = "system.web01.cpu";
const STEP: i64 = 60;
const T0: i64 = 1_700_000_000;
/// One hour of history at one point a minute; `threshold` 3, the defaults otherwise.
const OPTIONS: &str = r#"{"metric": "system.web01.cpu", "window": 3600, "threshold": 3}"#;

/// A noisy but normal value for minute `i` (between 45 and 55, deterministic).
fn normal(i: i64) -> f64 {
    50.0 + ((i * 37) % 11) as f64 - 5.0
}

/// A host holding `n` minutes of normal data, with `spike` at minute `spike_at`.
fn host(n: i64, spike_at: Option<(i64, f64)>) -> TestHost {
    let mut host = TestHost::new();
    for i in 0..n {
        let value = match spike_at {
            Some((at, spike)) if at == i => spike,
            _ => normal(i),
        };
        host.add_point(METRIC, T0 + i * STEP, value);
    }
    host
}

/// The fields emitted at the last tick, in order.
fn fields(host: &TestHost) -> Vec<&str> {
    host.emitted().iter().map(|e| e.field.as_str()).collect()
}

#[test]
fn a_clear_anomaly_is_flagged() {
    let mut host = host(120, Some((90, 100.0)));
    let mut runner = TestRunner::new::<Template>(OPTIONS, "web", &mut host).unwrap();
    let mut flags = Vec::new();
    // Tick at every data timestamp, as the runner (and `am-runner replay`) would.
    for i in 60..120 {
        host.clear_outputs();
        runner.run(&mut host, T0 + i * STEP).unwrap();
        flags.push((i, host.last_value("flag").unwrap()));
    }
    let flagged: Vec<i64> = flags
        .iter()
        .filter(|(_, f)| *f != 0.0)
        .map(|(i, _)| *i)
        .collect();
    assert_eq!(flagged, [90], "{flags:?}");

    // The spike's tick alone: flag 1, a z-score well above the threshold, an anomalous verdict.
    let mut h = self::host(91, Some((90, 100.0)));
    run_task::<Template>(OPTIONS, "web", &mut h, T0 + 90 * STEP).unwrap();
    assert_eq!(fields(&h), ["flag", "zscore", "mean"]);
    assert_eq!(h.last_value("flag"), Some(1.0));
    assert!(h.last_value("zscore").unwrap() > 10.0);
    let verdict = &h.verdicts()[0];
    assert_eq!(
        (verdict.state.as_str(), verdict.subject.as_str()),
        ("anomalous", METRIC)
    );
    assert_eq!(verdict.value("value"), Some(100.0));
}

#[test]
fn every_tick_reports_a_verdict() {
    let mut host = host(120, Some((90, 100.0)));
    let mut runner = TestRunner::new::<Template>(OPTIONS, "web", &mut host).unwrap();
    for i in 60..120 {
        runner.run(&mut host, T0 + i * STEP).unwrap();
    }
    let verdicts: Vec<(&str, i64)> = host
        .verdicts()
        .iter()
        .map(|v| (v.state.as_str(), v.ts))
        .collect();
    // One per tick, on the metric: anomalous at the spike alone.
    assert_eq!(verdicts.len(), 60);
    assert!(host.verdicts().iter().all(|v| v.subject == METRIC));
    let anomalous: Vec<i64> = verdicts
        .iter()
        .filter(|(s, _)| *s == "anomalous")
        .map(|(_, ts)| *ts)
        .collect();
    assert_eq!(anomalous, [T0 + 90 * STEP]);
}

#[test]
fn normal_data_is_not_flagged() {
    let mut host = host(240, None);
    let mut runner = TestRunner::new::<Template>(OPTIONS, "web", &mut host).unwrap();
    for i in 60..240 {
        host.clear_outputs();
        runner.run(&mut host, T0 + i * STEP).unwrap();
        assert_eq!(host.last_value("flag"), Some(0.0), "minute {i}");
        let z = host.last_value("zscore").unwrap();
        assert!(z.abs() <= 3.0, "minute {i}: zscore {z}");
    }
    assert!(
        host.verdicts().iter().all(|v| v.state == "ok"),
        "{:?}",
        host.verdicts()
    );
}

#[test]
fn an_unknown_option_is_refused_naming_it() {
    let mut host = TestHost::new();
    let options = r#"{"metric": "system.web01.cpu", "treshold": 3}"#;
    let failure = TestRunner::new::<Template>(options, "web", &mut host).unwrap_err();
    assert!(!failure.is_panic());
    assert!(failure.message().contains("`treshold`"), "{failure}");
}

#[test]
fn invalid_options_are_refused_naming_the_option() {
    let mut host = TestHost::new();
    for (options, expected) in [
        (r#"{"window": 60}"#, "missing field `metric`"),
        (
            r#"{"metric": "m", "threshold": "high"}"#,
            "invalid option `threshold`",
        ),
        (
            r#"{"metric": "m", "window": 0}"#,
            "`window` must be a positive",
        ),
        (
            r#"{"metric": "m", "threshold": -1}"#,
            "`threshold` must be a positive",
        ),
        (
            r#"{"metric": "m", "min_points": 1}"#,
            "`min_points` must be at least 2",
        ),
        (
            r#"{"metric": "m", "max_age": 0}"#,
            "`max_age` must be a positive",
        ),
        (r#"{"metric": " "}"#, "`metric` must not be empty"),
    ] {
        let failure = TestRunner::new::<Template>(options, "web", &mut host).unwrap_err();
        assert!(failure.message().contains(expected), "{options}: {failure}");
    }
}

#[test]
fn stale_data_writes_nothing_and_reports_unknown() {
    let mut host = host(120, None);
    let mut runner = TestRunner::new::<Template>(OPTIONS, "web", &mut host).unwrap();
    // 20 minutes after the newest point (max_age is 600 s).
    let late = T0 + 119 * STEP + 1200;
    runner.run(&mut host, late).unwrap();
    assert!(host.emitted().is_empty(), "{:?}", host.emitted());
    assert!(
        host.logs()
            .iter()
            .any(|l| l.level == Level::Warn && l.message.contains("is stale")),
        "{:?}",
        host.logs()
    );
    assert_eq!(host.verdicts().len(), 1);
    assert_eq!(host.verdicts()[0].state, "unknown");
    assert!(host.verdicts()[0].reason.contains("is stale"));

    // Data again: back to `ok`.
    host.add_point(METRIC, late + 120, 50.0);
    runner.run(&mut host, late + 120).unwrap();
    assert_eq!(host.last_value("flag"), Some(0.0));
    assert_eq!(host.verdicts().last().map(|v| v.state.as_str()), Some("ok"));
}

#[test]
fn too_little_history_writes_nothing() {
    let mut host = host(5, None);
    run_task::<Template>(OPTIONS, "web", &mut host, T0 + 4 * STEP).unwrap();
    assert!(host.emitted().is_empty());
    assert!(
        host.logs()
            .iter()
            .any(|l| l.message.contains("4 points before the newest")),
        "{:?}",
        host.logs()
    );
    // No data at all is the same.
    let mut empty = TestHost::new();
    run_task::<Template>(OPTIONS, "web", &mut empty, T0).unwrap();
    assert!(empty.emitted().is_empty());
}

#[test]
fn a_failing_store_fails_the_task() {
    let mut host = host(120, None);
    host.set_store_failing(true);
    let failure = run_task::<Template>(OPTIONS, "web", &mut host, T0 + 119 * STEP).unwrap_err();
    assert!(
        failure.message().contains("reading `system.web01.cpu`"),
        "{failure}"
    );
}

#[test]
fn zscore_of_a_flat_history() {
    assert_eq!(zscore(5.0, 5.0, 0.0), 0.0);
    assert_eq!(zscore(6.0, 5.0, 0.0), f64::INFINITY);
    assert_eq!(zscore(4.0, 5.0, 0.0), f64::NEG_INFINITY);
    let points = [Point { ts: 0, value: 1.0 }, Point { ts: 1, value: 3.0 }];
    assert_eq!(mean_and_stddev(&points), (2.0, 2.0_f64.sqrt()));
}

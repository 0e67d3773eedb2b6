//! Unit tests: the plugin in `TestHost` (through the same `extern "C"` calls as the runner)
//! and the model directly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use am_plugin_api::testing::{TestHost, TestRunner};

use super::*;

const METRIC: &str = "web.latency";
const STEP: i64 = 300;
const T0: i64 = 1_700_000_000;
const OPTIONS: &str = r#"{"metric": "web.latency", "probation": 300}"#;

/// A daily-periodic series (period 48 points) with deterministic noise of ±`noise`.
fn periodic(i: usize, noise: f64) -> f64 {
    let phase = (i % 48) as f64 / 48.0 * std::f64::consts::TAU;
    let jitter = ((i * 7919) % 101) as f64 / 50.0 - 1.0;
    100.0 + 20.0 * phase.sin() + noise * jitter
}

/// Replays `values` one tick per point; every tick's (anomaly_score, flag) and verdict state.
fn replay(options: &str, values: &[f64]) -> (Vec<(f64, f64)>, Vec<String>) {
    let mut host = TestHost::new();
    host.add_points(
        METRIC,
        values
            .iter()
            .enumerate()
            .map(|(i, v)| (T0 + i as i64 * STEP, *v)),
    );
    let mut runner = TestRunner::new::<ArTime>(options, "web", &mut host).unwrap();
    let mut out = Vec::new();
    let mut events = Vec::new();
    for i in 0..values.len() {
        host.clear_outputs();
        runner.run(&mut host, T0 + i as i64 * STEP).unwrap();
        // One verdict per tick on the metric: `anomalous` exactly at a flagged point.
        let verdicts = host.verdicts();
        assert_eq!(verdicts.len(), 1, "tick {i}: {verdicts:?}");
        assert_eq!(verdicts[0].subject, METRIC);
        let flagged = host.last_value("flag") == Some(1.0);
        let want = if flagged { "anomalous" } else { "ok" };
        assert_eq!(verdicts[0].state, want, "tick {i}: {:?}", verdicts[0]);
        events.push(verdicts[0].state.clone());
        out.push((
            host.last_value("anomaly_score").unwrap_or(0.0),
            host.last_value("flag").unwrap_or(0.0),
        ));
    }
    (out, events)
}

#[test]
fn a_level_shift_is_flagged_and_reported() {
    let mut v: Vec<f64> = (0..1500).map(|i| periodic(i, 2.0)).collect();
    for x in v.iter_mut().skip(1200) {
        *x += 60.0;
    }
    let (out, events) = replay(OPTIONS, &v);
    let hits: Vec<usize> = (0..out.len()).filter(|i| out[*i].1 > 0.0).collect();
    assert!(
        hits.iter().any(|i| (1200..1260).contains(i)),
        "detections at {hits:?}"
    );
    assert!(events.iter().any(|e| e == "anomalous"), "{events:?}");
}

#[test]
fn a_clean_periodic_series_stays_quiet() {
    let v: Vec<f64> = (0..3000).map(|i| periodic(i, 0.5)).collect();
    let (out, _) = replay(OPTIONS, &v);
    let flags = out.iter().skip(600).filter(|(_, f)| *f > 0.0).count();
    assert!(flags <= 1, "{flags} detections on a clean series");
}

#[test]
fn no_look_ahead_scores_of_a_prefix_do_not_change() {
    let v: Vec<f64> = (0..1200)
        .map(|i| periodic(i, 3.0) + if i == 900 { 80.0 } else { 0.0 })
        .collect();
    let p = Params {
        probation: 300,
        range: None,
        margin: 0.3,
        max_categories: 1024,
    };
    let mut a = Artime::new(&p);
    let full: Vec<f64> = v.iter().map(|x| a.update(&p, *x)).collect();
    let mut b = Artime::new(&p);
    let prefix: Vec<f64> = v[..950].iter().map(|x| b.update(&p, *x)).collect();
    assert_eq!(&full[..950], &prefix[..]);
}

#[test]
fn categories_stay_within_the_cap() {
    let p = Params {
        probation: 300,
        range: None,
        margin: 0.3,
        max_categories: 32,
    };
    let mut m = Artime::new(&p);
    // Pseudo-random noise makes new clusters all the time.
    let mut x: u64 = 1;
    for _ in 0..20_000 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        m.update(&p, (x >> 33) as f64);
    }
    assert!(m.art.categories() <= 32);
    assert!(m.art.evicted > 0);
}

#[test]
fn nab_parameters_follow_the_file_length() {
    let p = Params::nab(4032, 0.0, 1.0);
    assert_eq!(
        (p.even_probation(), p.step(), p.trend_window()),
        (604, 5, 120)
    );
    let p = Params::nab(22695, 0.0, 1.0);
    assert_eq!(
        (p.even_probation(), p.step(), p.trend_window()),
        (750, 7, 107)
    );
}

#[test]
fn bad_options_are_refused() {
    let mut host = TestHost::new();
    for bad in [
        r#"{"metric": ""}"#,
        r#"{"metric": "x", "input_min": 1.0}"#,
        r#"{"metric": "x", "input_min": 2.0, "input_max": 1.0}"#,
        r#"{"metric": "x", "threshold": 0}"#,
        r#"{"metric": "x", "probation": 3}"#,
        r#"{"metric": "x", "unknown": 1}"#,
    ] {
        assert!(
            TestRunner::new::<ArTime>(bad, "web", &mut host).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn a_tick_without_points_writes_nothing() {
    let mut host = TestHost::new();
    let mut runner = TestRunner::new::<ArTime>(OPTIONS, "web", &mut host).unwrap();
    runner.run(&mut host, T0).unwrap();
    assert!(host.last_value("anomaly_score").is_none());
    assert!(host.verdicts().is_empty(), "no point, no judgement");
}

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
    let mut runner = TestRunner::new::<EnsembleTask>(options, "web", &mut host).unwrap();
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
    let o: Options = serde_json::from_str(OPTIONS).unwrap();
    let p = o.params().unwrap();
    let mut a = Ensemble::new(&p);
    let full: Vec<f64> = v.iter().map(|x| a.update(&p, *x).score).collect();
    let mut b = Ensemble::new(&p);
    let prefix: Vec<f64> = v[..950].iter().map(|x| b.update(&p, *x).score).collect();
    assert_eq!(&full[..950], &prefix[..]);
}

#[test]
fn one_member_alone_does_not_alert_two_within_confirm_do() {
    let o: Options =
        serde_json::from_str(r#"{"metric": "x", "confirm": 10, "quiet": 50, "lone": false}"#)
            .unwrap();
    let p = o.params().unwrap();
    let mut j = Judge::default();
    // Novelty alone at point 100: no alert.
    assert_eq!(judge_point(100, &[0.3, 0.0, 0.0], &p, &mut j), 0.0);
    // ARTime 5 points later confirms it: an alert, ARTime's 0.67 scaled to 0.5 + 0.5·0.33/0.66.
    let s = judge_point(105, &[0.0, 0.67, 0.0], &p, &mut j);
    assert!((s - 0.75).abs() < 1e-9, "{s}");
    // Two members at once, but within the quiet period: nothing.
    assert_eq!(judge_point(140, &[0.3, 0.5, 0.0], &p, &mut j), 0.0);
    // After it: an alert.
    assert!(judge_point(200, &[0.3, 0.0, 0.9], &p, &mut j) >= 0.5);
    // A lone detection 30 points after the others (beyond `confirm`): nothing.
    assert_eq!(judge_point(300, &[0.0, 0.0, 0.8], &p, &mut j), 0.0);
}

#[test]
fn a_lone_detection_scores_below_every_alert_and_never_holds_one_back() {
    let o: Options =
        serde_json::from_str(r#"{"metric": "x", "confirm": 10, "quiet": 50}"#).unwrap();
    let p = o.params().unwrap();
    let mut j = Judge::default();
    // Novelty alone: a lone detection, its scaled 0.5 + 0.5·0.05/0.75 mapped into [0.25, 0.5).
    let s = judge_point(100, &[0.3, 0.0, 0.0], &p, &mut j);
    assert!((0.25..0.5).contains(&s), "{s}");
    // Another lone one within the quiet period of the first: nothing.
    assert_eq!(judge_point(120, &[0.0, 0.0, 0.0], &p, &mut j), 0.0);
    assert_eq!(judge_point(130, &[0.0, 0.0, 0.99], &p, &mut j), 0.0);
    // A confirmed detection right after lone ones is an alert all the same.
    assert!(judge_point(135, &[0.0, 0.9, 0.0], &p, &mut j) >= 0.5);
    // Within the alert's quiet period, no lone detection either.
    assert_eq!(judge_point(170, &[0.0, 0.0, 0.0], &p, &mut j), 0.0);
    assert_eq!(judge_point(180, &[0.0, 0.0, 0.99], &p, &mut j), 0.0);
    // After it, a sure lone one stays below 0.5.
    let s = judge_point(300, &[0.0, 0.0, 1.0], &p, &mut j);
    assert!((0.49..0.5).contains(&s), "{s}");
}

#[test]
fn bad_options_are_refused() {
    let mut host = TestHost::new();
    for bad in [
        r#"{"metric": ""}"#,
        r#"{"metric": "x", "input_min": 1.0}"#,
        r#"{"metric": "x", "thresholds": [0.2, 1.5, 0.7]}"#,
        r#"{"metric": "x", "input_min": 2.0, "input_max": 1.0}"#,
        r#"{"metric": "x", "threshold": 0}"#,
        r#"{"metric": "x", "probation": 3}"#,
        r#"{"metric": "x", "max_contexts": 1}"#,
        r#"{"metric": "x", "unknown": 1}"#,
    ] {
        assert!(
            TestRunner::new::<EnsembleTask>(bad, "web", &mut host).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn a_tick_without_points_writes_nothing() {
    let mut host = TestHost::new();
    let mut runner = TestRunner::new::<EnsembleTask>(OPTIONS, "web", &mut host).unwrap();
    runner.run(&mut host, T0).unwrap();
    assert!(host.last_value("anomaly_score").is_none());
    assert!(host.verdicts().is_empty(), "no point, no judgement");
}

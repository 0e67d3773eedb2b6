//! Unit tests: the plugin in `TestHost` (through the same `extern "C"` calls as the runner),
//! and the codec. The model's own tests are in `crates/nab-detectors`.

use am_plugin_api::testing::TestRunner;
use am_plugin_kit::testing::{
    STEP, T0, assert_defaults_are, assert_each_refused, assert_refused,
    assert_silent_without_points, host_with, judged_replay, periodic, replay,
};

use super::*;

const METRIC: &str = "web.latency";
/// Smaller history than the defaults so that the debug-build tests stay fast.
const OPTIONS: &str = r#"{"metric": "web.latency", "history": 400, "score_history": 300}"#;

/// Replays `values` one tick per point (each tick judged as checked by `judged_replay`);
/// every tick's `(anomaly_score, flag)`.
fn scores(options: &str, values: &[f64]) -> Vec<(f64, f64)> {
    let ticks = judged_replay::<Novelty>(options, METRIC, values);
    ticks.iter().map(|t| t.scored()).collect()
}

/// The shipped parameters with `history` and `score_history` points, `min_score` 0.2 and no
/// guard for young series (`settle`, `caution`): the models the tests drive directly.
fn strict(history: usize, score_history: usize) -> Params {
    Params {
        history,
        score_history,
        min_score: 0.2,
        settle: 0,
        caution: 0.0,
        ..Params::default()
    }
}

#[test]
fn a_clear_spike_gets_a_high_score_and_an_event() {
    let mut values: Vec<f64> = (0..900).map(|i| periodic(i, 2.0)).collect();
    values[700] += 60.0;
    let out = scores(OPTIONS, &values);
    let (score, flag) = out[700];
    assert!(score >= 0.4 && flag == 1.0, "{:?}", &out[695..705]);
    let flagged: Vec<usize> = (300..900).filter(|&i| out[i].1 == 1.0).collect();
    assert_eq!(flagged, [700]);
    // The quiet period holds the score at 0 after the detection.
    assert!(out[701..900].iter().all(|(s, _)| *s == 0.0));
}

#[test]
fn flat_and_clean_periodic_series_stay_low() {
    let flat = vec![42.0; 800];
    let out = scores(OPTIONS, &flat);
    assert!(out.iter().all(|(s, f)| *s == 0.0 && *f == 0.0), "{out:?}");

    let clean: Vec<f64> = (0..1200).map(|i| periodic(i, 0.0)).collect();
    let out = scores(OPTIONS, &clean);
    let worst = out.iter().map(|(s, _)| *s).fold(0.0, f64::max);
    assert!(worst < 0.2, "worst score {worst}");
    assert!(out.iter().all(|(_, f)| *f == 0.0));

    let noisy: Vec<f64> = (0..1200).map(|i| periodic(i, 3.0)).collect();
    let out = scores(OPTIONS, &noisy);
    assert!(out.iter().all(|(_, f)| *f == 0.0));
}

#[test]
fn a_change_after_a_flat_line_is_flagged() {
    let mut values = vec![5.0; 600];
    values.extend([9.0; 50]);
    let out = scores(OPTIONS, &values);
    assert_eq!(out[600], (out[600].0, 1.0), "{:?}", &out[598..603]);
}

#[test]
fn no_look_ahead_scores_of_a_prefix_do_not_change() {
    let mut values: Vec<f64> = (0..900).map(|i| periodic(i, 4.0)).collect();
    values[500] -= 50.0;
    values[800] += 70.0;
    let full = scores(OPTIONS, &values);
    let prefix = scores(OPTIONS, &values[..600]);
    assert_eq!(full[..600], prefix[..]);
}

#[test]
fn a_rebuilt_instance_continues_from_the_state() {
    let values: Vec<f64> = (0..700).map(|i| periodic(i, 4.0)).collect();
    let continuous = replay::<Novelty>(OPTIONS, METRIC, &values, None);
    // A new instance (as after a panic or on another runner host) at 450: it must reload.
    let rebuilt = replay::<Novelty>(OPTIONS, METRIC, &values, Some(450));
    assert_eq!(rebuilt, continuous);
}

#[test]
fn state_is_bounded_whatever_the_series_length() {
    let p = strict(300, 200);
    let mut m = Model::new(&p);
    let mut sizes = Vec::new();
    for i in 0..100_000 {
        m.update(&p, periodic(i, 5.0) + (i / 5000) as f64);
        assert!(m.alerts.len() <= p.alert_capacity());
        if i % 10_000 == 9_999 {
            // The blob less the recent detections' times is constant once the rings are full.
            let len = codec::encode(&m, &p, i as i64).len();
            sizes.push((len - 8 * m.alerts.len(), len));
        }
    }
    assert!(sizes.windows(2).all(|w| w[0].0 == w[1].0), "{sizes:?}");
    let bound = 100
        + 4 * (p.history + 2 * p.window * p.stride + p.score_history + p.stride)
        + 8 * p.alert_capacity();
    assert!(sizes.iter().all(|s| s.1 <= bound), "{sizes:?} > {bound}");
    assert_eq!(m.values.len(), m.values.capacity());
    assert_eq!(m.dists.len(), p.score_history);

    // The default configuration's state, through the plugin: 20.4 kB at most, constant.
    let values: Vec<f64> = (0..4200).map(|i| periodic(i, 5.0)).collect();
    let mut host = host_with(METRIC, &values);
    let mut runner =
        TestRunner::new::<Novelty>(r#"{"metric": "web.latency"}"#, "web", &mut host).unwrap();
    let mut lens = Vec::new();
    for i in 0..values.len() {
        runner.run(&mut host, T0 + i as i64 * STEP).unwrap();
        if i >= 4100 {
            lens.push(host.state("Novelty", "web", MODEL).unwrap().len());
        }
    }
    assert!(lens.windows(2).all(|w| w[0] == w[1]), "{lens:?}");
    assert!(lens[0] <= 20_400, "{}", lens[0]);
}

#[test]
fn repeated_surprises_lose_confidence_and_stop_alerting() {
    // A spike every 300 points: the first alert has its full score, each later one is
    // docked `rate_penalty` per alert in the last `rate_window` points, until none is left.
    let options = r#"{"metric": "web.latency", "history": 400, "score_history": 300,
        "rate_window": 2000, "rate_penalty": 0.1, "min_score": 0.2, "settle": 0, "caution": 0}"#;
    let values: Vec<f64> = (0..3000)
        .map(|i| periodic(i, 2.0) + if i >= 600 && i % 300 == 0 { 80.0 } else { 0.0 })
        .collect();
    let out = scores(options, &values);
    // Only detections score.
    assert!(
        out.iter().all(|(s, f)| (*s > 0.0) == (*f == 1.0)),
        "{out:?}"
    );
    let alerts: Vec<(usize, f64)> = (0..values.len())
        .filter(|&i| out[i].1 == 1.0)
        .map(|i| (i, out[i].0))
        .collect();
    assert!(alerts.len() >= 2, "{alerts:?}");
    assert!(alerts.iter().all(|(i, _)| i % 300 == 0), "{alerts:?}");
    assert!(alerts.iter().all(|(_, s)| *s >= 0.2), "{alerts:?}");
    // Fewer alerts than spikes: the rate penalty silenced the later ones.
    assert!(alerts.len() < 8, "{alerts:?}");
    let p = Params {
        rate_window: 2000,
        rate_penalty: 0.1,
        ..strict(400, 300)
    };
    let mut m = Model::new(&p);
    let mut seen = Vec::new();
    for (i, v) in values.iter().enumerate() {
        if let Some(o) = m.update(&p, *v)
            && o.flag == 1.0
        {
            // The confidence is the surprise less 0.1 per alert in the last 2000 points.
            let earlier = seen.iter().filter(|&&t| t + 2000 >= i).count();
            assert!((o.score - (o.raw_score - 0.1 * earlier as f64)).abs() < 1e-12);
            seen.push(i);
        }
    }
    assert_eq!(seen, alerts.iter().map(|a| a.0).collect::<Vec<_>>());
}

#[test]
fn the_codec_round_trips_and_refuses_other_sizes() {
    let p = Params {
        window: 4,
        stride: 2,
        neighbours: 2,
        warmup: 10,
        quiet: 5,
        ..strict(50, 30)
    };
    let mut m = Model::new(&p);
    for i in 0..123 {
        m.update(
            &p,
            periodic(i, 1.0) + if (70..74).contains(&i) { 60.0 } else { 0.0 },
        );
    }
    assert!(!m.alerts.is_empty());
    let bytes = codec::encode(&m, &p, 77);
    assert_eq!(codec::decode(&bytes, &p), Some((m.clone(), 77)));
    let other = Params {
        history: 60,
        ..p.clone()
    };
    assert_eq!(codec::decode(&bytes, &other), None);
    assert_eq!(codec::decode(&bytes[..bytes.len() - 1], &p), None);
    // The flag byte after `origin` (offset 68) is 0 or 1.
    let mut bad = bytes.clone();
    bad[68] = 7;
    assert_eq!(codec::decode(&bad, &p), None);
    bad[68] = u8::from(!m.flag_extreme);
    assert!(codec::decode(&bad, &p).is_some());
    assert_eq!(codec::decode(b"junk", &p), None);
}

#[test]
fn missing_data_writes_nothing() {
    assert_silent_without_points::<Novelty>(OPTIONS);
}

#[test]
fn the_defaults_are_the_shipped_parameters() {
    assert_defaults_are(Options::params, Params::default());
}

#[test]
fn options_are_checked_naming_the_option() {
    assert_refused::<Novelty>(&[
        (r#"{}"#, "`metric`"),
        (r#"{"metric": "x", "treshold": 0.5}"#, "`treshold`"),
        (r#"{"metric": " "}"#, "`metric`"),
    ]);
    // Each out of its range, alone.
    assert_each_refused::<Novelty>(
        r#"{"window": 1, "history": 5, "neighbours": 0, "stride": 0, "score_history": 3,
            "threshold": 1.5, "rate_window": 200000, "rate_penalty": -0.1, "min_score": 0,
            "settle": 200000, "caution": -1, "extreme": -0.5, "extreme_after": 200000000,
            "backfill": -1}"#,
    );
}

#[test]
fn one_verdict_per_judged_tick_anomalous_exactly_at_a_detection() {
    let mut values: Vec<f64> = (0..900).map(|i| periodic(i, 2.0)).collect();
    values[700] += 60.0;
    // `judged_replay` checks each tick's verdict against its flag.
    let ticks = judged_replay::<Novelty>(OPTIONS, METRIC, &values);
    let anomalous: Vec<usize> = (0..ticks.len())
        .filter(|&i| ticks[i].verdicts.iter().any(|v| v.state == "anomalous"))
        .collect();
    assert_eq!(anomalous, [700]);
}

//! Unit tests: the plugin in `TestHost` (through the same `extern "C"` calls as the runner),
//! and the model and codec directly.

use am_plugin_api::testing::{TestHost, TestRunner};

use super::*;

const METRIC: &str = "web.latency";
const STEP: i64 = 300;
const T0: i64 = 1_700_000_000;
/// Smaller history than the defaults so that the debug-build tests stay fast.
const OPTIONS: &str = r#"{"metric": "web.latency", "history": 400, "score_history": 300}"#;

/// A daily-periodic series (period 48 points) with deterministic noise of ±`noise`.
fn periodic(i: usize, noise: f64) -> f64 {
    let phase = (i % 48) as f64 / 48.0 * std::f64::consts::TAU;
    let jitter = ((i * 7919) % 101) as f64 / 50.0 - 1.0;
    100.0 + 20.0 * phase.sin() + noise * jitter
}

/// Replays `values` one tick per point and returns every tick's emitted fields.
fn replay(options: &str, values: &[f64]) -> Vec<(f64, f64)> {
    let mut host = TestHost::new();
    host.add_points(
        METRIC,
        values
            .iter()
            .enumerate()
            .map(|(i, v)| (T0 + i as i64 * STEP, *v)),
    );
    let mut runner = TestRunner::new::<Novelty>(options, "web", &mut host).unwrap();
    let mut out = Vec::new();
    for i in 0..values.len() {
        host.clear_outputs();
        runner.run(&mut host, T0 + i as i64 * STEP).unwrap();
        out.push((
            host.last_value("anomaly_score").unwrap_or(0.0),
            host.last_value("flag").unwrap_or(0.0),
        ));
    }
    out
}

#[test]
fn a_clear_spike_gets_a_high_score_and_an_event() {
    let mut values: Vec<f64> = (0..900).map(|i| periodic(i, 2.0)).collect();
    values[700] += 60.0;
    let out = replay(OPTIONS, &values);
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
    let out = replay(OPTIONS, &flat);
    assert!(out.iter().all(|(s, f)| *s == 0.0 && *f == 0.0), "{out:?}");

    let clean: Vec<f64> = (0..1200).map(|i| periodic(i, 0.0)).collect();
    let out = replay(OPTIONS, &clean);
    let worst = out.iter().map(|(s, _)| *s).fold(0.0, f64::max);
    assert!(worst < 0.2, "worst score {worst}");
    assert!(out.iter().all(|(_, f)| *f == 0.0));

    let noisy: Vec<f64> = (0..1200).map(|i| periodic(i, 3.0)).collect();
    let out = replay(OPTIONS, &noisy);
    assert!(out.iter().all(|(_, f)| *f == 0.0));
}

#[test]
fn a_change_after_a_flat_line_is_flagged() {
    let mut values = vec![5.0; 600];
    values.extend([9.0; 50]);
    let out = replay(OPTIONS, &values);
    assert_eq!(out[600], (out[600].0, 1.0), "{:?}", &out[598..603]);
}

#[test]
fn no_look_ahead_scores_of_a_prefix_do_not_change() {
    let mut values: Vec<f64> = (0..900).map(|i| periodic(i, 4.0)).collect();
    values[500] -= 50.0;
    values[800] += 70.0;
    let full = replay(OPTIONS, &values);
    let prefix = replay(OPTIONS, &values[..600]);
    assert_eq!(full[..600], prefix[..]);
}

#[test]
fn a_rebuilt_instance_continues_from_the_state() {
    let values: Vec<f64> = (0..700).map(|i| periodic(i, 4.0)).collect();
    let continuous = replay(OPTIONS, &values);
    let mut host = TestHost::new();
    host.add_points(
        METRIC,
        values
            .iter()
            .enumerate()
            .map(|(i, v)| (T0 + i as i64 * STEP, *v)),
    );
    let mut got = Vec::new();
    let mut runner = TestRunner::new::<Novelty>(OPTIONS, "web", &mut host).unwrap();
    for i in 0..values.len() {
        if i == 450 {
            // A new instance (as after a panic or on another runner host): it must reload.
            runner = TestRunner::new::<Novelty>(OPTIONS, "web", &mut host).unwrap();
        }
        host.clear_outputs();
        runner.run(&mut host, T0 + i as i64 * STEP).unwrap();
        got.push((
            host.last_value("anomaly_score").unwrap(),
            host.last_value("flag").unwrap(),
        ));
    }
    assert_eq!(got, continuous);
}

#[test]
fn state_is_bounded_whatever_the_series_length() {
    let p = Params {
        history: 300,
        score_history: 200,
        min_score: 0.2,
        settle: 0,
        caution: 0.0,
        ..shipped()
    };
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
    let mut host = TestHost::new();
    host.add_points(
        METRIC,
        values
            .iter()
            .enumerate()
            .map(|(i, v)| (T0 + i as i64 * STEP, *v)),
    );
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
    let out = replay(options, &values);
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
        history: 400,
        score_history: 300,
        rate_window: 2000,
        rate_penalty: 0.1,
        min_score: 0.2,
        settle: 0,
        caution: 0.0,
        ..shipped()
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
        history: 50,
        neighbours: 2,
        score_history: 30,
        warmup: 10,
        quiet: 5,
        min_score: 0.2,
        settle: 0,
        caution: 0.0,
        ..shipped()
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
    let mut host = TestHost::new();
    let mut runner = TestRunner::new::<Novelty>(OPTIONS, "web", &mut host).unwrap();
    runner.run(&mut host, T0).unwrap();
    assert!(host.emitted().is_empty());
}

#[test]
fn options_are_checked_naming_the_option() {
    let mut host = TestHost::new();
    for (options, name) in [
        (r#"{"metric": "x", "treshold": 0.5}"#, "`treshold`"),
        (r#"{"metric": " "}"#, "`metric`"),
        (r#"{"metric": "x", "window": 1}"#, "`window`"),
        (r#"{"metric": "x", "history": 5}"#, "`history`"),
        (r#"{"metric": "x", "neighbours": 0}"#, "`neighbours`"),
        (r#"{"metric": "x", "stride": 0}"#, "`stride`"),
        (r#"{"metric": "x", "score_history": 3}"#, "`score_history`"),
        (r#"{"metric": "x", "threshold": 1.5}"#, "`threshold`"),
        (r#"{"metric": "x", "rate_window": 200000}"#, "`rate_window`"),
        (r#"{"metric": "x", "rate_penalty": -0.1}"#, "`rate_penalty`"),
        (r#"{"metric": "x", "min_score": 0}"#, "`min_score`"),
        (r#"{"metric": "x", "settle": 200000}"#, "`settle`"),
        (r#"{"metric": "x", "caution": -1}"#, "`caution`"),
        (r#"{"metric": "x", "extreme": -0.5}"#, "`extreme`"),
        (
            r#"{"metric": "x", "extreme_after": 200000000}"#,
            "`extreme_after`",
        ),
        (r#"{"metric": "x", "backfill": -1}"#, "`backfill`"),
    ] {
        let failure = TestRunner::new::<Novelty>(options, "web", &mut host).unwrap_err();
        assert!(failure.message().contains(name), "{options}: {failure}");
    }
}

#[test]
fn nearest_distance_of_a_repeating_pattern_is_zero() {
    let h: Vec<f32> = (0..40).map(|i| (i % 5) as f32).collect();
    assert_eq!(nearest_distance(&h, 5, 1, 2), Some(0.0));
    assert_eq!(nearest_distance(&h[..8], 5, 1, 2), None);
    assert_eq!(surprise(&[0.0; 5], 1.0, 1.0), 0.0);
}

#[test]
fn a_young_series_keeps_its_first_distances_out_of_the_baseline() {
    // A slow cycle of 150 points: during the first cycle every window is new, so the first
    // distances are large. A shift of the level at point 520 is an anomaly all the same.
    let values: Vec<f64> = (0..700)
        .map(|i| {
            let phase = (i % 150) as f64 / 150.0 * std::f64::consts::TAU;
            let jitter = ((i * 7919) % 101) as f64 / 100.0 - 0.5;
            100.0 + 20.0 * phase.sin() + jitter + if (520..530).contains(&i) { 30.0 } else { 0.0 }
        })
        .collect();
    let peak = |settle: usize| {
        let p = Params {
            settle,
            ..shipped()
        };
        let mut m = Model::new(&p);
        let mut peak = 0.0f64;
        for (i, v) in values.iter().enumerate() {
            let o = m.update(&p, *v).unwrap();
            if i + 1 < p.first_distance() as usize + settle {
                // Nothing enters the baseline while the series settles.
                assert!(m.dists.is_empty(), "{i}");
            }
            if (520..540).contains(&i) {
                peak = peak.max(o.raw_score);
            }
        }
        peak
    };
    let settled = peak(super::d_settle());
    let unsettled = peak(0);
    assert!(
        settled >= super::d_threshold(),
        "settled {settled}, unsettled {unsettled}"
    );
    // The learning-phase distances in the baseline cost the shift a third of its surprise
    // (0.70 with `settle`, 0.42 without when this was written).
    assert!(
        settled > unsettled + 0.15,
        "settled {settled}, unsettled {unsettled}"
    );
}

#[test]
fn past_distances_are_judged_in_todays_range() {
    // One huge spike at 700 multiplies the range by about five. Distances learned before it
    // were divided by the old range; unless they are re-expressed in the new one, the
    // baseline mixes two scales, its spread doubles and a later shift of the level is missed.
    let values: Vec<f64> = (0..1300)
        .map(|i| {
            periodic(i, 2.0)
                + match i {
                    700 => 200.0,
                    1100..1110 => 25.0,
                    _ => 0.0,
                }
        })
        .collect();
    let p = shipped();
    let mut m = Model::new(&p);
    let mut flags = Vec::new();
    for (i, v) in values.iter().enumerate() {
        let o = m.update(&p, *v).unwrap();
        if o.flag == 1.0 {
            flags.push(i);
        }
        // The derived logarithms always match the stored distances and today's range.
        let mut fresh = m.clone();
        fresh.relog(m.max - m.min);
        assert_eq!(fresh.logs, m.logs, "{i}");
    }
    assert!(flags.contains(&700), "{flags:?}");
    assert!(flags.iter().any(|i| (1100..1120).contains(i)), "{flags:?}");
}

/// White noise in 90..110 with a spike of +12 every 37 points.
fn spiky_noise(i: usize) -> f64 {
    let h = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
    100.0
        + 20.0 * (h as f64 / (1u64 << 24) as f64 - 0.5)
        + if i.is_multiple_of(37) { 12.0 } else { 0.0 }
}

/// `value` is beyond the range of `before` by `share` of that range (above it).
fn above(before: &[f64], share: f64) -> f64 {
    let (lo, hi) = before
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
    hi + share * (hi - lo)
}

/// The detections of the shipped model with `extreme` over `values`: (index, extreme).
fn detections(values: &[f64], extreme: f64) -> Vec<(usize, bool)> {
    let p = Params {
        extreme,
        ..shipped()
    };
    let mut m = Model::new(&p);
    let mut flags = Vec::new();
    for (i, v) in values.iter().enumerate() {
        let o = m.update(&p, *v).unwrap();
        if o.flag == 1.0 {
            flags.push((i, o.extreme));
        }
    }
    flags
}

#[test]
fn a_value_beyond_the_range_is_a_candidate_in_a_young_series() {
    // At 560 a spike 20 % of the range above every earlier one. Its window is hardly
    // farther from the earlier spikes' windows than they are from each other, so only
    // `extreme` finds it.
    let mut values: Vec<f64> = (0..600).map(spiky_noise).collect();
    values[560] = above(&values[..560], 0.2);
    let with = detections(&values, super::d_extreme());
    let without = detections(&values, 0.0);
    assert!(with.contains(&(560, true)), "{with:?}");
    assert!(!without.iter().any(|(i, _)| *i == 560), "{without:?}");
    // Elsewhere the two agree: `extreme` only adds candidates.
    let others = |f: &[(usize, bool)]| f.iter().filter(|(i, _)| *i < 560).count();
    assert_eq!(others(&with), others(&without), "{with:?} {without:?}");
}

#[test]
fn in_a_quiet_period_a_new_extreme_alerts_and_a_climb_alerts_once() {
    // The noisy young series alerts once on its windows (around point 330); values beyond
    // the range follow inside that alert's quiet period.
    let mut values: Vec<f64> = (0..900).map(spiky_noise).collect();
    let first = detections(&values, super::d_extreme());
    let Some(&(k, false)) = first.first() else {
        panic!("expected a window detection first: {first:?}");
    };
    // 40 points later: the first value beyond the range alerts despite the quiet period.
    values[k + 40] = above(&values[..k + 40], 0.2);
    // 80 points later: a higher one, in the quiet period of that extreme: the same climb.
    values[k + 80] = above(&values[..k + 80], 0.2);
    // 120 points later: one that doubles the range is news again.
    values[k + 120] = above(&values[..k + 120], 1.05);
    let got = detections(&values, super::d_extreme());
    assert_eq!(
        got.iter()
            .filter(|(i, _)| (k..k + 200).contains(i))
            .collect::<Vec<_>>(),
        [&(k, false), &(k + 40, true), &(k + 120, true)],
        "{got:?}"
    );
}

/// The shipped parameters (every option at its default).
fn shipped() -> Params {
    Options {
        metric: METRIC.into(),
        window: super::d_window(),
        stride: super::d_stride(),
        history: super::d_history(),
        neighbours: super::d_neighbours(),
        score_history: super::d_score_history(),
        warmup: super::d_warmup(),
        quiet: super::d_quiet(),
        threshold: super::d_threshold(),
        rate_window: super::d_rate_window(),
        rate_penalty: super::d_rate_penalty(),
        min_score: super::d_min_score(),
        settle: super::d_settle(),
        caution: super::d_caution(),
        extreme: super::d_extreme(),
        extreme_after: super::d_extreme_after(),
        backfill: super::d_backfill(),
    }
    .params()
}

#[test]
fn one_verdict_per_judged_tick_anomalous_exactly_at_a_detection() {
    let mut values: Vec<f64> = (0..900).map(|i| periodic(i, 2.0)).collect();
    values[700] += 60.0;
    let mut host = TestHost::new();
    host.add_points(
        METRIC,
        values
            .iter()
            .enumerate()
            .map(|(i, v)| (T0 + i as i64 * STEP, *v)),
    );
    let mut runner = TestRunner::new::<Novelty>(OPTIONS, "web", &mut host).unwrap();
    let mut anomalous = Vec::new();
    for i in 0..values.len() {
        host.clear_outputs();
        runner.run(&mut host, T0 + i as i64 * STEP).unwrap();
        let verdicts = host.verdicts();
        // The warm-up scores nothing and judges nothing; after it, one verdict a tick.
        let Some(flag) = host.last_value("flag") else {
            assert!(verdicts.is_empty(), "tick {i}: {verdicts:?}");
            continue;
        };
        assert_eq!(verdicts.len(), 1, "tick {i}: {verdicts:?}");
        assert_eq!(verdicts[0].subject, METRIC);
        let want = if flag == 1.0 { "anomalous" } else { "ok" };
        assert_eq!(verdicts[0].state, want, "tick {i}: {:?}", verdicts[0]);
        if flag == 1.0 {
            anomalous.push(i);
        }
    }
    assert_eq!(anomalous, [700]);
}

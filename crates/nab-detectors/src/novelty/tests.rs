use super::*;
use crate::signals::periodic;

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
            ..Params::default()
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
    let settled = peak(Params::default().settle);
    let unsettled = peak(0);
    assert!(
        settled >= Params::default().threshold,
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
    let p = Params::default();
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
        ..Params::default()
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
    let with = detections(&values, Params::default().extreme);
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
    let first = detections(&values, Params::default().extreme);
    let Some(&(k, false)) = first.first() else {
        panic!("expected a window detection first: {first:?}");
    };
    // 40 points later: the first value beyond the range alerts despite the quiet period.
    values[k + 40] = above(&values[..k + 40], 0.2);
    // 80 points later: a higher one, in the quiet period of that extreme: the same climb.
    values[k + 80] = above(&values[..k + 80], 0.2);
    // 120 points later: one that doubles the range is news again.
    values[k + 120] = above(&values[..k + 120], 1.05);
    let got = detections(&values, Params::default().extreme);
    assert_eq!(
        got.iter()
            .filter(|(i, _)| (k..k + 200).contains(i))
            .collect::<Vec<_>>(),
        [&(k, false), &(k + 40, true), &(k + 120, true)],
        "{got:?}"
    );
}

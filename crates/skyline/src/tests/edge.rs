//! Edge cases (no panic, no accidental verdict), the consensus and skip rules, sharding.

use super::{T0, series};
use crate::{
    Algorithm, AlgorithmSet, Analyser, BOREDOM, Rules, Skip, Window, analyse, check, fnv1a64,
    shard_of,
};

const DAY: Window = Window {
    now: T0 + 1440 * 60,
    full_duration: 86_400,
};

fn minutes(n: usize) -> Vec<i64> {
    (0..n as i64).map(|i| T0 + i * 60).collect()
}

/// Every algorithm's verdict, in `Algorithm::ALL` order.
fn verdicts(ts: &[i64], v: &[f64], w: &Window) -> Vec<bool> {
    let mut a = Analyser::new();
    Algorithm::ALL
        .iter()
        .map(|&alg| a.check(alg, ts, v, w))
        .collect()
}

/// A day of noise whose last three values jump by `delta`: most algorithms fire.
fn spiked(delta: f64) -> (Vec<i64>, Vec<f64>) {
    series("noise", 1440, 60, 2, &[(3, delta)])
}

#[test]
fn tiny_series_never_panic_and_are_not_anomalous() {
    for n in 0..=3 {
        for base in [0.0, 1.0, -5.5, 1e300] {
            let ts = minutes(n);
            let v: Vec<f64> = (0..n).map(|i| base + i as f64 * 1e3).collect();
            let w = Window {
                now: T0 + n as i64 * 60,
                full_duration: 86_400,
            };
            let verdict = Analyser::new().analyse(&ts, &v, &w, 6);
            assert!(!verdict.anomalous, "{n} points from {base}: {verdict:?}");
        }
    }
    // With no point or one point, nothing has a scale: nothing fires.
    assert!(verdicts(&[], &[], &DAY).iter().all(|f| !f));
    assert!(verdicts(&[T0], &[4.0], &DAY).iter().all(|f| !f));
}

#[test]
fn constant_series_never_fire() {
    // 0.1 is not exact in binary: a plain mean of many 0.1s is not 0.1, and a spread of 0
    // would turn that rounding into a verdict.
    for value in [
        0.0,
        -0.0,
        0.1,
        1.0 / 3.0,
        -7e-5,
        1e15 + 0.3,
        1e300,
        -1e308,
        5e-320,
    ] {
        for n in [1, 2, 3, 30, 1440] {
            let ts = minutes(n);
            let v = vec![value; n];
            let fired = verdicts(&ts, &v, &DAY);
            assert!(fired.iter().all(|f| !f), "{n} × {value:e}: {fired:?}");
        }
    }
    // A flat first hour is no scale for first_hour_average, whatever follows.
    let ts = minutes(1440);
    let mut v = vec![10.0; 1440];
    for (i, x) in v.iter_mut().enumerate().skip(60) {
        *x = 10.0 + (i % 7) as f64;
    }
    v[1437..].fill(500.0);
    assert!(!check(Algorithm::FirstHourAverage, &ts, &v, &DAY));
    assert!(check(Algorithm::StddevFromAverage, &ts, &v, &DAY));
}

#[test]
fn non_finite_values_are_dropped() {
    let (ts, v) = spiked(40.0);
    let want = verdicts(&ts, &v, &DAY);
    assert!(want.iter().filter(|f| **f).count() >= 6);
    let (mut ts2, mut v2) = (ts.clone(), v.clone());
    for (k, bad) in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY]
        .iter()
        .enumerate()
    {
        // Between existing points, and in the last three places too.
        ts2.insert(100 + k, T0 + 99 * 60 + 10 + k as i64);
        v2.insert(100 + k, *bad);
    }
    ts2.push(DAY.now - 1);
    v2.push(f64::NAN);
    assert_eq!(verdicts(&ts2, &v2, &DAY), want);
    // All non-finite: nothing to analyse.
    let nan = vec![f64::NAN; 1440];
    assert!(verdicts(&ts, &nan, &DAY).iter().all(|f| !f));
    assert_eq!(
        Analyser::new().classify(&ts, &nan, DAY.now, 500, 1),
        Some(Skip::Short)
    );
}

#[test]
fn huge_and_tiny_magnitudes_give_the_scale_free_verdicts() {
    let (ts, v) = spiked(40.0);
    let want = verdicts(&ts, &v, &DAY);
    // Exact rescaling: identical verdicts.
    for exp in [400, 900, 1000, -400, -900] {
        let f = 2f64.powi(exp / 2) * 2f64.powi(exp - exp / 2);
        let scaled: Vec<f64> = v.iter().map(|x| x * f).collect();
        let mut got = verdicts(&ts, &scaled, &DAY);
        if exp < 0 {
            // least_squares' rounding rule works in the original units: tiny residuals
            // round to 0.
            assert!(!got[6], "2^{exp}");
            got[6] = want[6];
        }
        assert_eq!(got, want, "2^{exp}");
    }
    // 1e300 is not a power of two, but the margins here are wide.
    let scaled: Vec<f64> = v.iter().map(|x| x * 1e300).collect();
    assert_eq!(verdicts(&ts, &scaled, &DAY), want);
    // Values near f64's limits of both signs: sums of squares would overflow unscaled.
    let (ts, v) = series("noise", 1440, 60, 3, &[]);
    let extreme: Vec<f64> = v.iter().map(|x| (x - 50.0) * 3e306).collect();
    let want: Vec<f64> = v.iter().map(|x| x - 50.0).collect();
    assert_eq!(verdicts(&ts, &extreme, &DAY), verdicts(&ts, &want, &DAY));
    let verdict = analyse(&ts, &extreme, &DAY, 1);
    assert!(!verdict.anomalous, "{verdict:?}");
}

#[test]
fn unsorted_and_duplicate_timestamps_are_sorted_out() {
    let (ts, v) = spiked(40.0);
    let want = verdicts(&ts, &v, &DAY);
    // Reversed order.
    let (rts, rv): (Vec<i64>, Vec<f64>) = ts.iter().rev().zip(v.iter().rev()).unzip();
    assert_eq!(verdicts(&rts, &rv, &DAY), want);
    // A duplicate of the last timestamp: the later one wins, so an early 0 changes nothing.
    let (mut dts, mut dv) = (ts.clone(), v.clone());
    dts.insert(1000, ts[1439]);
    dv.insert(1000, 0.0);
    assert_eq!(verdicts(&dts, &dv, &DAY), want);
    // Passed after the real one, a duplicate replaces it: the spike's last point is undone.
    let (mut dts, mut dv) = (ts.clone(), v.clone());
    dts.push(ts[1439]);
    dv.push(v[1438] - 40.0);
    assert_ne!(verdicts(&dts, &dv, &DAY), want);
    // Mismatched lengths: the extra timestamps are ignored.
    let mut long_ts = ts.clone();
    long_ts.extend([DAY.now + 60, DAY.now + 120]);
    assert_eq!(verdicts(&long_ts, &v, &DAY), want);
}

#[test]
fn grubbs_is_one_sided() {
    let (ts, up) = spiked(40.0);
    let (_, down) = spiked(-40.0);
    assert!(check(Algorithm::Grubbs, &ts, &up, &DAY));
    assert!(!check(Algorithm::Grubbs, &ts, &down, &DAY));
    assert!(check(Algorithm::StddevFromAverage, &ts, &down, &DAY));
}

#[test]
fn least_squares_rounding_rule() {
    // A clean line with a bump of 0.4 over the last three points: far beyond 3 residual
    // deviations, but Skyline's `round(t) != 0` keeps it quiet; a bump of 4 fires.
    let ts = minutes(500);
    let line = |bump: f64| -> Vec<f64> {
        (0..500)
            .map(|i| 0.5 * i as f64 + if i >= 497 { bump } else { 0.0 })
            .collect()
    };
    let w = Window {
        now: ts[499] + 30,
        full_duration: 30_000,
    };
    assert!(!check(Algorithm::LeastSquares, &ts, &line(0.4), &w));
    assert!(!check(Algorithm::LeastSquares, &ts, &line(0.0), &w));
    // The std of residuals of a line with a 4-bump is below 0.5: Skyline's
    // `round(std_dev) != 0` holds it back as well.
    assert!(!check(Algorithm::LeastSquares, &ts, &line(4.0), &w));
    assert!(check(Algorithm::LeastSquares, &ts, &line(40.0), &w));
}

#[test]
fn histogram_bins_counts_the_last_bin_closed() {
    // 1440 points over [0, 100]; the tail average sits exactly at the maximum, in the last
    // bin (Skyline's loop never found it there).
    let ts = minutes(1440);
    let mut v: Vec<f64> = (0..1440).map(|i| (i % 100) as f64 * 0.5).collect();
    v[1437..].fill(100.0);
    assert!(check(Algorithm::HistogramBins, &ts, &v, &DAY));
    // The same tail at the minimum, in the first bin.
    let mut v: Vec<f64> = (0..1440).map(|i| 50.0 + (i % 100) as f64 * 0.5).collect();
    v[1437..].fill(0.0);
    assert!(check(Algorithm::HistogramBins, &ts, &v, &DAY));
    // A crowded bin does not fire.
    let v: Vec<f64> = (0..1440).map(|i| (i % 15) as f64).collect();
    assert!(!check(Algorithm::HistogramBins, &ts, &v, &DAY));
}

#[test]
fn consensus_rule_and_early_stop() {
    let (ts, v) = spiked(40.0);
    let full = analyse(&ts, &v, &DAY, 1);
    assert_eq!(full.evaluated, AlgorithmSet::ALL);
    let k = full.fired.len();
    assert!((6..9).contains(&k), "{full:?}");
    for consensus in 1..=9 {
        let verdict = analyse(&ts, &v, &DAY, consensus);
        assert_eq!(verdict.anomalous, k >= consensus, "consensus {consensus}");
        if verdict.anomalous {
            assert_eq!(verdict.fired, full.fired);
            assert_eq!(verdict.evaluated, AlgorithmSet::ALL);
        }
    }
    // Out-of-range consensus is clamped to 1..=9.
    assert_eq!(analyse(&ts, &v, &DAY, 0), analyse(&ts, &v, &DAY, 1));
    assert_eq!(analyse(&ts, &v, &DAY, 42), analyse(&ts, &v, &DAY, 9));
    // A quiet series is given up on once 6 is out of reach: 4 quiet algorithms suffice.
    let (ts, v) = series("noise", 1440, 60, 2, &[]);
    let quiet = analyse(&ts, &v, &DAY, 6);
    assert!(!quiet.anomalous);
    assert_eq!(quiet.evaluated.len(), 4, "{quiet:?}");
    assert!(quiet.fired.is_empty());
}

#[test]
fn the_fired_set_names_algorithms() {
    let (ts, v) = spiked(40.0);
    let verdict = analyse(&ts, &v, &DAY, 6);
    let names = verdict.fired.to_string();
    assert!(
        names.starts_with("median_absolute_deviation, grubbs"),
        "{names}"
    );
    for a in Algorithm::ALL {
        assert_eq!(Algorithm::from_name(a.name()), Some(a));
    }
    assert_eq!(Algorithm::from_name("nope"), None);
    assert_eq!(AlgorithmSet::ALL.len(), 9);
    assert_eq!(AlgorithmSet::ALL.iter().collect::<Vec<_>>(), Algorithm::ALL);
}

#[test]
fn skip_rules() {
    let now = DAY.now;
    let mut a = Analyser::new();
    let (ts, v) = series("noise", 1440, 60, 2, &[]);
    assert_eq!(a.classify(&ts, &v, now, 500, 100), None);
    // Short.
    assert_eq!(a.classify(&[], &[], now, 500, 0), Some(Skip::Short));
    assert_eq!(
        a.classify(&ts[..99], &v[..99], now, 500, 100),
        Some(Skip::Short)
    );
    assert_eq!(
        a.classify(&ts[1340..], &v[1340..], now, 500, 100),
        None,
        "exactly min_points"
    );
    // Stale: the newest point more than stale_period before now.
    let last = ts[1439];
    assert_eq!(a.classify(&ts, &v, last + 500, 500, 1), None);
    assert_eq!(a.classify(&ts, &v, last + 501, 500, 1), Some(Skip::Stale));
    // Short wins over stale, stale over boring (Skyline's order).
    assert_eq!(
        a.classify(&ts[..5], &v[..5], now, 500, 10),
        Some(Skip::Short)
    );
    let flat = vec![3.0; 1440];
    assert_eq!(
        a.classify(&ts, &flat, last + 501, 500, 1),
        Some(Skip::Stale)
    );
    // Boring: the last 100 values identical.
    let mut b = v.clone();
    b[1440 - BOREDOM..].fill(7.0);
    assert_eq!(a.classify(&ts, &b, now, 500, 1), Some(Skip::Boring));
    b[1440 - BOREDOM] = 7.5;
    assert_eq!(a.classify(&ts, &b, now, 500, 1), None);
    // Fewer than 100 values, all identical: boring (as Skyline's set of the last 100).
    assert_eq!(
        a.classify(&ts[..10], &flat[..10], ts[9], 500, 1),
        Some(Skip::Boring)
    );
    // 0.0 and -0.0 are the same value.
    let signed: Vec<f64> = (0..200)
        .map(|i| if i % 2 == 0 { 0.0 } else { -0.0 })
        .collect();
    assert_eq!(
        a.classify(&ts[..200], &signed, ts[199], 500, 1),
        Some(Skip::Boring)
    );
}

#[test]
fn judge_combines_skip_and_verdict() {
    let rules = Rules {
        consensus: 6,
        stale_period: 500,
        min_points: 100,
    };
    let mut a = Analyser::new();
    let (ts, v) = spiked(40.0);
    let verdict = a.judge(&ts, &v, &DAY, &rules);
    assert_eq!(verdict, Ok(analyse(&ts, &v, &DAY, 6)));
    assert!(verdict.is_ok_and(|v| v.anomalous));
    assert_eq!(a.judge(&ts[..50], &v[..50], &DAY, &rules), Err(Skip::Short));
}

#[test]
fn first_hour_average_uses_the_windows_oldest_hour() {
    // A quiet first hour around 10, then a level of 20: the tail is 10 sigmas off the first
    // hour, but a window starting an hour later has a first hour at 20.
    let ts = minutes(1440);
    let v: Vec<f64> = (0..1440)
        .map(|i| if i < 60 { 10.0 } else { 20.0 } + (i % 5) as f64 * 0.1)
        .collect();
    assert!(check(Algorithm::FirstHourAverage, &ts, &v, &DAY));
    let shorter = Window {
        full_duration: 86_400 - 3600,
        ..DAY
    };
    assert!(!check(Algorithm::FirstHourAverage, &ts, &v, &shorter));
}

#[test]
fn shards_split_every_name_exactly_once() {
    // Known FNV-1a 64 values.
    assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    let names: Vec<String> = (0..10_000).map(|i| format!("system.host{i}.cpu")).collect();
    for shards in [0, 1, 2, 4, 7] {
        let mut counts = vec![0usize; shards.max(1) as usize];
        for n in &names {
            let s = shard_of(n, shards);
            assert!(s < shards.max(1));
            assert_eq!(s, shard_of(n, shards), "stable");
            counts[s as usize] += 1;
        }
        assert_eq!(counts.iter().sum::<usize>(), names.len());
        let even = names.len() / counts.len();
        assert!(
            counts.iter().all(|&c| c.abs_diff(even) < even / 10 + 10),
            "{shards}: {counts:?}"
        );
    }
}

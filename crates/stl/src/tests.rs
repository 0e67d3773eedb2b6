//! Unit tests of the public behaviour; R agreement: `tests/r_grid.rs`, `tests/r_fixtures.rs`.

use super::*;
use std::f64::consts::TAU;

fn sine_plus_line(n: usize, period: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let season: Vec<f64> = (0..n)
        .map(|i| 4.0 * (TAU * (i % period) as f64 / period as f64).sin())
        .collect();
    let line: Vec<f64> = (0..n).map(|i| 50.0 + 0.1 * i as f64).collect();
    let series = season.iter().zip(&line).map(|(s, l)| s + l).collect();
    (series, season, line)
}

#[test]
fn too_short_series_is_refused_with_the_message() {
    let err = decompose(&[1.0; 24], &StlParams::periodic(12, false)).unwrap_err();
    assert_eq!(
        err,
        StlError::TooShort {
            len: 24,
            period: 12
        }
    );
    assert_eq!(
        err.to_string(),
        "STL needs more than two full periods: got 24 points for period 12"
    );
    assert!(decompose(&[1.0; 25], &StlParams::periodic(12, false)).is_ok());
}

#[test]
fn bad_period_values_and_degrees_are_refused() {
    assert_eq!(
        decompose(&[1.0; 10], &StlParams::periodic(1, false)),
        Err(StlError::PeriodTooSmall { period: 1 })
    );
    let mut series = vec![1.0; 30];
    series[7] = f64::NAN;
    assert!(matches!(
        decompose(&series, &StlParams::periodic(4, false)),
        Err(StlError::NonFinite { index: 7, .. })
    ));
    assert!(matches!(
        decompose(&[1.0; 30], &StlParams::periodic(4, false).with_t_degree(2)),
        Err(StlError::InvalidDegree {
            which: "t_degree",
            degree: 2
        })
    ));
}

/// Max |a − b| over two series.
fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

#[test]
fn sine_plus_line_decomposes_into_them() {
    let (series, season, line) = sine_plus_line(240, 24);
    for robust in [false, true] {
        // A plain fit stops after R's two inner passes, before the backfitting has converged:
        // within 4% of the amplitude (4), worst at the ends. The robust fit's 16 passes converge.
        let fit = decompose(&series, &StlParams::periodic(24, robust)).unwrap();
        assert!(max_diff(&fit.seasonal, &season) < 0.15, "robust {robust}");
        assert!(max_diff(&fit.trend, &line) < 0.15, "robust {robust}");
        for (i, y) in series.iter().enumerate() {
            let rebuilt = fit.seasonal[i] + fit.trend[i] + fit.remainder[i];
            assert!((rebuilt - y).abs() < 1e-9);
        }
        // Iterated to convergence, STL recovers both components exactly.
        let fit = decompose(&series, &StlParams::periodic(24, robust).with_inner(20)).unwrap();
        assert!(max_diff(&fit.seasonal, &season) < 1e-9, "robust {robust}");
        assert!(max_diff(&fit.trend, &line) < 1e-9, "robust {robust}");
        assert!(
            fit.remainder.iter().all(|r| r.abs() < 1e-9),
            "robust {robust}"
        );
    }
}

#[test]
fn robust_fit_sends_an_outlier_to_the_remainder() {
    let (mut series, season, line) = sine_plus_line(240, 24);
    // A little noise so the median remainder is not zero.
    for (i, v) in series.iter_mut().enumerate() {
        *v += 0.05 * ((i * 7919 % 13) as f64 - 6.0) / 6.0;
    }
    series[100] += 1000.0;
    let fit = decompose(&series, &StlParams::periodic(24, true)).unwrap();
    assert!(
        fit.weights[100] < 1e-6,
        "outlier weight {}",
        fit.weights[100]
    );
    assert!(
        (fit.remainder[100] - 1000.0).abs() < 2.0,
        "{}",
        fit.remainder[100]
    );
    assert!((fit.trend[100] - line[100]).abs() < 0.5);
    assert!((fit.seasonal[100] - season[100]).abs() < 0.5);
    let typical = fit.weights.iter().filter(|w| **w > 0.5).count();
    assert!(typical > 230, "{typical} points with weight > 0.5");

    // Without robustness the outlier drags the trend and the season.
    let plain = decompose(&series, &StlParams::periodic(24, false)).unwrap();
    assert!(plain.weights.iter().all(|w| *w == 1.0));
    assert!((plain.trend[100] - line[100]).abs() > 5.0);
}

#[test]
fn non_periodic_window_is_supported() {
    let (series, season, line) = sine_plus_line(240, 24);
    let params = StlParams::periodic(24, false).with_s_window(7);
    assert!(!params.is_periodic());
    let fit = decompose(&series, &params.with_inner(20)).unwrap();
    assert!(max_diff(&fit.seasonal, &season) < 1e-6);
    assert!(max_diff(&fit.trend, &line) < 1e-6);
}

#[test]
fn defaults_follow_r() {
    let plan = StlParams::periodic(144, true).plan(1440).unwrap();
    assert_eq!(plan.seasonal.window, 14401);
    assert_eq!(plan.seasonal.jump, 1441);
    assert!(!plan.seasonal.linear);
    // ceil(216 / (1 - 1.5/14401)) = 217.
    assert_eq!(plan.trend.window, 217);
    assert_eq!(plan.trend.jump, 22);
    assert_eq!(plan.lowpass.window, 145);
    assert_eq!(plan.lowpass.jump, 15);
    assert_eq!((plan.inner, plan.outer), (1, 15));
    let plain = StlParams::periodic(12, false).plan(48).unwrap();
    assert_eq!(plain.lowpass.window, 13);
    assert_eq!((plain.inner, plain.outer), (2, 0));
}

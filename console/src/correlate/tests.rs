#![allow(clippy::unwrap_used)]

use super::*;

/// A deterministic pseudo-random sequence (xorshift), so the tests need no generator crate.
fn noise(seed: u64, n: usize) -> Vec<f64> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        })
        .collect()
}

/// A bump at `t0` over a noisy base, sampled every `step` seconds over `[from, until]`.
fn bumpy(from: i64, until: i64, step: i64, t0: i64, seed: u64, scale: f64) -> Vec<Point> {
    let n = ((until - from) / step + 1) as usize;
    let e = noise(seed, n);
    (0..n)
        .map(|i| {
            let ts = from + i as i64 * step;
            let d = (ts - t0) as f64 / 120.0;
            let bump = if ts >= t0 { 10.0 * (-d).exp() } else { 0.0 };
            Point {
                ts,
                value: scale * (50.0 + bump + e[i]),
            }
        })
        .collect()
}

const NOW: i64 = 1_700_010_000;

#[test]
fn a_lagged_copy_is_found_with_its_lag() {
    let at = NOW - 3000;
    let plan = Plan::new(at, 3600, 900, 10, NOW);
    assert_eq!(plan.step, 15);
    assert_eq!(plan.n, 240);
    assert_eq!((plan.lead, plan.trail), (60, 60));
    let (wf, wu) = plan.window();
    let reference = Reference::new(plan, &bumpy(wf, wu, 10, at, 1, 1.0)).unwrap();
    let (rf, ru) = plan.read_range();
    let mut scorer = Scorer::new(&reference);
    // The same shape three minutes later, a thousand times larger.
    let (r, lag) = scorer
        .score(&bumpy(rf, ru, 10, at + 180, 2, 1000.0))
        .unwrap();
    assert!(r > 0.9, "{r}");
    assert_eq!(lag, 180);
    // Two minutes earlier, upside down.
    let flipped: Vec<Point> = bumpy(rf, ru, 10, at - 120, 3, 1.0)
        .into_iter()
        .map(|p| Point {
            ts: p.ts,
            value: -p.value,
        })
        .collect();
    let (r, lag) = scorer.score(&flipped).unwrap();
    assert!(r < -0.9, "{r}");
    assert_eq!(lag, -120);
    // Noise scores low.
    let e = noise(9, 1000);
    let random: Vec<Point> = (0..((ru - rf) / 10) as usize)
        .map(|i| Point {
            ts: rf + i as i64 * 10,
            value: e[i],
        })
        .collect();
    let (r, _) = scorer.score(&random).unwrap();
    assert!(r.abs() < 0.5, "{r}");
}

#[test]
fn sparse_or_flat_metrics_are_left_out() {
    let at = NOW - 2400;
    let plan = Plan::new(at, 3600, 900, 60, NOW);
    let (wf, wu) = plan.window();
    let reference = Reference::new(plan, &bumpy(wf, wu, 60, at, 1, 1.0)).unwrap();
    let (rf, ru) = plan.read_range();
    let mut scorer = Scorer::new(&reference);
    let flat: Vec<Point> = (rf..ru)
        .step_by(60)
        .map(|ts| Point { ts, value: 3.0 })
        .collect();
    assert_eq!(scorer.score(&flat), None);
    let sparse: Vec<Point> = (rf..ru)
        .step_by(600)
        .map(|ts| Point {
            ts,
            value: ts as f64,
        })
        .collect();
    assert_eq!(scorer.score(&sparse), None);
    assert_eq!(scorer.score(&[]), None);
    assert!(matches!(
        Reference::new(plan, &flat[..3]),
        Err(ReferenceError::TooFewPoints(_))
    ));
    let constant: Vec<Point> = (wf..wu)
        .step_by(60)
        .map(|ts| Point { ts, value: 1.0 })
        .collect();
    assert_eq!(
        Reference::new(plan, &constant).unwrap_err(),
        ReferenceError::Constant
    );
}

#[test]
fn a_window_reaching_now_moves_back_and_trails_less() {
    let plan = Plan::new(NOW - 60, 3600, 900, 60, NOW);
    assert!(plan.window().1 < NOW);
    assert_eq!(plan.trail, 0);
    assert_eq!(plan.lead, 15);
    let plan = Plan::new(NOW - 1800 - 300, 3600, 900, 60, NOW);
    assert_eq!(plan.trail, 5);
    assert!(plan.read_range().1 < NOW);
}

#[test]
fn dot_matches_the_plain_sum() {
    let a: Vec<f32> = (0..37).map(|i| i as f32 * 0.5).collect();
    let b: Vec<f32> = (0..37).map(|i| 3.0 - i as f32).collect();
    let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
    assert!((dot(&a, &b) - plain).abs() < 1e-3);
}

#[test]
fn top_k_keeps_the_best_in_order() {
    let mut top = TopK::new(3);
    for (i, k) in [0.1f32, 0.9, 0.5, 0.9, 0.2, 0.7, f32::NAN]
        .iter()
        .enumerate()
    {
        top.push(*k, i, ());
    }
    let got: Vec<usize> = top.into_sorted().into_iter().map(|(_, i, _)| i).collect();
    assert_eq!(got, vec![1, 3, 5]);
}

#[test]
fn a_young_metric_narrows_the_window_and_the_lags() {
    // Seventeen minutes of data, the anomaly two minutes ago.
    let first = NOW - 17 * 60;
    let plan = Plan::new(NOW - 120, 3600, 900, 10, NOW).clipped(first);
    assert!(plan.start >= first && plan.start - first < plan.step);
    assert_eq!(plan.n, 68);
    assert_eq!((plan.lead, plan.trail), (34, 0));
    let points = bumpy(first, NOW - 1, 10, NOW - 400, 4, 1.0);
    let reference = Reference::new(plan, &points).unwrap();
    let mut scorer = Scorer::new(&reference);
    let (rf, ru) = plan.read_range();
    // A metric with the same seventeen minutes, the bump a minute earlier.
    let other = bumpy(first, ru, 10, NOW - 460, 5, 3.0);
    assert!(rf < first);
    let (r, lag) = scorer.score(&other).unwrap();
    assert!(r > 0.9, "{r}");
    assert_eq!(lag, -60);
    // Data only outside the window does not count.
    let outside = bumpy(rf, first - 60, 10, NOW, 6, 1.0);
    assert_eq!(scorer.score(&outside), None);
}

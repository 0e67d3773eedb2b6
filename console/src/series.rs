//! Series on a regular grid: what correlation and shape search compare, and what plots draw.
//!
//! Stored series have their own timestamps (carbon's interval, gaps, late points); comparing
//! two needs both on the same grid. A bucket holds the mean of the points in it; empty
//! buckets are filled by linear interpolation (the nearest value at the ends), so a short gap
//! neither breaks a comparison nor counts as a move.

use am_store::Point;

/// The typical spacing of a series' points (the median difference of consecutive
/// timestamps), or `None` with fewer than two points.
pub fn native_step(points: &[Point]) -> Option<i64> {
    let mut diffs: Vec<i64> = points
        .windows(2)
        .filter_map(|w| match w {
            [a, b] if b.ts > a.ts => Some(b.ts - a.ts),
            _ => None,
        })
        .collect();
    if diffs.is_empty() {
        return None;
    }
    let mid = diffs.len() / 2;
    let (_, m, _) = diffs.select_nth_unstable(mid);
    Some(*m)
}

/// Puts `points` (oldest first) into `out.len()` buckets of `step` seconds from `start`: the
/// mean of each bucket's points, NaN where a bucket has none. Returns how many buckets have
/// points.
pub fn bucket(points: &[Point], start: i64, step: i64, out: &mut [f32]) -> usize {
    let n = out.len();
    let step = step.max(1);
    out.fill(f32::NAN);
    let lo = points.partition_point(|p| p.ts < start);
    let mut filled = 0;
    let mut cur: Option<usize> = None;
    let (mut sum, mut count) = (0f64, 0u32);
    for p in points.get(lo..).unwrap_or_default() {
        let Ok(i) = usize::try_from((p.ts - start) / step) else {
            continue;
        };
        if i >= n {
            break;
        }
        if !p.value.is_finite() {
            continue;
        }
        if cur != Some(i) {
            if let Some(c) = cur
                && let Some(slot) = out.get_mut(c)
            {
                *slot = (sum / f64::from(count)) as f32;
                filled += 1;
            }
            cur = Some(i);
            sum = 0.0;
            count = 0;
        }
        sum += p.value;
        count += 1;
    }
    if let Some(c) = cur
        && count > 0
        && let Some(slot) = out.get_mut(c)
    {
        *slot = (sum / f64::from(count)) as f32;
        filled += 1;
    }
    filled
}

/// Fills the NaN buckets: linearly between known neighbours, with the nearest known value at
/// the ends. Leaves an all-NaN slice as it is.
pub fn fill_gaps(values: &mut [f32]) {
    let mut last: Option<(usize, f32)> = None;
    let mut i = 0;
    while i < values.len() {
        let v = values[i];
        if v.is_nan() {
            i += 1;
            continue;
        }
        match last {
            None => values[..i].fill(v),
            Some((j, w)) if i > j + 1 => {
                let span = (i - j) as f32;
                for (k, slot) in values[j + 1..i].iter_mut().enumerate() {
                    let f = (k + 1) as f32 / span;
                    *slot = w + (v - w) * f;
                }
            }
            Some(_) => {}
        }
        last = Some((i, v));
        i += 1;
    }
    if let Some((j, w)) = last {
        values[j + 1..].fill(w);
    }
}

/// Subtracts the mean and divides by the standard deviation, in place. Returns `false` (and
/// leaves the values centred) for a constant series, which has no shape to compare.
pub fn znormalize(values: &mut [f32]) -> bool {
    let n = values.len();
    if n < 2 {
        return false;
    }
    let mean = values.iter().map(|&v| f64::from(v)).sum::<f64>() / n as f64;
    let var = values
        .iter()
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>()
        / n as f64;
    let sd = var.sqrt();
    let flat = sd.is_nan() || sd <= 1e-9 * mean.abs().max(1e-12);
    let scale = if flat { 0.0 } else { 1.0 / sd };
    for v in values.iter_mut() {
        *v = ((f64::from(*v) - mean) * scale) as f32;
    }
    !flat
}

/// At most about `width` points to draw a series with: where there are more, each pixel
/// column keeps its first, lowest, highest and last point (in time order), so spikes survive
/// the thinning and lines look as they would with every point.
pub fn thin(points: &[Point], from: i64, until: i64, width: usize) -> Vec<Point> {
    if points.len() <= width.saturating_mul(4) || until <= from || width == 0 {
        return points.to_vec();
    }
    let span = (until - from) as f64;
    let col = |ts: i64| (((ts - from) as f64 / span) * width as f64).floor() as i64;
    let mut out = Vec::with_capacity(width * 4);
    let mut i = 0;
    while i < points.len() {
        let c = col(points[i].ts);
        let mut j = i;
        while j < points.len() && col(points[j].ts) == c {
            j += 1;
        }
        let group = &points[i..j];
        let (mut lo, mut hi) = (0, 0);
        for (k, p) in group.iter().enumerate() {
            if p.value < group[lo].value {
                lo = k;
            }
            if p.value > group[hi].value {
                hi = k;
            }
        }
        let mut keep = [0, lo, hi, group.len() - 1];
        keep.sort_unstable();
        let mut prev = usize::MAX;
        for k in keep {
            if k != prev {
                out.push(group[k]);
                prev = k;
            }
        }
        i = j;
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn pts(v: &[(i64, f64)]) -> Vec<Point> {
        v.iter().map(|&(ts, value)| Point { ts, value }).collect()
    }

    #[test]
    fn buckets_average_and_mark_empty() {
        let p = pts(&[(100, 1.0), (105, 3.0), (120, 5.0), (200, 9.0)]);
        let mut out = [0f32; 4];
        let filled = bucket(&p, 100, 10, &mut out);
        assert_eq!(filled, 2);
        assert_eq!(out[0], 2.0);
        assert!(out[1].is_nan());
        assert_eq!(out[2], 5.0);
        assert!(out[3].is_nan());
        fill_gaps(&mut out);
        assert_eq!(out, [2.0, 3.5, 5.0, 5.0]);
    }

    #[test]
    fn gaps_at_the_start_take_the_first_value() {
        let mut v = [f32::NAN, f32::NAN, 4.0, f32::NAN, 8.0];
        fill_gaps(&mut v);
        assert_eq!(v, [4.0, 4.0, 4.0, 6.0, 8.0]);
        let mut all = [f32::NAN; 3];
        fill_gaps(&mut all);
        assert!(all.iter().all(|v| v.is_nan()));
    }

    #[test]
    fn normalizing_is_scale_free_and_refuses_constants() {
        let mut a = [1.0, 2.0, 3.0, 4.0];
        let mut b = [100.0, 200.0, 300.0, 400.0];
        assert!(znormalize(&mut a) && znormalize(&mut b));
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-5);
        }
        let mut c = [7.0f32; 5];
        assert!(!znormalize(&mut c));
        let mut d = [1e9f32, 1e9, 1e9];
        assert!(!znormalize(&mut d));
    }

    #[test]
    fn native_step_is_the_median_spacing() {
        let p = pts(&[(0, 0.0), (10, 0.0), (20, 0.0), (60, 0.0), (70, 0.0)]);
        assert_eq!(native_step(&p), Some(10));
        assert_eq!(native_step(&p[..1]), None);
    }

    #[test]
    fn thinning_keeps_spikes() {
        let mut p: Vec<Point> = (0..10_000).map(|i| Point { ts: i, value: 0.0 }).collect();
        p[5_001].value = 100.0;
        let t = thin(&p, 0, 10_000, 100);
        assert!(t.len() <= 400, "{}", t.len());
        assert!(t.iter().any(|p| p.value == 100.0));
        assert_eq!(t.first().unwrap().ts, 0);
        assert_eq!(t.last().unwrap().ts, 9_999);
    }
}

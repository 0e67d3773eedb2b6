//! The nine algorithms, each on a [prepared](crate::prepare) series with its shared
//! statistics. Every one is `false` when its statistic is undefined (too few points, a spread
//! of 0, NaN), never by accident `true`.

use std::collections::HashMap;

use crate::adf::adfuller;
use crate::ks::{ks_p_asymptotic, ks_statistic};
use crate::prepare::Prepared;
use crate::special::t_isf;
use crate::stats::{Moments, ewm_last, median_and_mad};
use crate::{Algorithm, Window};

/// The multiple of the spread beyond which the spread-based algorithms fire.
const SIGMAS: f64 = 3.0;

/// A prepared series and the statistics most algorithms share.
pub(crate) struct Series<'a> {
    pub p: Prepared<'a>,
    pub window: Window,
    /// Moments of all values.
    pub all: Moments,
    /// Moments of all values but the last.
    pub head: Moments,
    /// Skyline's `tail_avg`.
    pub tail: f64,
}

impl<'a> Series<'a> {
    pub(crate) fn new(p: Prepared<'a>, window: Window) -> Self {
        let (head, all) = match p.v.split_last() {
            Some((&last, head)) => {
                let head = Moments::of(head);
                (head, head.push(last))
            }
            None => (Moments::of(&[]), Moments::of(&[])),
        };
        Self {
            all,
            head,
            tail: crate::stats::tail_avg(p.v),
            p,
            window,
        }
    }

    fn last(&self) -> f64 {
        self.p.v.last().copied().unwrap_or(f64::NAN)
    }

    /// The index range of ks_test's reference (`now − 3600 ≤ ts < now − 600`) and probe
    /// (`ts ≥ now − 600`) windows.
    pub(crate) fn ks_split(&self) -> (usize, usize) {
        let now = self.window.now;
        let ts = self.p.ts;
        (
            ts.partition_point(|&t| t < now.saturating_sub(3600)),
            ts.partition_point(|&t| t < now.saturating_sub(600)),
        )
    }

    /// Whether ks_test has enough points (20 in each window) to run at all.
    pub(crate) fn ks_possible(&self) -> bool {
        let (lo, mid) = self.ks_split();
        mid - lo >= 20 && self.p.v.len() - mid >= 20
    }
}

/// Reusable buffers and the per-`n` cache of Grubbs' critical values.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    a: Vec<f64>,
    b: Vec<f64>,
    keys: Vec<u64>,
    grubbs: HashMap<usize, f64>,
}

impl Scratch {
    /// Grubbs' critical value for `n` points, computed once per `n`.
    pub(crate) fn grubbs_critical(&mut self, n: usize) -> f64 {
        *self.grubbs.entry(n).or_insert_with(|| grubbs_critical(n))
    }
}

/// Runs one algorithm.
pub(crate) fn run(alg: Algorithm, s: &Series<'_>, scratch: &mut Scratch) -> bool {
    match alg {
        Algorithm::MedianAbsoluteDeviation => median_absolute_deviation(s, scratch),
        Algorithm::Grubbs => grubbs(s, scratch),
        Algorithm::FirstHourAverage => first_hour_average(s),
        Algorithm::StddevFromAverage => stddev_from_average(s),
        Algorithm::StddevFromMovingAverage => stddev_from_moving_average(s),
        Algorithm::MeanSubtractionCumulation => mean_subtraction_cumulation(s),
        Algorithm::LeastSquares => least_squares(s),
        Algorithm::HistogramBins => histogram_bins(s),
        Algorithm::KsTest => ks_test(s, scratch),
    }
}

/// `|v − reference| > 3 · spread` with an undefined or zero spread never firing.
fn beyond(deviation: f64, spread: f64) -> bool {
    spread > 0.0 && deviation.abs() > SIGMAS * spread
}

/// The last value's distance from the median, in median absolute deviations, above 6.
fn median_absolute_deviation(s: &Series<'_>, scratch: &mut Scratch) -> bool {
    if s.p.v.is_empty() {
        return false;
    }
    let (median, mad) = median_and_mad(s.p.v, &mut scratch.keys);
    mad > 0.0 && (s.last() - median).abs() / mad > 6.0
}

/// `(n − 1)/√n · √(t²/(n − 2 + t²))` with `t` Student's t inverse survival function at
/// `0.05/(2n)` with `n − 2` degrees of freedom; NaN below 3 points.
pub(crate) fn grubbs_critical(n: usize) -> f64 {
    if n < 3 {
        return f64::NAN;
    }
    let nf = n as f64;
    let t = t_isf(0.05 / (2.0 * nf), nf - 2.0);
    let t2 = t * t;
    (nf - 1.0) / nf.sqrt() * (t2 / (nf - 2.0 + t2)).sqrt()
}

/// One-sided Grubbs: the tail average's z-score (population spread) above the critical value.
fn grubbs(s: &Series<'_>, scratch: &mut Scratch) -> bool {
    let n = s.all.n;
    if n < 3 || s.all.is_flat() {
        return false;
    }
    let z = (s.tail - s.all.mean) / s.all.std_pop();
    z > scratch.grubbs_critical(n)
}

/// The moments of the window's oldest hour (`ts < now − full_duration + 3600`).
pub(crate) fn first_hour(s: &Series<'_>) -> Moments {
    let start = s.window.now.saturating_sub(s.window.full_duration);
    let cutoff = start.saturating_add(3600);
    Moments::of(&s.p.v[..s.p.ts.partition_point(|&t| t < cutoff)])
}

/// The tail average more than 3 standard deviations from the mean of the window's oldest hour.
fn first_hour_average(s: &Series<'_>) -> bool {
    let hour = first_hour(s);
    if hour.n < 2 || hour.is_flat() {
        return false;
    }
    beyond(s.tail - hour.mean, hour.std())
}

/// The tail average more than 3 standard deviations from the mean.
fn stddev_from_average(s: &Series<'_>) -> bool {
    if s.all.n < 2 || s.all.is_flat() {
        return false;
    }
    beyond(s.tail - s.all.mean, s.all.std())
}

/// The last value more than 3 exponentially weighted standard deviations (com 50) from the
/// exponentially weighted mean.
fn stddev_from_moving_average(s: &Series<'_>) -> bool {
    if s.all.is_flat() {
        return false;
    }
    let (mean, std) = ewm_last(s.p.v, 50.0);
    beyond(s.last() - mean, std)
}

/// The last value more than 3 standard deviations of the others from their mean.
fn mean_subtraction_cumulation(s: &Series<'_>) -> bool {
    if s.head.n < 2 || s.head.is_flat() {
        return false;
    }
    beyond(s.last() - s.head.mean, s.head.std())
}

/// Accumulates `g(t, y, acc)` over the points in four interleaved lanes (independent
/// dependency chains).
#[inline]
fn pair_sums<const K: usize>(
    ts: &[i64],
    v: &[f64],
    g: impl Fn(i64, f64, &mut [f64; K]),
) -> [f64; K] {
    let mut lanes = [[0.0; K]; 4];
    let (tc, vc) = (ts.chunks_exact(4), v.chunks_exact(4));
    let (t_rest, v_rest) = (tc.remainder(), vc.remainder());
    for (t, y) in tc.zip(vc) {
        for k in 0..4 {
            g(t[k], y[k], &mut lanes[k]);
        }
    }
    let mut total = [0.0; K];
    for (i, t) in total.iter_mut().enumerate() {
        *t = (lanes[0][i] + lanes[1][i]) + (lanes[2][i] + lanes[3][i]);
    }
    for (&t, &y) in t_rest.iter().zip(v_rest) {
        g(t, y, &mut total);
    }
    total
}

/// The population standard deviation of the residuals of a linear fit of value on
/// timestamps centred on their mean, and the mean of the last three residuals; `None` below 3
/// points.
pub(crate) fn least_squares_residuals(s: &Series<'_>) -> Option<(f64, f64)> {
    let (ts, v) = (s.p.ts, s.p.v);
    let n = v.len();
    if n < 3 {
        return None;
    }
    // Offsets from the first timestamp (integers, exact) and values centred on their mean.
    let (t0, y_mean) = (ts[0], s.all.mean);
    let [sd, sd2, sdy, sy] = pair_sums(ts, v, |t, y, acc: &mut [f64; 4]| {
        let (d, yc) = ((t - t0) as f64, y - y_mean);
        acc[0] += d;
        acc[1] += d * d;
        acc[2] += d * yc;
        acc[3] += yc;
    });
    let nf = n as f64;
    let (d_mean, yc_mean) = (sd / nf, sy / nf);
    let sxx = sd2 - sd * d_mean;
    if sxx.is_nan() || sxx <= 0.0 {
        return None;
    }
    let slope = (sdy - d_mean * sy) / sxx;
    let residual = |t: i64, y: f64| ((y - y_mean) - yc_mean) - slope * ((t - t0) as f64 - d_mean);
    let [sum, sum2] = pair_sums(ts, v, |t, y, acc: &mut [f64; 2]| {
        let e = residual(t, y);
        acc[0] += e;
        acc[1] += e * e;
    });
    let mean = sum / n as f64;
    let std = (sum2 / n as f64 - mean * mean).max(0.0).sqrt();
    let tail = (residual(ts[n - 1], v[n - 1])
        + residual(ts[n - 2], v[n - 2])
        + residual(ts[n - 3], v[n - 3]))
        / 3.0;
    Some((std, tail))
}

/// Least squares: the mean of the last three residuals more than 3 population standard
/// deviations of the residuals, and neither rounding to 0 (`|x| ≤ 0.5` in the original units,
/// as Python's `round`).
fn least_squares(s: &Series<'_>) -> bool {
    if s.all.is_flat() {
        return false;
    }
    let Some((std, tail)) = least_squares_residuals(s) else {
        return false;
    };
    let half = 0.5 * s.p.inverse_scale();
    beyond(tail, std) && std > half && tail.abs() > half
}

/// The number of histogram bins.
const BINS: usize = 15;

/// The bin (of 15 equal-width bins over `[min, max]`, numpy's edges and membership, the last
/// bin closed) holding the tail average, and how many values it holds; `None` when all values
/// are equal.
pub(crate) fn tail_bin(s: &Series<'_>) -> Option<(usize, usize)> {
    let (min, max) = (s.all.min, s.all.max);
    if s.all.n == 0 || s.all.is_flat() {
        return None;
    }
    let step = (max - min) / BINS as f64;
    let edge = |i: usize| {
        if i == BINS {
            max
        } else {
            i as f64 * step + min
        }
    };
    // The tail average lies in [min, max] but for rounding.
    let t = s.tail.clamp(min, max);
    let mut bin = (((t - min) / step) as usize).min(BINS - 1);
    while bin > 0 && t < edge(bin) {
        bin -= 1;
    }
    while bin < BINS - 1 && t >= edge(bin + 1) {
        bin += 1;
    }
    let (lo, hi) = (edge(bin), edge(bin + 1));
    // Branch-free counts (they vectorise); the last bin is closed.
    let count = if bin == BINS - 1 {
        s.p.v
            .iter()
            .map(|&x| usize::from((x >= lo) & (x <= hi)))
            .sum()
    } else {
        s.p.v
            .iter()
            .map(|&x| usize::from((x >= lo) & (x < hi)))
            .sum()
    };
    Some((bin, count))
}

/// The tail average falls in a bin holding at most 20 values.
fn histogram_bins(s: &Series<'_>) -> bool {
    tail_bin(s).is_some_and(|(_, count)| count <= 20)
}

/// The largest `maxlag` statsmodels accepts for `n` points (with a constant), capped at 10.
pub(crate) fn adf_maxlag(n: usize) -> Option<usize> {
    (n / 2).checked_sub(2).map(|m| m.min(10))
}

/// The last ten minutes against the fifty before: KS p < 0.05 and D > 0.5, and the reference
/// stationary (ADF p < 0.05).
fn ks_test(s: &Series<'_>, scratch: &mut Scratch) -> bool {
    if !s.ks_possible() {
        return false;
    }
    let (lo, mid) = s.ks_split();
    let (reference, probe) = (&s.p.v[lo..mid], &s.p.v[mid..]);
    scratch.a.clear();
    scratch.a.extend_from_slice(reference);
    scratch.b.clear();
    scratch.b.extend_from_slice(probe);
    let d = ks_statistic(&mut scratch.a, &mut scratch.b);
    if d <= 0.5 || ks_p_asymptotic(d, reference.len(), probe.len()) >= 0.05 {
        return false;
    }
    adf_maxlag(reference.len())
        .and_then(|maxlag| adfuller(reference, maxlag))
        .is_some_and(|adf| adf.p < 0.05)
}

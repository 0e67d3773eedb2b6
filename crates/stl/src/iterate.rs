//! The STL iteration itself: the inner loop (seasonal and trend smoothing) nested in the outer
//! loop (robustness weights), following Cleveland et al. (1990), section 2.

use crate::loess::{Loess, LoessScratch, Schedule};
use crate::median::six_medians;

/// Fully resolved settings: windows odd and at least 3, jumps at least 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Plan {
    pub period: usize,
    pub seasonal: Loess,
    pub trend: Loess,
    pub lowpass: Loess,
    pub inner: usize,
    pub outer: usize,
}

/// Raw STL output, before R's periodic post-processing.
pub(crate) struct Raw {
    pub seasonal: Vec<f64>,
    pub trend: Vec<f64>,
    pub weights: Vec<f64>,
}

/// Buffers reused across passes so the iteration allocates once per decomposition.
struct Scratch {
    /// Detrended series, later the deseasonalised one.
    work: Vec<f64>,
    /// Smoothed cycle-subseries, extended by one period at each end (length n + 2·period).
    cycle: Vec<f64>,
    /// Moving-average stages of the low-pass filter.
    ma1: Vec<f64>,
    ma2: Vec<f64>,
    ma3: Vec<f64>,
    /// Low-pass output.
    low: Vec<f64>,
    /// One subseries, its robustness weights and its smoothed values.
    sub: Vec<f64>,
    sub_rw: Vec<f64>,
    sub_out: Vec<f64>,
    /// The smoothers' scratch space.
    loess: LoessScratch,
}

/// The smoothers' fits on this series (see [`Schedule`]): the seasonal smoother's on the
/// cycle-subseries (of `n / period` points, and of one more when the period does not divide
/// `n`), the low-pass and the trend smoothers' on the whole series.
struct Schedules {
    seasonal: Schedule,
    seasonal_longer: Option<Schedule>,
    lowpass: Schedule,
    trend: Schedule,
}

impl Schedules {
    fn new(n: usize, plan: &Plan, s: &mut LoessScratch) -> Self {
        let p = plan.period;
        let k = n / p;
        Self {
            seasonal: Schedule::new(&plan.seasonal, k, true, s),
            seasonal_longer: (!n.is_multiple_of(p))
                .then(|| Schedule::new(&plan.seasonal, k + 1, true, s)),
            lowpass: Schedule::new(&plan.lowpass, n, false, s),
            trend: Schedule::new(&plan.trend, n, false, s),
        }
    }
}

/// Runs `outer + 1` passes of the inner loop; robustness weights computed from each pass's
/// remainders weight the next pass. The returned weights are the ones the last pass used
/// (R reports those, not weights recomputed from the final remainders); all 1 if `outer == 0`.
pub(crate) fn run(y: &[f64], plan: &Plan) -> Raw {
    let n = y.len();
    let p = plan.period;
    let mut s = Scratch {
        work: vec![0.0; n],
        cycle: vec![0.0; n + 2 * p],
        ma1: vec![0.0; n + p + 1],
        ma2: vec![0.0; n + 2],
        ma3: vec![0.0; n],
        low: vec![0.0; n],
        sub: Vec::with_capacity(n / p + 1),
        sub_rw: Vec::with_capacity(n / p + 1),
        sub_out: Vec::with_capacity(n / p + 3),
        loess: LoessScratch::default(),
    };
    let schedules = Schedules::new(n, plan, &mut s.loess);
    let mut seasonal = vec![0.0; n];
    let mut trend = vec![0.0; n];
    let mut weights = vec![1.0; n];
    let mut robust = false;
    for pass in 0..=plan.outer {
        for _ in 0..plan.inner {
            let rw = robust.then_some(weights.as_slice());
            inner_step(y, rw, p, &schedules, &mut s, &mut seasonal, &mut trend);
        }
        if pass == plan.outer {
            break;
        }
        robustness_weights(y, &seasonal, &trend, &mut weights, &mut s.work);
        robust = true;
    }
    Raw {
        seasonal,
        trend,
        weights,
    }
}

/// One pass of the inner loop (steps 1–6 of the paper), updating `seasonal` and `trend`.
fn inner_step(
    y: &[f64],
    rw: Option<&[f64]>,
    p: usize,
    schedules: &Schedules,
    s: &mut Scratch,
    seasonal: &mut [f64],
    trend: &mut [f64],
) {
    let n = y.len();
    // Step 1: detrend.
    for ((d, yi), ti) in s.work.iter_mut().zip(y).zip(trend.iter()) {
        *d = yi - ti;
    }
    // Step 2: smooth each cycle-subseries, extended by one point at each end.
    for j in 0..p.min(n) {
        smooth_subseries(j, p, rw, schedules, s);
    }
    // Step 3: low-pass filter of the smoothed cycle-subseries.
    moving_average(&s.cycle, p, &mut s.ma1);
    moving_average(&s.ma1, p, &mut s.ma2);
    moving_average(&s.ma2, 3, &mut s.ma3);
    schedules
        .lowpass
        .smooth(&s.ma3, None, &mut s.low, &mut s.loess);
    // Step 4: detrend the smoothed cycle-subseries; the result is the seasonal component.
    for (i, si) in seasonal.iter_mut().enumerate() {
        *si = s.cycle[p + i] - s.low[i];
    }
    // Steps 5 and 6: deseasonalise and smooth into the trend.
    for ((d, yi), si) in s.work.iter_mut().zip(y).zip(seasonal.iter()) {
        *d = yi - si;
    }
    schedules.trend.smooth(&s.work, rw, trend, &mut s.loess);
}

/// Smooths the subseries of cycle position `j` of the detrended series in `s.work` and writes
/// it, extended by a fit one period before its first and one after its last point, into
/// `s.cycle` at positions `j, j + p, …` (offset by one period).
fn smooth_subseries(
    j: usize,
    p: usize,
    rw: Option<&[f64]>,
    schedules: &Schedules,
    s: &mut Scratch,
) {
    s.sub.clear();
    s.sub.extend(s.work.iter().skip(j).step_by(p));
    let sub_rw = match rw {
        Some(rw) => {
            s.sub_rw.clear();
            s.sub_rw.extend(rw.iter().skip(j).step_by(p));
            Some(s.sub_rw.as_slice())
        }
        None => None,
    };
    let k = s.sub.len();
    let schedule = match &schedules.seasonal_longer {
        Some(longer) if k > s.work.len() / p => longer,
        _ => &schedules.seasonal,
    };
    s.sub_out.clear();
    s.sub_out.resize(k + 2, 0.0);
    schedule.smooth(&s.sub, sub_rw, &mut s.sub_out, &mut s.loess);
    for (m, v) in s.sub_out.iter().enumerate() {
        s.cycle[j + m * p] = *v;
    }
}

/// Moving average of length `len`: `out[i]` is the mean of `x[i..i + len]`, computed with a
/// running sum so each stage costs O(n) whatever the period. The sum is updated and divided
/// in R's order, so the averages are R's to the last bit.
fn moving_average(x: &[f64], len: usize, out: &mut [f64]) {
    let flen = len as f64;
    let mut sum = 0.0;
    for v in &x[..len] {
        sum += v;
    }
    out[0] = sum / flen;
    for i in 1..out.len() {
        sum = sum - x[i - 1] + x[i + len - 1];
        out[i] = sum / flen;
    }
}

/// Bisquare robustness weights of the remainders, scaled by six times their median absolute
/// value: a remainder beyond that gets weight 0, so outliers stop pulling the fits.
fn robustness_weights(
    y: &[f64],
    seasonal: &[f64],
    trend: &[f64],
    weights: &mut [f64],
    abs_rem: &mut [f64],
) {
    // R subtracts the fit (trend + seasonal) in one step.
    for (((r, yi), si), ti) in abs_rem.iter_mut().zip(y).zip(seasonal).zip(trend) {
        *r = (yi - (ti + si)).abs();
    }
    for (w, r) in weights.iter_mut().zip(abs_rem.iter()) {
        *w = *r;
    }
    let h = six_medians(abs_rem);
    let (near, far) = (0.001 * h, 0.999 * h);
    for w in weights.iter_mut() {
        let r = *w;
        *w = if r <= near {
            1.0
        } else if r <= far {
            let u = r / h;
            let t = 1.0 - u * u;
            t * t
        } else {
            0.0
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moving_average_of_a_ramp() {
        let x = [0.0, 1.0, 2.0, 3.0, 4.0];
        let mut out = [0.0; 3];
        moving_average(&x, 3, &mut out);
        assert_eq!(out, [1.0, 2.0, 3.0]);
    }
}

//! Lag-aware cross-correlation, in the manner of Skyline's Luminosity: for an anomaly of a
//! metric at a time, which other metrics moved with it, and how much earlier or later.
//!
//! The anomalous metric is taken over a window around the anomaly (an hour by default) on a
//! regular grid and z-normalized. Every other metric is read over the same window widened by
//! the largest lag on both sides, put on the same grid, and compared with the anomaly's
//! window at every lag: the score at a lag is Pearson's coefficient between the anomaly's
//! window and the other metric's window shifted by that lag, always over the full window (no
//! lag is judged on fewer points than another, so a short overlap cannot fake a match). A
//! metric's score is its coefficient of largest magnitude, with its lag: positive lags mean
//! the metric moved *after* the anomalous one, negative ones before. Metrics moving in the
//! opposite direction (a queue draining while requests rise) rank by magnitude too, with a
//! negative score.
//!
//! Each lag costs one dot product of the window's length (the other metric's means and
//! variances per lag come from prefix sums), so a metric costs `points × lags`
//! multiply-adds, and nothing is allocated per metric.

use std::cmp::Ordering;

use am_store::Point;
use serde::Serialize;

use crate::series::{bucket, fill_gaps, native_step, znormalize};

/// Most grid points in a window: a finer series is averaged into coarser buckets, which
/// bounds the work per metric (and the lag's resolution is the bucket).
pub const MAX_POINTS: usize = 240;

/// Fewest grid points a window may have.
pub const MIN_POINTS: usize = 8;

/// One correlated metric: the answer of `/api/correlate`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Correlated {
    /// The metric's name.
    pub metric: String,
    /// Pearson's coefficient at the best lag, from -1 to 1 (ranked by magnitude).
    pub score: f32,
    /// Seconds after the anomalous metric this one moved (negative: before).
    pub lag: i64,
}

/// Where and how to compare: the anomaly's window on a grid, and the lags tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// The anomaly's time.
    pub at: i64,
    /// Start of the window's first bucket.
    pub start: i64,
    /// Bucket width, seconds.
    pub step: i64,
    /// Buckets in the window.
    pub n: usize,
    /// Largest lag (in buckets) by which another metric may lead.
    pub lead: usize,
    /// Largest lag (in buckets) by which another metric may trail: fewer than `lead` when
    /// the widened window would reach past `now`.
    pub trail: usize,
}

impl Plan {
    /// The plan for an anomaly at `at`: a window of `window` seconds centred on it (moved back
    /// so that it ends by `now`), a grid as fine as the anomalous metric (`native_step`) but
    /// of at most [`MAX_POINTS`] buckets, and lags up to `max_lag` seconds both ways.
    pub fn new(at: i64, window: i64, max_lag: i64, native_step: i64, now: i64) -> Plan {
        let window = window.max(60);
        let min_step = (window + MAX_POINTS as i64 - 1) / MAX_POINTS as i64;
        let step = native_step.max(min_step).max(1);
        let n = usize::try_from(window / step)
            .unwrap_or(MIN_POINTS)
            .max(MIN_POINTS);
        let span = n as i64 * step;
        let start = (at - span / 2).min(now - span).div_euclid(step) * step;
        let lags = usize::try_from(max_lag.max(0) / step).unwrap_or(0);
        let end = start + span;
        let room = usize::try_from((now - end).max(0) / step).unwrap_or(0);
        Plan {
            at,
            start,
            step,
            n,
            lead: lags,
            trail: lags.min(room),
        }
    }

    /// The plan narrowed to where the anomalous metric has data: a window starting before
    /// its first point `first` begins at that point instead (a young metric, a store that
    /// holds less than the window), and lags are kept within half the window.
    pub fn clipped(mut self, first: i64) -> Plan {
        if first > self.start {
            let skip = usize::try_from((first - self.start) / self.step).unwrap_or(0);
            let skip = skip.min(self.n.saturating_sub(MIN_POINTS));
            self.start += skip as i64 * self.step;
            self.n -= skip;
        }
        self.lead = self.lead.min(self.n / 2);
        self.trail = self.trail.min(self.n / 2);
        self
    }

    /// The anomalous metric's window: `[from, until]`.
    pub fn window(&self) -> (i64, i64) {
        (self.start, self.start + self.n as i64 * self.step - 1)
    }

    /// What to read of every other metric: the window widened by the lags.
    pub fn read_range(&self) -> (i64, i64) {
        (
            self.start - self.lead as i64 * self.step,
            self.start + (self.n + self.trail) as i64 * self.step - 1,
        )
    }

    /// Grid points of a widened window.
    fn wide(&self) -> usize {
        self.lead + self.n + self.trail
    }
}

/// Why an anomaly cannot be correlated.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReferenceError {
    /// The anomalous metric has too few points in the window.
    #[error(
        "the metric has {0} points in the window around the anomaly; at least {MIN_POINTS} are needed"
    )]
    TooFewPoints(usize),
    /// The anomalous metric does not move in the window.
    #[error("the metric is constant in the window around the anomaly: nothing to correlate")]
    Constant,
}

/// The anomalous metric over its window, z-normalized.
#[derive(Debug, Clone)]
pub struct Reference {
    plan: Plan,
    values: Vec<f32>,
}

impl Reference {
    /// Prepares the anomalous metric's points (its window, as [`Plan::window`] reads it).
    pub fn new(plan: Plan, points: &[Point]) -> Result<Reference, ReferenceError> {
        let mut values = vec![0f32; plan.n];
        let filled = bucket(points, plan.start, plan.step, &mut values);
        if filled < MIN_POINTS.min(plan.n) || filled * 4 < plan.n {
            return Err(ReferenceError::TooFewPoints(filled));
        }
        fill_gaps(&mut values);
        if !znormalize(&mut values) {
            return Err(ReferenceError::Constant);
        }
        Ok(Reference { plan, values })
    }

    /// The plan it was made for.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// Its normalized values on the grid.
    pub fn values(&self) -> &[f32] {
        &self.values
    }
}

/// Scores metrics against one [`Reference`], reusing its buffers across metrics.
#[derive(Debug)]
pub struct Scorer<'a> {
    reference: &'a Reference,
    grid: Vec<f32>,
    sums: Vec<f64>,
    squares: Vec<f64>,
}

impl<'a> Scorer<'a> {
    /// A scorer for `reference`.
    pub fn new(reference: &'a Reference) -> Scorer<'a> {
        let wide = reference.plan.wide();
        Scorer {
            reference,
            grid: vec![0.0; wide],
            sums: vec![0.0; wide + 1],
            squares: vec![0.0; wide + 1],
        }
    }

    /// The best `(coefficient, lag in seconds)` of a metric's points over
    /// [`Plan::read_range`], or `None` when it has points in under half of the anomaly's
    /// window, or does not move.
    pub fn score(&mut self, points: &[Point]) -> Option<(f32, i64)> {
        let plan = &self.reference.plan;
        let lo = plan.start - plan.lead as i64 * plan.step;
        if bucket(points, lo, plan.step, &mut self.grid) == 0 {
            return None;
        }
        let central = self
            .grid
            .get(plan.lead..plan.lead + plan.n)
            .map_or(0, |w| w.iter().filter(|v| !v.is_nan()).count());
        if central * 2 < plan.n {
            return None;
        }
        fill_gaps(&mut self.grid);
        if !znormalize(&mut self.grid) {
            return None;
        }
        let n = plan.n;
        let (mut s, mut q) = (0f64, 0f64);
        for (i, &v) in self.grid.iter().enumerate() {
            s += f64::from(v);
            q += f64::from(v) * f64::from(v);
            self.sums[i + 1] = s;
            self.squares[i + 1] = q;
        }
        let a = &self.reference.values;
        // Σa = 0 and Σa² = n, so r = Σ a·b / sqrt(n · Σ(b - mean b)²).
        let mut best: Option<(f32, usize)> = None;
        for off in 0..=plan.lead + plan.trail {
            let seg = self.grid.get(off..off + n)?;
            let sum = self.sums[off + n] - self.sums[off];
            let var = (self.squares[off + n] - self.squares[off]) - sum * sum / n as f64;
            if var <= 1e-9 * n as f64 {
                continue;
            }
            let r = (f64::from(dot(a, seg)) / (n as f64 * var).sqrt()).clamp(-1.0, 1.0) as f32;
            let lag = off.abs_diff(plan.lead);
            let better = match best {
                None => true,
                Some((b, boff)) => match r.abs().total_cmp(&b.abs()) {
                    Ordering::Greater => true,
                    Ordering::Equal => lag < boff.abs_diff(plan.lead),
                    Ordering::Less => false,
                },
            };
            if better {
                best = Some((r, off));
            }
        }
        best.map(|(r, off)| (r, (off as i64 - plan.lead as i64) * plan.step))
    }
}

/// Σ a·b over the shorter length, in eight lanes so the compiler vectorizes it.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0f32; 8];
    let mut ca = a.chunks_exact(8);
    let mut cb = b.chunks_exact(8);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    acc.iter().sum::<f32>() + tail
}

/// The best `k` entries seen by a key where larger is better; each entry has an index (its
/// series' position in the name-sorted list) that breaks ties, so the result does not depend
/// on the order entries came in, and a payload.
#[derive(Debug)]
pub struct TopK<P> {
    k: usize,
    items: Vec<(f32, usize, P)>,
}

impl<P> TopK<P> {
    /// Keeps the best `k`.
    pub fn new(k: usize) -> TopK<P> {
        TopK {
            k: k.max(1),
            items: Vec::with_capacity(2 * k + 2),
        }
    }

    /// The key an entry must beat to get in, once `k` are held.
    pub fn threshold(&self) -> Option<f32> {
        (self.items.len() >= self.k).then(|| {
            self.items
                .iter()
                .map(|(s, _, _)| *s)
                .fold(f32::INFINITY, f32::min)
        })
    }

    /// Offers an entry.
    pub fn push(&mut self, key: f32, index: usize, payload: P) {
        if key.is_nan() {
            return;
        }
        self.items.push((key, index, payload));
        if self.items.len() > 2 * self.k + 1 {
            self.shrink();
        }
    }

    /// Adds another's entries.
    pub fn merge(&mut self, other: TopK<P>) {
        for (key, index, payload) in other.items {
            self.push(key, index, payload);
        }
    }

    fn shrink(&mut self) {
        self.items
            .sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        self.items.truncate(self.k);
    }

    /// The best `k`, best first.
    pub fn into_sorted(mut self) -> Vec<(f32, usize, P)> {
        self.shrink();
        self.items
    }
}

/// The native step of the anomalous metric, for [`Plan::new`] (60 s when it has too few
/// points to tell).
pub fn step_of(points: &[Point]) -> i64 {
    native_step(points).unwrap_or(60)
}

#[cfg(test)]
mod tests;

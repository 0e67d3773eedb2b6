//! The detector's maths, free of any host: [`Model::update`] takes one value and returns its
//! score. Everything here is bounded: the model holds at most `history + 2 · window · stride`
//! values, `score_history` past distances (and their logarithms) and the times of the
//! detections of the last `rate_window` points (at most `rate_window / (quiet + 1) + 1`),
//! whatever the length of the series.

use crate::SeriesModel;

/// The tuning of the model (the plugin's options without the metric).
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    /// Elements in the feature window.
    pub window: usize,
    /// Points averaged into each element of the feature window.
    pub stride: usize,
    /// Past windows the newest is compared with (points of history kept).
    pub history: usize,
    /// Nearest neighbours averaged into the distance.
    pub neighbours: usize,
    /// Past distances the newest distance is judged against.
    pub score_history: usize,
    /// Points learned before any score other than 0 is given.
    pub warmup: usize,
    /// Points after a detection during which the score is held at 0.
    pub quiet: usize,
    /// Surprise at or above which a point is a candidate detection.
    pub threshold: f64,
    /// Points over which earlier detections are counted against a new candidate.
    pub rate_window: usize,
    /// Score taken off a candidate for each detection in the last `rate_window` points.
    pub rate_penalty: f64,
    /// Score (after the rate penalty) a candidate needs to be a detection (`flag` 1).
    pub min_score: f64,
    /// Distances computed at the start of a series that are kept out of the baseline.
    pub settle: usize,
    /// Widens the baseline's spread by `sqrt(1 + caution / m)`, m the distances computed.
    pub caution: f64,
    /// A value beyond the range seen so far by more than this share of it is a candidate
    /// whatever its window's distance, even in a quiet period (0: off).
    pub extreme: f64,
    /// Points seen before `extreme` applies (a shorter past has not shown its range yet).
    pub extreme_after: usize,
}

impl Default for Params {
    /// The shipped (tuned) parameters: the `Novelty` plugin's defaults, and the Ensemble's.
    fn default() -> Self {
        Params {
            window: 8,
            stride: 1,
            history: 4000,
            neighbours: 3,
            score_history: 1000,
            warmup: 150,
            quiet: 200,
            threshold: 0.42,
            rate_window: 4000,
            rate_penalty: 0.03,
            min_score: 0.25,
            settle: 300,
            caution: 0.0,
            extreme: 0.1,
            extreme_after: 300,
        }
    }
}

impl Params {
    /// How many detection times the model keeps: detections are more than `quiet` points
    /// apart, so at most this many fall within `rate_window` points.
    pub fn alert_capacity(&self) -> usize {
        self.rate_window / (self.quiet + 1) + 1
    }

    /// Points a model needs before it can compute its first distance.
    pub fn first_distance(&self) -> u64 {
        (2 * self.window * self.stride + self.neighbours.clamp(1, 16)) as u64
    }
}

/// Distances below this share of the value range count as this (a floor for the logarithm:
/// differences under 0.1 % of the range are not news).
pub const EPS: f64 = 1e-3;
/// Floor of the standard deviation of log-distances: a distance must be at least
/// `exp(MIN_SD · z)` times the typical one to reach a z-score of `z`, even on a
/// perfectly regular series.
pub const MIN_SD: f64 = 0.1;
/// The z-score that maps to an anomaly score of 0.5 (`score = z / (z + Z_HALF)`).
pub const Z_HALF: f64 = 4.0;
/// Past distances needed before scoring.
pub const MIN_PAST: usize = 10;
/// The surprise given at least to a value beyond the range (`Params::extreme`): z = 4.
pub const EXTREME_SURPRISE: f64 = 0.5;

/// A fixed-capacity ring of `f32` whose content is always readable as one slice, oldest
/// first: every value is written twice, at `i` and `i + cap`.
#[derive(Debug, Clone)]
pub struct Ring {
    buf: Vec<f32>,
    cap: usize,
    len: usize,
    /// Where the next value goes, in `0..cap`.
    next: usize,
}

impl PartialEq for Ring {
    /// Same capacity and same values in the same order (wherever they sit in the buffer).
    fn eq(&self, other: &Self) -> bool {
        self.cap == other.cap && self.as_slice() == other.as_slice()
    }
}

impl Ring {
    /// An empty ring holding at most `cap` (≥ 1) values.
    pub fn new(cap: usize) -> Self {
        let cap = cap.max(1);
        Ring {
            buf: vec![0.0; 2 * cap],
            cap,
            len: 0,
            next: 0,
        }
    }

    /// Appends `v`, dropping the oldest value when full.
    pub fn push(&mut self, v: f32) {
        self.buf[self.next] = v;
        self.buf[self.next + self.cap] = v;
        self.next = (self.next + 1) % self.cap;
        self.len = (self.len + 1).min(self.cap);
    }

    /// The values, oldest first.
    pub fn as_slice(&self) -> &[f32] {
        let end = self.next + self.cap;
        &self.buf[end - self.len..end]
    }

    /// How many values it holds.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds no value.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Empties it, keeping its capacity.
    pub fn clear(&mut self) {
        self.len = 0;
        self.next = 0;
    }

    /// Its capacity.
    pub fn capacity(&self) -> usize {
        self.cap
    }
}

/// What the model says about one point.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Output {
    /// The anomaly score in [0, 1): the confidence of a detection, 0 at any other point.
    pub score: f64,
    /// The score before warm-up and quiet periods are applied.
    pub raw_score: f64,
    /// 1 when the point is a detection, else 0.
    pub flag: f64,
    /// Distance of the newest window to its nearest past windows, in units of the value range.
    pub distance: f64,
    /// Whether the value lies beyond the range seen before it (`Params::extreme`).
    pub extreme: bool,
}

/// The learned state of one series.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// Points seen.
    pub n: u64,
    /// Smallest value seen.
    pub min: f64,
    /// Largest value seen.
    pub max: f64,
    /// Points since the last detection (`u64::MAX`: none yet).
    pub since_flag: u64,
    /// Whether the last detection was a value beyond the range (`Params::extreme`).
    pub flag_extreme: bool,
    /// The first value seen: values are kept relative to it (as `f32`).
    pub origin: f64,
    /// The newest values.
    pub values: Ring,
    /// The newest distances, in the units of the values (not yet divided by the range).
    pub dists: Ring,
    /// `ln(d / range + EPS)` of each of `dists`, for the range in `logs_range`: derived
    /// (never stored), rebuilt whenever the range changes.
    pub logs: Ring,
    /// The range `logs` was computed with.
    pub logs_range: f64,
    /// The newest raw values (the last `stride`), whose mean is pushed into `values`.
    pub recent: Ring,
    /// The values of `n` at the detections of the last `rate_window` points, oldest first
    /// (at most [`Params::alert_capacity`]).
    pub alerts: Vec<u64>,
}

impl Model {
    /// Recomputes `logs` from `dists` for `range` (after a decode, or when the range moved).
    pub fn relog(&mut self, range: f64) {
        self.logs.clear();
        for &d in self.dists.as_slice() {
            self.logs.push(log_distance(d, range));
        }
        self.logs_range = range;
    }
}

impl SeriesModel for Model {
    type Params = Params;
    /// `None` for a value that is not finite (ignored).
    type Output = Option<Output>;

    /// A model that has seen nothing.
    fn new(p: &Params) -> Self {
        Model {
            n: 0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            since_flag: u64::MAX,
            flag_extreme: false,
            origin: 0.0,
            values: Ring::new(p.history + 2 * p.window * p.stride),
            dists: Ring::new(p.score_history),
            logs: Ring::new(p.score_history),
            logs_range: 0.0,
            recent: Ring::new(p.stride),
            alerts: Vec::with_capacity(p.alert_capacity()),
        }
    }

    /// Learns `x` and scores it. Non-finite values are ignored (`None`).
    fn update(&mut self, p: &Params, x: f64) -> Option<Output> {
        if !x.is_finite() {
            return None;
        }
        if self.n == 0 {
            self.origin = x;
        }
        self.n += 1;
        self.since_flag = self.since_flag.saturating_add(1);
        // A spike or a new level beyond everything seen is news even before the windows
        // around it have a long past to be compared with.
        let seen = self.max - self.min;
        let beyond = |share: f64| x > self.max + share * seen || x < self.min - share * seen;
        let extreme =
            p.extreme > 0.0 && self.n > p.extreme_after as u64 && seen > 0.0 && beyond(p.extreme);
        // Within the quiet period of an earlier extreme, only a value that at least doubles
        // the range alerts again: a climb is one incident, not one alert per new maximum.
        let extreme_in_quiet = extreme && (!self.flag_extreme || beyond(1.0));
        self.min = self.min.min(x);
        self.max = self.max.max(x);
        self.recent.push((x - self.origin) as f32);
        let r = self.recent.as_slice();
        self.values.push(r.iter().sum::<f32>() / r.len() as f32);
        let range = self.max - self.min;
        let nearest = nearest_distance(self.values.as_slice(), p.window, p.stride, p.neighbours);
        let Some(d) = nearest else {
            return Some(Output {
                extreme,
                ..Output::default()
            });
        };
        // Rounded as the stored distances are, so that a repeat of one of them scores 0.
        let d = d as f32;
        // The past distances are judged in today's units: while the range still grows (a
        // young series), distances divided by the older, smaller ranges would look large,
        // inflate the baseline and hide the anomalies of the next ~1000 points.
        if range != self.logs_range {
            self.relog(range);
        }
        let distance = scaled(d, range);
        // Distances computed so far (this one included): one per point since the first.
        let computed = self.n + 1 - p.first_distance().min(self.n);
        // Consecutive distances share all but one point of their windows, so b of them are
        // worth about b / span independent ones: a small baseline's spread is uncertain, and
        // it is widened as a prediction interval from that many would be.
        let span = (p.window * p.stride) as f64;
        let small = (1.0 + span / self.logs.len().max(1) as f64).sqrt();
        let widen = (1.0 + p.caution / computed as f64).sqrt() * small;
        let mut raw_score = surprise(self.logs.as_slice(), distance, widen);
        if extreme {
            raw_score = raw_score.max(EXTREME_SURPRISE);
        }
        // While the history is short every window looks new; those distances would inflate
        // the baseline as well.
        if computed > p.settle as u64 {
            self.dists.push(d);
            self.logs.push(log_distance(d, range));
        }
        let mut out = Output {
            score: 0.0,
            raw_score,
            flag: 0.0,
            distance,
            extreme,
        };
        // A value beyond the range is a candidate even in a quiet period: the quiet period
        // keeps one incident's windows from alerting again, but a new extreme is new news.
        let quiet = self.since_flag <= p.quiet as u64;
        let candidate = if quiet {
            extreme_in_quiet
        } else {
            raw_score >= p.threshold || extreme
        };
        if self.n > p.warmup as u64 && candidate {
            // A candidate: its confidence is lowered by the detections of the recent past, so
            // that a series that keeps surprising the model stops alerting.
            let n = self.n;
            self.alerts.retain(|&t| t + p.rate_window as u64 >= n);
            let score = raw_score - p.rate_penalty * self.alerts.len() as f64;
            if score >= p.min_score {
                out.score = score;
                out.flag = 1.0;
                self.since_flag = 0;
                self.flag_extreme = extreme;
                if self.alerts.len() >= p.alert_capacity() {
                    self.alerts.remove(0);
                }
                self.alerts.push(n);
            }
        }
        Some(out)
    }

    fn score(out: &Option<Output>) -> f64 {
        out.map_or(0.0, |o| o.score)
    }
}

/// Distance `d` (in the units of the values) in units of `range`. A flat history has
/// range 0: every window is at distance 0 there (and any change will be news).
pub fn scaled(d: f32, range: f64) -> f64 {
    if range > 0.0 { d as f64 / range } else { 0.0 }
}

/// `ln(d / range + EPS)` as stored in the baseline (`d` in the units of the values).
pub fn log_distance(d: f32, range: f64) -> f32 {
    (scaled(d, range) + EPS).ln() as f32
}

/// How surprising distance `d` is, in [0, 1): the z-score of `ln(d + EPS)` against the
/// past log-distances (standard deviation floored at [`MIN_SD`], then multiplied by `widen`),
/// mapped by `z / (z + Z_HALF)`; 0 for z ≤ 0 or with fewer than [`MIN_PAST`] past distances.
pub fn surprise(past: &[f32], d: f64, widen: f64) -> f64 {
    if past.len() < MIN_PAST {
        return 0.0;
    }
    let n = past.len() as f64;
    let mean = past.iter().map(|&v| v as f64).sum::<f64>() / n;
    let var = past.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
    // Rounded as the past values were, so that a distance equal to all of them scores 0.
    let x = (d + EPS).ln() as f32 as f64;
    let z = (x - mean) / (var.sqrt().max(MIN_SD) * widen);
    if z > 0.0 { z / (z + Z_HALF) } else { 0.0 }
}

/// Root mean square distance (per point) of the newest `w` values to their `k` nearest
/// earlier windows of `w` values that do not overlap them; `None` with too little history.
pub fn nearest_distance(h: &[f32], w: usize, b: usize, k: usize) -> Option<f64> {
    let n = h.len();
    let span = w * b;
    if w == 0 || n < 2 * span + k {
        return None;
    }
    let mut cur = [0f32; 256];
    for (i, c) in cur[..w].iter_mut().enumerate() {
        *c = h[n - span + i * b];
    }
    let cur = &cur[..w];
    let k = k.max(1);
    // The k smallest squared distances, ascending.
    let mut best = [f32::INFINITY; 16];
    let k = k.min(best.len());
    for s in 0..=(n - 2 * span) {
        let bound = best[k - 1];
        let past = &h[s..s + span];
        let acc = if b == 1 {
            // The common case, in a form the compiler vectorises.
            past.iter()
                .zip(cur)
                .map(|(a, c)| (a - c) * (a - c))
                .sum::<f32>()
        } else {
            past.iter()
                .step_by(b)
                .zip(cur)
                .map(|(a, c)| (a - c) * (a - c))
                .sum::<f32>()
        };
        if acc < bound {
            let mut i = k - 1;
            while i > 0 && best[i - 1] > acc {
                best[i] = best[i - 1];
                i -= 1;
            }
            best[i] = acc;
        }
    }
    let mean = best[..k].iter().map(|&v| v as f64).sum::<f64>() / k as f64;
    Some((mean / w as f64).sqrt())
}

#[cfg(test)]
mod tests;

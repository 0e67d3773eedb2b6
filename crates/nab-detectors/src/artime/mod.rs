//! ARTime's maths, free of any host: [`Artime::update`] takes one value and returns its
//! anomaly score. Written from the published description and Julia source of ARTime
//! (M. Hampton, ARTimeNAB.jl), step for step, so that its scores on NAB match the published
//! ones; the only departures are for a series of unknown length and range (see
//! [`Params::range`]) and the caps that keep the state bounded ([`Params::max_categories`]).

pub mod dvfa;

use std::collections::VecDeque;

use dvfa::Dvfa;

use crate::{SeriesModel, widened_range};

/// Feature window (downsampled values) and so half the feature count.
pub const WINDOW: usize = 8;
/// Feature windows per probationary period (sets the downsampling step).
pub const WINDOWS_PER_PROBATION: usize = 13;
/// Levels of the discretisation of the normalised value.
pub const LEVELS: usize = 80;
/// A level this close to the running median is snapped to it.
pub const CHOMP: f64 = 0.075;
/// Vigilance used to find the initial vigilance on the probationary data.
pub const INITIAL_RHO: f64 = 0.80;
/// Steps after an anomaly (1.5 windows) during which the vigilance is held.
pub const MASK: u64 = (WINDOW as u64 * 3) / 2;

/// Anomaly similarities kept (the reference keeps all; a series has far fewer anomalies).
pub const SIM_HISTORY: usize = 1024;

/// The tuning of the model.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    /// Points of the probationary period (NAB: 15 % of the file, at most 750). It sets the
    /// downsampling step (`probation / 104`) and the trend window; no score before its end.
    pub probation: usize,
    /// The value range used to normalise (NAB gives every detector the file's minimum and
    /// maximum). `None`: the range of the probationary period, widened by `margin` of
    /// itself on each side; later values beyond it are clamped.
    pub range: Option<(f64, f64)>,
    /// Share of the probationary range added on each side when `range` is `None`.
    pub margin: f64,
    /// Most ART categories kept (the least recently used is replaced past it).
    pub max_categories: usize,
}

impl Params {
    /// Parameters as NAB runs ARTime on a file of `rows` rows with the given range.
    pub fn nab(rows: usize, min: f64, max: f64) -> Params {
        let p = if rows < 5000 {
            (0.15 * rows as f64).floor() as usize
        } else {
            750
        };
        Params {
            probation: p,
            range: Some((min, max)),
            margin: 0.0,
            max_categories: 4096,
        }
    }

    /// The probationary period, made even as the reference does.
    pub fn even_probation(&self) -> usize {
        self.probation - self.probation % 2
    }

    /// Raw points per downsampled value.
    pub fn step(&self) -> usize {
        (self.even_probation() / (WINDOW * WINDOWS_PER_PROBATION)).max(1)
    }

    /// Downsampled values of the probationary period (learned in one batch at its end).
    pub fn trend_window(&self) -> usize {
        self.even_probation() / self.step()
    }
}

impl Default for Params {
    /// As the plugin runs it by default, nothing known in advance: the range learned from the
    /// first 750 points, widened by 0.3 of itself on each side; at most 1024 categories.
    fn default() -> Self {
        Params {
            probation: 750,
            range: None,
            margin: 0.3,
            max_categories: 1024,
        }
    }
}

/// The score at or above which a point is a detection by default (the `ARTime` plugin's
/// `threshold`, the Ensemble's threshold for ARTime): ARTime's NAB optimum.
pub const THRESHOLD: f64 = 0.34;

/// The model of one series.
#[derive(Debug, Clone, PartialEq)]
pub struct Artime {
    /// Raw points seen.
    pub i: u64,
    /// Normalisation range, once known.
    pub range: Option<(f64, f64)>,
    /// Raw points held until the range is known (unknown-range mode only).
    pub pending: Vec<f64>,
    /// The newest `step` raw points.
    pub ds_window: VecDeque<f64>,
    /// Downsampled values produced (the next one is number `dsi + 1`).
    pub dsi: u64,
    /// Moving average of the downsampled means.
    pub ds_avg: f64,
    /// Counts per level (the running median).
    pub medbin: Vec<u64>,
    /// The running median's level and the counts below and above it.
    pub medlevel: i64,
    /// Count of levels below the median.
    pub below: u64,
    /// Count of levels above the median.
    pub above: u64,
    /// The newest `WINDOW` discretised values.
    pub f_window: VecDeque<f64>,
    /// Features of the probationary period, learned in one batch at its end.
    pub trend_f: Vec<Vec<f64>>,
    /// The ART network.
    pub art: Dvfa,
    /// Classification state.
    pub cs: Classify,
}

/// ARTime's classification state (vigilance adaptation and masking).
#[derive(Debug, Clone, PartialEq)]
pub struct Classify {
    /// Step of the last anomaly (0: none).
    pub last_anomaly_i: u64,
    /// Similarity at the last anomaly.
    pub last_anomaly_sim: f64,
    /// Step of the last vigilance update.
    pub last_rho_update_i: u64,
    /// Anomalies are masked after a new category until none has been made for `MASK` steps.
    pub mask_after_cat: bool,
    /// Steps since the last new cluster.
    pub no_new_cat_count: u64,
    /// The similarities at the newest `SIM_HISTORY` anomalies (each the lowest during its
    /// mask), whose mean is a floor for the lower vigilance.
    pub anomaly_sims: VecDeque<f64>,
    /// Running mean of all best similarities, and its count.
    pub sim_mean: f64,
    /// Count behind `sim_mean`.
    pub sim_n: u64,
    /// The newest `trend_window / 2 + 1` best similarities.
    pub sim_window: VecDeque<f64>,
    /// The newest `trend_window + 1` values of `rho_ub − similarity`.
    pub sim_diff_window: VecDeque<f64>,
}

/// Julia's `round(Int, x)`: to nearest, ties to even.
fn round_even(x: f64) -> f64 {
    x.round_ties_even()
}

/// One level of the periodic Haar transform of `v` (even length): (approximations, details).
fn haar_full(v: &[f64; WINDOW]) -> [f64; WINDOW] {
    let a = std::f64::consts::FRAC_1_SQRT_2;
    let mut out = [0.0; WINDOW];
    let mut s: Vec<f64> = v.to_vec();
    let mut n = WINDOW;
    while n > 1 {
        let half = n / 2;
        let mut next = vec![0.0; half];
        for k in 0..half {
            let (x1, x2) = (s[2 * k], s[2 * k + 1]);
            out[half + k] = a * x2 + (-a * x1);
            next[k] = a * x1 + a * x2;
        }
        s = next;
        n = half;
    }
    out[0] = s[0];
    out
}

impl SeriesModel for Artime {
    type Params = Params;
    type Output = f64;

    /// A fresh model.
    fn new(p: &Params) -> Self {
        let tw = p.trend_window();
        Artime {
            i: 0,
            range: p.range,
            pending: Vec::new(),
            ds_window: std::iter::repeat_n(0.0, p.step()).collect(),
            dsi: 0,
            ds_avg: 0.0,
            medbin: vec![0; LEVELS + 1],
            medlevel: 0,
            below: 0,
            above: 0,
            f_window: std::iter::repeat_n(0.0, WINDOW).collect(),
            trend_f: Vec::new(),
            art: Dvfa::new(2 * WINDOW, p.max_categories),
            cs: Classify {
                last_anomaly_i: 0,
                last_anomaly_sim: 0.0,
                last_rho_update_i: 0,
                mask_after_cat: false,
                no_new_cat_count: 0,
                anomaly_sims: VecDeque::new(),
                sim_mean: 0.0,
                sim_n: 0,
                sim_window: std::iter::repeat_n(1.0, tw / 2 + 1).collect(),
                sim_diff_window: std::iter::repeat_n(0.0, tw + 1).collect(),
            },
        }
    }

    /// Learns one raw value and returns its anomaly score in [0, 1] (0 for most points).
    /// Non-finite values must be filtered out by the caller.
    fn update(&mut self, p: &Params, value: f64) -> f64 {
        if self.range.is_none() {
            self.pending.push(value);
            if self.pending.len() < p.trend_window() * p.step() {
                self.i += 1;
                return 0.0;
            }
            self.range = Some(widened_range(&self.pending, p.margin));
            let pending = std::mem::take(&mut self.pending);
            self.i -= (pending.len() - 1) as u64;
            let mut last = 0.0;
            for v in pending {
                last = self.sample(p, v);
            }
            return last;
        }
        self.sample(p, value)
    }

    fn score(out: &f64) -> f64 {
        *out
    }
}

/// Shifts `v` into `w`, dropping the oldest when it holds `cap`.
fn shift(w: &mut VecDeque<f64>, cap: usize, v: f64) {
    if w.len() >= cap {
        w.pop_front();
    }
    w.push_back(v);
}

impl Artime {
    fn sample(&mut self, p: &Params, di: f64) -> f64 {
        self.i += 1;
        let step = p.step();
        shift(&mut self.ds_window, step, di);
        if !self.i.is_multiple_of(step as u64) {
            return 0.0;
        }
        let (dmin, dmax) = self.range.unwrap_or((0.0, 1.0));
        let n = self.ds_window.len() as f64;
        let mean = self.ds_window.iter().sum::<f64>() / n;
        let max = self
            .ds_window
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        let min = self.ds_window.iter().copied().fold(f64::INFINITY, f64::min);
        self.dsi += 1;
        if self.dsi == 1 {
            self.ds_avg = mean;
        }
        self.ds_avg = (self.ds_avg + mean) / 2.0;
        let mut ds = max;
        if (max - self.ds_avg).abs() < (min - self.ds_avg).abs() {
            ds = min;
        }
        if (ds - mean).abs() < 0.1 * mean {
            ds = mean;
        }
        ds -= dmin;
        if dmax - dmin != 0.0 {
            ds /= dmax - dmin;
        }
        let level = round_even(ds * LEVELS as f64).clamp(0.0, LEVELS as f64) as i64;
        let mut ds = level as f64 / LEVELS as f64;
        self.levelize(level);
        let med = self.medlevel as f64 / LEVELS as f64;
        if (ds - med).abs() < CHOMP {
            ds = med;
        }
        shift(&mut self.f_window, WINDOW, ds);
        let mut features = vec![0.0; 2 * WINDOW];
        if self.dsi >= WINDOW as u64 {
            let mut dw = [0.0; WINDOW];
            for (d, f) in dw.iter_mut().zip(&self.f_window) {
                *d = *f;
            }
            normalise(&mut dw);
            let mut fw = haar_full(&dw);
            normalise(&mut fw);
            features[..WINDOW].copy_from_slice(&fw);
            for (d, f) in features[WINDOW..].iter_mut().zip(&self.f_window) {
                *d = *f;
            }
        }
        self.features(p, features)
    }

    /// The running median of the levels ("not strictly a running median but close enough").
    fn levelize(&mut self, level: i64) {
        self.medbin[level as usize] += 1;
        let medpos = self.dsi / 2;
        if self.dsi == 1 {
            self.medlevel = level;
        }
        if self.medlevel > level {
            self.below += 1;
        } else if self.medlevel < level {
            self.above += 1;
        }
        let bin = |m: &Self, l: i64| m.medbin.get(l as usize).copied().unwrap_or(1);
        if medpos < self.above {
            self.below += bin(self, self.medlevel);
            self.medlevel += 1;
            while self.medlevel < LEVELS as i64 && bin(self, self.medlevel) == 0 {
                self.medlevel += 1;
            }
            self.above -= bin(self, self.medlevel).min(self.above);
        } else if medpos < self.below {
            self.above += bin(self, self.medlevel);
            self.medlevel -= 1;
            while self.medlevel > 0 && bin(self, self.medlevel) == 0 {
                self.medlevel -= 1;
            }
            self.below -= bin(self, self.medlevel).min(self.below);
        }
    }

    fn features(&mut self, p: &Params, f: Vec<f64>) -> f64 {
        let i = self.dsi;
        let tw = p.trend_window() as u64;
        if i > tw {
            return self.detect(p, &f, i);
        }
        self.trend_f.push(f);
        if i == tw {
            let batch = std::mem::take(&mut self.trend_f);
            let rho = init_rho(&batch[WINDOW - 1..], p, &self.art);
            self.art.rho_lb = rho;
            self.art.rho_ub = rho;
            for (k, ff) in batch.iter().enumerate() {
                self.detect(p, ff, k as u64 + 1);
            }
        }
        0.0
    }

    fn detect(&mut self, p: &Params, f: &[f64], i: u64) -> f64 {
        let tw = p.trend_window() as u64;
        let cs = &mut self.cs;
        let since = i - cs.last_anomaly_i;
        let update_after_anomaly = since == MASK;
        let update_for_trend = i - cs.last_rho_update_i >= tw / 2;
        let mask_after_anomaly = since <= MASK;
        if i > tw + MASK && cs.mask_after_cat && cs.no_new_cat_count >= MASK {
            cs.mask_after_cat = false;
        }
        let learn = i >= WINDOW as u64;
        let r = self.art.present(f, learn);
        let new_cat = !learn || r.new_cluster;
        cs.no_new_cat_count = if new_cat { 0 } else { cs.no_new_cat_count + 1 };
        cs.sim_n += 1;
        cs.sim_mean += (r.sim - cs.sim_mean) / cs.sim_n as f64;
        let sw = cs.sim_window.len();
        shift(&mut cs.sim_window, sw, r.sim);
        let sdw = cs.sim_diff_window.len();
        shift(&mut cs.sim_diff_window, sdw, self.art.rho_ub - r.sim);
        if since < MASK
            && let Some(last) = cs.anomaly_sims.back_mut()
            && r.sim < *last
        {
            *last = r.sim;
        }
        let masking = cs.mask_after_cat || mask_after_anomaly;
        let scale = if mask_after_anomaly { 0.90 } else { 0.70 };
        let below_last = r.sim < cs.last_anomaly_sim * scale;
        let mut anomaly = 0.0;
        if i > tw && new_cat && (!masking || below_last) {
            anomaly = confidence(r.sim, r.energy, self.art.rho_ub, self.art.rho_lb);
            shift(&mut cs.anomaly_sims, SIM_HISTORY, r.sim);
            cs.last_anomaly_sim = r.sim;
            cs.last_anomaly_i = i;
        }
        cs.mask_after_cat = new_cat || cs.mask_after_cat;
        if i > tw && (update_after_anomaly || update_for_trend) {
            let min_sim = cs.sim_window.iter().copied().fold(f64::INFINITY, f64::min);
            let new_ub = cs.sim_mean.min(0.97);
            let prev_lb = self.art.rho_lb;
            let mut new_lb;
            if prev_lb <= min_sim {
                new_lb = prev_lb + (min_sim - prev_lb) * 0.19;
            } else {
                let mut decr = 0.0;
                if i > tw * 2 {
                    let (mut s, mut c) = (0.0, 0usize);
                    for x in cs.sim_diff_window.iter().filter(|x| **x > 0.05) {
                        s += x.min(0.37);
                        c += 1;
                    }
                    if c > 0 {
                        decr = s / c as f64;
                    }
                }
                decr = decr.max(0.01);
                new_lb = prev_lb - decr / 2.0;
                if !cs.anomaly_sims.is_empty() {
                    let mean = cs.anomaly_sims.iter().sum::<f64>() / cs.anomaly_sims.len() as f64;
                    new_lb = new_lb.max(mean);
                }
            }
            new_lb = new_lb.min(new_ub);
            self.art.rho_lb = new_lb;
            self.art.rho_ub = new_ub;
            cs.last_rho_update_i = i;
            cs.mask_after_cat = true;
        }
        anomaly
    }
}

/// Scales `v` to [0, 1] by its own minimum and maximum (left as is when flat).
fn normalise(v: &mut [f64]) {
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    v.iter_mut().for_each(|x| *x -= lo);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if hi != 0.0 {
        v.iter_mut().for_each(|x| *x /= hi);
    }
}

/// The anomaly score of a new cluster: how far below both vigilances its best match fell,
/// plus how new its newest value is.
pub fn confidence(sim: f64, energy: f64, rho_ub: f64, rho_lb: f64) -> f64 {
    let fs = sim.min(0.999);
    let ub = ((1.0 - fs) - (1.0 - rho_ub)) / (1.0 - fs);
    let lb = ((1.0 - fs) - (1.0 - rho_lb)) / (1.0 - fs);
    let s = (ub * 0.35 + lb * 0.65 + (1.0 - energy) * 1.5).min(1.0);
    (s * 1e6).round_ties_even() / 1e6
}

/// Cosine-like similarity of two feature vectors.
fn similarity(a: &[f64], b: &[f64]) -> f64 {
    let na = a.iter().map(|x| x * x).sum::<f64>().sqrt();
    let nb = b.iter().map(|x| x * x).sum::<f64>().sqrt();
    if na == 0.0 {
        1.0 - nb
    } else if nb == 0.0 {
        1.0 - na
    } else {
        a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>() / (na * nb)
    }
}

/// The initial vigilance: the probationary features ordered from least to most typical (by
/// summed similarity to the others) are learned at vigilance `INITIAL_RHO`; the mean best
/// match over the second half is the starting vigilance.
fn init_rho(x: &[Vec<f64>], p: &Params, template: &Dvfa) -> f64 {
    let n = x.len();
    let mut sum = vec![0.0; n];
    for i in 0..n {
        for j in 0..n {
            sum[j] += if i == j {
                1.0
            } else {
                similarity(&x[i], &x[j])
            };
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|a, b| {
        sum[*a]
            .partial_cmp(&sum[*b])
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let mut art = Dvfa::new(template.dim, template.cap);
    art.rho_lb = INITIAL_RHO;
    art.rho_ub = INITIAL_RHO;
    let sims: Vec<f64> = order
        .iter()
        .map(|&k| art.present(&x[k], true).sim)
        .collect();
    let from = p.trend_window() / 2 - 1;
    let tail = &sims[from.min(sims.len())..];
    if tail.is_empty() {
        return INITIAL_RHO;
    }
    tail.iter().sum::<f64>() / tail.len() as f64
}

#[cfg(test)]
mod tests;

//! `ARTime`: adaptive resonance theory anomaly detection for one metric — the NAB leader
//! (M. Hampton's ARTime, 2021), written here from its published algorithm and Julia source.
//!
//! # Algorithm (per point, tick by tick, no look-ahead)
//!
//! 1. **Downsample.** Every `step = probation / 104` points (7 with the default 750) become
//!    one value: their maximum or minimum, whichever is farther from a moving average (a
//!    spike survives), or their mean when that is within 10 % of it.
//! 2. **Discretise.** The value is normalised by the range (`input_min`/`input_max`, or the
//!    probationary period's range widened by `margin`, later values clamped), cut into 80
//!    levels and snapped to the running median level when within 0.075 of it.
//! 3. **Features.** The newest 8 levels, min–max scaled, their Haar wavelet transform (also
//!    scaled) and the 8 levels themselves: 16 features in [0, 1].
//! 4. **ART.** A dual-vigilance fuzzy ART network ([`dvfa`]) matches the features against
//!    its categories; a match below the lower vigilance opens a new cluster. The vigilances
//!    start from the probationary period (learned in one batch at its end) and follow the
//!    recent matches.
//! 5. **Anomaly.** A new cluster outside the masking after a recent anomaly or new category
//!    scores its confidence (how far below both vigilances it fell, plus how new its newest
//!    value is), in (0, 1]; every other point scores 0. A score at or above `threshold` is a
//!    detection: `flag` 1 and an `anomalous` verdict, else an `ok` one ([`judge`]).
//!
//! # Outputs (`<prefix>.ARTime.<service>.<field>`)
//!
//! | field | meaning |
//! |---|---|
//! | `anomaly_score` | in [0, 1]: a new cluster's confidence, else 0 |
//! | `flag` | 1 at a detection (`anomaly_score ≥ threshold`), else 0 |
//! | `categories` | ART categories held |
//!
//! When a tick brings several points, each is learned in order and the highest score is
//! written and judged: one verdict per tick on the metric. A tick with no new point writes
//! and judges nothing (the alarm layer makes a metric left unjudged undetermined).
//!
//! # Options
//!
//! | option | default | meaning |
//! |---|---|---|
//! | `metric` | required | the metric, by exact name |
//! | `probation` | 750 | points learned before any score (NAB: 15 % of a file, at most 750) |
//! | `input_min`, `input_max` | none | the value range, when known (both or neither) |
//! | `margin` | 0.3 | without a known range: share of the probationary range added each side |
//! | `max_categories` | 1024 | ART categories kept (least recently used replaced past it) |
//! | `threshold` | 0.34 | score that flags a detection |
//! | `backfill` | 604800 | first run (or lost model): seconds of history to learn from |
//!
//! # Cost and state
//!
//! Per downsampled value, O(categories · 32) for the match (ARTime learns one value per
//! `step` points). Per series: `max_categories · 32` weights (`f64`: 256 kB at the cap of
//! 1024; at most 831 on NAB's 35 files, 121 on average in `tick_bench`), 81 level counts, windows of
//! `step`, 8, `trend/2 + 1` and `trend + 1` values (trend = 107 with the defaults), at most
//! 1024 anomaly similarities, and during the probationary period its raw points
//! (`probation` values) and features (`trend · 16` values). The model lives in the plugin
//! instance; the state holds only a 16-byte stamp (newest time, points learned): an
//! instance that finds another stamp (another runner moved the series on) or none rebuilds
//! its model from the last `backfill` seconds.
//!
//! # NAB v1.1 (35 of the 58 files)
//!
//! With NAB's protocol (each file's minimum, maximum and probationary period given, as NAB
//! gives every detector), the model reproduces the published ARTime results: standard
//! 67.85 (published 67.8), see `research/detection.md` and `research/nab-ports`.

use am_plugin_api::{BaseTask, Context, Init, PluginError, Severity, Verdict};
use serde::Deserialize;

pub mod dvfa;
pub mod model;

pub use model::{Artime, Params};

/// The options of one service.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// The metric to watch, by its exact name. Required.
    pub metric: String,
    /// Points of the probationary period: learned before any score; sets the downsampling
    /// step (`probation / 104`, at least 1). Default 750.
    #[serde(default = "d_probation")]
    pub probation: usize,
    /// Lowest value of the series' range, when known (with `input_max`).
    #[serde(default)]
    pub input_min: Option<f64>,
    /// Highest value of the series' range, when known (with `input_min`).
    #[serde(default)]
    pub input_max: Option<f64>,
    /// Without a known range: share of the probationary period's range added on each side.
    /// Default 0.3.
    #[serde(default = "d_margin")]
    pub margin: f64,
    /// Most ART categories kept per series. Default 1024.
    #[serde(default = "d_max_categories")]
    pub max_categories: usize,
    /// Anomaly score at or above which a point is a detection. Default 0.34.
    #[serde(default = "d_threshold")]
    pub threshold: f64,
    /// On the first run (or a lost model), how far back to learn from, in seconds.
    /// Default 604800.
    #[serde(default = "d_backfill")]
    pub backfill: i64,
}

fn d_probation() -> usize {
    750
}
fn d_margin() -> f64 {
    0.3
}
fn d_max_categories() -> usize {
    1024
}
fn d_threshold() -> f64 {
    0.34
}
fn d_backfill() -> i64 {
    7 * 86400
}

impl Options {
    /// The model's parameters.
    pub fn params(&self) -> Params {
        Params {
            probation: self.probation,
            range: self.input_min.zip(self.input_max),
            margin: self.margin,
            max_categories: self.max_categories,
        }
    }

    /// Checks the options; the first problem, in words.
    pub fn check(&self) -> Result<(), String> {
        if self.metric.trim().is_empty() {
            return Err("`metric` must not be empty".into());
        }
        if !(16..=1_000_000).contains(&self.probation) {
            return Err("`probation` must be between 16 and 1000000 points".into());
        }
        match (self.input_min, self.input_max) {
            (Some(lo), Some(hi)) if !(lo.is_finite() && hi.is_finite() && lo <= hi) => {
                return Err("`input_min` and `input_max` must be finite, min ≤ max".into());
            }
            (Some(_), None) | (None, Some(_)) => {
                return Err("`input_min` and `input_max` go together".into());
            }
            _ => {}
        }
        if !(0.0..=100.0).contains(&self.margin) {
            return Err("`margin` must be between 0 and 100".into());
        }
        if !(2..=65_536).contains(&self.max_categories) {
            return Err("`max_categories` must be between 2 and 65536".into());
        }
        if !(self.threshold > 0.0 && self.threshold <= 1.0) {
            return Err("`threshold` must be in (0, 1]".into());
        }
        if self.backfill < 0 {
            return Err("`backfill` must be a non-negative number of seconds".into());
        }
        Ok(())
    }
}

/// State key of the 16-byte stamp (newest learned time, points learned).
pub const STAMP: &str = "stamp";

/// The verdict on one tick's most anomalous point: `anomalous` at a detection (`score ≥
/// threshold`), else `ok`. The one place where ARTime judges; the alarm layer turns the
/// verdicts of successive ticks into alarms.
pub fn judge(metric: &str, score: f64, value: f64, threshold: f64) -> Verdict {
    if score >= threshold {
        Verdict::anomalous(metric)
            .severity(Severity::Warning)
            .reason(format!(
                "value {value} opened a new ART cluster: confidence {score:.3} (threshold {threshold})"
            ))
            .value("value", value)
            .value("anomaly_score", score)
    } else {
        Verdict::ok(metric)
            .reason(format!(
                "back within the learned patterns: score {score:.3} (threshold {threshold})"
            ))
            .value("value", value)
            .value("anomaly_score", score)
    }
}

/// The `ARTime` detector: the model lives in the instance, checked against the state's stamp.
#[derive(Debug)]
pub struct ArTime {
    options: Options,
    params: Params,
    model: Option<(Artime, i64)>,
}

fn stamp(model: &Artime, last_ts: i64) -> [u8; 16] {
    let mut s = [0u8; 16];
    s[..8].copy_from_slice(&last_ts.to_le_bytes());
    s[8..].copy_from_slice(&model.i.to_le_bytes());
    s
}

impl BaseTask for ArTime {
    type Options = Options;
    const NAME: &'static str = "ARTime";

    fn new(options: Options, init: &Init<'_>) -> Result<Self, PluginError> {
        options.check().map_err(PluginError::options)?;
        init.debug(format!("watching `{}`", options.metric));
        let params = options.params();
        Ok(ArTime {
            options,
            params,
            model: None,
        })
    }

    fn run(&mut self, ctx: &mut Context<'_>) -> Result<(), PluginError> {
        let now = ctx.tick();
        let stored = ctx.state_get(STAMP)?;
        let cached = self.model.take().filter(|(m, t)| {
            stored
                .as_deref()
                .is_some_and(|s| s == stamp(m, *t).as_slice())
        });
        if cached.is_none() && stored.is_some() {
            ctx.info("no model for the stored stamp (restart or another runner): rebuilding from the backfill");
        }
        let from = match &cached {
            Some((_, t)) => t.saturating_add(1),
            None => now.saturating_sub(self.options.backfill),
        };
        let (mut model, mut last_ts) =
            cached.unwrap_or_else(|| (Artime::new(&self.params), i64::MIN));
        let points = ctx.read(&self.options.metric, from, now)?;
        let mut best: Option<(f64, f64)> = None;
        for p in &points {
            if !p.value.is_finite() || p.ts <= last_ts {
                continue;
            }
            last_ts = p.ts;
            let score = model.update(&self.params, p.value);
            if best.is_none_or(|(b, _)| score > b) {
                best = Some((score, p.value));
            }
        }
        if best.is_some() {
            ctx.state_set(STAMP, &stamp(&model, last_ts))?;
        }
        let categories = model.art.categories();
        self.model = Some((model, last_ts));
        let Some((score, value)) = best else {
            return Ok(());
        };
        let flag = score >= self.options.threshold;
        ctx.emit("anomaly_score", score)?;
        ctx.emit("flag", if flag { 1.0 } else { 0.0 })?;
        ctx.emit("categories", categories as f64)?;
        ctx.verdict(judge(
            &self.options.metric,
            score,
            value,
            self.options.threshold,
        ))?;
        Ok(())
    }
}

am_plugin_api::export_plugin!(ArTime);

#[cfg(test)]
mod tests;

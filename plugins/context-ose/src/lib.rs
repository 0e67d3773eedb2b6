//! `ContextOSE`: the Contextual Anomaly Detector, Open Source Edition (CAD OSE, M. Smirnov,
//! 2016; NAB's `contextOSE`) for one metric, written here from NAB's Python source.
//!
//! # Algorithm (per point, tick by tick, no look-ahead)
//!
//! 1. **Facts.** The value is binned into 8 bins over the range (`input_min`/`input_max`,
//!    or the first `probation` points' range widened by `margin`, later values clamped);
//!    the bin's 3 bits are 3 sensor facts.
//! 2. **Contexts.** A context pairs a left set of facts (the previous step's facts and
//!    active contexts) with a right set (the current facts). Each step crosses the facts
//!    with the stored contexts: those whose left side was complete last step are *selected*,
//!    those whose right side is complete now are *active*; up to 15 most active become facts
//!    of the next left set. New contexts are made from the crossings.
//! 3. **Anomaly.** When the facts were not all predicted, the score is
//!    `(1 − active/selected + new/proposed) / 2`; after a score of 0.75 or more the next
//!    `rest` scores are held at 0. A score at or above `threshold` is a detection: `flag` 1
//!    and an `anomalous` verdict, else an `ok` one ([`judge`]).
//!
//! # Outputs (`<prefix>.ContextOSE.<service>.<field>`)
//!
//! | field | meaning |
//! |---|---|
//! | `anomaly_score` | in [0, 1] |
//! | `flag` | 1 at a detection (`anomaly_score ≥ threshold`), else 0 |
//! | `contexts` | contexts held |
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
//! | `probation` | 750 | NAB's probationary period: `rest` is a fifth of it; without a known range, the points the range is learned from (scored 0) |
//! | `input_min`, `input_max` | none | the value range, when known (both or neither) |
//! | `margin` | 0.3 | without a known range: share of the learned range added each side |
//! | `max_contexts` | 50000 | contexts kept; at the cap no new one is made |
//! | `threshold` | 0.7 | score that flags a detection |
//! | `backfill` | 604800 | first run (or lost model): seconds of history to learn from |
//!
//! # Cost and state
//!
//! Per point, the contexts of the fully crossed left semi-contexts (found through each
//! one's highest fact and a 64-bit signature of its facts, `semis.rs`), and only at a new
//! zero-level context (a few % of the points) also a crossing of the semi-contexts holding
//! zero-level contexts: the reference visits every context of every touched semi-context.
//! Scores are the same to the last bit (all 35 files, both modes). 10 000 series per tick,
//! one core: ≈ 0.32 s on the CPU (`tick_bench`, `research/detection.md`). CAD OSE never
//! forgets, so `max_contexts` bounds the state: measured ([`Cad::bytes`], `tick_bench`),
//! 214 bytes a context with its share of semi-contexts and indexes (355 kB for a series of
//! 1 656 contexts; ≈ 11 MB at the default cap of 50 000; NAB's files make 200–64 000
//! contexts).
//! The model lives in the plugin instance; the state holds only a 16-byte stamp (newest
//! time, points learned): an instance that finds another stamp or none rebuilds its model
//! from the last `backfill` seconds.
//!
//! # NAB v1.1 (35 of the 58 files)
//!
//! With NAB's protocol (each file's minimum, maximum and probationary period given, as NAB
//! gives every detector), the model reproduces the published contextOSE results: standard
//! 62.22 (published 62.2), see `research/detection.md` and `research/nab-ports`.

use am_plugin_api::{BaseTask, Context, Init, PluginError, Severity, Verdict};
use serde::Deserialize;

pub mod model;
pub mod pydict;
mod semis;

pub use model::{Cad, Params, Series, Setup};
/// The options of one service.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// The metric to watch, by its exact name. Required.
    pub metric: String,
    /// NAB's probationary period: scores are held for `probation / 5` points after a high
    /// one; without a known range, the points the range is learned from. Default 750.
    #[serde(default = "d_probation")]
    pub probation: usize,
    /// Lowest value of the series' range, when known (with `input_max`).
    #[serde(default)]
    pub input_min: Option<f64>,
    /// Highest value of the series' range, when known (with `input_min`).
    #[serde(default)]
    pub input_max: Option<f64>,
    /// Without a known range: share of the learned range added on each side. Default 0.3.
    #[serde(default = "d_margin")]
    pub margin: f64,
    /// Most contexts kept per series (at the cap no new one is made). Default 50000.
    #[serde(default = "d_max_contexts")]
    pub max_contexts: usize,
    /// Anomaly score at or above which a point is a detection. Default 0.7.
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
fn d_max_contexts() -> usize {
    50_000
}
fn d_threshold() -> f64 {
    0.7
}
fn d_backfill() -> i64 {
    7 * 86400
}

impl Options {
    /// How a series is set up.
    pub fn setup(&self) -> Setup {
        Setup {
            probation: self.probation,
            range: self.input_min.zip(self.input_max),
            margin: self.margin,
            max_contexts: self.max_contexts,
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
        if !(16..=10_000_000).contains(&self.max_contexts) {
            return Err("`max_contexts` must be between 16 and 10000000".into());
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
/// threshold`), else `ok`. The one place where ContextOSE judges; the alarm layer turns the
/// verdicts of successive ticks into alarms.
pub fn judge(metric: &str, score: f64, value: f64, threshold: f64) -> Verdict {
    if score >= threshold {
        Verdict::anomalous(metric)
            .severity(Severity::Warning)
            .reason(format!(
                "value {value} broke the learned contexts: score {score:.3} (threshold {threshold})"
            ))
            .value("value", value)
            .value("anomaly_score", score)
    } else {
        Verdict::ok(metric)
            .reason(format!(
                "within the learned contexts: score {score:.3} (threshold {threshold})"
            ))
            .value("value", value)
            .value("anomaly_score", score)
    }
}

/// The `ContextOSE` detector: the model lives in the instance, checked against the state's
/// stamp.
#[derive(Debug)]
pub struct ContextOse {
    options: Options,
    model: Option<(Series, i64)>,
}

fn stamp(model: &Series, last_ts: i64) -> [u8; 16] {
    let mut s = [0u8; 16];
    s[..8].copy_from_slice(&last_ts.to_le_bytes());
    s[8..].copy_from_slice(&model.n.to_le_bytes());
    s
}

impl BaseTask for ContextOse {
    type Options = Options;
    const NAME: &'static str = "ContextOSE";

    fn new(options: Options, init: &Init<'_>) -> Result<Self, PluginError> {
        options.check().map_err(PluginError::options)?;
        init.debug(format!("watching `{}`", options.metric));
        Ok(ContextOse {
            options,
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
            cached.unwrap_or_else(|| (Series::new(&self.options.setup()), i64::MIN));
        let points = ctx.read(&self.options.metric, from, now)?;
        let mut best: Option<(f64, f64)> = None;
        for p in &points {
            if !p.value.is_finite() || p.ts <= last_ts {
                continue;
            }
            last_ts = p.ts;
            let score = model.update(&self.options.setup(), p.value);
            if best.is_none_or(|(b, _)| score > b) {
                best = Some((score, p.value));
            }
        }
        if best.is_some() {
            ctx.state_set(STAMP, &stamp(&model, last_ts))?;
        }
        let contexts = model.contexts();
        self.model = Some((model, last_ts));
        let Some((score, value)) = best else {
            return Ok(());
        };
        let flag = score >= self.options.threshold;
        ctx.emit("anomaly_score", score)?;
        ctx.emit("flag", if flag { 1.0 } else { 0.0 })?;
        ctx.emit("contexts", contexts as f64)?;
        ctx.verdict(judge(
            &self.options.metric,
            score,
            value,
            self.options.threshold,
        ))?;
        Ok(())
    }
}

am_plugin_api::export_plugin!(ContextOse);

#[cfg(test)]
mod tests;

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
//! The model is [`am_nab_detectors::context_ose`] (`crates/nab-detectors`); this crate is
//! its plugin: options, state, outputs and verdicts.
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
//! one's highest fact and a 64-bit signature of its facts), and only at a new
//! zero-level context (a few % of the points) also a crossing of the semi-contexts holding
//! zero-level contexts: the reference visits every context of every touched semi-context.
//! Scores are the same to the last bit (all 35 files, both modes). 10 000 series per tick,
//! one core: ≈ 0.32 s on the CPU (`tick_bench`, `research/detection.md`). CAD OSE never
//! forgets, so `max_contexts` bounds the state: measured (`Cad::bytes`, `tick_bench`),
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

use am_nab_detectors::context_ose::{self, Series, Setup};
use am_plugin_api::{Context, PluginError, Verdict};
use am_plugin_kit::check_within;
use am_plugin_kit::held::{self, HeldDetector, HeldTask, Watch};

am_plugin_kit::series_options! {
    /// The options of one service.
    pub struct Options(p = Setup::default()) {
        /// NAB's probationary period: scores are held for `probation / 5` points after a high
        /// one; without a known range, the points the range is learned from. Default 750.
        pub probation: usize,
        /// Lowest value of the series' range, when known (with `input_max`).
        pub input_min: Option<f64> = None,
        /// Highest value of the series' range, when known (with `input_min`).
        pub input_max: Option<f64> = None,
        /// Without a known range: share of the learned range added on each side. Default 0.3.
        pub margin: f64,
        /// Most contexts kept per series (at the cap no new one is made). Default 50000.
        pub max_contexts: usize,
        /// Anomaly score at or above which a point is a detection. Default 0.7.
        pub threshold: f64 = context_ose::THRESHOLD,
    }
}

impl Options {
    /// Checks the options; how a series is set up.
    pub fn setup(&self) -> Result<Setup, PluginError> {
        held::check_series(&self.metric, self.backfill)?;
        let range =
            held::check_learning(self.probation, self.input_min, self.input_max, self.margin)?;
        check_within("max_contexts", 16..=10_000_000, "", self.max_contexts)?;
        held::check_threshold(self.threshold)?;
        Ok(Setup {
            probation: self.probation,
            range,
            margin: self.margin,
            max_contexts: self.max_contexts,
        })
    }
}

/// The verdict on one tick's most anomalous point: `anomalous` at a detection (`score ≥
/// threshold`), else `ok`. The one place where ContextOSE judges.
pub fn judge(metric: &str, score: f64, value: f64, threshold: f64) -> Verdict {
    let why = format!("value {value} broke the learned contexts");
    let why_not = "within the learned contexts";
    held::score_verdict(metric, value, score, threshold, &why, why_not)
}

/// What ContextOSE adds to the held-model plugin glue: its options, model, outputs and
/// verdict.
#[derive(Debug)]
pub struct Detector;

impl HeldDetector for Detector {
    const NAME: &'static str = "ContextOSE";
    type Options = Options;
    type Model = Series;

    fn setup(o: &Options) -> Result<(Watch, Setup), PluginError> {
        let setup = o.setup()?;
        Ok((Watch::new(&o.metric, o.backfill, o.threshold), setup))
    }

    fn emit(ctx: &Context<'_>, model: Option<&Series>, _: &f64) -> Result<(), PluginError> {
        let contexts = model.map_or(0, Series::contexts);
        ctx.emit("contexts", contexts as f64)
    }

    fn judge(metric: &str, score: &f64, value: f64, threshold: f64) -> Verdict {
        judge(metric, *score, value, threshold)
    }
}

/// The `ContextOSE` detector: the model lives in the instance, checked against the state's
/// stamp.
pub type ContextOse = HeldTask<Detector>;

am_plugin_api::export_plugin!(ContextOse);

#[cfg(test)]
mod tests;

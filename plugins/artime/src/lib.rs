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
//! 4. **ART.** A dual-vigilance fuzzy ART network ([`artime::dvfa`]) matches the features
//!    against its categories; a match below the lower vigilance opens a new cluster. The
//!    vigilances start from the probationary period (learned in one batch at its end) and
//!    follow the recent matches.
//! 5. **Anomaly.** A new cluster outside the masking after a recent anomaly or new category
//!    scores its confidence (how far below both vigilances it fell, plus how new its newest
//!    value is), in (0, 1]; every other point scores 0. A score at or above `threshold` is a
//!    detection: `flag` 1 and an `anomalous` verdict, else an `ok` one ([`judge`]).
//!
//! The model is [`am_nab_detectors::artime`] (`crates/nab-detectors`); this crate is its
//! plugin: options, state, outputs and verdicts.
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

use am_nab_detectors::artime::{self, Artime, Params};
use am_plugin_api::{Context, PluginError, Verdict};
use am_plugin_kit::check_within;
use am_plugin_kit::held::{self, HeldDetector, HeldTask, Watch};

am_plugin_kit::series_options! {
    /// The options of one service.
    pub struct Options(p = Params::default()) {
        /// Points of the probationary period: learned before any score; sets the downsampling
        /// step (`probation / 104`, at least 1). Default 750.
        pub probation: usize,
        /// Lowest value of the series' range, when known (with `input_max`).
        pub input_min: Option<f64> = None,
        /// Highest value of the series' range, when known (with `input_min`).
        pub input_max: Option<f64> = None,
        /// Without a known range: share of the probationary period's range added on each side.
        /// Default 0.3.
        pub margin: f64,
        /// Most ART categories kept per series. Default 1024.
        pub max_categories: usize,
        /// Anomaly score at or above which a point is a detection. Default 0.34.
        pub threshold: f64 = artime::THRESHOLD,
    }
}

impl Options {
    /// Checks the options; the model's parameters.
    pub fn params(&self) -> Result<Params, PluginError> {
        held::check_series(&self.metric, self.backfill)?;
        let range =
            held::check_learning(self.probation, self.input_min, self.input_max, self.margin)?;
        check_within("max_categories", 2..=65_536, "", self.max_categories)?;
        held::check_threshold(self.threshold)?;
        Ok(Params {
            probation: self.probation,
            range,
            margin: self.margin,
            max_categories: self.max_categories,
        })
    }
}

/// The verdict on one tick's most anomalous point: `anomalous` at a detection (`score ≥
/// threshold`), else `ok`. The one place where ARTime judges.
pub fn judge(metric: &str, score: f64, value: f64, threshold: f64) -> Verdict {
    let why = format!("value {value} opened a new ART cluster");
    let why_not = "back within the learned patterns";
    held::score_verdict(metric, value, score, threshold, &why, why_not)
}

/// What ARTime adds to the held-model plugin glue: its options, model, outputs and verdict.
#[derive(Debug)]
pub struct Detector;

impl HeldDetector for Detector {
    const NAME: &'static str = "ARTime";
    type Options = Options;
    type Model = Artime;

    fn setup(o: &Options) -> Result<(Watch, Params), PluginError> {
        let params = o.params()?;
        Ok((Watch::new(&o.metric, o.backfill, o.threshold), params))
    }

    fn emit(ctx: &Context<'_>, model: Option<&Artime>, _: &f64) -> Result<(), PluginError> {
        let categories = model.map_or(0, |m| m.art.categories());
        ctx.emit("categories", categories as f64)
    }

    fn judge(metric: &str, score: &f64, value: f64, threshold: f64) -> Verdict {
        judge(metric, *score, value, threshold)
    }
}

/// The `ARTime` detector: the model lives in the instance, checked against the state's stamp.
pub type ArTime = HeldTask<Detector>;

am_plugin_api::export_plugin!(ArTime);

#[cfg(test)]
mod tests;

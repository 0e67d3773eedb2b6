//! `Ensemble`: Novelty, ARTime and ContextOSE on one metric; an alert needs a second
//! opinion. Each member learns every value; a member *detects* where its own score reaches
//! its threshold (Novelty 0.25, ARTime 0.34, ContextOSE 0.70: each one's NAB optimum);
//! the ensemble alerts where one member detects and another one detected at the same point
//! or within the `confirm` (100) points before, outside the `quiet` (100) points after its
//! previous alert. Each member alone raises many false alarms on noisy series; they rarely
//! raise them at the same time, while a real incident tends to surprise two of them
//! (`research/detection.md`, "Ensemble"). A detection no other member confirms (a *lone*
//! one) scores below every alert, in [0.25, 0.5): it never flags at the default
//! `threshold`, but a lower threshold takes it in — young series and short incidents often
//! get only one opinion in time. Since lone detections never hold an alert back, any
//! threshold of 0.5 or more sees exactly the alerts.
//!
//! # Outputs (`<prefix>.Ensemble.<service>.<field>`)
//!
//! | field | meaning |
//! |---|---|
//! | `anomaly_score` | at an alert the highest detecting member's score scaled so its threshold maps to 0.5 (so in [0.5, 1]); at a lone detection, in [0.25, 0.5) by the same scaled score; else 0 |
//! | `flag` | 1 at an alert (`anomaly_score ≥ threshold`), else 0 |
//! | `novelty`, `artime`, `context_ose` | each member's own score |
//!
//! When a tick brings several points, each is learned in order and the fields of the
//! highest-scoring one are written and judged: one verdict per tick on the metric. A tick
//! with no new point writes and judges nothing (the alarm layer makes a metric left
//! unjudged undetermined).
//!
//! # Options
//!
//! | option | default | meaning |
//! |---|---|---|
//! | `metric` | required | the metric, by exact name |
//! | `probation` | 750 | ARTime's and ContextOSE's probationary period (points) |
//! | `input_min`, `input_max` | none | the value range, when known (both or neither) |
//! | `margin` | 0.3 | without a known range: share of the learned range added each side |
//! | `thresholds` | [0.25, 0.34, 0.70] | each member's detection threshold (Novelty, ARTime, ContextOSE) |
//! | `confirm` | 100 | points within which a second member's detection confirms one |
//! | `quiet` | 100 | points after an alert without another (and after a lone detection without another lone one) |
//! | `lone` | true | score lone detections (in [0.25, 0.5)) |
//! | `threshold` | 0.5 | `anomaly_score` that flags an alert |
//! | `max_categories` | 1024 | ARTime's category cap |
//! | `max_contexts` | 50000 | ContextOSE's context cap |
//! | `backfill` | 604800 | first run (or lost model): seconds of history to learn from |
//!
//! Novelty runs with its shipped options.
//!
//! The models are [`am_nab_detectors::ensemble`] and its members (`crates/nab-detectors`);
//! this crate is their plugin: options, state, outputs and verdicts.
//!
//! # Cost and state
//!
//! The sum of the members' (see their crates): per point ≈ 32 000 multiply-adds for
//! Novelty, O(categories · 32) per downsampled value for ARTime, the contexts of the fully
//! crossed left semi-contexts for ContextOSE; 10 000 series per tick on one core ≈ 0.5 s on
//! the CPU (`tick_bench`). Per series: Novelty's 20.3 kB, ARTime's ≤ 256 kB (typically
//! ≈ 40 kB) and ContextOSE's 214 bytes a context (≤ 11 MB at its cap; 0.04–11 MB
//! on NAB's files), plus 5 counters.
//! The models live in the plugin instance; the state holds a 16-byte stamp (newest time,
//! points learned): an instance that finds another stamp or none rebuilds the models from
//! the last `backfill` seconds.

use am_nab_detectors::ensemble::{Ensemble, MEMBERS, Output, Params};
use am_nab_detectors::{artime, context_ose, novelty};
use am_plugin_api::{Context, PluginError, Severity, Verdict};
use am_plugin_kit::held::{self, HeldDetector, HeldTask, Watch};
use am_plugin_kit::{check, check_within};

am_plugin_kit::series_options! {
    /// The options of one service.
    pub struct Options(p = Params::default()) {
        /// ARTime's and ContextOSE's probationary period, in points. Default 750.
        pub probation: usize = p.artime.probation,
        /// Lowest value of the series' range, when known (with `input_max`).
        pub input_min: Option<f64> = None,
        /// Highest value of the series' range, when known (with `input_min`).
        pub input_max: Option<f64> = None,
        /// Without a known range: share of the learned range added on each side. Default 0.3.
        pub margin: f64 = p.artime.margin,
        /// Detection thresholds of Novelty, ARTime and ContextOSE. Default [0.25, 0.34, 0.70].
        pub thresholds: [f64; 3],
        /// Points within which a second member's detection confirms one. Default 100.
        pub confirm: u64,
        /// Points after an alert during which no other is raised (and after a lone detection
        /// during which no other lone one scores). Default 100.
        pub quiet: u64,
        /// Whether a detection no other member confirms scores, in [0.25, 0.5) (below every
        /// alert). Default true.
        pub lone: bool,
        /// `anomaly_score` at or above which a point is flagged. Default 0.5.
        pub threshold: f64 = 0.5,
        /// ARTime's category cap. Default 1024.
        pub max_categories: usize = p.artime.max_categories,
        /// ContextOSE's context cap. Default 50000.
        pub max_contexts: usize = p.cad.max_contexts,
    }
}

impl Options {
    /// Checks the options (the members' too); the ensemble's parameters. Novelty runs with
    /// its shipped parameters (the ensemble was measured with them).
    pub fn params(&self) -> Result<Params, PluginError> {
        held::check_series(&self.metric, self.backfill)?;
        let range =
            held::check_learning(self.probation, self.input_min, self.input_max, self.margin)?;
        let ok = self.thresholds.iter().all(|t| *t > 0.0 && *t < 1.0);
        check(
            ok,
            "thresholds",
            "each in (0, 1)",
            format!("{:?}", self.thresholds),
        )?;
        for (name, points) in [("confirm", self.confirm), ("quiet", self.quiet)] {
            check(points <= 100_000, name, "at most 100000 points", points)?;
        }
        held::check_threshold(self.threshold)?;
        check_within("max_categories", 2..=65_536, "", self.max_categories)?;
        check_within("max_contexts", 16..=10_000_000, "", self.max_contexts)?;
        Ok(Params {
            novelty: novelty::Params::default(),
            artime: artime::Params {
                probation: self.probation,
                range,
                margin: self.margin,
                max_categories: self.max_categories,
            },
            cad: context_ose::Setup {
                probation: self.probation,
                range,
                margin: self.margin,
                max_contexts: self.max_contexts,
            },
            thresholds: self.thresholds,
            confirm: self.confirm,
            quiet: self.quiet,
            lone: self.lone,
        })
    }
}

/// The verdict on one tick's highest-scoring point: `anomalous` at an alert (`score ≥
/// threshold`: two members agree), else `ok`. The one place where the ensemble reports; the
/// alarm layer turns the verdicts of successive ticks into alarms.
pub fn judge(metric: &str, out: &Output, value: f64, threshold: f64) -> Verdict {
    let who: Vec<String> = MEMBERS
        .iter()
        .zip(&out.members)
        .map(|(m, s)| format!("{m} {s:.3}"))
        .collect();
    let verdict = if out.score >= threshold {
        Verdict::anomalous(metric)
            .severity(Severity::Warning)
            .reason(format!(
                "value {value}: two detectors agree, score {:.3} ({})",
                out.score,
                who.join(", ")
            ))
    } else {
        Verdict::ok(metric).reason(format!("no two detectors agree ({})", who.join(", ")))
    };
    verdict
        .value("value", value)
        .value("anomaly_score", out.score)
}

/// What the ensemble adds to the held-model plugin glue: its options, models, outputs and
/// verdict.
#[derive(Debug)]
pub struct Detector;

impl HeldDetector for Detector {
    const NAME: &'static str = "Ensemble";
    type Options = Options;
    type Model = Ensemble;

    fn setup(o: &Options) -> Result<(Watch, Params), PluginError> {
        let params = o.params()?;
        Ok((Watch::new(&o.metric, o.backfill, o.threshold), params))
    }

    /// Each member's own score.
    fn emit(ctx: &Context<'_>, _: Option<&Ensemble>, out: &Output) -> Result<(), PluginError> {
        for (m, s) in MEMBERS.iter().zip(&out.members) {
            ctx.emit(m, *s)?;
        }
        Ok(())
    }

    fn judge(metric: &str, out: &Output, value: f64, threshold: f64) -> Verdict {
        judge(metric, out, value, threshold)
    }
}

/// The `Ensemble` detector: the models live in the instance, checked against the state's
/// stamp.
pub type EnsembleTask = HeldTask<Detector>;

am_plugin_api::export_plugin!(EnsembleTask);

#[cfg(test)]
mod tests;

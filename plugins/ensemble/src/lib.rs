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

use am_plugin_api::{BaseTask, Context, Init, PluginError, Severity, Verdict};
use serde::Deserialize;

// The members' models are compiled into this plugin from their crates' own files (not
// linked as crates: each member crate also exports a plugin's C entry points).
#[path = "../../artime/src/model.rs"]
pub mod artime;
#[path = "../../context-ose/src/model.rs"]
pub mod context_ose;
#[path = "../../artime/src/dvfa.rs"]
pub mod dvfa;
pub mod model;
#[path = "../../novelty/src/model.rs"]
pub mod novelty;
#[path = "../../context-ose/src/pydict.rs"]
pub mod pydict;
#[path = "../../context-ose/src/semis.rs"]
mod semis;

pub use model::{Ensemble, Judge, MEMBERS, Output, Params, judge_point};

/// The options of one service.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// The metric to watch, by its exact name. Required.
    pub metric: String,
    /// ARTime's and ContextOSE's probationary period, in points. Default 750.
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
    /// Detection thresholds of Novelty, ARTime and ContextOSE. Default [0.25, 0.34, 0.70].
    #[serde(default = "d_thresholds")]
    pub thresholds: [f64; 3],
    /// Points within which a second member's detection confirms one. Default 100.
    #[serde(default = "d_confirm")]
    pub confirm: u64,
    /// Points after an alert during which no other is raised (and after a lone detection
    /// during which no other lone one scores). Default 100.
    #[serde(default = "d_quiet")]
    pub quiet: u64,
    /// Whether a detection no other member confirms scores, in [0.25, 0.5) (below every
    /// alert). Default true.
    #[serde(default = "d_lone")]
    pub lone: bool,
    /// `anomaly_score` at or above which a point is flagged. Default 0.5.
    #[serde(default = "d_threshold")]
    pub threshold: f64,
    /// ARTime's category cap. Default 1024.
    #[serde(default = "d_max_categories")]
    pub max_categories: usize,
    /// ContextOSE's context cap. Default 50000.
    #[serde(default = "d_max_contexts")]
    pub max_contexts: usize,
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
fn d_thresholds() -> [f64; 3] {
    [0.25, 0.34, 0.70]
}
fn d_confirm() -> u64 {
    100
}
fn d_quiet() -> u64 {
    100
}
fn d_lone() -> bool {
    true
}
fn d_threshold() -> f64 {
    0.5
}
fn d_max_categories() -> usize {
    1024
}
fn d_max_contexts() -> usize {
    50_000
}
fn d_backfill() -> i64 {
    7 * 86400
}

impl Options {
    /// The ensemble's parameters (checks the members' options too).
    pub fn params(&self) -> Result<Params, String> {
        let bad = |m: &str| Err(m.to_string());
        if self.metric.trim().is_empty() {
            return bad("`metric` must not be empty");
        }
        if self.thresholds.iter().any(|t| !(*t > 0.0 && *t < 1.0)) {
            return bad("`thresholds` must each be in (0, 1)");
        }
        if self.confirm > 100_000 || self.quiet > 100_000 {
            return bad("`confirm` and `quiet` must be at most 100000 points");
        }
        if !(self.threshold > 0.0 && self.threshold <= 1.0) {
            return bad("`threshold` must be in (0, 1]");
        }
        if self.backfill < 0 {
            return bad("`backfill` must be a non-negative number of seconds");
        }
        if !(16..=1_000_000).contains(&self.probation) {
            return bad("`probation` must be between 16 and 1000000 points");
        }
        match (self.input_min, self.input_max) {
            (Some(lo), Some(hi)) if !(lo.is_finite() && hi.is_finite() && lo <= hi) => {
                return bad("`input_min` and `input_max` must be finite, min ≤ max");
            }
            (Some(_), None) | (None, Some(_)) => {
                return bad("`input_min` and `input_max` go together");
            }
            _ => {}
        }
        if !(0.0..=100.0).contains(&self.margin) {
            return bad("`margin` must be between 0 and 100");
        }
        if !(2..=65_536).contains(&self.max_categories) {
            return bad("`max_categories` must be between 2 and 65536");
        }
        if !(16..=10_000_000).contains(&self.max_contexts) {
            return bad("`max_contexts` must be between 16 and 10000000");
        }
        let range = self.input_min.zip(self.input_max);
        let artime = artime::Params {
            probation: self.probation,
            range,
            margin: self.margin,
            max_categories: self.max_categories,
        };
        let cad = context_ose::Setup {
            probation: self.probation,
            range,
            margin: self.margin,
            max_contexts: self.max_contexts,
        };
        Ok(Params {
            novelty: novelty_params(),
            artime,
            cad,
            thresholds: self.thresholds,
            confirm: self.confirm,
            quiet: self.quiet,
            lone: self.lone,
        })
    }
}

/// Novelty's shipped parameters (its plugin's defaults, `{"metric": "x"}`; the ensemble
/// was measured with them).
pub fn novelty_params() -> novelty::Params {
    novelty::Params {
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

/// State key of the 16-byte stamp (newest learned time, points learned).
pub const STAMP: &str = "stamp";

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

/// The `Ensemble` detector: the models live in the instance, checked against the state's
/// stamp.
#[derive(Debug)]
pub struct EnsembleTask {
    options: Options,
    params: Params,
    model: Option<(Ensemble, i64)>,
}

fn stamp(model: &Ensemble, last_ts: i64) -> [u8; 16] {
    let mut s = [0u8; 16];
    s[..8].copy_from_slice(&last_ts.to_le_bytes());
    s[8..].copy_from_slice(&model.n.to_le_bytes());
    s
}

impl BaseTask for EnsembleTask {
    type Options = Options;
    const NAME: &'static str = "Ensemble";

    fn new(options: Options, init: &Init<'_>) -> Result<Self, PluginError> {
        let params = options.params().map_err(PluginError::options)?;
        init.debug(format!("watching `{}`", options.metric));
        Ok(EnsembleTask {
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
            cached.unwrap_or_else(|| (Ensemble::new(&self.params), i64::MIN));
        let points = ctx.read(&self.options.metric, from, now)?;
        let mut best: Option<(Output, f64)> = None;
        for p in &points {
            if !p.value.is_finite() || p.ts <= last_ts {
                continue;
            }
            last_ts = p.ts;
            let out = model.update(&self.params, p.value);
            if best.is_none_or(|(b, _)| out.score > b.score) {
                best = Some((out, p.value));
            }
        }
        if best.is_some() {
            ctx.state_set(STAMP, &stamp(&model, last_ts))?;
        }
        self.model = Some((model, last_ts));
        let Some((out, value)) = best else {
            return Ok(());
        };
        let flag = out.score >= self.options.threshold;
        ctx.emit("anomaly_score", out.score)?;
        ctx.emit("flag", if flag { 1.0 } else { 0.0 })?;
        for (m, s) in MEMBERS.iter().zip(&out.members) {
            ctx.emit(m, *s)?;
        }
        ctx.verdict(judge(
            &self.options.metric,
            &out,
            value,
            self.options.threshold,
        ))?;
        Ok(())
    }
}

am_plugin_api::export_plugin!(EnsembleTask);

#[cfg(test)]
mod tests;

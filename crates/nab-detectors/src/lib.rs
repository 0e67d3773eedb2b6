//! # am-nab-detectors: the streaming anomaly models measured on NAB
//!
//! The models behind four plugins, free of any host: each learns one series one value at a
//! time and scores every value from what came before it (no look-ahead), the way the
//! Numenta Anomaly Benchmark (NAB) runs a detector and the way the runner feeds a plugin.
//!
//! | module | model | plugin |
//! |---|---|---|
//! | [`novelty`] | [`novelty::Model`]: nearest earlier windows, judged against the series' own recent distances | `Novelty` (`plugins/novelty`) |
//! | [`artime`] | [`artime::Artime`]: ARTime (M. Hampton, 2021), a dual-vigilance fuzzy ART ([`artime::dvfa`]) over discretised windows | `ARTime` (`plugins/artime`) |
//! | [`context_ose`] | [`context_ose::Cad`], [`context_ose::Series`]: CAD OSE (M. Smirnov, 2016), learned left/right contexts of binned values | `ContextOSE` (`plugins/context-ose`) |
//! | [`ensemble`] | [`ensemble::Ensemble`]: the three above on one series, an alert needing two of them | `Ensemble` (`plugins/ensemble`) |
//!
//! The algorithms, their options and their NAB scores are documented in the plugins' crate
//! docs (what a user configures) and in `research/detection.md`; each module here documents
//! its maths. The plugins add only their glue: options, the state, outputs and verdicts.
//!
//! Every model implements [`SeriesModel`], so that one piece of code can drive any of them
//! (the plugins' held model in `am-plugin-kit`, the benchmarks, the NAB harnesses).
//!
//! ## NAB's protocol
//!
//! NAB gives every detector each file's minimum, maximum and probationary period (15 % of
//! the file, at most 750 rows): `artime::Params::nab` and `context_ose::Params::nab` set a
//! model up that way, and with it the ports reproduce the published ARTime and contextOSE
//! scores (`research/nab-ports/check`). In production nothing is known in advance: the
//! models' `Default` parameters learn the value range from the first `probation` points,
//! widened by `margin` on each side. The [`nab`] module reads a NAB-layout corpus and writes
//! NAB's results layout, for the offline harnesses (`cargo run --release -p
//! am-plugin-artime --example artime_nab`, ...).
//!
//! ```
//! use am_nab_detectors::SeriesModel;
//! use am_nab_detectors::artime::{Artime, Params};
//!
//! let p = Params::default();
//! let mut model = Artime::new(&p);
//! let scores: Vec<f64> = (0..2000).map(|i| model.update(&p, f64::from(i % 48))).collect();
//! assert!(scores.iter().all(|s| (0.0..=1.0).contains(s)));
//! ```

pub mod artime;
pub mod context_ose;
pub mod ensemble;
pub mod nab;
pub mod novelty;
pub mod signals;

#[cfg(test)]
mod tests;

/// The model of one series, fed one value at a time: what a plugin holds per series, and
/// what the benchmarks and the NAB harnesses drive. A value's score depends only on the
/// values learned before it.
pub trait SeriesModel: Sized {
    /// The tuning, shared by every series of a service.
    type Params;
    /// What learning one value gives.
    type Output;

    /// A model that has learned nothing.
    fn new(p: &Self::Params) -> Self;

    /// Learns one finite value (callers drop the others) and scores it.
    fn update(&mut self, p: &Self::Params, value: f64) -> Self::Output;

    /// The anomaly score in an output, in [0, 1].
    fn score(out: &Self::Output) -> f64;
}

/// The range of `values` widened by `margin` of itself on each side: the range a model
/// learns from its probationary period when none is given.
pub(crate) fn widened_range(values: &[f64], margin: f64) -> (f64, f64) {
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let pad = (hi - lo) * margin;
    (lo - pad, hi + pad)
}

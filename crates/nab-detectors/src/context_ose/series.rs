//! CAD OSE on a series of unknown range, as the plugins run it: the range is learned from
//! the first `probation` points (widened by `margin`) unless given, then [`Cad`] learns.

use super::{Cad, Params};
use crate::{SeriesModel, widened_range};

/// How a series is set up in production: NAB's probationary period, the range if known.
#[derive(Debug, Clone, PartialEq)]
pub struct Setup {
    /// NAB's probationary period (`rest` is a fifth of it); without a range, the points the
    /// range is learned from.
    pub probation: usize,
    /// The value range, when known.
    pub range: Option<(f64, f64)>,
    /// Without a range: share of the learned range added on each side.
    pub margin: f64,
    /// Most contexts kept.
    pub max_contexts: usize,
}

impl Default for Setup {
    /// As the plugin runs it by default, nothing known in advance: the range learned from the
    /// first 750 points, widened by 0.3 of itself on each side; at most 50 000 contexts.
    fn default() -> Self {
        Setup {
            probation: 750,
            range: None,
            margin: 0.3,
            max_contexts: 50_000,
        }
    }
}

impl Setup {
    /// The model's parameters for the range `(min, max)`.
    pub fn params(&self, min: f64, max: f64) -> Params {
        let mut p = Params::nab(0, min, max);
        p.rest = self.probation / 5;
        p.max_contexts = self.max_contexts;
        p
    }
}

/// One series: the range is learned from the first `probation` points unless given.
#[derive(Debug, Clone)]
pub struct Series {
    /// The model, once the range is known.
    pub cad: Option<(Cad, Params)>,
    /// Points held until the range is known.
    pub pending: Vec<f64>,
    /// Points learned.
    pub n: u64,
}

impl Series {
    /// Contexts held.
    pub fn contexts(&self) -> usize {
        self.cad.as_ref().map_or(0, |(c, _)| c.contexts())
    }

    /// Heap bytes held ([`Cad::bytes`], or the points waiting for the range).
    pub fn bytes(&self) -> usize {
        self.cad.as_ref().map_or(0, |(c, _)| c.bytes()) + self.pending.capacity() * 8
    }
}

impl SeriesModel for Series {
    type Params = Setup;
    type Output = f64;

    /// A fresh series.
    fn new(setup: &Setup) -> Self {
        let cad = setup.range.map(|(lo, hi)| {
            let p = setup.params(lo, hi);
            (Cad::new(&p), p)
        });
        Series {
            cad,
            pending: Vec::new(),
            n: 0,
        }
    }

    /// Learns one value; its anomaly score.
    fn update(&mut self, setup: &Setup, value: f64) -> f64 {
        self.n += 1;
        if let Some((cad, p)) = &mut self.cad {
            return cad.update(p, value);
        }
        self.pending.push(value);
        if self.pending.len() < setup.probation {
            return 0.0;
        }
        let (lo, hi) = widened_range(&self.pending, setup.margin);
        let p = setup.params(lo, hi);
        let mut cad = Cad::new(&p);
        for v in std::mem::take(&mut self.pending) {
            cad.update(&p, v);
        }
        self.cad = Some((cad, p));
        0.0
    }

    fn score(out: &f64) -> f64 {
        *out
    }
}

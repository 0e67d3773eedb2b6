//! [`Analyser`]: the ensemble with its reusable buffers, the consensus rule and the skip rules.

use std::fmt;

use crate::algorithms::{Scratch, Series, run};
use crate::prepare::{Buffers, prepare};
use crate::{Algorithm, AlgorithmSet, Window};

/// How many of the newest values must be identical for a series to be boring (Skyline's
/// `MAX_TOLERABLE_BOREDOM`).
pub const BOREDOM: usize = 100;

/// Why a series is not analysed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Skip {
    /// Fewer finite points than the minimum.
    Short,
    /// The newest point is more than the stale period older than now.
    Stale,
    /// The last 100 values (all of them, when fewer) are identical.
    Boring,
}

impl Skip {
    /// `short`, `stale` or `boring`.
    pub const fn name(self) -> &'static str {
        match self {
            Skip::Short => "short",
            Skip::Stale => "stale",
            Skip::Boring => "boring",
        }
    }
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The ensemble's verdict on one series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// The algorithms that fired. Complete when the series is anomalous; otherwise the
    /// analysis may have stopped early (once the consensus was out of reach) and this holds
    /// only those of the [evaluated](Verdict::evaluated) ones that fired.
    pub fired: AlgorithmSet,
    /// The algorithms that ran (all nine when the series is anomalous).
    pub evaluated: AlgorithmSet,
    /// Whether at least `consensus` algorithms fired.
    pub anomalous: bool,
}

/// The rules [`Analyser::judge`] applies: the skip rules, then the consensus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// How many algorithms must fire (1..=9; values outside are clamped).
    pub consensus: usize,
    /// A series whose newest point is more than this many seconds before now is stale.
    pub stale_period: i64,
    /// A series with fewer finite points is too short.
    pub min_points: usize,
}

/// Evaluation order when `ks_test` cannot run (its precondition fails, which costs nothing
/// to learn): it comes first as a free `false`. Otherwise the cheapest algorithms come first,
/// so that a series far from the consensus is given up on early.
const KS_IMPOSSIBLE: [Algorithm; 9] = last_first(KS_POSSIBLE);
const KS_POSSIBLE: [Algorithm; 9] = [
    Algorithm::StddevFromAverage,
    Algorithm::Grubbs,
    Algorithm::FirstHourAverage,
    Algorithm::MeanSubtractionCumulation,
    Algorithm::HistogramBins,
    Algorithm::LeastSquares,
    Algorithm::StddevFromMovingAverage,
    Algorithm::MedianAbsoluteDeviation,
    Algorithm::KsTest,
];

/// `order` with its last algorithm moved to the front.
const fn last_first(order: [Algorithm; 9]) -> [Algorithm; 9] {
    let mut out = order;
    let mut i = 0;
    while i < order.len() {
        out[(i + 1) % order.len()] = order[i];
        i += 1;
    }
    out
}

/// Judges series one after another, reusing its buffers (nothing is allocated per series once
/// they have grown to the largest series seen) and its cache of Grubbs' critical values.
///
/// A series is given as timestamps (seconds, ascending) and values; pairs beyond the shorter
/// slice are ignored, non-finite values are dropped, unsorted or duplicate timestamps are
/// sorted out (the last of duplicates wins). The caller passes the points of the window it
/// wants judged, typically `[now − full_duration, now]`.
#[derive(Debug, Default)]
pub struct Analyser {
    buffers: Buffers,
    scratch: Scratch,
}

impl Analyser {
    /// An analyser with empty buffers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs one algorithm.
    pub fn check(&mut self, alg: Algorithm, ts: &[i64], values: &[f64], window: &Window) -> bool {
        let p = prepare(ts, values, &mut self.buffers);
        run(alg, &Series::new(p, *window), &mut self.scratch)
    }

    /// Runs the ensemble: anomalous when at least `consensus` algorithms fire (`consensus`
    /// is clamped to 1..=9).
    ///
    /// Stops as soon as the algorithms not yet run could not reach `consensus` any more; the
    /// verdict is the same as running all nine, and [`Verdict::fired`] is complete for
    /// anomalous series. With `consensus` 1 all nine always run, so `fired` is complete.
    pub fn analyse(
        &mut self,
        ts: &[i64],
        values: &[f64],
        window: &Window,
        consensus: usize,
    ) -> Verdict {
        let p = prepare(ts, values, &mut self.buffers);
        ensemble(&Series::new(p, *window), consensus, &mut self.scratch)
    }

    /// Applies Skyline's skip rules, in its order: [`Skip::Short`] with fewer than
    /// `min_points` finite points (an empty series is always short); [`Skip::Stale`] when the
    /// newest point is more than `stale_period` seconds before `now`; [`Skip::Boring`] when
    /// the last 100 values are identical, or all of them when there are fewer (as Skyline's
    /// `len(set(values[-100:])) == 1`). `None`: analyse it.
    pub fn classify(
        &mut self,
        ts: &[i64],
        values: &[f64],
        now: i64,
        stale_period: i64,
        min_points: usize,
    ) -> Option<Skip> {
        let p = prepare(ts, values, &mut self.buffers);
        skip(p.ts, p.v, now, stale_period, min_points)
    }

    /// Classifies, then analyses what is not skipped: one preparation of the series for both.
    pub fn judge(
        &mut self,
        ts: &[i64],
        values: &[f64],
        window: &Window,
        rules: &Rules,
    ) -> Result<Verdict, Skip> {
        let p = prepare(ts, values, &mut self.buffers);
        if let Some(why) = skip(p.ts, p.v, window.now, rules.stale_period, rules.min_points) {
            return Err(why);
        }
        Ok(ensemble(
            &Series::new(p, *window),
            rules.consensus,
            &mut self.scratch,
        ))
    }
}

/// The skip rules on a prepared series.
fn skip(ts: &[i64], v: &[f64], now: i64, stale_period: i64, min_points: usize) -> Option<Skip> {
    if v.len() < min_points.max(1) {
        return Some(Skip::Short);
    }
    let newest = ts.last().copied().unwrap_or(i64::MIN);
    if now.saturating_sub(newest) > stale_period {
        return Some(Skip::Stale);
    }
    let recent = &v[v.len().saturating_sub(BOREDOM)..];
    if recent.iter().all(|&x| x == recent[0]) {
        return Some(Skip::Boring);
    }
    None
}

/// The ensemble with the early stop.
fn ensemble(s: &Series<'_>, consensus: usize, scratch: &mut Scratch) -> Verdict {
    let consensus = consensus.clamp(1, Algorithm::ALL.len());
    let order = if s.ks_possible() {
        &KS_POSSIBLE
    } else {
        &KS_IMPOSSIBLE
    };
    let (mut fired, mut evaluated) = (AlgorithmSet::EMPTY, AlgorithmSet::EMPTY);
    for (i, &alg) in order.iter().enumerate() {
        if fired.len() + (order.len() - i) < consensus {
            break;
        }
        evaluated.insert(alg);
        if run(alg, s, scratch) {
            fired.insert(alg);
        }
    }
    Verdict {
        fired,
        evaluated,
        anomalous: fired.len() >= consensus,
    }
}

//! Skyline's nine anomaly-detection algorithms, its consensus rule and its skip rules, fast
//! enough to judge every metric of a large Graphite installation every minute.
//!
//! Etsy's Skyline promised "no thresholds to set": each metric's recent history is checked by
//! an ensemble of simple statistical tests, and a metric is anomalous when enough of them agree
//! (6 of 9 by default). Skyline ran them in Python (earthgecko's fork states about 45,000
//! metrics a minute on 4 vCPUs); this crate computes the same verdicts in a few microseconds
//! per day-long series on one core (`bench/src/bin/skyline_analyse.rs`), without allocating
//! per series ([`Analyser`] keeps its buffers) and without reading the clock (the analysis'
//! "now" is a parameter, the runner's tick).
//!
//! ```
//! use am_skyline::{Algorithm, Analyser, Window};
//!
//! let ts: Vec<i64> = (0..1440).map(|i| 1_700_000_000 + i * 60).collect();
//! let mut values: Vec<f64> = (0..1440).map(|i| 100.0 + ((i * 37) % 11) as f64).collect();
//! values[1437..].fill(1000.0); // the last three minutes jump
//! let window = Window { now: ts[1439] + 30, full_duration: 86_400 };
//! let verdict = Analyser::new().analyse(&ts, &values, &window, 6);
//! assert!(verdict.anomalous);
//! assert!(verdict.fired.contains(Algorithm::Grubbs));
//! ```
//!
//! # The algorithms
//!
//! `tail_avg` is the mean of the last three values (the last value when there are fewer);
//! `std` is the sample standard deviation unless noted.
//!
//! | [`Algorithm`] | fires when |
//! |---|---|
//! | `median_absolute_deviation` | `|last − median| / median(|v − median|) > 6` |
//! | `grubbs` | `(tail_avg − mean) / std_pop` above Grubbs' one-sided critical value for `n` points at 5 % |
//! | `first_hour_average` | `|tail_avg − mean| > 3·std` of the window's oldest hour (`ts < now − full_duration + 3600`) |
//! | `stddev_from_average` | `|tail_avg − mean| > 3·std` |
//! | `stddev_from_moving_average` | `|last − ewm mean| > 3 · ewm std`, pandas' `ewm(com=50)` (adjust, bias-corrected) |
//! | `mean_subtraction_cumulation` | `|last − mean(rest)| > 3·std(rest)`, rest = all but the last value |
//! | `least_squares` | the mean of the last 3 residuals of a linear fit beyond `3·std_pop(residuals)`, neither rounding to 0 |
//! | `histogram_bins` | `tail_avg` falls in one of 15 equal-width bins holding ≤ 20 values |
//! | `ks_test` | last 10 minutes vs the 50 before (≥ 20 points each): KS `D > 0.5`, `p < 0.05`, and ADF on the reference `p < 0.05` |
//!
//! Statistics follow the libraries Skyline used: medians as pandas (the mean of the two
//! middle values for an even count); Student's t inverse survival function for Grubbs'
//! critical value (computed here by Newton's method on the incomplete beta function, and
//! cached per `n`); ADF as statsmodels' `adfuller(maxlag=10, regression="c", autolag="AIC")`
//! with MacKinnon's p-value (2010 tables). The crate's tests check each statistic against
//! numpy/scipy/pandas/statsmodels (`tests/reference/gen.py`).
//!
//! **KS p-value.** The asymptotic Kolmogorov distribution with Stephens' correction,
//! `Q((√e + 0.12 + 0.11/√e)·D)`, `e = n₁n₂/(n₁+n₂)`, as in the scipy of Skyline's day; current
//! scipy computes exact p-values for small samples. The verdict cannot differ: with at least 20
//! points on each side and `D > 0.5`, both formulas give `p < 0.01` (the worst case is 20
//! against 21 points: 0.0068 asymptotic, 0.0082 exact), so `p < 0.05` holds whenever
//! `D > 0.5` does.
//!
//! # Where this departs from Skyline, and why
//!
//! - **Least squares on centred timestamps.** Skyline fitted on raw epoch seconds, whose
//!   conditioning made its verdict change between numpy versions; centring gives the
//!   mathematically same fit, stably.
//! - **histogram_bins by bin membership.** Skyline tested the first bin with `t <= first edge`
//!   only and left `t == max` out of the last bin; here the tail average is in the bin
//!   numpy's histogram would count it in (the last bin closed), as intended; a tail average
//!   that rounding puts a hair outside `[min, max]` counts as at the edge.
//! - **Zero spread is never anomalous.** Every spread-based algorithm is `false` when its
//!   spread is 0 (all values of the sample identical), `histogram_bins` when all values are
//!   equal, `median_absolute_deviation` when the MAD is 0. Skyline's `first_hour_average`
//!   fired on any tail that differed from a flat first hour, and its rounding could turn
//!   `0/0` into a verdict; here a flat reference gives no scale to judge by.
//! - **Non-finite values are dropped** before anything else (Skyline's series held `None`
//!   for gaps, which some algorithms read as 0). Points are sorted by timestamp, and of
//!   duplicate timestamps the last one passed is kept (the store's "last write wins").
//!   Extreme magnitudes (beyond 2^±300) are rescaled by a power of two, exactly, so sums of
//!   squares cannot overflow; every verdict is scale-free except `least_squares`' rounding
//!   rule, which is applied in the original units.
//! - **ADF's maxlag** is 10, lowered to `n/2 − 2` for a reference of fewer than 24 points
//!   (statsmodels refuses a larger one); a reference ADF cannot be computed for (constant, a
//!   perfect fit, a rank-deficient regression) makes `ks_test` `false`.
//! - **Short-circuit.** [`Analyser::analyse`] stops as soon as the algorithms not yet run
//!   could no longer reach the consensus, cheap algorithms first. The verdict is exact; the
//!   set of algorithms that fired is complete for anomalous series only (see [`Verdict`]).
//!
//! # Skipping series
//!
//! [`Analyser::classify`] applies Skyline's skip rules in its order: too short (fewer than
//! `min_points` finite points), stale (the newest point more than `stale_period` seconds
//! before now), boring (the last 100 values identical — or all of them when there are fewer,
//! as Skyline's `len(set(values[-100:])) == 1` did).
//!
//! # Sharding
//!
//! [`shard_of`] assigns a metric name to one of `shards` parts by FNV-1a (64-bit) of its
//! bytes, so every task of a sharded tick agrees on who analyses what without coordination.

mod adf;
mod algorithms;
mod analyser;
mod ks;
mod prepare;
mod special;
mod stats;

#[cfg(test)]
mod tests;

pub use analyser::{Analyser, BOREDOM, Rules, Skip, Verdict};

use std::fmt;

/// One of Skyline's nine algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    /// `median_absolute_deviation`.
    MedianAbsoluteDeviation,
    /// `grubbs`.
    Grubbs,
    /// `first_hour_average`.
    FirstHourAverage,
    /// `stddev_from_average`.
    StddevFromAverage,
    /// `stddev_from_moving_average`.
    StddevFromMovingAverage,
    /// `mean_subtraction_cumulation`.
    MeanSubtractionCumulation,
    /// `least_squares`.
    LeastSquares,
    /// `histogram_bins`.
    HistogramBins,
    /// `ks_test`.
    KsTest,
}

impl Algorithm {
    /// All nine, in Skyline's `ALGORITHMS` order.
    pub const ALL: [Algorithm; 9] = [
        Algorithm::MedianAbsoluteDeviation,
        Algorithm::Grubbs,
        Algorithm::FirstHourAverage,
        Algorithm::StddevFromAverage,
        Algorithm::StddevFromMovingAverage,
        Algorithm::MeanSubtractionCumulation,
        Algorithm::LeastSquares,
        Algorithm::HistogramBins,
        Algorithm::KsTest,
    ];

    /// The name of Skyline's function, e.g. `median_absolute_deviation`.
    pub const fn name(self) -> &'static str {
        match self {
            Algorithm::MedianAbsoluteDeviation => "median_absolute_deviation",
            Algorithm::Grubbs => "grubbs",
            Algorithm::FirstHourAverage => "first_hour_average",
            Algorithm::StddevFromAverage => "stddev_from_average",
            Algorithm::StddevFromMovingAverage => "stddev_from_moving_average",
            Algorithm::MeanSubtractionCumulation => "mean_subtraction_cumulation",
            Algorithm::LeastSquares => "least_squares",
            Algorithm::HistogramBins => "histogram_bins",
            Algorithm::KsTest => "ks_test",
        }
    }

    /// The algorithm named `name` (Skyline's function name).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    const fn bit(self) -> u16 {
        1 << self as u16
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of [`Algorithm`]s (a bit set). Displays as the names in [`Algorithm::ALL`] order,
/// comma-separated.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct AlgorithmSet(u16);

impl AlgorithmSet {
    /// No algorithm.
    pub const EMPTY: AlgorithmSet = AlgorithmSet(0);
    /// All nine.
    pub const ALL: AlgorithmSet = AlgorithmSet((1 << 9) - 1);

    /// Adds `alg`.
    pub fn insert(&mut self, alg: Algorithm) {
        self.0 |= alg.bit();
    }

    /// Whether `alg` is in the set.
    pub const fn contains(self, alg: Algorithm) -> bool {
        self.0 & alg.bit() != 0
    }

    /// How many algorithms are in the set.
    pub const fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The algorithms in the set, in [`Algorithm::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Algorithm> {
        Algorithm::ALL
            .into_iter()
            .filter(move |a| self.contains(*a))
    }
}

impl FromIterator<Algorithm> for AlgorithmSet {
    fn from_iter<I: IntoIterator<Item = Algorithm>>(iter: I) -> Self {
        let mut set = AlgorithmSet::EMPTY;
        for a in iter {
            set.insert(a);
        }
        set
    }
}

impl fmt::Display for AlgorithmSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(a.name())?;
        }
        Ok(())
    }
}

impl fmt::Debug for AlgorithmSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// The analysis window: where "now" is and how far back the series reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// The analysis time (the runner's tick), seconds since the epoch. `ks_test` compares the
    /// ten minutes before it with the fifty before those.
    pub now: i64,
    /// Seconds of history analysed (Skyline's `FULL_DURATION`): `first_hour_average` uses the
    /// hour starting at `now − full_duration`.
    pub full_duration: i64,
}

/// Runs one algorithm on a series (timestamps in seconds, values; pairs beyond the shorter
/// slice are ignored). Allocates; keep an [`Analyser`] to judge many series.
pub fn check(alg: Algorithm, ts: &[i64], values: &[f64], window: &Window) -> bool {
    Analyser::new().check(alg, ts, values, window)
}

/// Runs the ensemble on a series: anomalous when at least `consensus` (1..=9) algorithms
/// fire. Allocates; keep an [`Analyser`] to judge many series.
pub fn analyse(ts: &[i64], values: &[f64], window: &Window, consensus: usize) -> Verdict {
    Analyser::new().analyse(ts, values, window, consensus)
}

/// FNV-1a, 64-bit, of `bytes`.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes
        .iter()
        .fold(OFFSET, |h, &b| (h ^ u64::from(b)).wrapping_mul(PRIME))
}

/// The shard (`0..shards`) that analyses the metric `name`: FNV-1a 64 of its bytes modulo
/// `shards`. Stable across processes, hosts and releases, so the tasks of one tick split the
/// metrics without talking to each other; 0 when `shards` is 0 or 1.
pub fn shard_of(name: &str, shards: u32) -> u32 {
    if shards <= 1 {
        return 0;
    }
    (fnv1a64(name.as_bytes()) % u64::from(shards)) as u32
}

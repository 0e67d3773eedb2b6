//! # am-tdigest: a merging t-digest for anna-molly's detector plugins
//!
//! A t-digest summarises a stream of `f64` values in a few dozen weighted *centroids* so that
//! quantiles and the CDF can be estimated at any time, most accurately in the tails, where
//! anomaly thresholds live. Detector plugins keep the distribution of their errors in one and
//! save it in Redis between runs with [`TDigest::to_bytes`] / [`TDigest::from_bytes`].
//!
//! This is the *merging* variant of Dunning & Ertl, "Computing Extremely Accurate Quantiles
//! Using t-Digests": values are appended to a buffer, and when the buffer is full (5 ×
//! compression items) it is sorted and merged with the existing centroids in one pass.
//!
//! ```
//! use am_tdigest::TDigest;
//!
//! let mut digest = TDigest::new(100.0);
//! for i in 0..10_000 {
//!     digest.add(f64::from(i));
//! }
//! let p99 = digest.quantile(0.99).unwrap_or_default();
//! assert!((p99 - 9_900.0).abs() < 20.0);
//!
//! // Saved in Redis as bytes, restored by the next run (or the next version).
//! let bytes = digest.to_bytes();
//! let mut restored = TDigest::from_bytes(&bytes)?;
//! restored.add(10_000.0);
//! assert_eq!(restored.max(), Some(10_000.0));
//! # Ok::<(), am_tdigest::TDigestError>(())
//! ```
//!
//! ## Scale function and size
//!
//! Centroids are limited by the **k1** scale function `k(q) = δ/(2π) · asin(2q − 1)`, where δ
//! is the compression: a centroid may span at most one unit of `k`. Since `k` spans δ/2 in
//! all and any two neighbouring centroids together span more than one unit, a compressed
//! digest has at most δ + 2 centroids (about δ/2 to δ in practice), whatever the number of
//! values; the buffer adds at most 5δ more. The centroids near the median hold about
//! `π/δ` of the mass each (3 % at δ = 100), those at the extremes about `(π/δ)²` (0.1 %).
//!
//! ## Estimates
//!
//! The distribution is modelled as piecewise linear through the points `(min, 0)`,
//! `(mean_i, W_i + w_i/2)` for each centroid (`W_i` being the weight of the centroids before
//! it, `w_i` its own) and `(max, n)`, where n is the total weight. [`TDigest::quantile`]
//! inverts it (exactly min at q = 0 and max at q = 1), [`TDigest::cdf`] evaluates it (for an
//! x on which several points sit, e.g. a constant stream, the middle of their ranks). With
//! single values as centroids this is the usual "Hazen" quantile, `(i + ½)/n`.
//!
//! ## Accuracy
//!
//! Measured by `tests/accuracy.rs` at δ = 100 on 100 000 values (fixed seeds), as rank
//! error: the larger of `|F(quantile(q)) − q|` and `|cdf(x_q) − F(x_q)|`, F being the exact
//! empirical CDF and x_q the exact q-quantile. One digest / two digests of halves merged:
//!
//! | distribution | q = 0.001, 0.999 | q = 0.01, 0.99 | q = 0.25, 0.5, 0.75 |
//! |---|---|---|---|
//! | uniform | 0.0002 / 0.0005 | 0.0004 / 0.0007 | 0.0005 / 0.0006 |
//! | normal | < 0.0001 / 0.0002 | 0.0003 / 0.0003 | 0.0005 / 0.0001 |
//! | Cauchy | 0.0011 / 0.0013 | 0.0014 / 0.0012 | 0.0014 / 0.0012 |
//! | Pareto (α = 1.5) | 0.0006 / 0.0009 | 0.0011 / 0.0008 | 0.0012 / 0.0010 |
//!
//! The tests require below 0.002 at q ≤ 0.01 and q ≥ 0.99 and below 0.01 elsewhere, for one
//! digest, merged halves, 100 merged parts, sorted and reversed input, and weighted adds.
//! Heavy tails cost the most: at q = 0.001 a rank error of 0.0011 is large *relative* to q.
//! Where extreme quantiles of heavy-tailed data matter, a larger δ helps: at δ = 200 the same
//! data stays within 0.0004 at q ≤ 0.01 and q ≥ 0.99 (0.0013 at worst in the middle).
//!
//! ## Costs
//!
//! - [`TDigest::add`]: amortised O(log δ): a merge pass of O(δ log δ) every 5δ values.
//! - [`TDigest::merge`]: O(δ log δ).
//! - [`TDigest::quantile`], [`TDigest::cdf`]: O(δ) on a compressed digest; with values still
//!   buffered they compress a copy first (O(δ log δ)). Call [`TDigest::compress`] once before
//!   many queries.
//! - Memory: 16 bytes per centroid and buffered value, at most about 6δ × 16 bytes
//!   (10 KB at δ = 100); the byte form is 49 + 16 × centroids bytes (0.9–1.7 KB at
//!   δ = 100).
//!
//! ## Byte format (version 1)
//!
//! All numbers little-endian; `f64` is IEEE 754 binary64.
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | magic `AMTD` |
//! | 4 | 1 | format version, `1` |
//! | 5 | 8 | compression δ (`f64`, 10 ≤ δ ≤ 100 000) |
//! | 13 | 8 | count: the total weight (`f64`) |
//! | 21 | 8 | min (`f64`) |
//! | 29 | 8 | max (`f64`) |
//! | 37 | 8 | rejected: non-finite values and invalid weights ignored (`u64`) |
//! | 45 | 4 | n: the number of centroids (`u32`) |
//! | 49 | 16 n | the centroids, sorted by mean: mean (`f64`), weight (`f64`) |
//!
//! An empty digest has n = 0 and count, min and max all 0. The buffer is merged in before
//! writing, so the bytes always hold a compressed digest. [`TDigest::from_bytes`] checks
//! everything and never panics: the magic, the version, the exact length, a compression in
//! range, finite min ≤ max, centroids with finite means in `[min, max]` in non-decreasing
//! order and finite positive weights, and a count equal to their sum (within 10⁻⁶ relative).
//! A later format gets a new version number; readers refuse versions they do not know
//! ([`TDigestError::UnsupportedVersion`]) rather than guess.
//!
//! With the `serde` feature, `TDigest` implements `Serialize`/`Deserialize` through the same
//! fields, and deserialization validates exactly like `from_bytes`.

mod codec;
mod compress;

use std::borrow::Cow;

pub use codec::{CENTROID_LEN, FORMAT_VERSION, HEADER_LEN, MAGIC, TDigestError};

/// The compression used by [`TDigest::default`].
pub const DEFAULT_COMPRESSION: f64 = 100.0;
/// The smallest compression accepted; [`TDigest::new`] raises smaller ones to it.
pub const MIN_COMPRESSION: f64 = 10.0;
/// The largest compression accepted; [`TDigest::new`] lowers larger ones to it.
pub const MAX_COMPRESSION: f64 = 100_000.0;
/// The buffer holds this many values per unit of compression before it is merged.
const BUFFER_FACTOR: f64 = 5.0;

/// One centroid: the mean of the values it stands for and their total weight.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Centroid {
    /// The weighted mean of its values.
    pub mean: f64,
    /// The total weight of its values (their number for unweighted adds).
    pub weight: f64,
}

/// A merging t-digest: see the [crate docs](crate).
///
/// Equality compares the full state, buffer included: compare digests after
/// [`TDigest::compress`] (or compare their [`TDigest::to_bytes`]).
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(try_from = "codec::Parts", into = "codec::Parts")
)]
pub struct TDigest {
    compression: f64,
    /// Compressed centroids, sorted by mean.
    centroids: Vec<Centroid>,
    /// Values and foreign centroids not merged yet, in any order.
    buffer: Vec<Centroid>,
    /// Total weight of `centroids` and `buffer`.
    count: f64,
    /// Smallest and largest value seen; both 0 while empty.
    min: f64,
    max: f64,
    /// Values ignored because they (or their weights) were not usable.
    rejected: u64,
}

impl Default for TDigest {
    fn default() -> Self {
        TDigest::new(DEFAULT_COMPRESSION)
    }
}

impl TDigest {
    /// An empty digest. `compression` (δ, 100 is usual) trades size for accuracy: about δ/2 to
    /// δ centroids. It is clamped to [`MIN_COMPRESSION`]..=[`MAX_COMPRESSION`]; NaN means
    /// [`DEFAULT_COMPRESSION`].
    pub fn new(compression: f64) -> Self {
        let compression = if compression.is_nan() {
            DEFAULT_COMPRESSION
        } else {
            compression.clamp(MIN_COMPRESSION, MAX_COMPRESSION)
        };
        TDigest {
            compression,
            centroids: Vec::new(),
            buffer: Vec::new(),
            count: 0.0,
            min: 0.0,
            max: 0.0,
            rejected: 0,
        }
    }

    /// Adds one value. Non-finite values (NaN, ±∞) are ignored and counted in
    /// [`TDigest::rejected`].
    pub fn add(&mut self, x: f64) {
        self.add_weighted(x, 1.0);
    }

    /// Adds a value with a weight (as if it had been added `w` times; fractions allowed).
    /// A non-finite value, a weight that is not finite and positive, or one that would make
    /// the total weight overflow, is ignored and counted in [`TDigest::rejected`].
    pub fn add_weighted(&mut self, x: f64, w: f64) {
        let total = self.count + w;
        if !(x.is_finite() && w.is_finite() && w > 0.0 && total.is_finite()) {
            self.rejected = self.rejected.saturating_add(1);
            return;
        }
        self.note_range(x, x);
        self.count = total;
        self.buffer.push(Centroid { mean: x, weight: w });
        self.flush_if_full();
    }

    /// Adds everything `other` holds (its buffer too) to `self`, which keeps its own
    /// compression. Merging digests of parts of a stream approximates the digest of the whole
    /// (see the crate docs for the accuracy).
    pub fn merge(&mut self, other: &TDigest) {
        self.rejected = self.rejected.saturating_add(other.rejected);
        if other.is_empty() || !(self.count + other.count).is_finite() {
            return;
        }
        self.note_range(other.min, other.max);
        self.count += other.count;
        self.buffer.extend_from_slice(&other.centroids);
        self.buffer.extend_from_slice(&other.buffer);
        self.flush_if_full();
    }

    /// Merges the buffered values into the centroids. Queries do this on a copy when values
    /// are buffered; calling it first saves that work for many queries on the same state.
    pub fn compress(&mut self) {
        if self.buffer.is_empty() {
            return;
        }
        self.centroids = compress::compress(
            self.compression,
            self.count,
            &self.centroids,
            &mut self.buffer,
        );
        self.buffer.clear();
    }

    /// The estimated `q`-quantile (0 ≤ q ≤ 1): exactly the minimum at 0 and the maximum at 1,
    /// interpolated between centroid means in between (see the crate docs). `None` for an
    /// empty digest, or a `q` outside [0, 1] or NaN.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.is_empty() || !(0.0..=1.0).contains(&q) {
            return None;
        }
        if q == 0.0 {
            return Some(self.min);
        }
        if q == 1.0 {
            return Some(self.max);
        }
        let view = self.view();
        let rank = q * self.count;
        let mut knots = Knots::new(&view, self.min, self.max, self.count);
        let mut previous = knots.next()?;
        for (x, r) in knots {
            if r >= rank {
                let t = if r > previous.1 {
                    fraction(previous.1, r, rank)
                } else {
                    1.0
                };
                return Some(lerp(previous.0, x, t));
            }
            previous = (x, r);
        }
        Some(self.max)
    }

    /// The estimated fraction of the weight at or below `x` (counting half of any mass sitting
    /// exactly at `x`): 0 below the minimum, 1 above the maximum. `None` for an empty digest
    /// or a NaN `x`.
    pub fn cdf(&self, x: f64) -> Option<f64> {
        if self.is_empty() || x.is_nan() {
            return None;
        }
        if x < self.min {
            return Some(0.0);
        }
        if x > self.max {
            return Some(1.0);
        }
        let view = self.view();
        let mut previous = (self.min, 0.0);
        // The ranks of the first and last knots sitting exactly at x, if any.
        let mut at_x: Option<(f64, f64)> = None;
        for (kx, kr) in Knots::new(&view, self.min, self.max, self.count) {
            if kx < x {
                previous = (kx, kr);
            } else if kx == x {
                at_x = Some(at_x.map_or((kr, kr), |(first, _)| (first, kr)));
            } else {
                let rank = match at_x {
                    Some((first, last)) => (first + last) / 2.0,
                    None => lerp(previous.1, kr, fraction(previous.0, kx, x)),
                };
                return Some((rank / self.count).clamp(0.0, 1.0));
            }
        }
        let rank = at_x.map_or(self.count, |(first, last)| (first + last) / 2.0);
        Some((rank / self.count).clamp(0.0, 1.0))
    }

    /// The total weight added (the number of values for unweighted adds).
    pub fn count(&self) -> f64 {
        self.count
    }

    /// The smallest value added, `None` when empty.
    pub fn min(&self) -> Option<f64> {
        (!self.is_empty()).then_some(self.min)
    }

    /// The largest value added, `None` when empty.
    pub fn max(&self) -> Option<f64> {
        (!self.is_empty()).then_some(self.max)
    }

    /// Whether nothing has been added (rejected values do not count).
    pub fn is_empty(&self) -> bool {
        self.count == 0.0
    }

    /// The compression δ.
    pub fn compression(&self) -> f64 {
        self.compression
    }

    /// How many values were ignored (non-finite values, unusable weights) since creation,
    /// including those of merged digests and across saves.
    pub fn rejected(&self) -> u64 {
        self.rejected
    }

    /// The compressed centroids, sorted by mean; values still buffered are not among them
    /// (call [`TDigest::compress`] first to see everything).
    pub fn centroids(&self) -> &[Centroid] {
        &self.centroids
    }

    /// How many values (or merged centroids) wait in the buffer.
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// The digest in the versioned byte format of the crate docs (buffer merged in).
    pub fn to_bytes(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// Reads bytes written by [`TDigest::to_bytes`], validating everything (see the crate
    /// docs). Never panics, whatever the input.
    pub fn from_bytes(bytes: &[u8]) -> Result<TDigest, TDigestError> {
        codec::decode(bytes)
    }

    fn note_range(&mut self, lo: f64, hi: f64) {
        if self.is_empty() {
            self.min = lo;
            self.max = hi;
        } else {
            self.min = self.min.min(lo);
            self.max = self.max.max(hi);
        }
    }

    fn buffer_capacity(&self) -> usize {
        (BUFFER_FACTOR * self.compression).ceil() as usize
    }

    fn flush_if_full(&mut self) {
        if self.buffer.len() >= self.buffer_capacity() {
            self.compress();
        }
    }

    /// The compressed centroids, merging the buffer into a copy if needed.
    fn view(&self) -> Cow<'_, [Centroid]> {
        if self.buffer.is_empty() {
            Cow::Borrowed(&self.centroids)
        } else {
            let mut buffer = self.buffer.clone();
            Cow::Owned(compress::compress(
                self.compression,
                self.count,
                &self.centroids,
                &mut buffer,
            ))
        }
    }
}

/// The point at `t` (in [0, 1]) of the way from `a` to `b` (a ≤ b), never outside [a, b] and
/// never overflowing, whatever the magnitudes.
pub(crate) fn lerp(a: f64, b: f64, t: f64) -> f64 {
    let v = a + (b - a) * t;
    // b − a overflows only for values of opposite signs near ±f64::MAX.
    let v = if v.is_finite() {
        v
    } else {
        a * (1.0 - t) + b * t
    };
    v.max(a).min(b)
}

/// How far `x` lies from `a` towards `b` (a ≤ x ≤ b, a < b), in [0, 1], without overflow.
fn fraction(a: f64, b: f64, x: f64) -> f64 {
    let f = (x - a) / (b - a);
    let f = if f.is_finite() {
        f
    } else {
        (x / 2.0 - a / 2.0) / (b / 2.0 - a / 2.0)
    };
    if f.is_nan() { 0.5 } else { f.clamp(0.0, 1.0) }
}

/// The points `(x, rank)` of the piecewise-linear model: `(min, 0)`, each centroid's mean at
/// the middle of its weight, `(max, count)`. Both coordinates are non-decreasing.
struct Knots<'a> {
    centroids: std::slice::Iter<'a, Centroid>,
    before: f64,
    min: Option<f64>,
    max: Option<(f64, f64)>,
}

impl<'a> Knots<'a> {
    fn new(centroids: &'a [Centroid], min: f64, max: f64, count: f64) -> Self {
        Knots {
            centroids: centroids.iter(),
            before: 0.0,
            min: Some(min),
            max: Some((max, count)),
        }
    }
}

impl Iterator for Knots<'_> {
    type Item = (f64, f64);

    fn next(&mut self) -> Option<(f64, f64)> {
        if let Some(min) = self.min.take() {
            return Some((min, 0.0));
        }
        if let Some(c) = self.centroids.next() {
            let rank = self.before + c.weight / 2.0;
            self.before += c.weight;
            return Some((c.mean, rank));
        }
        self.max.take()
    }
}

//! Descriptive statistics with pandas' and numpy's semantics: mean and standard deviation,
//! the tail average, the median, the exponentially weighted mean and standard deviation.

/// Mean, spread and range of a sample.
///
/// Sums run over the values minus the first value, so a sample of identical values has a
/// spread of exactly 0 (a plain mean of `[0.1; 3]` is not exactly `0.1`, and a threshold of
/// `3 · 0` would then flag rounding noise).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Moments {
    /// Number of values.
    pub n: usize,
    /// The mean.
    pub mean: f64,
    /// Σ (x − mean)².
    pub m2: f64,
    /// The smallest value.
    pub min: f64,
    /// The largest value.
    pub max: f64,
}

/// Sums `f(x)` over `v` in four interleaved lanes (independent dependency chains, which the
/// CPU overlaps and the compiler may vectorise).
#[inline]
fn sum4(v: &[f64], f: impl Fn(f64) -> f64) -> f64 {
    let mut acc = [0.0; 4];
    let chunks = v.chunks_exact(4);
    let rest = chunks.remainder();
    for c in chunks {
        for k in 0..4 {
            acc[k] += f(c[k]);
        }
    }
    let mut sum = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for &x in rest {
        sum += f(x);
    }
    sum
}

impl Moments {
    /// No values.
    const EMPTY: Moments = Moments {
        n: 0,
        mean: f64::NAN,
        m2: f64::NAN,
        min: f64::NAN,
        max: f64::NAN,
    };

    /// Two passes over `v` (shifted by its first value).
    pub(crate) fn of(v: &[f64]) -> Self {
        let Some(&first) = v.first() else {
            return Self::EMPTY;
        };
        // One pass for the sum and the range, in four lanes; values are finite, so plain
        // compares give min and max.
        let (mut lo, mut hi, mut acc) = ([first; 4], [first; 4], [0.0; 4]);
        let chunks = v.chunks_exact(4);
        for &x in chunks.remainder() {
            lo[0] = if x < lo[0] { x } else { lo[0] };
            hi[0] = if x > hi[0] { x } else { hi[0] };
            acc[0] += x - first;
        }
        for c in chunks {
            for k in 0..4 {
                lo[k] = if c[k] < lo[k] { c[k] } else { lo[k] };
                hi[k] = if c[k] > hi[k] { c[k] } else { hi[k] };
                acc[k] += c[k] - first;
            }
        }
        let n = v.len();
        let shift = ((acc[0] + acc[1]) + (acc[2] + acc[3])) / n as f64;
        let m2 = sum4(v, |x| {
            let d = (x - first) - shift;
            d * d
        });
        Self {
            n,
            mean: first + shift,
            m2,
            min: lo[0].min(lo[1]).min(lo[2].min(lo[3])),
            max: hi[0].max(hi[1]).max(hi[2].max(hi[3])),
        }
    }

    /// The moments with `x` added (Welford's update, stable).
    pub(crate) fn push(self, x: f64) -> Self {
        if self.n == 0 {
            return Self {
                n: 1,
                mean: x,
                m2: 0.0,
                min: x,
                max: x,
            };
        }
        let n = self.n + 1;
        let delta = x - self.mean;
        let mean = if delta == 0.0 {
            self.mean
        } else {
            self.mean + delta / n as f64
        };
        Self {
            n,
            mean,
            m2: self.m2 + delta * (x - mean),
            min: self.min.min(x),
            max: self.max.max(x),
        }
    }

    /// Whether every value is the same (the spread is 0).
    pub(crate) fn is_flat(&self) -> bool {
        self.n == 0 || self.min == self.max || self.m2 == 0.0
    }

    /// Sample standard deviation (ddof 1, pandas' `std`); NaN below 2 values.
    pub(crate) fn std(&self) -> f64 {
        if self.n < 2 {
            f64::NAN
        } else {
            (self.m2 / (self.n - 1) as f64).sqrt()
        }
    }

    /// Population standard deviation (ddof 0, numpy's `std`); NaN for no values.
    pub(crate) fn std_pop(&self) -> f64 {
        if self.n == 0 {
            f64::NAN
        } else {
            (self.m2 / self.n as f64).sqrt()
        }
    }
}

/// Skyline's `tail_avg`: the mean of the last three values, or the last value when there are
/// fewer; NaN for none.
pub(crate) fn tail_avg(v: &[f64]) -> f64 {
    match v {
        [] => f64::NAN,
        [.., a, b, c] => (c + b + a) / 3.0,
        [.., last] => *last,
    }
}

/// An order-preserving map of finite f64 onto u64 (negative values' bits inverted, positive
/// values' sign bit set), so selections run on plain integer compares.
fn key(x: f64) -> u64 {
    let bits = x.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    }
}

/// The inverse of [`key`].
fn unkey(k: u64) -> f64 {
    f64::from_bits(if k >> 63 == 1 { k & !(1 << 63) } else { !k })
}

/// The median of the values whose keys are `keys` (the mean of the two middle ones for an even
/// count, as pandas and numpy). Reorders `keys`; NaN when empty.
fn median_of_keys(keys: &mut [u64]) -> f64 {
    let n = keys.len();
    if n == 0 {
        return f64::NAN;
    }
    let (left, upper, _) = keys.select_nth_unstable(n / 2);
    let upper = unkey(*upper);
    if n % 2 == 1 {
        return upper;
    }
    let lower = left.iter().copied().max().map_or(f64::NAN, unkey);
    (lower + upper) / 2.0
}

/// The median of finite `v` and the median of the absolute deviations from it (pandas'
/// medians), using `work` as scratch.
pub(crate) fn median_and_mad(v: &[f64], work: &mut Vec<u64>) -> (f64, f64) {
    work.clear();
    work.extend(v.iter().map(|&x| key(x)));
    let median = median_of_keys(work);
    work.clear();
    work.extend(v.iter().map(|&x| key((x - median).abs())));
    (median, median_of_keys(work))
}

/// Accumulates `g(w_i, x_i, acc)` with `w_i = f^(n−1−i)`, in four lanes walking back from the
/// newest value (each lane's weight steps by `f⁴`).
#[inline]
fn weighted_sums<const K: usize>(
    v: &[f64],
    f: f64,
    g: impl Fn(f64, f64, &mut [f64; K]),
) -> [f64; K] {
    let f4 = (f * f) * (f * f);
    let mut acc = [[0.0; K]; 4];
    let mut w = [1.0, f, f * f, f * f * f];
    let chunks = v.rchunks_exact(4);
    let rest = chunks.remainder();
    for c in chunks {
        for k in 0..4 {
            g(w[k], c[3 - k], &mut acc[k]);
            w[k] *= f4;
        }
    }
    let mut total = [0.0; K];
    for lane in &acc {
        for (t, a) in total.iter_mut().zip(lane) {
            *t += a;
        }
    }
    let mut w = w[0];
    for &x in rest.iter().rev() {
        g(w, x, &mut total);
        w *= f;
    }
    total
}

/// The last values of pandas' `ewm(com).mean()` and `ewm(com).std()` (adjust = True,
/// bias = False): with weights `w_i = (1 − α)^(n−1−i)`, `α = 1/(1 + com)`, the weighted mean
/// `m = Σ w x / Σ w` and the bias-corrected weighted variance
/// `(Σw)² / ((Σw)² − Σw²) · Σ w (x − m)² / Σ w`. pandas reaches the same numbers by an online
/// recurrence with a division per point; the closed form runs in independent lanes. The std is
/// NaN when the correction is undefined (one value).
pub(crate) fn ewm_last(v: &[f64], com: f64) -> (f64, f64) {
    let Some(&first) = v.first() else {
        return (f64::NAN, f64::NAN);
    };
    let f = 1.0 - 1.0 / (1.0 + com);
    let [sum_w, sum_w2, sum_wx] = weighted_sums(v, f, |w, x, acc: &mut [f64; 3]| {
        acc[0] += w;
        acc[1] += w * w;
        acc[2] += w * (x - first);
    });
    let shift = sum_wx / sum_w;
    let [sum_wd2] = weighted_sums(v, f, |w, x, acc: &mut [f64; 1]| {
        let d = (x - first) - shift;
        acc[0] += w * d * d;
    });
    let numerator = sum_w * sum_w;
    let denominator = numerator - sum_w2;
    let std = if denominator > 0.0 {
        (numerator / denominator * sum_wd2 / sum_w).max(0.0).sqrt()
    } else {
        f64::NAN
    };
    (first + shift, std)
}

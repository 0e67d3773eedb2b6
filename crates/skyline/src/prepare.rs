//! Turning what the caller passes into a series the algorithms can trust: finite values,
//! strictly ascending timestamps, magnitudes whose squares neither overflow nor underflow.
//!
//! A clean series (the usual case: the store returns sorted, unique, finite points of
//! ordinary size) is borrowed as it is; anything else is copied into the caller's buffers.

/// Magnitudes outside `[2^-300, 2^300]` are rescaled: the algorithms square deviations and sum
/// up to millions of them, which must stay well inside f64's range.
const HUGE: f64 = 2.037_035_976_334_486e90; // 2^300
const TINY: f64 = 4.909_093_465_297_727e-91; // 2^-300

/// A series ready for analysis: `ts` strictly ascending, `v` finite, equal lengths. The
/// original values are `v · 2^scale_exp`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Prepared<'a> {
    pub ts: &'a [i64],
    pub v: &'a [f64],
    pub scale_exp: i32,
}

impl Prepared<'_> {
    /// `2^(−scale_exp)`, the factor that took original values to `v`, computed in two halves
    /// so neither overflows (infinite when the original values were subnormal-tiny).
    pub(crate) fn inverse_scale(&self) -> f64 {
        let half = -self.scale_exp / 2;
        2f64.powi(half) * 2f64.powi(-self.scale_exp - half)
    }
}

/// Buffers for the copies of series that need cleaning.
#[derive(Debug, Default)]
pub(crate) struct Buffers {
    pairs: Vec<(i64, f64)>,
    ts: Vec<i64>,
    v: Vec<f64>,
}

/// Multiplies by `2^-exp` in two exact halves.
fn scaled(x: f64, exp: i32) -> f64 {
    let half = -exp / 2;
    x * 2f64.powi(half) * 2f64.powi(-exp - half)
}

/// Cleans `(ts, values)` (pairs beyond the shorter slice are ignored): drops non-finite values,
/// sorts by timestamp keeping the last of duplicate timestamps, and rescales by a power of two
/// (exact) when the magnitudes are extreme.
pub(crate) fn prepare<'a>(ts: &'a [i64], values: &'a [f64], buf: &'a mut Buffers) -> Prepared<'a> {
    let n = ts.len().min(values.len());
    let (ts, values) = (&ts[..n], &values[..n]);
    // Branch-free scans (they vectorise): any non-finite value, any step that is not
    // strictly ascending, the largest magnitude.
    let mut non_finite = false;
    let mut max_abs = [0.0_f64; 4];
    let chunks = values.chunks_exact(4);
    for &x in chunks.remainder() {
        non_finite |= !x.is_finite();
        max_abs[0] = if x.abs() > max_abs[0] {
            x.abs()
        } else {
            max_abs[0]
        };
    }
    for c in chunks {
        for k in 0..4 {
            let a = c[k].abs();
            non_finite |= !a.is_finite();
            max_abs[k] = if a > max_abs[k] { a } else { max_abs[k] };
        }
    }
    let mut unordered = false;
    for w in ts.windows(2) {
        unordered |= w[1] <= w[0];
    }
    let clean = !non_finite && !unordered;
    let max_abs = if clean {
        max_abs[0].max(max_abs[1]).max(max_abs[2].max(max_abs[3]))
    } else {
        values
            .iter()
            .filter(|x| x.is_finite())
            .fold(0.0_f64, |m, x| m.max(x.abs()))
    };
    let scale_exp = if max_abs > HUGE || (max_abs > 0.0 && max_abs < TINY) {
        max_abs.log2().floor() as i32
    } else {
        0
    };
    if clean && scale_exp == 0 {
        return Prepared {
            ts,
            v: values,
            scale_exp,
        };
    }
    buf.pairs.clear();
    buf.pairs.extend(
        ts.iter()
            .zip(values)
            .filter(|(_, x)| x.is_finite())
            .map(|(&t, &x)| (t, x)),
    );
    if !buf.pairs.windows(2).all(|w| w[0].0 < w[1].0) {
        // Stable: of equal timestamps, the one passed last stays last and wins below.
        buf.pairs.sort_by_key(|p| p.0);
    }
    buf.ts.clear();
    buf.v.clear();
    for &(t, x) in &buf.pairs {
        let x = if scale_exp == 0 {
            x
        } else {
            scaled(x, scale_exp)
        };
        if buf.ts.last() == Some(&t) {
            if let Some(last) = buf.v.last_mut() {
                *last = x;
            }
        } else {
            buf.ts.push(t);
            buf.v.push(x);
        }
    }
    Prepared {
        ts: &buf.ts,
        v: &buf.v,
        scale_exp,
    }
}

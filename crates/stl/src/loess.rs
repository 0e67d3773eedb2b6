//! Loess smoothing of an equally spaced series, the building block of every STL step.
//!
//! Positions are the indices `0..n` of the slice; a fit may also be asked for just outside
//! them (one step before the first point, one after the last), which is how STL extends each
//! cycle-subseries before the low-pass filter.

/// Share of the neighbourhood distance under which a point counts as "at" the fitted position
/// (weight exactly 1), and above which it counts as outside the neighbourhood (weight 0).
/// R's stl applies both cut-offs; the edge points they affect have tricube weights within
/// ~1e-9 of 1 or of 0, so they move results by ~1e-9 of the range, but keeping them makes
/// the agreement with R exact to rounding.
const NEAR: f64 = 0.001;
const FAR: f64 = 0.999;

/// A degree-1 fit falls back to a weighted mean when the weighted spread of the positions is
/// below this share of the series span: the slope would then be ill-determined.
const FLAT_SPREAD: f64 = 0.001;

/// One loess smoother: span in points, local polynomial degree, and evaluation stride.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Loess {
    /// Number of points in each neighbourhood (odd, at least 3).
    pub window: usize,
    /// Local linear fit when true, local constant (weighted mean) when false.
    pub linear: bool,
    /// The smoother is evaluated every `jump` points (and at the last point), with linear
    /// interpolation in between; this is what keeps STL O(n) for long spans.
    pub jump: usize,
}

impl Loess {
    /// Fits the local polynomial at position `x` from the points `left..=right` of `y`,
    /// weighted by tricube distance and, when given, by the robustness weights `rw`.
    ///
    /// Returns `None` when every point of the neighbourhood has zero weight (all robustness
    /// weights zero, say): the caller then falls back to a neighbouring value, as R does.
    /// `w` is scratch space, reused across calls so smoothing allocates nothing.
    pub(crate) fn fit_at(
        &self,
        y: &[f64],
        rw: Option<&[f64]>,
        x: f64,
        left: usize,
        right: usize,
        w: &mut Vec<f64>,
    ) -> Option<f64> {
        let n = y.len();
        let mut h = (x - left as f64).max(right as f64 - x);
        if self.window > n {
            // The span asks for more points than exist: the neighbourhood is the whole series
            // and the distance is widened by half the missing points (integer halving, as in
            // R), so a very long span tends to an unweighted fit.
            h += ((self.window - n) / 2) as f64;
        }
        let near = NEAR * h;
        let far = FAR * h;
        let inv_h = 1.0 / h;

        // First pass: tricube × robustness weights, and the weighted sums a local constant
        // needs. Positions are taken relative to x so the sums stay well conditioned.
        w.clear();
        let (mut total, mut sum_d, mut sum_y) = (0.0, 0.0, 0.0);
        for (j, &yj) in (left..=right).zip(&y[left..=right]) {
            let d = j as f64 - x;
            let r = d.abs();
            let mut wj = if r <= near {
                1.0
            } else if r <= far {
                let q = r * inv_h;
                let t = 1.0 - q * q * q;
                t * t * t
            } else {
                0.0
            };
            if let Some(rw) = rw {
                wj *= rw[j];
            }
            total += wj;
            sum_d += wj * d;
            sum_y += wj * yj;
            w.push(wj);
        }
        if total <= 0.0 {
            return None;
        }
        let mean_y = sum_y / total;
        if !(h > 0.0 && self.linear) {
            return Some(mean_y);
        }

        // Second pass, for a local line: weighted spread of the positions and their
        // covariance with y, both about the weighted mean position.
        let mean_d = sum_d / total;
        let (mut sxx, mut sxy) = (0.0, 0.0);
        for ((j, &yj), &wj) in (left..=right).zip(&y[left..=right]).zip(w.iter()) {
            let c = (j as f64 - x) - mean_d;
            sxx += wj * c * c;
            sxy += wj * c * yj;
        }
        let spread = sxx / total;
        let span = (n - 1) as f64;
        if spread.sqrt() > FLAT_SPREAD * span {
            // The fitted line at x (where d = 0): mean + slope · (0 − mean position).
            Some(mean_y - mean_d * (sxy / total) / spread)
        } else {
            Some(mean_y)
        }
    }

    /// The neighbourhood `(left, right)` used for a fit at index `i` of a series of `n` points:
    /// the `window` points centred on `i`, shifted inwards at the ends of the series, or the
    /// whole series when the window is longer than it.
    pub(crate) fn neighbourhood(&self, i: usize, n: usize) -> (usize, usize) {
        if self.window >= n {
            return (0, n - 1);
        }
        let half = self.window.div_ceil(2) - 1;
        let left = i.saturating_sub(half).min(n - self.window);
        (left, left + self.window - 1)
    }

    /// Smooths `y` into `out` (same length): fits every `jump` points and at the last one,
    /// interpolating linearly in between. A fit with no usable weight keeps the raw value.
    pub(crate) fn smooth(&self, y: &[f64], rw: Option<&[f64]>, out: &mut [f64], w: &mut Vec<f64>) {
        let n = y.len();
        if n == 0 {
            return;
        }
        if n == 1 {
            out[0] = y[0];
            return;
        }
        let jump = self.jump.max(1);
        let fit = |i: usize, w: &mut Vec<f64>| {
            let (left, right) = self.neighbourhood(i, n);
            self.fit_at(y, rw, i as f64, left, right, w).unwrap_or(y[i])
        };
        for i in (0..n).step_by(jump) {
            out[i] = fit(i, w);
        }
        if jump == 1 {
            return;
        }
        let last_fitted = ((n - 1) / jump) * jump;
        for i in (0..last_fitted).step_by(jump) {
            interpolate(out, i, i + jump);
        }
        if last_fitted != n - 1 {
            out[n - 1] = fit(n - 1, w);
            interpolate(out, last_fitted, n - 1);
        }
    }
}

/// Fills `out[a+1..b]` on the straight line between the fitted values `out[a]` and `out[b]`.
fn interpolate(out: &mut [f64], a: usize, b: usize) {
    let slope = (out[b] - out[a]) / (b - a) as f64;
    for j in a + 1..b {
        out[j] = out[a] + slope * (j - a) as f64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_loess_reproduces_a_line_with_jumps() {
        let y: Vec<f64> = (0..50).map(|i| 3.0 + 0.5 * i as f64).collect();
        let mut out = vec![0.0; y.len()];
        let mut w = Vec::new();
        let l = Loess {
            window: 7,
            linear: true,
            jump: 4,
        };
        l.smooth(&y, None, &mut out, &mut w);
        for (a, b) in y.iter().zip(&out) {
            assert!((a - b).abs() < 1e-9, "{a} vs {b}");
        }
    }

    #[test]
    fn neighbourhood_is_centred_and_clamped() {
        let l = Loess {
            window: 5,
            linear: false,
            jump: 1,
        };
        assert_eq!(l.neighbourhood(0, 10), (0, 4));
        assert_eq!(l.neighbourhood(5, 10), (3, 7));
        assert_eq!(l.neighbourhood(9, 10), (5, 9));
        assert_eq!(l.neighbourhood(2, 3), (0, 2));
    }

    #[test]
    fn zero_weights_fall_back_to_the_raw_value() {
        let y = [1.0, 2.0, 30.0, 4.0, 5.0];
        let rw = [0.0; 5];
        let mut out = [0.0; 5];
        let l = Loess {
            window: 3,
            linear: true,
            jump: 1,
        };
        l.smooth(&y, Some(&rw), &mut out, &mut Vec::new());
        assert_eq!(out, y);
    }
}

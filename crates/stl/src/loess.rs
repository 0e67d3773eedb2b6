//! Loess smoothing of an equally spaced series, the building block of every STL step.
//!
//! Positions are the indices `0..n` of the slice; a fit may also be asked for just outside
//! them (one step before the first point, one after the last), which is how STL extends each
//! cycle-subseries before the low-pass filter.
//!
//! Which points are fitted, from which neighbourhood, and how the others are interpolated
//! follow R's `stl` exactly, and so does the arithmetic of each fit ([`crate::batch`]): the
//! results agree with R's to the last bit. That matters because a robust fit can turn on
//! rounding-level differences, e.g. when more than half of the remainders are zero up to
//! rounding and their median, the robustness scale, is rounding noise.

use crate::batch::{Batch, Job, LANES, dots, tricube};

/// Most weights a [`Schedule`] keeps (two per point of each neighbourhood, 8 MiB): beyond,
/// with a jump of 1 over a long window say, it recomputes them in every pass instead.
const CACHE_LIMIT: usize = 1 << 20;

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
}

/// One fit to make: at position `x` (−1 or n for STL's extension of a subseries) from the
/// neighbourhood starting at `left`, whose weights fall to zero at distance `h`.
#[derive(Clone, Copy, Debug)]
struct Fit {
    x: isize,
    left: usize,
    h: f64,
}

/// Scratch space of the smoothers, reused across fits so smoothing allocates nothing.
#[derive(Default)]
pub(crate) struct LoessScratch {
    values: Vec<Option<f64>>,
    batch: Batch,
    kernels: [Vec<f64>; LANES],
}

/// What one smoother does to series of one length, worked out once per decomposition since
/// it is the same in every pass: which points it fits, from which neighbourhoods, and the
/// weights it can know in advance: the tricube weights, and, for a pass without robustness
/// weights, the final weights of each fit, which make the fit a weighted sum.
///
/// Which points are fitted and from where follows R's `stl`: every `jump` points (at most
/// `n − 1`) and the last one, interpolating linearly in between. The last point, when the
/// stride misses it, is fitted from the neighbourhood of the last point the stride hit: its
/// own whenever the jump is at most half the window (always so with R's default jumps),
/// one further left with a longer jump.
pub(crate) struct Schedule {
    linear: bool,
    n: usize,
    /// Points per neighbourhood: `min(window, n)`.
    width: usize,
    jump: usize,
    extended: bool,
    /// The stride's fits, the last point's if the stride misses it, then, when extended,
    /// the fits one step before the first point and one after the last.
    fits: Vec<Fit>,
    /// `width` tricube weights per fit; empty beyond [`CACHE_LIMIT`].
    kernels: Vec<f64>,
    /// `width` final weights per fit without robustness weights, and whether the fit had
    /// any weight; empty beyond [`CACHE_LIMIT`].
    plain: Vec<f64>,
    plain_usable: Vec<bool>,
}

impl Schedule {
    /// The fits of `loess` on `n` points (`n ≥ 2`); `extended` adds STL's extension of a
    /// cycle-subseries (see [`Schedule::smooth`]).
    pub(crate) fn new(loess: &Loess, n: usize, extended: bool, s: &mut LoessScratch) -> Self {
        debug_assert!(n >= 2);
        let width = loess.window.min(n);
        let jump = loess.jump.clamp(1, n.saturating_sub(1).max(1));
        // The span asks for more points than exist: the neighbourhood is the whole series and
        // the distance is widened by half the missing points (integer halving, as in R), so
        // a very long span tends to an unweighted fit.
        let widen = loess.window.saturating_sub(n) / 2;
        let fit = |x: isize, left: usize| Fit {
            x,
            left,
            h: (x - left as isize).max((left + width - 1) as isize - x) as f64 + widen as f64,
        };
        let mut fits: Vec<Fit> = (0..n)
            .step_by(jump)
            .map(|i| fit(i as isize, loess.neighbourhood(i, n).0))
            .collect();
        let last_strided = fits[fits.len() - 1];
        if last_strided.x as usize != n - 1 {
            fits.push(fit(n as isize - 1, last_strided.left));
        }
        if extended {
            fits.push(fit(-1, 0));
            fits.push(fit(n as isize, n - width));
        }
        let mut schedule = Self {
            linear: loess.linear,
            n,
            width,
            jump,
            extended,
            fits,
            kernels: Vec::new(),
            plain: Vec::new(),
            plain_usable: Vec::new(),
        };
        if schedule.fits.len() * width <= CACHE_LIMIT / 2 {
            schedule.kernels = vec![0.0; schedule.fits.len() * width];
            for (f, kernel) in schedule.fits.iter().zip(schedule.kernels.chunks_mut(width)) {
                tricube(f.left as f64 + 1.0, f.x as f64 + 1.0, f.h, kernel);
            }
            // The final weights do not depend on the values: fit zeros and keep them.
            let zeros = vec![0.0; n];
            let mut plain = Vec::with_capacity(schedule.kernels.len());
            let mut usable = Vec::with_capacity(schedule.fits.len());
            for start in (0..schedule.fits.len()).step_by(LANES) {
                let fitted = schedule.fit_lanes(&zeros, None, start, s);
                let count = LANES.min(schedule.fits.len() - start);
                for (l, v) in fitted.iter().take(count).enumerate() {
                    plain.extend(s.batch.weights(l));
                    usable.push(v.is_some());
                }
            }
            schedule.plain = plain;
            schedule.plain_usable = usable;
        }
        schedule
    }

    /// The same schedule keeping no weights, as beyond [`CACHE_LIMIT`].
    #[cfg(test)]
    fn uncached(mut self) -> Self {
        self.kernels.clear();
        self.plain.clear();
        self.plain_usable.clear();
        self
    }

    /// Fits `fits[start..start + LANES]` (repeating the last one past the end) in full.
    fn fit_lanes(
        &self,
        y: &[f64],
        rw: Option<&[f64]>,
        start: usize,
        s: &mut LoessScratch,
    ) -> [Option<f64>; LANES] {
        let width = self.width;
        let last = self.fits.len() - 1;
        let index = |l: usize| (start + l).min(last);
        if self.kernels.is_empty() {
            for (l, kernel) in s.kernels.iter_mut().enumerate() {
                let f = self.fits[index(l)];
                kernel.resize(width, 0.0);
                tricube(f.left as f64 + 1.0, f.x as f64 + 1.0, f.h, kernel);
            }
        }
        let kernels = &s.kernels;
        let jobs = std::array::from_fn(|l| {
            let i = index(l);
            let f = self.fits[i];
            let range = f.left..f.left + width;
            Job {
                kernel: if self.kernels.is_empty() {
                    &kernels[l]
                } else {
                    &self.kernels[i * width..(i + 1) * width]
                },
                y: &y[range.clone()],
                rw: rw.map(|rw| &rw[range]),
                first: f.left as f64 + 1.0,
                xs: f.x as f64 + 1.0,
                h: f.h,
            }
        });
        s.batch.fit(&jobs, self.linear, self.n as f64 - 1.0)
    }

    /// Smooths `y` (`n` points) into `out`: `n` points, or `n + 2` when extended, with the
    /// smoothed series in `out[1..=n]` and STL's extension of a cycle-subseries around it, a
    /// fit one step before the first point and one after the last (from the first and the
    /// last `window` points). A fit with no usable weight keeps the raw value, or in the
    /// extension the smoothed value next to it.
    pub(crate) fn smooth(
        &self,
        y: &[f64],
        rw: Option<&[f64]>,
        out: &mut [f64],
        s: &mut LoessScratch,
    ) {
        let n = self.n;
        let shift = usize::from(self.extended);
        debug_assert!(y.len() == n && out.len() == n + 2 * shift);
        s.values.clear();
        for start in (0..self.fits.len()).step_by(LANES) {
            let count = LANES.min(self.fits.len() - start);
            if rw.is_none() && !self.plain.is_empty() {
                let width = self.width;
                let last = self.fits.len() - 1;
                let index = |l: usize| (start + l).min(last);
                let w = std::array::from_fn(|l| {
                    let i = index(l);
                    &self.plain[i * width..(i + 1) * width]
                });
                let ys = std::array::from_fn(|l| {
                    let left = self.fits[index(l)].left;
                    &y[left..left + width]
                });
                let sums = dots(w, ys);
                let usable = &self.plain_usable[start..start + count];
                s.values
                    .extend(usable.iter().zip(sums).map(|(&u, v)| u.then_some(v)));
            } else {
                let fitted = self.fit_lanes(y, rw, start, s);
                s.values.extend_from_slice(&fitted[..count]);
            }
        }

        // Fitted points, falling back to the raw value, and the interpolation between them.
        let out_n = &mut out[shift..shift + n];
        let fitted_points = self.fits.len() - 2 * shift;
        for (f, v) in self.fits[..fitted_points].iter().zip(&s.values) {
            let i = f.x as usize;
            out_n[i] = v.unwrap_or(y[i]);
        }
        if self.jump > 1 {
            let last_strided = ((n - 1) / self.jump) * self.jump;
            for i in (0..last_strided).step_by(self.jump) {
                interpolate(out_n, i, i + self.jump);
            }
            if last_strided != n - 1 {
                interpolate(out_n, last_strided, n - 1);
            }
        }
        if self.extended {
            out[0] = s.values[fitted_points].unwrap_or(out[1]);
            out[n + 1] = s.values[fitted_points + 1].unwrap_or(out[n]);
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

    /// Smooths `y` with `loess` in one go (`extended` as [`Schedule::new`]).
    fn smooth(loess: Loess, y: &[f64], rw: Option<&[f64]>, extended: bool) -> Vec<f64> {
        let mut s = LoessScratch::default();
        let schedule = Schedule::new(&loess, y.len(), extended, &mut s);
        let mut out = vec![0.0; y.len() + 2 * usize::from(extended)];
        schedule.smooth(y, rw, &mut out, &mut s);
        out
    }

    #[test]
    fn linear_loess_reproduces_a_line_with_jumps() {
        let y: Vec<f64> = (0..50).map(|i| 3.0 + 0.5 * i as f64).collect();
        let l = Loess {
            window: 7,
            linear: true,
            jump: 4,
        };
        let rw = vec![0.5; y.len()];
        for rw in [None, Some(rw.as_slice())] {
            let out = smooth(l, &y, rw, false);
            for (a, b) in y.iter().zip(&out) {
                assert!((a - b).abs() < 1e-9, "{a} vs {b}");
            }
        }
    }

    #[test]
    fn extension_continues_a_line() {
        let y: Vec<f64> = (0..9).map(|i| 1.0 - 2.0 * i as f64).collect();
        let l = Loess {
            window: 5,
            linear: true,
            jump: 3,
        };
        let out = smooth(l, &y, None, true);
        for (i, v) in out.iter().enumerate() {
            let want = 1.0 - 2.0 * (i as f64 - 1.0);
            assert!((v - want).abs() < 1e-9, "{i}: {v} vs {want}");
        }
    }

    #[test]
    fn kept_weights_change_no_bit() {
        let y: Vec<f64> = (0..40)
            .map(|i| ((i * 37 % 11) as f64).sin() * 5.0)
            .collect();
        let rw: Vec<f64> = (0..40).map(|i| ((i * 13 % 7) as f64) / 6.0).collect();
        let mut s = LoessScratch::default();
        for (window, jump, linear, extended) in [
            (7, 1, true, false),
            (9, 2, false, true),
            (13, 3, true, true),
            (101, 5, true, false),
            (5, 4, true, false),
        ] {
            let l = Loess {
                window,
                linear,
                jump,
            };
            let kept = Schedule::new(&l, y.len(), extended, &mut s);
            let fresh = Schedule::new(&l, y.len(), extended, &mut s).uncached();
            for rw in [None, Some(rw.as_slice())] {
                let mut a = vec![0.0; y.len() + 2 * usize::from(extended)];
                let mut b = a.clone();
                kept.smooth(&y, rw, &mut a, &mut s);
                fresh.smooth(&y, rw, &mut b, &mut s);
                let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&a), bits(&b), "window {window} jump {jump}");
            }
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
    fn a_long_jump_fits_the_last_point_from_the_last_strided_neighbourhood() {
        // Window 3, jump 3 over 6 points: R fits 0 and 3, then 5 from 3's neighbourhood
        // (2..=4), extrapolating the line through those three points.
        let y = [0.0, 0.0, 0.0, 1.0, 2.0, 100.0];
        let l = Loess {
            window: 3,
            linear: true,
            jump: 3,
        };
        let out = smooth(l, &y, None, false);
        assert!((out[5] - 100.0).abs() > 50.0, "{}", out[5]);
        assert!(out[5] < 5.0, "{}", out[5]);
    }

    #[test]
    fn zero_weights_fall_back_to_the_raw_value() {
        let y = [1.0, 2.0, 30.0, 4.0, 5.0];
        let rw = [0.0; 5];
        let l = Loess {
            window: 3,
            linear: true,
            jump: 1,
        };
        assert_eq!(smooth(l, &y, Some(&rw), false), y);
    }
}

//! Loess fits evaluated a few at a time, side by side, with R's arithmetic.
//!
//! A fit done R's way is four running sums over its neighbourhood, each needing the one
//! before (the weights' total, their mean position, the spread about it, the fitted value),
//! and each sum must be added up in R's order to reproduce R's rounding. One fit at a time,
//! the processor waits on every addition. Fits at different positions are independent, so
//! this module runs [`LANES`] of them together, one per lane of small arrays: every lane
//! still adds up in R's order, and the lanes fill each other's waits (and suit SIMD).

/// Share of the neighbourhood distance under which a point counts as "at" the fitted position
/// (weight exactly 1), and above which it counts as outside the neighbourhood (weight 0), as
/// in R's stl.
const NEAR: f64 = 0.001;
const FAR: f64 = 0.999;

/// A degree-1 fit falls back to a weighted mean when the weighted spread of the positions is
/// below this share of the series span: the slope would then be ill-determined.
const FLAT_SPREAD: f64 = 0.001;

/// Fits evaluated together.
pub(crate) const LANES: usize = 4;

type Lanes = [f64; LANES];

/// Writes the tricube weights of a neighbourhood into `out` (one per point), as R computes
/// them: `first` is R's (1-based) position of its first point, `xs` that of the fit, `h`
/// the distance at which weights fall to zero.
pub(crate) fn tricube(first: f64, xs: f64, h: f64, out: &mut [f64]) {
    let (near, far) = (NEAR * h, FAR * h);
    let mut pos = first;
    for w in out {
        let r = (pos - xs).abs();
        *w = if r > far {
            0.0
        } else if r <= near {
            1.0
        } else {
            let q = r / h;
            let t = 1.0 - q * q * q;
            t * t * t
        };
        pos += 1.0;
    }
}

/// `Σ w[k] · y[k]` in order, for [`LANES`] pairs of equally long slices at once.
pub(crate) fn dots(w: [&[f64]; LANES], y: [&[f64]; LANES]) -> Lanes {
    let width = w[0].len();
    let w = w.map(|s| &s[..width]);
    let y = y.map(|s| &s[..width]);
    let mut sum = [0.0; LANES];
    for k in 0..width {
        for l in 0..LANES {
            sum[l] += w[l][k] * y[l][k];
        }
    }
    sum
}

/// One fit of a batch.
#[derive(Clone, Copy)]
pub(crate) struct Job<'a> {
    /// Tricube weights of the neighbourhood's points ([`tricube`]).
    pub kernel: &'a [f64],
    /// The neighbourhood's values (same length).
    pub y: &'a [f64],
    /// Their robustness weights, if any (same length).
    pub rw: Option<&'a [f64]>,
    /// R's (1-based) position of the neighbourhood's first point.
    pub first: f64,
    /// R's position of the fit (may lie just outside the neighbourhood).
    pub xs: f64,
    /// The distance at which weights fall to zero.
    pub h: f64,
}

/// Scratch space of a batch, interleaved by lane; reused so fitting allocates nothing.
#[derive(Default)]
pub(crate) struct Batch {
    w: Vec<Lanes>,
    y: Vec<Lanes>,
}

impl Batch {
    /// Fits `jobs` (neighbourhoods all of one length) by local lines (`linear`) or local
    /// constants; `span` is `n − 1` of the series they belong to. Returns one value per job,
    /// `None` where every weight of the neighbourhood is zero. A caller with fewer jobs
    /// repeats one and drops its extra results.
    pub(crate) fn fit(
        &mut self,
        jobs: &[Job<'_>; LANES],
        linear: bool,
        span: f64,
    ) -> [Option<f64>; LANES] {
        let width = jobs[0].y.len();
        self.w.clear();
        self.w.resize(width, [0.0; LANES]);
        self.y.clear();
        self.y.resize(width, [0.0; LANES]);
        let (mut first, mut xs, mut h) = ([0.0; LANES], [0.0; LANES], [0.0; LANES]);
        for (l, j) in jobs.iter().enumerate() {
            debug_assert!(j.y.len() == width && j.kernel.len() == width);
            (first[l], xs[l], h[l]) = (j.first, j.xs, j.h);
            for (row, &v) in self.y.iter_mut().zip(j.y) {
                row[l] = v;
            }
            // Tricube times robustness weight; without robustness weights the tricube as it
            // is (R multiplies only then; multiplying by 1 would change nothing anyway).
            match j.rw {
                Some(rw) => {
                    for ((row, &k), &r) in self.w.iter_mut().zip(j.kernel).zip(rw) {
                        row[l] = k * r;
                    }
                }
                None => {
                    for (row, &k) in self.w.iter_mut().zip(j.kernel) {
                        row[l] = k;
                    }
                }
            }
        }

        let mut total = [0.0; LANES];
        for w in &self.w {
            for l in 0..LANES {
                total[l] += w[l];
            }
        }
        let usable = total.map(|t| t > 0.0);
        // A lane without weight divides by 1 instead of 0; its result is dropped.
        let total = total.map(|t| if t > 0.0 { t } else { 1.0 });

        let mut fitted = [0.0; LANES];
        if linear {
            // Normalised weights and their mean position …
            let mut mean = [0.0; LANES];
            let mut pos = first;
            for w in self.w.iter_mut() {
                for l in 0..LANES {
                    w[l] /= total[l];
                    mean[l] += w[l] * pos[l];
                    pos[l] += 1.0;
                }
            }
            // … the spread about it …
            let mut spread = [0.0; LANES];
            let mut pos = first;
            for w in &self.w {
                for l in 0..LANES {
                    let c = pos[l] - mean[l];
                    spread[l] += w[l] * (c * c);
                    pos[l] += 1.0;
                }
            }
            // … and the line through the mean at x: each weight tilted by the slope. Where
            // the slope is ill-determined (or h is 0) it is 0, and `w · (0 · d + 1)` is
            // exactly `w`: the weighted mean, as R computes it then.
            let mut slope = [0.0; LANES];
            for l in 0..LANES {
                if h[l] > 0.0 && spread[l].sqrt() > FLAT_SPREAD * span {
                    slope[l] = (xs[l] - mean[l]) / spread[l];
                }
            }
            let mut pos = first;
            for (w, y) in self.w.iter_mut().zip(&self.y) {
                for l in 0..LANES {
                    w[l] *= slope[l] * (pos[l] - mean[l]) + 1.0;
                    fitted[l] += w[l] * y[l];
                    pos[l] += 1.0;
                }
            }
        } else {
            for (w, y) in self.w.iter_mut().zip(&self.y) {
                for l in 0..LANES {
                    w[l] /= total[l];
                    fitted[l] += w[l] * y[l];
                }
            }
        }
        std::array::from_fn(|l| usable[l].then_some(fitted[l]))
    }

    /// The final weights of lane `lane` of the last [`Batch::fit`]: its value was `Σ w · y`
    /// over them, in order ([`dots`]). Without robustness weights they depend on positions
    /// only, so a smoother can keep them and skip the fit in later passes.
    pub(crate) fn weights(&self, lane: usize) -> impl Iterator<Item = f64> + '_ {
        self.w.iter().map(move |w| w[lane])
    }
}

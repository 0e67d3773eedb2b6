//! Search by shape, in the manner of Etsy's Oculus: a shape someone drew or pasted against
//! every stored series over a time range, the most alike first.
//!
//! Both the shape and each series are resampled to [`POINTS`] points and z-normalized, so
//! the distance is free of scale and offset (a shape drawn from 0 to 1 finds a series going
//! from 2,000 to 9,000). The distance is dynamic time warping within a Sakoe–Chiba band of
//! [`BAND`] of the length (a bump a little early or late still matches), reported as the
//! root mean square of the warped differences. Most series never get a full warping: the
//! LB_Keogh lower bound against the shape's band envelope rejects any series that cannot beat
//! the current k-th best, and the warping itself stops at the first row whose every cell is
//! already worse.

use am_store::Point;

use crate::series::{bucket, fill_gaps, znormalize};

/// Points shape and series are compared at.
pub const POINTS: usize = 64;

/// The warping band, as a fraction of [`POINTS`].
pub const BAND: f32 = 0.1;

/// Most values a pasted or drawn shape may have.
pub const MAX_INPUT: usize = 10_000;

/// Why a shape cannot be searched for.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ShapeError {
    /// Fewer than three values, or more than [`MAX_INPUT`].
    #[error("a shape needs 3 to {MAX_INPUT} values, got {0}")]
    Length(usize),
    /// A value is NaN or infinite.
    #[error("value {0} of the shape is not a finite number")]
    NotFinite(usize),
    /// All values are equal.
    #[error("the shape is flat: nothing to match")]
    Flat,
}

/// The shape searched for, normalized, with its band envelope.
#[derive(Debug, Clone)]
pub struct Query {
    values: Vec<f32>,
    upper: Vec<f32>,
    lower: Vec<f32>,
    band: usize,
}

impl Query {
    /// Resamples `raw` (equally spaced values) to [`POINTS`] points by linear interpolation
    /// and normalizes it.
    pub fn new(raw: &[f64]) -> Result<Query, ShapeError> {
        if raw.len() < 3 || raw.len() > MAX_INPUT {
            return Err(ShapeError::Length(raw.len()));
        }
        if let Some(i) = raw.iter().position(|v| !v.is_finite()) {
            return Err(ShapeError::NotFinite(i));
        }
        let mut values = resample(raw, POINTS);
        if !znormalize(&mut values) {
            return Err(ShapeError::Flat);
        }
        let band = ((POINTS as f32 * BAND).round() as usize).max(1);
        let (upper, lower) = envelope(&values, band);
        Ok(Query {
            values,
            upper,
            lower,
            band,
        })
    }

    /// The normalized shape.
    pub fn values(&self) -> &[f32] {
        &self.values
    }
}

/// `raw` resampled to `n` points by linear interpolation.
pub fn resample(raw: &[f64], n: usize) -> Vec<f32> {
    let len = raw.len();
    if len == 0 {
        return vec![0.0; n];
    }
    (0..n)
        .map(|i| {
            let x = if n > 1 {
                i as f64 * (len - 1) as f64 / (n - 1) as f64
            } else {
                0.0
            };
            let j = (x.floor() as usize).min(len - 1);
            let f = x - j as f64;
            let a = raw[j];
            let b = raw.get(j + 1).copied().unwrap_or(a);
            (a + (b - a) * f) as f32
        })
        .collect()
}

/// The running maximum and minimum of `v` over `±band`.
fn envelope(v: &[f32], band: usize) -> (Vec<f32>, Vec<f32>) {
    let n = v.len();
    let mut upper = Vec::with_capacity(n);
    let mut lower = Vec::with_capacity(n);
    for i in 0..n {
        let w = &v[i.saturating_sub(band)..(i + band + 1).min(n)];
        upper.push(w.iter().copied().fold(f32::NEG_INFINITY, f32::max));
        lower.push(w.iter().copied().fold(f32::INFINITY, f32::min));
    }
    (upper, lower)
}

/// Compares series with one [`Query`], reusing its buffers.
#[derive(Debug)]
pub struct Matcher<'a> {
    query: &'a Query,
    grid: Vec<f32>,
    prev: Vec<f32>,
    cur: Vec<f32>,
    /// Series rejected by the lower bound alone.
    pub pruned: u64,
    /// Series whose warping stopped early.
    pub abandoned: u64,
}

impl<'a> Matcher<'a> {
    /// A matcher for `query`.
    pub fn new(query: &'a Query) -> Matcher<'a> {
        Matcher {
            query,
            grid: vec![0.0; POINTS],
            prev: vec![0.0; POINTS],
            cur: vec![0.0; POINTS],
            pruned: 0,
            abandoned: 0,
        }
    }

    /// The distance of a series' points over `[from, until]` to the shape, or `None` when
    /// the series has too few points there (under half the buckets), is flat, or cannot be
    /// closer than `bound`.
    pub fn score(&mut self, points: &[Point], from: i64, until: i64, bound: f32) -> Option<f32> {
        let step = ((until - from + 1) as f64 / POINTS as f64).ceil().max(1.0) as i64;
        let start = until + 1 - step * POINTS as i64;
        let filled = bucket(points, start, step, &mut self.grid);
        if filled * 2 < POINTS {
            return None;
        }
        fill_gaps(&mut self.grid);
        if !znormalize(&mut self.grid) {
            return None;
        }
        let grid = std::mem::take(&mut self.grid);
        let d = self.distance(&grid, bound);
        self.grid = grid;
        d
    }

    /// The distance of a normalized series of [`POINTS`] values to the shape, or `None` if it
    /// cannot be closer than `bound`.
    pub fn distance(&mut self, c: &[f32], bound: f32) -> Option<f32> {
        let n = POINTS;
        if c.len() != n {
            return None;
        }
        let limit = if bound.is_finite() {
            bound * bound * n as f32
        } else {
            f32::INFINITY
        };
        let q = self.query;
        // LB_Keogh: every point of `c` outside the shape's envelope costs at least its
        // distance to it, whatever the warping.
        let mut lb = 0f32;
        for ((&x, &u), &l) in c.iter().zip(&q.upper).zip(&q.lower) {
            let d = if x > u {
                x - u
            } else if x < l {
                l - x
            } else {
                0.0
            };
            lb += d * d;
        }
        if lb > limit {
            self.pruned += 1;
            return None;
        }
        let r = q.band;
        let (prev, cur) = (&mut self.prev, &mut self.cur);
        prev.fill(f32::INFINITY);
        for i in 0..n {
            cur.fill(f32::INFINITY);
            let (lo, hi) = (i.saturating_sub(r), (i + r + 1).min(n));
            let mut row_min = f32::INFINITY;
            for j in lo..hi {
                let d = q.values[i] - c[j];
                let cost = d * d;
                let best = if i == 0 && j == 0 {
                    0.0
                } else {
                    let up = if i > 0 { prev[j] } else { f32::INFINITY };
                    let left = if j > 0 { cur[j - 1] } else { f32::INFINITY };
                    let diag = if i > 0 && j > 0 {
                        prev[j - 1]
                    } else {
                        f32::INFINITY
                    };
                    up.min(left).min(diag)
                };
                cur[j] = cost + best;
                row_min = row_min.min(cur[j]);
            }
            if row_min > limit {
                self.abandoned += 1;
                return None;
            }
            std::mem::swap(prev, cur);
        }
        let total = prev[n - 1];
        (total <= limit).then(|| (total / n as f32).sqrt())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn series(f: impl Fn(f64) -> f64, from: i64, until: i64, step: i64) -> Vec<Point> {
        (from..=until)
            .step_by(step as usize)
            .map(|ts| Point {
                ts,
                value: f((ts - from) as f64 / (until - from) as f64),
            })
            .collect()
    }

    #[test]
    fn scale_and_offset_do_not_matter_and_warping_forgives_a_shift() {
        let drawn: Vec<f64> = (0..50)
            .map(|i| if (20..30).contains(&i) { 1.0 } else { 0.0 })
            .collect();
        let q = Query::new(&drawn).unwrap();
        let mut m = Matcher::new(&q);
        let bump = |at: f64| {
            move |x: f64| {
                2000.0
                    + if (at..at + 0.2).contains(&x) {
                        7000.0
                    } else {
                        0.0
                    }
            }
        };
        let same = m
            .score(&series(bump(0.4), 0, 3599, 60), 0, 3599, f32::INFINITY)
            .unwrap();
        let shifted = m
            .score(&series(bump(0.45), 0, 3599, 60), 0, 3599, f32::INFINITY)
            .unwrap();
        let ramp = m
            .score(&series(|x| x, 0, 3599, 60), 0, 3599, f32::INFINITY)
            .unwrap();
        assert!(same < 0.3, "{same}");
        assert!(shifted < 0.5, "{shifted}");
        assert!(ramp > 2.0 * shifted, "{ramp} vs {shifted}");
    }

    #[test]
    fn bounds_prune_without_changing_the_answer() {
        let q = Query::new(&[0.0, 1.0, 0.0, 1.0, 0.0]).unwrap();
        let mut m = Matcher::new(&q);
        let c: Vec<f32> = {
            let mut v = resample(&[1.0, 0.0, 1.0, 0.0, 1.0], POINTS);
            znormalize(&mut v);
            v
        };
        let full = m.distance(&c, f32::INFINITY).unwrap();
        assert_eq!(m.distance(&c, full * 1.01), Some(full));
        assert_eq!(m.distance(&c, full * 0.5), None);
        assert_eq!(m.pruned + m.abandoned, 1);
    }

    #[test]
    fn bad_shapes_are_refused() {
        assert_eq!(Query::new(&[1.0, 2.0]).unwrap_err(), ShapeError::Length(2));
        assert_eq!(
            Query::new(&[1.0, f64::NAN, 2.0]).unwrap_err(),
            ShapeError::NotFinite(1)
        );
        assert_eq!(Query::new(&[3.0; 10]).unwrap_err(), ShapeError::Flat);
    }

    #[test]
    fn resampling_keeps_the_ends() {
        let r = resample(&[0.0, 10.0], 5);
        assert_eq!(r, vec![0.0, 2.5, 5.0, 7.5, 10.0]);
    }
}

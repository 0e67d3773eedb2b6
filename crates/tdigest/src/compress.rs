//! The merge pass: the k1 scale function and the one-pass compression of sorted centroids.

use std::f64::consts::PI;

use crate::{Centroid, lerp};

/// The k1 scale function `k(q) = δ/(2π) · asin(2q − 1)`, mapping a quantile in `[0, 1]` to
/// `[−δ/4, δ/4]`.
fn k1(compression: f64, q: f64) -> f64 {
    compression / (2.0 * PI) * (2.0 * q - 1.0).clamp(-1.0, 1.0).asin()
}

/// The inverse of [`k1`]: `q(k) = (1 + sin(2πk/δ)) / 2`.
fn k1_inv(compression: f64, k: f64) -> f64 {
    let q = (1.0 + (2.0 * PI * k / compression).sin()) / 2.0;
    q.clamp(0.0, 1.0)
}

/// The highest quantile a centroid whose left edge is at quantile `q_left` may reach:
/// one unit of `k` further (or the end of the distribution).
fn q_limit(compression: f64, q_left: f64) -> f64 {
    let k = k1(compression, q_left) + 1.0;
    if k >= compression / 4.0 {
        1.0
    } else {
        k1_inv(compression, k)
    }
}

/// Merges two sorted runs of centroids (by mean) into one sorted sequence.
struct SortedMerge<'a> {
    a: &'a [Centroid],
    b: &'a [Centroid],
}

impl Iterator for SortedMerge<'_> {
    type Item = Centroid;

    fn next(&mut self) -> Option<Centroid> {
        let take_a = match (self.a.first(), self.b.first()) {
            (Some(x), Some(y)) => x.mean <= y.mean,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return None,
        };
        let run = if take_a { &mut self.a } else { &mut self.b };
        let (first, rest) = run.split_first()?;
        *run = rest;
        Some(*first)
    }
}

/// Compresses the union of `centroids` (sorted by mean) and `buffer` (any order; sorted here)
/// into a new sorted centroid list whose every centroid spans at most one unit of k1, unless
/// it is a single input centroid heavier than that.
///
/// `total` is the summed weight of both inputs. Cost: O(b log b + m + b) for b buffered and m
/// existing centroids.
pub(crate) fn compress(
    compression: f64,
    total: f64,
    centroids: &[Centroid],
    buffer: &mut [Centroid],
) -> Vec<Centroid> {
    buffer.sort_unstable_by(|x, y| x.mean.total_cmp(&y.mean));
    let mut input = SortedMerge {
        a: centroids,
        b: buffer,
    };
    // Adjacent output centroids together always span more than one unit of k, and k spans
    // δ/2 in all, so at most δ + 2 centroids come out.
    let mut out = Vec::with_capacity(compression.ceil() as usize + 2);
    let Some(mut current) = input.next() else {
        return out;
    };
    let mut before = 0.0; // weight of everything already emitted
    let mut limit = total * q_limit(compression, 0.0);
    for next in input {
        let merged = current.weight + next.weight;
        if before + merged <= limit {
            // The weighted mean; `lerp` stays within [current.mean, next.mean], which keeps
            // the output sorted.
            let mean = lerp(current.mean, next.mean, next.weight / merged);
            current = Centroid {
                mean,
                weight: merged,
            };
        } else {
            before += current.weight;
            out.push(current);
            limit = total * q_limit(compression, before / total);
            current = next;
        }
    }
    out.push(current);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn k1_round_trips_and_spans_half_the_compression() {
        for &q in &[0.0, 1e-6, 0.01, 0.3, 0.5, 0.77, 0.999, 1.0] {
            let back = k1_inv(100.0, k1(100.0, q));
            assert!((back - q).abs() < 1e-12, "q {q} came back as {back}");
        }
        assert!((k1(100.0, 1.0) - k1(100.0, 0.0) - 50.0).abs() < 1e-9);
    }

    #[test]
    fn limits_grow_and_end_at_one() {
        let mut q = 0.0;
        let mut steps = 0;
        while q < 1.0 {
            let next = q_limit(100.0, q);
            assert!(next > q);
            q = next;
            steps += 1;
        }
        assert_eq!(steps, 50);
    }

    #[test]
    fn compress_keeps_weight_and_order() {
        let mut buffer: Vec<Centroid> = (0..1000)
            .rev()
            .map(|i| Centroid {
                mean: f64::from(i),
                weight: 1.0,
            })
            .collect();
        let out = compress(20.0, 1000.0, &[], &mut buffer);
        assert!(out.len() <= 22, "{} centroids", out.len());
        assert!(out.windows(2).all(|w| w[0].mean <= w[1].mean));
        let total: f64 = out.iter().map(|c| c.weight).sum();
        assert_eq!(total, 1000.0);
    }
}

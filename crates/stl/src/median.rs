//! The scale of STL's robustness weights — six times the median absolute remainder — computed
//! the way R's `stl` computes it.
//!
//! R's `stl` (its Fortran routine `stlrwt`) takes "the median" of the n absolute remainders as
//! the mean of the values at two positions after a partial quicksort (Singleton's algorithm,
//! CACM 347, extended to place only the positions asked for). It asks for positions
//! `n/2 + 1` and `n − (n/2 + 1) + 1` (1-based), in that order. For an odd length both are the
//! middle and the result is the exact median. For an even length they are the upper and then
//! the lower middle: descending, while the partial sort's bookkeeping assumes its positions
//! ascending. Whenever a partition puts the two middle positions on different sides, the
//! bookkeeping hands both to one side and none to the other, so one of the two values is left
//! where that partition put it: an element of the right part, but not necessarily its
//! smallest, or of the left part, but not necessarily its largest. Which side keeps them
//! depends on which part is shorter, as the sort continues with the shorter part first.
//!
//! The effect on the scale is small but it changes which points a robust fit down-weights,
//! and over fifteen robustness iterations it moves the decomposition by up to the whole range
//! of the series. So this module follows the partial sort step by step: the same pivots, the
//! same partitions, the same order of segments and the same bookkeeping of positions.

/// Segments of at most this many elements are finished by sorting rather than partitioned
/// further, as in Singleton's algorithm — except a segment starting at the first element,
/// which Singleton keeps partitioning (his insertion sort needs a smaller element in front).
const SHORT_SEGMENT: usize = 11;

/// Six times R's median of `v`; reorders `v`.
pub(crate) fn six_medians(v: &mut [f64]) -> f64 {
    let n = v.len();
    if n == 0 {
        return 0.0;
    }
    // R's two positions, 0-based and in R's order: for an even length the upper middle, then
    // the lower one.
    let first = n / 2;
    let second = n - 1 - first;
    partial_sort(v, &[first, second]);
    3.0 * (v[first] + v[second])
}

/// A segment of the array still to be sorted, and the slice of the wanted positions it is
/// responsible for (`targets[first..end]`).
#[derive(Clone, Copy)]
struct Segment {
    lo: usize,
    hi: usize,
    first: usize,
    end: usize,
}

impl Segment {
    /// Whether any wanted position is left to this segment.
    fn owns(&self) -> bool {
        self.first < self.end
    }
}

/// Singleton's quicksort restricted to the segments that hold one of `targets`, with R's
/// bookkeeping: each segment owns a contiguous run of `targets`, split at each partition on
/// the assumption that `targets` ascend. With ascending targets every target ends up holding
/// the value a full sort would put there; with others, some may not (see the module docs).
fn partial_sort(v: &mut [f64], targets: &[usize]) {
    if v.len() < 2 || targets.is_empty() {
        return;
    }
    let mut pending: Vec<Segment> = Vec::new();
    let mut seg = Segment {
        lo: 0,
        hi: v.len() - 1,
        first: 0,
        end: targets.len(),
    };
    loop {
        let long = seg.hi - seg.lo >= SHORT_SEGMENT;
        if long || (seg.lo == 0 && seg.lo < seg.hi) {
            let (left_end, right_start) = partition(v, seg.lo, seg.hi);
            // Continue with the shorter part; the longer waits, with the targets the
            // bookkeeping gives it.
            let mut left = Segment {
                hi: left_end,
                ..seg
            };
            let mut right = Segment {
                lo: right_start,
                ..seg
            };
            let continues = if left_end - seg.lo <= seg.hi - right_start {
                while left.owns() && targets[left.end - 1] > left.hi {
                    left.end -= 1;
                }
                right.first = if left.owns() { left.end } else { seg.first };
                pending.push(right);
                left
            } else {
                while right.owns() && targets[right.first] < right.lo {
                    right.first += 1;
                }
                left.end = if right.owns() { right.first } else { seg.end };
                pending.push(left);
                right
            };
            if continues.owns() {
                seg = continues;
                continue;
            }
        } else if seg.lo > 0 {
            // Singleton finishes short segments by insertion sort; any sort leaves the same
            // values in the same places.
            v[seg.lo..=seg.hi].sort_unstable_by(f64::total_cmp);
        }
        // Next waiting segment that owns a target, most recent first.
        loop {
            match pending.pop() {
                None => return,
                Some(next) if next.owns() => {
                    seg = next;
                    break;
                }
                Some(_) => {}
            }
        }
    }
}

/// Singleton's partition of `v[lo..=hi]` (at least two elements): the pivot is the median of
/// the first, middle and last elements, which are first put in order so that they bound the
/// scans. Returns `(l, k)` with `l < k`, everything in `lo..=l` at most the pivot and
/// everything in `k..=hi` at least the pivot.
fn partition(v: &mut [f64], lo: usize, hi: usize) -> (usize, usize) {
    let mid = lo + (hi - lo) / 2;
    if v[lo] > v[mid] {
        v.swap(lo, mid);
    }
    if v[hi] < v[mid] {
        v.swap(hi, mid);
        if v[lo] > v[mid] {
            v.swap(lo, mid);
        }
    }
    let pivot = v[mid];
    let (mut l, mut k) = (hi, lo);
    loop {
        l -= 1;
        while v[l] > pivot {
            l -= 1;
        }
        k += 1;
        while v[k] < pivot {
            k += 1;
        }
        if k > l {
            return (l, k);
        }
        v.swap(l, k);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn true_median(v: &[f64]) -> f64 {
        let mut s = v.to_vec();
        s.sort_by(f64::total_cmp);
        (s[(s.len() - 1) / 2] + s[s.len() / 2]) / 2.0
    }

    /// A deterministic spread of values (a multiplicative congruential sequence).
    fn values(n: usize, seed: u64) -> Vec<f64> {
        let mut x = seed;
        (0..n)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (x >> 11) as f64 / (1u64 << 53) as f64
            })
            .collect()
    }

    #[test]
    fn odd_lengths_give_the_exact_median() {
        for n in [1, 3, 5, 19, 31, 433, 1441] {
            for seed in 0..20 {
                let v = values(n, seed);
                let got = six_medians(&mut v.clone());
                assert_eq!(got, 6.0 * true_median(&v), "n {n} seed {seed}");
            }
        }
    }

    #[test]
    fn ascending_targets_get_their_sorted_values() {
        for n in [2, 3, 12, 13, 40, 100, 1441] {
            for seed in 0..20 {
                let v = values(n, seed);
                let mut sorted = v.clone();
                sorted.sort_by(f64::total_cmp);
                let step = 1 + seed as usize % 7;
                let targets: Vec<usize> = (seed as usize % n..n).step_by(step).collect();
                let mut w = v.clone();
                partial_sort(&mut w, &targets);
                for &t in &targets {
                    assert_eq!(w[t], sorted[t], "n {n} seed {seed} target {t}");
                }
            }
        }
    }

    #[test]
    fn even_lengths_get_one_middle_value_exact_and_the_other_from_its_side() {
        let (mut lower_exact, mut upper_exact) = (0, 0);
        for n in [2, 4, 22, 100, 1440] {
            for seed in 0..50 {
                let v = values(n, seed);
                let mut sorted = v.clone();
                sorted.sort_by(f64::total_cmp);
                let mut w = v.clone();
                let got = six_medians(&mut w);
                let (lower, upper) = (n / 2 - 1, n / 2);
                assert_eq!(got, 3.0 * (w[lower] + w[upper]));
                if w[lower] == sorted[lower] {
                    assert!(w[upper] >= sorted[upper], "n {n} seed {seed}");
                    lower_exact += usize::from(w[upper] != sorted[upper]);
                } else {
                    assert_eq!(w[upper], sorted[upper], "n {n} seed {seed}");
                    assert!(w[lower] < sorted[lower], "n {n} seed {seed}");
                    upper_exact += 1;
                }
            }
        }
        // Both ways of missing the textbook median happen.
        assert!(
            lower_exact > 0 && upper_exact > 0,
            "{lower_exact} {upper_exact}"
        );
    }

    #[test]
    fn small_even_lengths_are_exact() {
        assert_eq!(six_medians(&mut [4.0, 1.0, 3.0, 2.0]), 15.0);
        assert_eq!(six_medians(&mut [2.0, 1.0]), 9.0);
    }
}

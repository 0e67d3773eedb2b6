//! The two-sample Kolmogorov–Smirnov test.

use crate::special::kolmogorov_sf;

/// The two-sample KS statistic `D = max |F_a − F_b|` over the pooled values, ties handled as
/// scipy's `ks_2samp` does (both empirical CDFs step past every copy of a value at once).
/// Sorts both samples; 0 when either is empty.
pub(crate) fn ks_statistic(a: &mut [f64], b: &mut [f64]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    a.sort_unstable_by(f64::total_cmp);
    b.sort_unstable_by(f64::total_cmp);
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j, mut d) = (0, 0, 0.0_f64);
    // Once either sample is exhausted its CDF is 1 and the other's only climbs towards it,
    // so the largest gap has been seen.
    while i < a.len() && j < b.len() {
        let x = a[i].min(b[j]);
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        d = d.max((i as f64 / n1 - j as f64 / n2).abs());
    }
    d
}

/// The KS p-value by the asymptotic Kolmogorov distribution with Stephens' small-sample
/// correction, `Q((√e + 0.12 + 0.11/√e) · D)` with `e = n₁n₂/(n₁+n₂)`: the formula of the
/// scipy releases Skyline ran on. (Current scipy computes the exact distribution for small
/// samples; the verdict is the same, see the crate docs.)
pub(crate) fn ks_p_asymptotic(d: f64, n1: usize, n2: usize) -> f64 {
    if n1 == 0 || n2 == 0 {
        return 1.0;
    }
    let (n1, n2) = (n1 as f64, n2 as f64);
    let en = (n1 * n2 / (n1 + n2)).sqrt();
    kolmogorov_sf((en + 0.12 + 0.11 / en) * d)
}

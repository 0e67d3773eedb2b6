//! Special functions behind the tests' thresholds and p-values: log-gamma, the regularized
//! incomplete beta function, Student's t survival function and its inverse, the normal CDF
//! and Kolmogorov's limiting distribution.
//!
//! Written for the arguments Skyline needs (half-integer and integer degrees of freedom,
//! moderate test statistics), accurate to a few units in the 13th digit or better there.

use std::f64::consts::{FRAC_1_SQRT_2, PI};

/// `ln Γ(x)` for `x > 0`: Stirling's series after shifting `x` up to at least 15.
pub(crate) fn ln_gamma(x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 || x.is_infinite() {
        return f64::NAN;
    }
    let (mut z, mut product) = (x, 1.0);
    while z < 15.0 {
        product *= z;
        z += 1.0;
    }
    let z2 = z * z;
    // Bernoulli terms B_2k / (2k (2k-1) z^(2k-1)), k = 1..=8.
    let series = (1.0 / 12.0
        - (1.0 / 360.0
            - (1.0 / 1260.0
                - (1.0 / 1680.0
                    - (1.0 / 1188.0
                        - (691.0 / 360_360.0 - (1.0 / 156.0 - 3617.0 / 122_400.0 / z2) / z2)
                            / z2)
                        / z2)
                    / z2)
                / z2)
            / z2)
        / z;
    (z - 0.5) * z.ln() - z + 0.5 * (2.0 * PI).ln() + series - product.ln()
}

/// Below this, a modified-Lentz denominator counts as zero and is replaced by it.
const TINY: f64 = 1e-300;

/// One term of a continued fraction `… a/(b + …)` by the modified Lentz method: updates
/// Lentz's `c` and `d` and returns the factor the fraction's value is multiplied by.
fn lentz_step(c: &mut f64, d: &mut f64, a: f64, b: f64) -> f64 {
    *d = b + a * *d;
    *d = if d.abs() < TINY { 1.0 / TINY } else { 1.0 / *d };
    *c = b + a / *c;
    if c.abs() < TINY {
        *c = TINY;
    }
    *c * *d
}

/// The continued fraction of the incomplete beta function (modified Lentz), valid and fast
/// for `x < (a + 1) / (a + b + 2)`.
fn beta_cf(a: f64, b: f64, x: f64) -> f64 {
    let mut c = 1.0;
    let mut d = 1.0 - (a + b) * x / (a + 1.0);
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut f = d;
    for m in 1..=100_000 {
        let m = f64::from(m);
        let two_m = 2.0 * m;
        // Even step.
        let num = m * (b - m) * x / ((a + two_m - 1.0) * (a + two_m));
        f *= lentz_step(&mut c, &mut d, num, 1.0);
        // Odd step.
        let num = -(a + m) * (a + b + m) * x / ((a + two_m) * (a + two_m + 1.0));
        let delta = lentz_step(&mut c, &mut d, num, 1.0);
        f *= delta;
        if (delta - 1.0).abs() < 1e-16 {
            break;
        }
    }
    f
}

/// The regularized incomplete beta function `I_x(a, b)`, given `x` and `y = 1 − x` each
/// computed directly (so neither loses digits to cancellation).
pub(crate) fn beta_inc(a: f64, b: f64, x: f64, y: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if y <= 0.0 {
        return 1.0;
    }
    let ln_front = a * x.ln() + b * y.ln() - (ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b));
    if x < (a + 1.0) / (a + b + 2.0) {
        ln_front.exp() * beta_cf(a, b, x) / a
    } else {
        1.0 - ln_front.exp() * beta_cf(b, a, y) / b
    }
}

/// Student's t survival function `P(T > t)` with `df` degrees of freedom.
pub(crate) fn t_sf(t: f64, df: f64) -> f64 {
    if t.is_nan() || df.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    if t < 0.0 {
        return 1.0 - t_sf(-t, df);
    }
    if t == f64::INFINITY {
        return 0.0;
    }
    let t2 = t * t;
    let x = df / (df + t2);
    let y = t2 / (df + t2);
    0.5 * beta_inc(df / 2.0, 0.5, x, y)
}

/// Student's t density.
fn t_pdf(t: f64, df: f64) -> f64 {
    let ln = ln_gamma((df + 1.0) / 2.0)
        - ln_gamma(df / 2.0)
        - 0.5 * (df * PI).ln()
        - (df + 1.0) / 2.0 * (t * t / df).ln_1p();
    ln.exp()
}

/// Student's t inverse survival function: the `t` with `P(T > t) = p`, for `0 < p < 1`.
///
/// Brackets the root, then Newton steps on `ln sf(t) − ln p` (bisection whenever a step would
/// leave the bracket) until the step is below an ulp or so.
pub(crate) fn t_isf(p: f64, df: f64) -> f64 {
    if p.is_nan() || p <= 0.0 || p >= 1.0 || df.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    if p > 0.5 {
        return -t_isf(1.0 - p, df);
    }
    if p == 0.5 {
        return 0.0;
    }
    let (mut lo, mut hi) = (0.0_f64, 1.0_f64);
    while t_sf(hi, df) > p {
        lo = hi;
        hi *= 2.0;
        if hi > 1e300 {
            return f64::INFINITY;
        }
    }
    let target = p.ln();
    let mut t = 0.5 * (lo + hi);
    for _ in 0..200 {
        let sf = t_sf(t, df);
        if sf > p {
            lo = t;
        } else {
            hi = t;
        }
        let f = sf.ln() - target;
        let slope = -t_pdf(t, df) / sf;
        let mut next = t - f / slope;
        if next.is_nan() || next <= lo || next >= hi {
            next = 0.5 * (lo + hi);
        }
        let step = (next - t).abs();
        t = next;
        if step <= 2.0 * f64::EPSILON * t || hi - lo <= 2.0 * f64::EPSILON * t {
            break;
        }
    }
    t
}

/// The complementary error function.
pub(crate) fn erfc(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x < 0.0 {
        return 2.0 - erfc(-x);
    }
    if x < 2.0 {
        // erf by its Maclaurin series: 2/√π Σ (−1)^n x^(2n+1) / (n! (2n+1)).
        let x2 = x * x;
        let (mut term, mut sum) = (x, x);
        for n in 1..200 {
            let n = f64::from(n);
            term *= -x2 / n;
            let add = term / (2.0 * n + 1.0);
            sum += add;
            if add.abs() < 1e-17 * sum.abs() {
                break;
            }
        }
        return 1.0 - 2.0 / PI.sqrt() * sum;
    }
    if x > 27.3 {
        return 0.0;
    }
    // Laplace's continued fraction erfc x = e^(−x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))),
    // evaluated by modified Lentz.
    let mut f = x;
    let (mut c, mut d) = (x, 0.0);
    for k in 1..500 {
        let delta = lentz_step(&mut c, &mut d, f64::from(k) / 2.0, x);
        f *= delta;
        if (delta - 1.0).abs() < 1e-16 {
            break;
        }
    }
    (-x * x).exp() / PI.sqrt() / f
}

/// The standard normal CDF.
pub(crate) fn norm_cdf(z: f64) -> f64 {
    0.5 * erfc(-z * FRAC_1_SQRT_2)
}

/// Kolmogorov's limiting distribution's survival function `Q(λ) = P(K > λ)`:
/// `2 Σ (−1)^(k−1) e^(−2k²λ²)` for `λ ≥ 1`, and `1 − √(2π)/λ Σ e^(−(2k−1)²π²/(8λ²))` below,
/// where that series converges fast.
pub(crate) fn kolmogorov_sf(lambda: f64) -> f64 {
    if lambda.is_nan() {
        return f64::NAN;
    }
    if lambda <= 0.0 {
        return 1.0;
    }
    if lambda < 1.0 {
        let w = -PI * PI / (8.0 * lambda * lambda);
        let mut sum = 0.0;
        for k in 1..50 {
            let odd = f64::from(2 * k - 1);
            let term = (odd * odd * w).exp();
            sum += term;
            if term < 1e-17 * sum {
                break;
            }
        }
        return (1.0 - (2.0 * PI).sqrt() / lambda * sum).clamp(0.0, 1.0);
    }
    let mut sum = 0.0;
    let mut sign = 1.0;
    for k in 1..100 {
        let k = f64::from(k);
        let term = (-2.0 * k * k * lambda * lambda).exp();
        sum += sign * term;
        sign = -sign;
        if term < 1e-17 * sum.abs() {
            break;
        }
    }
    (2.0 * sum).clamp(0.0, 1.0)
}

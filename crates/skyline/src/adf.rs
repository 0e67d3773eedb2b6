//! The augmented Dickey–Fuller unit-root test as statsmodels' `adfuller(x, maxlag,
//! regression="c", autolag="AIC")` computes it, with MacKinnon's approximate p-value.
//!
//! The regression of `Δx_t` on a constant, the level `x_{t−1}` and `lag` lagged differences
//! is solved by Householder QR. The autolag search fits the nested models with 0…maxlag lags
//! on the same rows; one QR of the widest design gives the residual sum of squares of every
//! prefix of its columns, so the search costs one factorisation instead of `maxlag + 1`.

use crate::special::norm_cdf;

/// An ADF result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Adf {
    /// The t-statistic of the level's coefficient.
    pub stat: f64,
    /// MacKinnon's approximate p-value (regression with a constant, one variable).
    pub p: f64,
    /// The number of lagged differences AIC chose.
    pub lag: usize,
}

/// Householder QR of the `cols` columns of `a` (column-major, `rows` high), applying every
/// reflection to `y` as well; `diag` receives R's diagonal. Returns `false` when a column is
/// numerically a combination of the ones before it (the design is rank deficient).
fn householder(a: &mut [f64], rows: usize, cols: usize, y: &mut [f64], diag: &mut [f64]) -> bool {
    for j in 0..cols {
        let (head, tail) = a.split_at_mut((j + 1) * rows);
        let v = &mut head[j * rows + j..];
        let full: f64 = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        // Reflections keep norms: the whole column's norm is the one it started with, and
        // what is left below the diagonal is its part independent of the earlier columns.
        let above: f64 = head[j * rows..j * rows + j].iter().map(|x| x * x).sum();
        let col_norm = (above + full * full).sqrt();
        if !full.is_finite() || full <= 1e-12 * col_norm {
            return false;
        }
        let v = &mut head[j * rows + j..];
        let alpha = if v[0] > 0.0 { -full } else { full };
        v[0] -= alpha;
        let vnorm2: f64 = v.iter().map(|x| x * x).sum();
        diag[j] = alpha;
        if vnorm2 == 0.0 {
            continue;
        }
        let reflect = |c: &mut [f64]| {
            let dot: f64 = v.iter().zip(c.iter()).map(|(a, b)| a * b).sum();
            let s = 2.0 * dot / vnorm2;
            for (ci, vi) in c.iter_mut().zip(v.iter()) {
                *ci -= s * vi;
            }
        };
        for c in tail.chunks_exact_mut(rows).take(cols - j - 1) {
            reflect(&mut c[j..]);
        }
        reflect(&mut y[j..]);
    }
    true
}

/// Fills `a` (column-major) and `y` with the ADF regression of `Δx` with `lags` lagged
/// differences on the last `rows` observations: columns constant, lag 1…`lags`, and the
/// level last when `level_last`, else constant, level, lags.
fn design(
    x: &[f64],
    lags: usize,
    rows: usize,
    level_last: bool,
    a: &mut Vec<f64>,
    y: &mut Vec<f64>,
) {
    let cols = lags + 2;
    // The constant absorbs any shift of the level: centring it keeps the rank test meaningful
    // for a series far from 0.
    let shift = x.iter().sum::<f64>() / x.len() as f64;
    a.clear();
    a.resize(rows * cols, 0.0);
    y.clear();
    // Row r is time t = start + r, regressing Δx_t = x_{t+1} − x_t.
    let start = x.len() - 1 - rows;
    let diff = |t: usize| x[t + 1] - x[t];
    let level_col = if level_last { cols - 1 } else { 1 };
    for r in 0..rows {
        let t = start + r;
        y.push(diff(t));
        a[r] = 1.0;
        a[level_col * rows + r] = x[t] - shift;
        for l in 1..=lags {
            let col = if level_last { l } else { l + 1 };
            a[col * rows + r] = diff(t - l);
        }
    }
}

/// `adfuller(x, maxlag, regression="c", autolag="AIC")`. `None` when the test cannot be
/// computed: too few points for `maxlag`, a constant series, a rank-deficient regression or a
/// perfect fit (statsmodels raises or returns NaN there).
pub(crate) fn adfuller(x: &[f64], maxlag: usize) -> Option<Adf> {
    let n = x.len();
    // statsmodels refuses maxlag > nobs/2 − 2 (with a constant).
    if n < 2 * maxlag + 4 {
        return None;
    }
    let (mut a, mut y) = (Vec::new(), Vec::new());
    let mut diag = vec![0.0; maxlag + 2];

    // Autolag: every model on the same rows (those the widest one can use).
    let rows = n - 1 - maxlag;
    design(x, maxlag, rows, false, &mut a, &mut y);
    if !householder(&mut a, rows, maxlag + 2, &mut y, &mut diag) {
        return None;
    }
    let nobs = rows as f64;
    let mut ssr: f64 = y[maxlag + 2..].iter().map(|z| z * z).sum();
    let mut best = (f64::INFINITY, maxlag);
    for lag in (0..=maxlag).rev() {
        let k = lag + 2;
        if lag < maxlag {
            ssr += y[k] * y[k];
        }
        let aic =
            nobs * ((2.0 * std::f64::consts::PI).ln() + (ssr / nobs).ln() + 1.0) + 2.0 * k as f64;
        // `<=`: on a tie statsmodels' `min((aic, k))` keeps the fewer lags.
        if aic <= best.0 {
            best = (aic, lag);
        }
    }
    let lag = best.1;

    // The chosen model on all the rows it can use; the level last, so its t-statistic is
    // z_last · sign(R_last) / s.
    let rows = n - 1 - lag;
    let k = lag + 2;
    design(x, lag, rows, true, &mut a, &mut y);
    if !householder(&mut a, rows, k, &mut y, &mut diag) {
        return None;
    }
    let ssr: f64 = y[k..].iter().map(|z| z * z).sum();
    let s = (ssr / (rows - k) as f64).sqrt();
    if !s.is_finite() || s <= 0.0 {
        return None;
    }
    let stat = y[k - 1] * diag[k - 1].signum() / s;
    Some(Adf {
        stat,
        p: mackinnon_p(stat),
        lag,
    })
}

/// MacKinnon's (1994, with the 2010 tables, as statsmodels' `mackinnonp`) approximate p-value
/// of an ADF t-statistic for the regression with a constant and one variable.
pub(crate) fn mackinnon_p(tau: f64) -> f64 {
    const TAU_MAX: f64 = 2.74;
    const TAU_MIN: f64 = -18.83;
    const TAU_STAR: f64 = -1.61;
    const SMALL_P: [f64; 3] = [2.1659, 1.4412, 3.8269e-2];
    const LARGE_P: [f64; 4] = [1.7339, 9.3202e-1, -1.2745e-1, -1.0368e-2];
    if tau.is_nan() {
        return f64::NAN;
    }
    if tau > TAU_MAX {
        return 1.0;
    }
    if tau < TAU_MIN {
        return 0.0;
    }
    let coef: &[f64] = if tau <= TAU_STAR { &SMALL_P } else { &LARGE_P };
    let poly = coef.iter().rev().fold(0.0, |acc, c| acc * tau + c);
    norm_cdf(poly)
}

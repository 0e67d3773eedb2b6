#!/usr/bin/env python3
"""Reference values for am-skyline's tests, computed with numpy, scipy, pandas and statsmodels.

Run:  python3 -m venv /tmp/skyvenv && /tmp/skyvenv/bin/pip install numpy scipy pandas statsmodels
      /tmp/skyvenv/bin/python gen.py > ../../src/tests/reference_data.rs

It restates Skyline's nine algorithms with the intent fixes am-skyline documents (least squares on
centred timestamps, histogram_bins by bin membership, zero spread is never anomalous, ADF maxlag
clamped to what statsmodels accepts) and prints, as Rust source, the verdicts and the statistics
behind them for a few deterministic series. The series come from a 64-bit LCG that the Rust tests
reproduce bit for bit (`tests::series`).
"""

import math
import warnings

import numpy as np
import pandas as pd
import scipy
import statsmodels
from scipy import stats
from statsmodels.tsa.adfvalues import mackinnonp
from statsmodels.tsa.stattools import adfuller

warnings.simplefilter("ignore")

T0 = 1_700_000_000
MASK = 2**64 - 1


class Lcg:
    """x <- x * 6364136223846793005 + 1442695040888963407 (mod 2^64); uniform in [0, 1)."""

    def __init__(self, seed):
        self.state = seed & MASK

    def next(self):
        self.state = (self.state * 6364136223846793005 + 1442695040888963407) & MASK
        return (self.state >> 11) / 2.0**53


def make(kind, n, step, seed, bumps):
    """kind: walk (cumulative u-0.5 from 100), ar (50 + AR(1) with phi 0.8 from 0), noise (50 + 10(u-0.5)), trend (0.5 i + (u-0.5)).
    bumps: [(count, delta)]: add delta to each of the last `count` values."""
    rng = Lcg(seed)
    ts, vs, v = [], [], 100.0
    for i in range(n):
        u = rng.next()
        if kind == "walk":
            v = v + (u - 0.5)
            x = v
        elif kind == "ar":
            v = 0.8 * v + (u - 0.5) if i > 0 else 0.0
            x = 50.0 + v
        elif kind == "noise":
            x = 50.0 + (u - 0.5) * 10.0
        else:
            x = 0.5 * i + (u - 0.5)
        ts.append(T0 + i * step)
        vs.append(x)
    for count, delta in bumps:
        for j in range(n - count, n):
            vs[j] = vs[j] + delta
    return np.array(ts, dtype=np.int64), np.array(vs, dtype=np.float64)


def tail_avg(v):
    if len(v) >= 3:
        return (v[-1] + v[-2] + v[-3]) / 3
    return v[-1]


def grubbs_g(n):
    t = stats.t.isf(0.05 / (2 * n), n - 2)
    return t, ((n - 1) / np.sqrt(n)) * np.sqrt(t * t / (n - 2 + t * t))


def ks_window(ts, v, now):
    ref = v[(ts >= now - 3600) & (ts < now - 600)]
    probe = v[ts >= now - 600]
    return ref, probe


def ks_asymptotic_p(d, n1, n2):
    en = math.sqrt(n1 * n2 / (n1 + n2))
    return stats.kstwobign.sf((en + 0.12 + 0.11 / en) * d)


def adf(ref):
    maxlag = min(10, len(ref) // 2 - 2)
    r = adfuller(ref, maxlag=maxlag, regression="c", autolag="AIC")
    return r[0], r[1], r[2]


def analyse(ts, v, now, full_duration):
    s = pd.Series(v)
    n = len(v)
    t = tail_avg(v)
    out = {}
    st = {}
    # median_absolute_deviation
    med = s.median()
    dem = (s - med).abs()
    mad = dem.median()
    st["median"], st["mad"] = med, mad
    out["median_absolute_deviation"] = bool(mad != 0 and dem.iloc[-1] / mad > 6)
    # grubbs
    mean, std, std_pop = s.mean(), s.std(), np.std(v)
    st["mean"], st["std"], st["std_pop"], st["tail_avg"] = mean, std, std_pop, t
    if n >= 3 and std_pop > 0:
        tq, g = grubbs_g(n)
        st["t_isf"], st["grubbs_g"] = tq, g
        out["grubbs"] = bool((t - mean) / std_pop > g)
    else:
        st["t_isf"], st["grubbs_g"] = math.nan, math.nan
        out["grubbs"] = False
    # first_hour_average
    fh = pd.Series(v[ts < now - full_duration + 3600])
    st["fh_n"], st["fh_mean"], st["fh_std"] = len(fh), fh.mean(), fh.std()
    out["first_hour_average"] = bool(len(fh) >= 2 and fh.std() > 0 and abs(t - fh.mean()) > 3 * fh.std())
    # stddev_from_average
    out["stddev_from_average"] = bool(n >= 2 and std > 0 and abs(t - mean) > 3 * std)
    # stddev_from_moving_average
    ewm_mean = s.ewm(com=50).mean().iloc[-1]
    ewm_std = s.ewm(com=50).std().iloc[-1]
    st["ewm_mean"], st["ewm_std"] = ewm_mean, ewm_std
    out["stddev_from_moving_average"] = bool(ewm_std > 0 and abs(v[-1] - ewm_mean) > 3 * ewm_std)
    # mean_subtraction_cumulation
    head = s[: n - 1]
    st["msc_mean"], st["msc_std"] = head.mean(), head.std()
    sub = s - head.mean()
    msc_std = sub[: n - 1].std()
    out["mean_subtraction_cumulation"] = bool(n >= 3 and msc_std > 0 and abs(sub.iloc[-1]) > 3 * msc_std)
    # least_squares, timestamps centred on their mean
    x = ts.astype(np.float64) - ts.astype(np.float64).mean()
    a = np.vstack([x, np.ones(len(x))]).T
    m, c = np.linalg.lstsq(a, v, rcond=None)[0]
    errors = v - (m * x + c)
    ls_std = np.std(errors)
    ls_tail = (errors[-1] + errors[-2] + errors[-3]) / 3
    st["ls_std"], st["ls_tail"] = ls_std, ls_tail
    out["least_squares"] = bool(abs(ls_tail) > ls_std * 3 and round(ls_std) != 0 and round(ls_tail) != 0)
    # histogram_bins: the bin holding tail_avg (numpy's bin membership) holds <= 20 values
    counts, edges = np.histogram(v, bins=15)
    if v.min() == v.max():
        b, cnt = -1, 0
        out["histogram_bins"] = False
    else:
        tc = min(max(t, edges[0]), edges[-1])
        b = int(np.searchsorted(edges, tc, side="right") - 1)
        b = min(b, 14)
        cnt = int(counts[b])
        out["histogram_bins"] = cnt <= 20
    st["hist_bin"], st["hist_count"] = b, cnt
    # ks_test
    ref, probe = ks_window(ts, v, now)
    st["ks_n_ref"], st["ks_n_probe"] = len(ref), len(probe)
    st["ks_d"] = st["ks_p_asymp"] = st["ks_p_scipy"] = math.nan
    st["adf_stat"] = st["adf_p"] = math.nan
    st["adf_lag"] = -1
    out["ks_test"] = False
    if len(ref) >= 20 and len(probe) >= 20:
        r = stats.ks_2samp(ref, probe)
        d = r.statistic
        st["ks_d"], st["ks_p_scipy"] = d, r.pvalue
        st["ks_p_asymp"] = ks_asymptotic_p(d, len(ref), len(probe))
        if ref.min() != ref.max():
            st["adf_stat"], st["adf_p"], st["adf_lag"] = adf(ref)
        if st["ks_p_asymp"] < 0.05 and d > 0.5 and st["adf_p"] < 0.05:
            out["ks_test"] = True
    return out, st


# name, kind, n, step, seed, bumps, now offset after the last point, full_duration
CASES = [
    ("walk", "walk", 1440, 60, 1, [], 30, 86400),
    ("walk_spike", "walk", 1440, 60, 1, [(3, 40.0)], 30, 86400),
    ("noise", "noise", 1440, 60, 2, [], 30, 86400),
    ("noise_dip", "noise", 1440, 60, 2, [(3, -40.0)], 30, 86400),
    ("noise_shift", "noise", 1440, 60, 3, [(400, 30.0)], 30, 86400),
    ("trend_bump", "trend", 500, 60, 4, [(3, 6.0)], 30, 30000),
    ("ks_shift", "noise", 720, 10, 5, [(60, 6.0)], 5, 7200),
    ("ks_walk", "walk", 720, 10, 26, [(60, 6.0)], 5, 7200),
    ("ks_walk_passes", "walk", 720, 10, 6, [(60, 6.0)], 5, 7200),
    ("ks_ar", "ar", 720, 10, 11, [(60, 3.0)], 5, 7200),
    ("ks_short_ref", "noise", 83, 10, 12, [(60, 6.0)], 5, 7200),
    ("ks_same", "noise", 720, 10, 7, [], 5, 7200),
    ("short5", "noise", 5, 60, 8, [(1, 100.0)], 30, 86400),
    ("short3", "walk", 3, 60, 9, [], 30, 86400),
]


def rs(x):
    if isinstance(x, (bool, np.bool_)):
        return "true" if x else "false"
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    x = float(x)
    if math.isnan(x):
        return "f64::NAN"
    if math.isinf(x):
        return "f64::INFINITY" if x > 0 else "f64::NEG_INFINITY"
    r = repr(x)
    return r if ("." in r or "e" in r) else r + ".0"


def main():
    print("// Generated by skyline/tests/reference/gen.py; do not edit.")
    print(
        f"// numpy {np.__version__}, scipy {scipy.__version__}, pandas {pd.__version__}, "
        f"statsmodels {statsmodels.__version__}."
    )
    print()
    print("use super::Case;")
    print()
    print("/// Fixed series: their spec, the verdicts in `Algorithm::ALL` order, the statistics.")
    print("pub(crate) const CASES: &[Case] = &[")
    for name, kind, n, step, seed, bumps, now_off, fd in CASES:
        ts, v = make(kind, n, step, seed, bumps)
        now = int(ts[-1]) + now_off
        out, st = analyse(ts, v, now, fd)
        # `analyse` sets the verdicts in `Algorithm::ALL` order.
        verdicts = ", ".join(rs(x) for x in out.values())
        bumps_rs = ", ".join(f"({c}, {rs(d)})" for c, d in bumps)
        stats_rs = "".join(f", {k}: {rs(val)}" for k, val in st.items())
        # One case a line: the file is a table.
        print(
            f'    Case {{ name: "{name}", kind: "{kind}", n: {n}, step: {step}, seed: {seed}, '
            f"bumps: &[{bumps_rs}], now: {now}, full_duration: {fd}, verdicts: [{verdicts}]{stats_rs} }},"
        )
    print("];")
    print()
    print("/// (p, df, scipy.stats.t.isf(p, df)).")
    print("pub(crate) const T_ISF: &[(f64, f64, f64)] = &[")
    for n in [3, 4, 5, 10, 30, 100, 1440, 10080, 86400]:
        p = 0.05 / (2 * n)
        print(f"    ({rs(p)}, {rs(float(n - 2))}, {rs(stats.t.isf(p, n - 2))}),")
    for p, df in [(0.25, 1.0), (0.4, 7.0), (1e-10, 3.0), (0.01, 2.5), (1e-6, 1000.0)]:
        print(f"    ({rs(p)}, {rs(df)}, {rs(stats.t.isf(p, df))}),")
    print("];")
    print()
    print("/// (lambda, scipy.stats.kstwobign.sf(lambda)).")
    print("pub(crate) const KOLMOGOROV_SF: &[(f64, f64)] = &[")
    for lam in [0.2, 0.5, 0.8, 1.0, 1.1, 1.2, 1.5, 2.0, 3.0]:
        print(f"    ({rs(lam)}, {rs(stats.kstwobign.sf(lam))}),")
    print("];")
    print()
    print("/// (z, scipy.stats.norm.cdf(z)).")
    print("pub(crate) const NORM_CDF: &[(f64, f64)] = &[")
    for z in [-30.0, -8.0, -3.5, -1.0, -0.3, 0.0, 0.7, 1.9, 2.5, 6.0]:
        print(f"    ({rs(z)}, {rs(stats.norm.cdf(z))}),")
    print("];")
    print()
    print("/// (tau, statsmodels mackinnonp(tau, 'c', N=1)).")
    print("pub(crate) const MACKINNON_P: &[(f64, f64)] = &[")
    for tau in [-20.0, -6.0, -3.5, -2.86, -1.7, -1.61, -1.0, 0.5, 2.0, 3.0]:
        print(f"    ({rs(tau)}, {rs(mackinnonp(tau, regression='c', N=1))}),")
    print("];")
    print()
    # The largest p-value a D just above 0.5 can have with >= 20 points each (it falls as the
    # samples grow; the maximum is at 20 and 21 points).
    from scipy.stats import _stats_py

    worst = None
    for n1 in range(20, 41):
        for n2 in range(n1, 41):
            d = min(x for x in (abs(i / n1 - j / n2) for i in range(n1 + 1) for j in range(n2 + 1)) if x > 0.5)
            _, _, p = _stats_py._attempt_exact_2kssamp(n1, n2, math.gcd(n1, n2), d, "two-sided")
            if worst is None or p > worst[4]:
                worst = (n1, n2, d, ks_asymptotic_p(d, n1, n2), p)
    n1, n2, d, pa, pe = worst
    print("/// The largest KS p-value with D > 0.5 and at least 20 points a side:")
    print("/// (n1, n2, D, asymptotic p, scipy's exact p).")
    print(f"pub(crate) const KS_WORST: (usize, usize, f64, f64, f64) = ({n1}, {n2}, {rs(d)}, {rs(pa)}, {rs(pe)});")

if __name__ == "__main__":
    main()

//! Shared test helpers: a seeded generator, samplers and the exact rank error.
// Test helpers: a failed unwrap or panic is a failed test.
#![allow(dead_code, clippy::unwrap_used, clippy::panic)]

use am_tdigest::TDigest;

/// SplitMix64: a tiny seeded generator, plenty for test data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in (0, 1).
    fn open(&mut self) -> f64 {
        loop {
            let u = self.uniform();
            if u > 0.0 {
                return u;
            }
        }
    }

    /// Standard normal (Box-Muller, one value per pair).
    pub fn normal(&mut self) -> f64 {
        let (u, v) = (self.open(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }

    /// Standard Cauchy: heavy tails, no mean.
    pub fn cauchy(&mut self) -> f64 {
        (std::f64::consts::PI * (self.open() - 0.5)).tan()
    }

    /// Pareto with shape 1.5 and scale 1: a skewed heavy tail.
    pub fn pareto(&mut self) -> f64 {
        self.open().powf(-1.0 / 1.5)
    }
}

/// The distributions the accuracy tests use.
pub const DISTRIBUTIONS: [&str; 4] = ["uniform", "normal", "cauchy", "pareto"];

pub fn samples(distribution: &str, n: usize, seed: u64) -> Vec<f64> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|_| match distribution {
            "uniform" => rng.uniform(),
            "normal" => rng.normal(),
            "cauchy" => rng.cauchy(),
            "pareto" => rng.pareto(),
            other => panic!("unknown distribution {other}"),
        })
        .collect()
}

/// The quantiles checked, with the largest rank error allowed for each.
pub const QUANTILES: [(f64, f64); 7] = [
    (0.001, 0.002),
    (0.01, 0.002),
    (0.25, 0.01),
    (0.5, 0.01),
    (0.75, 0.01),
    (0.99, 0.002),
    (0.999, 0.002),
];

/// The exact empirical CDF of sorted data at x: the fraction of values ≤ x.
pub fn empirical_cdf(sorted: &[f64], x: f64) -> f64 {
    sorted.partition_point(|&v| v <= x) as f64 / sorted.len() as f64
}

/// The exact q-quantile of sorted data (the value of rank ⌈qn⌉).
pub fn exact_quantile(sorted: &[f64], q: f64) -> f64 {
    let i = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[i - 1]
}

pub fn digest_of(values: &[f64], compression: f64) -> TDigest {
    let mut d = TDigest::new(compression);
    for &v in values {
        d.add(v);
    }
    d
}

/// Rank error of the digest's q-quantile: |F(estimate) − q|.
pub fn quantile_error(digest: &TDigest, sorted: &[f64], q: f64) -> f64 {
    let estimate = digest.quantile(q).unwrap();
    (empirical_cdf(sorted, estimate) - q).abs()
}

/// Error of the digest's CDF at the exact q-quantile: |cdf(x_q) − F(x_q)|.
pub fn cdf_error(digest: &TDigest, sorted: &[f64], q: f64) -> f64 {
    let x = exact_quantile(sorted, q);
    (digest.cdf(x).unwrap() - empirical_cdf(sorted, x)).abs()
}

pub fn sorted(values: &[f64]) -> Vec<f64> {
    let mut s = values.to_vec();
    s.sort_by(f64::total_cmp);
    s
}

/// Asserts that two digests of the same data (`sorted`) put each checked quantile at nearly
/// the same rank: within the allowance of [`QUANTILES`]; `label` and the digests' names go
/// into the message.
pub fn assert_same_ranks(label: &str, sorted: &[f64], a: (&str, &TDigest), b: (&str, &TDigest)) {
    for (q, allowed) in QUANTILES {
        let rank_a = empirical_cdf(sorted, a.1.quantile(q).unwrap());
        let rank_b = empirical_cdf(sorted, b.1.quantile(q).unwrap());
        assert!(
            (rank_a - rank_b).abs() < allowed,
            "{label}: q {q}: {} at rank {rank_a}, {} at {rank_b}",
            a.0,
            b.0
        );
    }
}

//! Deterministic series for tests and benchmarks: the same values on every machine.

/// A daily-periodic series (period 48 points) with deterministic noise of ±`noise`.
pub fn periodic(i: usize, noise: f64) -> f64 {
    let phase = (i % 48) as f64 / 48.0 * std::f64::consts::TAU;
    let jitter = ((i * 7919) % 101) as f64 / 50.0 - 1.0;
    100.0 + 20.0 * phase.sin() + noise * jitter
}

/// `n` values of pseudo-random noise (a 64-bit LCG, the high bits): a series no model can
/// learn, so it keeps making new categories or contexts.
pub fn noise(n: usize) -> Vec<f64> {
    let mut x: u64 = 1;
    (0..n)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) as f64
        })
        .collect()
}

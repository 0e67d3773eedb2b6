//! Accuracy at δ = 100 on 100 000 values: rank error of quantiles and CDF, one digest, merged
//! digests, and adversarial (sorted) input. Run with `--nocapture` to see the numbers.

// The measured errors are printed (`--nocapture`): they feed the table in the crate docs.
#![allow(clippy::print_stdout)]

mod common;

use am_tdigest::TDigest;
use common::*;

const N: usize = 100_000;
const COMPRESSION: f64 = 100.0;

/// Checks every quantile of `QUANTILES` and the CDF at the exact quantiles; prints the errors.
fn check(label: &str, digest: &TDigest, sorted: &[f64]) {
    assert_eq!(digest.count(), sorted.len() as f64);
    assert_eq!(digest.min(), sorted.first().copied());
    assert_eq!(digest.max(), sorted.last().copied());
    assert_eq!(digest.quantile(0.0), sorted.first().copied());
    assert_eq!(digest.quantile(1.0), sorted.last().copied());
    let mut line = format!("{label:>24}:");
    for (q, allowed) in QUANTILES {
        let qe = quantile_error(digest, sorted, q);
        let ce = cdf_error(digest, sorted, q);
        line += &format!(" q{q}={qe:.5}/{ce:.5}");
        assert!(
            qe < allowed,
            "{label}: quantile({q}) rank error {qe} ≥ {allowed}"
        );
        assert!(
            ce < allowed,
            "{label}: cdf at the {q}-quantile off by {ce} ≥ {allowed}"
        );
    }
    println!("{line}");
}

#[test]
fn one_digest_is_accurate() {
    for (seed, name) in DISTRIBUTIONS.into_iter().enumerate() {
        let values = samples(name, N, seed as u64 + 1);
        let digest = digest_of(&values, COMPRESSION);
        check(name, &digest, &sorted(&values));
    }
}

#[test]
fn merged_halves_match_one_digest() {
    for (seed, name) in DISTRIBUTIONS.into_iter().enumerate() {
        let values = samples(name, N, seed as u64 + 11);
        let (a, b) = values.split_at(N / 2);
        let mut merged = digest_of(a, COMPRESSION);
        merged.merge(&digest_of(b, COMPRESSION));
        let s = sorted(&values);
        check(&format!("{name} merged halves"), &merged, &s);

        // Compressed before merging too, and compared directly with the single digest.
        let mut left = digest_of(a, COMPRESSION);
        left.compress();
        let mut right = digest_of(b, COMPRESSION);
        right.compress();
        left.merge(&right);
        let whole = digest_of(&values, COMPRESSION);
        assert_same_ranks(name, &s, ("merged", &left), ("whole", &whole));
    }
}

#[test]
fn many_small_merges_stay_accurate() {
    let values = samples("normal", N, 99);
    let mut total = TDigest::new(COMPRESSION);
    for chunk in values.chunks(1_000) {
        let mut part = digest_of(chunk, COMPRESSION);
        part.compress();
        total.merge(&part);
    }
    check("normal 100 merged parts", &total, &sorted(&values));
}

#[test]
fn sorted_and_reversed_input_stay_accurate() {
    let values = sorted(&samples("normal", N, 5));
    check(
        "normal ascending",
        &digest_of(&values, COMPRESSION),
        &values,
    );
    let reversed: Vec<f64> = values.iter().rev().copied().collect();
    check(
        "normal descending",
        &digest_of(&reversed, COMPRESSION),
        &values,
    );
}

#[test]
fn weighted_adds_equal_repeated_adds() {
    let mut weighted = TDigest::new(COMPRESSION);
    let mut repeated = Vec::new();
    let mut rng = Rng::new(3);
    for _ in 0..20_000 {
        let x = rng.normal();
        let w = 1 + rng.next_u64() % 5;
        weighted.add_weighted(x, w as f64);
        repeated.extend(std::iter::repeat_n(x, w as usize));
    }
    check("normal weighted", &weighted, &sorted(&repeated));
}

#[test]
fn small_digests_are_exact() {
    let mut d = TDigest::new(COMPRESSION);
    for x in [3.0, 1.0, 2.0, 4.0] {
        d.add(x);
    }
    // Hazen: value i (0-based) sits at rank (i + ½)/n.
    assert_eq!(d.quantile(0.125), Some(1.0));
    assert_eq!(d.quantile(0.375), Some(2.0));
    assert_eq!(d.quantile(0.5), Some(2.5));
    assert_eq!(d.quantile(0.875), Some(4.0));
    assert_eq!(d.cdf(2.0), Some(0.375));
    assert_eq!(d.cdf(2.5), Some(0.5));
    assert_eq!(d.cdf(0.0), Some(0.0));
    assert_eq!(d.cdf(9.0), Some(1.0));

    let mut constant = TDigest::default();
    for _ in 0..10_000 {
        constant.add(7.0);
    }
    for q in [0.0, 0.001, 0.5, 0.999, 1.0] {
        assert_eq!(constant.quantile(q), Some(7.0));
    }
    assert_eq!(constant.cdf(7.0), Some(0.5));
    assert_eq!(constant.cdf(6.9), Some(0.0));
    assert_eq!(constant.cdf(7.1), Some(1.0));
}

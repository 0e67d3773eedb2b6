//! The API's edge cases and the memory bound.

mod common;

use am_tdigest::{MAX_COMPRESSION, MIN_COMPRESSION, TDigest};
use common::{Rng, digest_of, samples};

#[test]
fn empty_digest_answers_none() {
    let d = TDigest::default();
    assert!(d.is_empty());
    assert_eq!(d.count(), 0.0);
    assert_eq!(d.compression(), 100.0);
    assert_eq!(d.quantile(0.5), None);
    assert_eq!(d.cdf(0.0), None);
    assert_eq!(d.min(), None);
    assert_eq!(d.max(), None);
}

#[test]
fn non_finite_values_and_bad_weights_are_ignored_and_counted() {
    let mut d = TDigest::new(100.0);
    d.add(f64::NAN);
    d.add(f64::INFINITY);
    d.add(f64::NEG_INFINITY);
    d.add_weighted(1.0, 0.0);
    d.add_weighted(1.0, -1.0);
    d.add_weighted(1.0, f64::NAN);
    d.add_weighted(1.0, f64::MAX);
    d.add_weighted(1.0, f64::MAX); // would overflow the count
    assert_eq!(d.rejected(), 7);
    assert_eq!(d.count(), f64::MAX);
    assert_eq!(d.quantile(0.5), Some(1.0));

    let mut e = TDigest::new(100.0);
    e.add(5.0);
    e.add(f64::NAN);
    let mut f = TDigest::new(100.0);
    f.add(f64::NAN);
    f.merge(&e);
    assert_eq!(f.rejected(), 2);
    assert_eq!(f.count(), 1.0);
    assert_eq!(f.quantile(0.5), Some(5.0));
}

#[test]
fn invalid_queries_answer_none() {
    let mut d = TDigest::new(100.0);
    d.add(1.0);
    assert_eq!(d.quantile(-0.1), None);
    assert_eq!(d.quantile(1.1), None);
    assert_eq!(d.quantile(f64::NAN), None);
    assert_eq!(d.cdf(f64::NAN), None);
    assert_eq!(d.cdf(f64::INFINITY), Some(1.0));
    assert_eq!(d.cdf(f64::NEG_INFINITY), Some(0.0));
}

#[test]
fn compression_is_clamped() {
    assert_eq!(TDigest::new(1.0).compression(), MIN_COMPRESSION);
    assert_eq!(TDigest::new(1e9).compression(), MAX_COMPRESSION);
    assert_eq!(TDigest::new(f64::NAN).compression(), 100.0);
    assert_eq!(TDigest::new(f64::INFINITY).compression(), MAX_COMPRESSION);
}

#[test]
fn queries_do_not_change_the_digest_and_match_after_compress() {
    let mut d = digest_of(&samples("normal", 1_234, 8), 50.0);
    assert!(d.buffered() > 0);
    let before = d.clone();
    let q = d.quantile(0.9);
    let c = d.cdf(0.3);
    assert_eq!(d, before);
    d.compress();
    assert_eq!(d.buffered(), 0);
    assert_eq!(d.quantile(0.9), q);
    assert_eq!(d.cdf(0.3), c);
}

#[test]
fn quantile_is_monotone_and_cdf_inverts_it() {
    let mut d = digest_of(&samples("cauchy", 50_000, 4), 100.0);
    d.compress();
    let mut last = f64::NEG_INFINITY;
    for i in 0..=1000 {
        let q = f64::from(i) / 1000.0;
        let x = d.quantile(q).unwrap();
        assert!(x >= last, "quantile({q}) = {x} < {last}");
        last = x;
        if i > 0 && i < 1000 {
            let back = d.cdf(x).unwrap();
            assert!((back - q).abs() < 1e-9, "cdf(quantile({q})) = {back}");
        }
    }
}

#[test]
fn centroids_stay_bounded_over_a_million_adds() {
    for compression in [20.0, 100.0, 300.0] {
        let mut d = TDigest::new(compression);
        let mut rng = Rng::new(compression as u64);
        let mut most_centroids = 0;
        let mut most_buffered = 0;
        for i in 0..1_000_000u32 {
            // A drifting, heavy-tailed stream: the harder case for the bound.
            d.add(rng.cauchy() + f64::from(i) * 1e-3);
            most_centroids = most_centroids.max(d.centroids().len());
            most_buffered = most_buffered.max(d.buffered());
        }
        d.compress();
        let bound = compression as usize + 2;
        println!("δ {compression}: at most {most_centroids} centroids, {most_buffered} buffered");
        assert!(
            most_centroids <= bound,
            "δ {compression}: {most_centroids} centroids"
        );
        assert!(d.centroids().len() <= bound);
        assert!(most_buffered < 5 * compression as usize);
        assert_eq!(d.count(), 1e6);
        let total: f64 = d.centroids().iter().map(|c| c.weight).sum();
        assert_eq!(total, 1e6);
    }
}

#[test]
fn merging_many_digests_stays_bounded() {
    let mut total = TDigest::new(100.0);
    let mut rng = Rng::new(12);
    for _ in 0..2_000 {
        let mut part = TDigest::new(100.0);
        for _ in 0..100 {
            part.add(rng.uniform());
        }
        total.merge(&part);
        assert!(total.centroids().len() <= 102);
        assert!(total.buffered() < 500 + 100);
    }
    assert_eq!(total.count(), 200_000.0);
}

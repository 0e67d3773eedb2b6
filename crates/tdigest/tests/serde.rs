//! serde support (feature `serde`): same fields as the byte format, same validation.
#![cfg(feature = "serde")]

mod common;

use am_tdigest::TDigest;

#[test]
fn json_round_trip_is_exact_and_validated() {
    let mut d = common::digest_of(&common::samples("normal", 10_000, 3), 100.0);
    let json = serde_json::to_string(&d).unwrap();
    let back: TDigest = serde_json::from_str(&json).unwrap();
    d.compress();
    // serde_json's default float parsing may be off by an ulp; the byte format is exact.
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * a.abs().max(b.abs());
    assert_eq!(back.count(), d.count());
    assert_eq!(back.centroids().len(), d.centroids().len());
    for (a, b) in back.centroids().iter().zip(d.centroids()) {
        assert!(
            close(a.mean, b.mean) && close(a.weight, b.weight),
            "{a:?} vs {b:?}"
        );
    }

    let empty: TDigest =
        serde_json::from_str(&serde_json::to_string(&TDigest::new(20.0)).unwrap()).unwrap();
    assert!(empty.is_empty());

    let unsorted = r#"{"compression":100.0,"count":2.0,"min":0.0,"max":1.0,"rejected":0,
        "centroids":[[1.0,1.0],[0.0,1.0]]}"#;
    let err = serde_json::from_str::<TDigest>(unsorted).unwrap_err();
    assert!(err.to_string().contains("not sorted"), "{err}");
}

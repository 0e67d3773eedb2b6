//! The byte format: exact round trips, refusal of corrupt input, and continuing after a restore.

mod common;

use am_tdigest::{CENTROID_LEN, HEADER_LEN, TDigest, TDigestError};
use common::*;
use proptest::prelude::*;

fn normal_digest(n: usize, seed: u64) -> TDigest {
    digest_of(&samples("normal", n, seed), 100.0)
}

#[test]
fn round_trip_is_exact() {
    for n in [0, 1, 2, 7, 499, 500, 501, 100_000] {
        let mut d = normal_digest(n, n as u64);
        d.add(f64::NAN); // the rejected count travels too
        let bytes = d.to_bytes();
        let back = TDigest::from_bytes(&bytes).unwrap();
        assert_eq!(back.to_bytes(), bytes, "n {n}");
        d.compress();
        assert_eq!(back, d, "n {n}");
        assert_eq!(back.rejected(), 1);
        for q in [0.0, 0.001, 0.3, 0.5, 0.999, 1.0] {
            assert_eq!(back.quantile(q), d.quantile(q));
        }
        assert_eq!(bytes.len(), HEADER_LEN + CENTROID_LEN * d.centroids().len());
    }
}

#[test]
fn layout_matches_the_documented_format() {
    let mut d = TDigest::new(100.0);
    d.add(2.0);
    d.add_weighted(4.0, 3.0);
    d.add(f64::NAN);
    let bytes = d.to_bytes();
    let f = |at: usize| f64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
    assert_eq!(&bytes[..4], b"AMTD");
    assert_eq!(bytes[4], 1);
    assert_eq!(f(5), 100.0);
    assert_eq!(f(13), 4.0);
    assert_eq!(f(21), 2.0);
    assert_eq!(f(29), 4.0);
    assert_eq!(u64::from_le_bytes(bytes[37..45].try_into().unwrap()), 1);
    assert_eq!(u32::from_le_bytes(bytes[45..49].try_into().unwrap()), 2);
    assert_eq!((f(49), f(57)), (2.0, 1.0));
    assert_eq!((f(65), f(73)), (4.0, 3.0));
    assert_eq!(bytes.len(), 81);

    let empty = TDigest::new(50.0).to_bytes();
    assert_eq!(empty.len(), HEADER_LEN);
    assert!(TDigest::from_bytes(&empty).unwrap().is_empty());
}

#[test]
fn restored_digest_continues_like_one_never_saved() {
    for name in DISTRIBUTIONS {
        let values = samples(name, 100_000, 21);
        let (first, second) = values.split_at(37_123);
        let mut uninterrupted = digest_of(first, 100.0);
        let mut restored = TDigest::from_bytes(&uninterrupted.to_bytes()).unwrap();
        // Several restarts along the way, as a runner restarted now and then would do.
        for (i, &v) in second.iter().enumerate() {
            uninterrupted.add(v);
            restored.add(v);
            if i % 20_000 == 0 {
                restored = TDigest::from_bytes(&restored.to_bytes()).unwrap();
            }
        }
        let s = sorted(&values);
        assert_eq!(restored.count(), uninterrupted.count());
        assert_eq!(restored.min(), uninterrupted.min());
        assert_eq!(restored.max(), uninterrupted.max());
        let never_saved = ("uninterrupted", &uninterrupted);
        assert_same_ranks(name, &s, ("restored", &restored), never_saved);
        for (q, allowed) in QUANTILES {
            assert!(quantile_error(&restored, &s, q) < allowed);
        }
    }
}

/// Replaces the f64 at `at` in a copy of `bytes`.
fn with_f64(bytes: &[u8], at: usize, value: f64) -> Vec<u8> {
    let mut b = bytes.to_vec();
    b[at..at + 8].copy_from_slice(&value.to_le_bytes());
    b
}

#[test]
fn corrupt_bytes_are_refused_with_a_clear_error() {
    let d = normal_digest(10_000, 1);
    let good = d.to_bytes();
    let n = d.to_bytes().len();
    let first = HEADER_LEN; // first centroid's mean; its weight follows

    let cases: Vec<(Vec<u8>, TDigestError)> = vec![
        (
            vec![],
            TDigestError::Truncated {
                needed: HEADER_LEN,
                actual: 0,
            },
        ),
        (
            b"AMT".to_vec(),
            TDigestError::Truncated {
                needed: HEADER_LEN,
                actual: 3,
            },
        ),
        (b"{\"json\": 1}".to_vec(), TDigestError::BadMagic),
        (b"xy".to_vec(), TDigestError::BadMagic),
        (
            [&b"AMTD"[..], &[2]].concat(),
            TDigestError::UnsupportedVersion(2),
        ),
        (
            [&good[..4], &[0], &good[5..]].concat(),
            TDigestError::UnsupportedVersion(0),
        ),
        (
            good[..20].to_vec(),
            TDigestError::Truncated {
                needed: HEADER_LEN,
                actual: 20,
            },
        ),
        (
            good[..n - 1].to_vec(),
            TDigestError::Truncated {
                needed: n,
                actual: n - 1,
            },
        ),
        (
            [&good[..], &[0]].concat(),
            TDigestError::TrailingBytes { extra: 1 },
        ),
        (
            with_f64(&good, 5, 5.0),
            TDigestError::InvalidCompression(5.0),
        ),
        (
            with_f64(&good, 5, f64::NAN),
            TDigestError::InvalidCompression(f64::NAN),
        ),
        (
            with_f64(&good, 13, -1.0),
            TDigestError::InvalidHeader {
                field: "count",
                value: -1.0,
            },
        ),
        (
            with_f64(&good, 21, f64::NEG_INFINITY),
            TDigestError::InvalidHeader {
                field: "min",
                value: f64::NEG_INFINITY,
            },
        ),
        (
            with_f64(&good, 29, -100.0),
            TDigestError::InvalidHeader {
                field: "max",
                value: -100.0,
            },
        ),
        (
            with_f64(&good, first + 8, 0.0),
            TDigestError::InvalidWeight {
                index: 0,
                weight: 0.0,
            },
        ),
        (
            with_f64(&good, first, f64::NAN),
            TDigestError::InvalidMean {
                index: 0,
                mean: f64::NAN,
            },
        ),
        (
            with_f64(&good, first + 16, -50.0),
            TDigestError::InvalidMean {
                index: 1,
                mean: -50.0,
            },
        ),
        (
            with_f64(&good, first + 16, d.min().unwrap()),
            TDigestError::Unsorted { index: 1 },
        ),
    ];
    for (bytes, expected) in cases {
        let err = TDigest::from_bytes(&bytes).unwrap_err();
        // NaN never equals itself: compare the messages, which say the same.
        assert_eq!(err.to_string(), expected.to_string());
        println!("{err}");
    }

    let err = TDigest::from_bytes(&with_f64(&good, 13, 1.0)).unwrap_err();
    assert!(
        matches!(err, TDigestError::CountMismatch { count, .. } if count == 1.0),
        "{err}"
    );

    // A huge announced centroid count is refused before anything is allocated.
    let mut huge = good.clone();
    huge[45..49].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(
        TDigest::from_bytes(&huge),
        Err(TDigestError::Truncated { .. })
    ));

    // The empty digest must be all zeros.
    let empty = TDigest::new(100.0).to_bytes();
    let err = TDigest::from_bytes(&with_f64(&empty, 13, 3.0)).unwrap_err();
    assert_eq!(
        err,
        TDigestError::InvalidHeader {
            field: "count",
            value: 3.0
        }
    );
}

#[test]
fn every_truncation_and_single_byte_flip_is_handled() {
    let good = normal_digest(2_000, 2).to_bytes();
    for len in 0..good.len() {
        assert!(
            TDigest::from_bytes(&good[..len]).is_err(),
            "truncated to {len}"
        );
    }
    for i in 0..good.len() {
        for bit in 0..8 {
            let mut b = good.clone();
            b[i] ^= 1 << bit;
            if let Ok(d) = TDigest::from_bytes(&b) {
                // Whatever is accepted is a usable digest that round-trips.
                assert_eq!(TDigest::from_bytes(&d.to_bytes()).unwrap(), d);
                let _ = d.quantile(0.5);
            }
        }
    }
}

/// Any finite value, drawn from wide and narrow ranges alike.
fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        -1e300..1e300,
        -1.0..1.0,
        any::<f64>().prop_filter("finite", |v| v.is_finite()),
        Just(0.0),
        Just(-0.0),
        Just(f64::MAX),
        Just(f64::MIN),
        Just(f64::MIN_POSITIVE),
    ]
}

/// A positive weight, ordinary or extreme.
fn weight() -> impl Strategy<Value = f64> {
    prop_oneof![0.01f64..100.0, Just(1e-300), Just(1e300)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = TDigest::from_bytes(&bytes);
    }

    #[test]
    fn bytes_behind_a_valid_header_never_panic(
        tail in proptest::collection::vec(any::<u8>(), 0..200),
        n in 0u32..12,
    ) {
        let mut bytes = b"AMTD\x01".to_vec();
        bytes.extend_from_slice(&100f64.to_le_bytes());
        bytes.extend_from_slice(&tail);
        if bytes.len() >= HEADER_LEN {
            bytes[45..49].copy_from_slice(&n.to_le_bytes());
        }
        if let Ok(d) = TDigest::from_bytes(&bytes) {
            prop_assert_eq!(TDigest::from_bytes(&d.to_bytes()).unwrap(), d);
        }
    }

    #[test]
    fn any_digest_round_trips_exactly(
        values in proptest::collection::vec(value(), 0..600),
        weights in proptest::collection::vec(weight(), 0..50),
        compression in 10.0f64..1000.0,
    ) {
        let mut d = TDigest::new(compression);
        for (i, &v) in values.iter().enumerate() {
            match weights.get(i) {
                Some(&w) => d.add_weighted(v, w),
                None => d.add(v),
            }
        }
        let bytes = d.to_bytes();
        let back = TDigest::from_bytes(&bytes).unwrap();
        prop_assert_eq!(back.to_bytes(), bytes);
        d.compress();
        prop_assert_eq!(&back, &d);
        for q in [0.0, 0.01, 0.5, 0.99, 1.0] {
            let (a, b) = (back.quantile(q), d.quantile(q));
            prop_assert!(a == b || a.is_some_and(f64::is_nan) && b.is_some_and(f64::is_nan));
        }
    }
}

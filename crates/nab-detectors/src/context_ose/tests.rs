use super::*;
use crate::signals::noise;

#[test]
fn contexts_stay_within_the_cap() {
    let setup = Setup {
        probation: 100,
        max_contexts: 500,
        ..Setup::default()
    };
    let mut m = Series::new(&setup);
    for v in noise(5_000) {
        m.update(&setup, v);
    }
    assert!(m.contexts() <= 500);
    assert!(m.cad.as_ref().is_some_and(|(c, _)| c.refused > 0));
}

#[test]
fn nab_rest_period_follows_the_file_length() {
    assert_eq!(Params::nab(4032, 0.0, 1.0).rest, 120);
    assert_eq!(Params::nab(22695, 0.0, 1.0).rest, 150);
}

/// A deterministic series: a cycle of 96 points, noise, a level shift at 2000, spikes.
fn fingerprint_series(n: usize) -> Vec<f64> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let noise = (x >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            let phase = (i % 96) as f64 / 96.0 * std::f64::consts::TAU;
            let shift = if i >= 2000 { 15.0 } else { 0.0 };
            let spike = if i % 701 == 700 { 40.0 } else { 0.0 };
            50.0 + 20.0 * phase.sin() + 6.0 * noise + shift + spike
        })
        .collect()
}

/// FNV-1a over the scores' bits.
fn fingerprint(scores: &[f64]) -> u64 {
    scores.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, s| {
        s.to_bits()
            .to_le_bytes()
            .iter()
            .fold(h, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3))
    })
}

/// The scores of the port before it was made fast (the reference's visit of every context
/// of every touched semi-context), pinned bit for bit: a faster crossing must not change one.
#[test]
fn scores_match_the_straightforward_port_bit_for_bit() {
    let v = fingerprint_series(3000);
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let p = Params::nab(v.len(), lo, hi);
    let mut m = Cad::new(&p);
    let s: Vec<f64> = v.iter().map(|x| m.update(&p, *x)).collect();
    assert_eq!(m.contexts(), 1748);
    assert_eq!(fingerprint(&s), 0xb164_fd5f_9113_11db);
    // At the cap: nothing new stored, known zero-level contexts still marked.
    let mut capped = p.clone();
    capped.max_contexts = 300;
    let mut m = Cad::new(&capped);
    let s: Vec<f64> = v.iter().map(|x| m.update(&capped, *x)).collect();
    assert_eq!((m.contexts(), m.refused), (300, 2820));
    assert_eq!(fingerprint(&s), 0xd039_408d_69b7_e816);
}

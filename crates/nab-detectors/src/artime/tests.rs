use super::*;
use crate::signals::noise;

#[test]
fn categories_stay_within_the_cap() {
    let p = Params {
        probation: 300,
        max_categories: 32,
        ..Params::default()
    };
    let mut m = Artime::new(&p);
    // Noise makes new clusters all the time.
    for v in noise(20_000) {
        m.update(&p, v);
    }
    assert!(m.art.categories() <= 32);
    assert!(m.art.evicted > 0);
}

#[test]
fn nab_parameters_follow_the_file_length() {
    let p = Params::nab(4032, 0.0, 1.0);
    assert_eq!(
        (p.even_probation(), p.step(), p.trend_window()),
        (604, 5, 120)
    );
    let p = Params::nab(22695, 0.0, 1.0);
    assert_eq!(
        (p.even_probation(), p.step(), p.trend_window()),
        (750, 7, 107)
    );
}

//! What every model promises: no look-ahead.

use crate::nab::replay;
use crate::signals::periodic;
use crate::{SeriesModel, artime, context_ose, ensemble, novelty};

/// The scores of the first 950 points of a noisy periodic series with a spike at 900 are the
/// same whether the model goes on to see the rest or not.
fn no_look_ahead<M: SeriesModel>(p: &M::Params) {
    let v: Vec<f64> = (0..1200)
        .map(|i| periodic(i, 3.0) + if i == 900 { 80.0 } else { 0.0 })
        .collect();
    let scores = |values: &[f64]| -> Vec<f64> {
        let (_, out) = replay::<M>(p, values);
        out.iter().map(M::score).collect()
    };
    assert_eq!(scores(&v)[..950], scores(&v[..950])[..]);
}

#[test]
fn no_model_looks_ahead() {
    no_look_ahead::<novelty::Model>(&novelty::Params::default());
    let probation = 300;
    let art = artime::Params {
        probation,
        ..Default::default()
    };
    no_look_ahead::<artime::Artime>(&art);
    let cad = context_ose::Setup {
        probation,
        ..Default::default()
    };
    no_look_ahead::<context_ose::Series>(&cad);
    no_look_ahead::<ensemble::Ensemble>(&ensemble::Params {
        artime: art,
        cad,
        ..Default::default()
    });
}

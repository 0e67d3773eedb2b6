//! The ensemble's logic, free of any host: three members learn every value; a member
//! *detects* where its score reaches its threshold; the ensemble alerts where a member
//! detects and another one detected within the last `confirm` points (a second opinion),
//! outside the `quiet` points after its previous alert.

use crate::artime::{Artime, Params as ArtParams};
use crate::context_ose::{Series as CadSeries, Setup as CadSetup};
use crate::novelty::{Model as NovModel, Params as NovParams};

/// The members, in the order of [`Output::members`].
pub const MEMBERS: [&str; 3] = ["novelty", "artime", "context_ose"];

/// The tuning of the ensemble.
#[derive(Debug, Clone)]
pub struct Params {
    /// Novelty's parameters.
    pub novelty: NovParams,
    /// ARTime's parameters.
    pub artime: ArtParams,
    /// ContextOSE's set-up (its range and cap).
    pub cad: CadSetup,
    /// Each member's detection threshold (same order as [`MEMBERS`]).
    pub thresholds: [f64; 3],
    /// Points within which another member's detection confirms one.
    pub confirm: u64,
    /// Points after an alert during which no other is raised.
    pub quiet: u64,
}

/// What one value gave.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Output {
    /// The ensemble's score: 0, or in [0.5, 1] at an alert (the highest detecting member's
    /// score, scaled so that its threshold maps to 0.5).
    pub score: f64,
    /// Each member's own score.
    pub members: [f64; 3],
}

/// The models of one series.
#[derive(Debug, Clone)]
pub struct Ensemble {
    novelty: NovModel,
    artime: Artime,
    cad: CadSeries,
    /// Points learned.
    pub n: u64,
    /// When each member last detected (point number, 0: never).
    last_detect: [u64; 3],
    /// When the ensemble last alerted (0: never).
    last_alert: u64,
}

impl Ensemble {
    /// Fresh models.
    pub fn new(p: &Params) -> Self {
        Ensemble {
            novelty: NovModel::new(&p.novelty),
            artime: Artime::new(&p.artime),
            cad: CadSeries::new(&p.cad),
            n: 0,
            last_detect: [0; 3],
            last_alert: 0,
        }
    }

    /// ARTime categories and ContextOSE contexts held.
    pub fn sizes(&self) -> (usize, usize) {
        (self.artime.art.categories(), self.cad.contexts())
    }

    /// Learns one (finite) value.
    pub fn update(&mut self, p: &Params, value: f64) -> Output {
        self.n += 1;
        let members = [
            self.novelty
                .update(&p.novelty, value)
                .map_or(0.0, |o| o.score),
            self.artime.update(&p.artime, value),
            self.cad.update(&p.cad, value),
        ];
        let score = judge_point(
            self.n,
            &members,
            p,
            &mut self.last_detect,
            &mut self.last_alert,
        );
        Output { score, members }
    }
}

/// The ensemble's judgement of point `n` from its members' scores: the one place where the
/// ensemble decides.
pub fn judge_point(
    n: u64,
    members: &[f64; 3],
    p: &Params,
    last_detect: &mut [u64; 3],
    last_alert: &mut u64,
) -> f64 {
    let mut best = 0.0f64;
    let mut firing = [false; 3];
    for (k, (&s, &t)) in members.iter().zip(&p.thresholds).enumerate() {
        if s >= t {
            firing[k] = true;
            best = best.max(0.5 + 0.5 * (s - t) / (1.0 - t).max(1e-9));
        }
    }
    let count = firing.iter().filter(|f| **f).count();
    let confirmed = count >= 2
        || (count == 1
            && (0..3).any(|k| !firing[k] && last_detect[k] > 0 && n - last_detect[k] <= p.confirm));
    for k in 0..3 {
        if firing[k] {
            last_detect[k] = n;
        }
    }
    if confirmed && (*last_alert == 0 || n - *last_alert > p.quiet) {
        *last_alert = n;
        best.min(1.0)
    } else {
        0.0
    }
}

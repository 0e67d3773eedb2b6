//! The ensemble's logic, free of any host: three members learn every value; a member
//! *detects* where its score reaches its threshold; the ensemble alerts where a member
//! detects and another one detected within the last `confirm` points (a second opinion),
//! outside the `quiet` points after its previous alert; a detection no other member
//! confirms scores lower ([`judge_point`]).

use crate::SeriesModel;
use crate::artime::{self, Artime, Params as ArtParams};
use crate::context_ose::{self, Series as CadSeries, Setup as CadSetup};
use crate::novelty::{Model as NovModel, Params as NovParams};

/// The members, in the order of [`Output::members`].
pub const MEMBERS: [&str; 3] = ["novelty", "artime", "context_ose"];

/// The tuning of the ensemble.
#[derive(Debug, Clone, PartialEq)]
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
    /// Whether unconfirmed detections score (in [0.25, 0.5)).
    pub lone: bool,
}

impl Default for Params {
    /// As the `Ensemble` plugin runs by default: each member with its own defaults (nothing
    /// known in advance), each one's NAB optimum as its threshold (Novelty 0.25, every
    /// detection of its own), a second opinion within 100 points, 100 quiet points after
    /// an alert, lone detections scored.
    fn default() -> Self {
        Params {
            novelty: NovParams::default(),
            artime: ArtParams::default(),
            cad: CadSetup::default(),
            thresholds: [0.25, artime::THRESHOLD, context_ose::THRESHOLD],
            confirm: 100,
            quiet: 100,
            lone: true,
        }
    }
}

/// What one value gave.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Output {
    /// The ensemble's score: in [0.5, 1] at an alert (the highest detecting member's score,
    /// scaled so that its threshold maps to 0.5), in [0.25, 0.5) at a lone detection, else 0.
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
    /// What the judgement remembers.
    judge: Judge,
}

impl Ensemble {
    /// ARTime categories and ContextOSE contexts held.
    pub fn sizes(&self) -> (usize, usize) {
        (self.artime.art.categories(), self.cad.contexts())
    }
}

impl SeriesModel for Ensemble {
    type Params = Params;
    type Output = Output;

    /// Fresh models.
    fn new(p: &Params) -> Self {
        Ensemble {
            novelty: NovModel::new(&p.novelty),
            artime: Artime::new(&p.artime),
            cad: CadSeries::new(&p.cad),
            n: 0,
            judge: Judge::default(),
        }
    }

    /// Learns one (finite) value.
    fn update(&mut self, p: &Params, value: f64) -> Output {
        self.n += 1;
        let members = [
            self.novelty
                .update(&p.novelty, value)
                .map_or(0.0, |o| o.score),
            self.artime.update(&p.artime, value),
            self.cad.update(&p.cad, value),
        ];
        let score = judge_point(self.n, &members, p, &mut self.judge);
        Output { score, members }
    }

    fn score(out: &Output) -> f64 {
        out.score
    }
}

/// The ensemble's memory between points: when each member last detected, when it last
/// alerted and when it last scored a lone detection (point numbers, 0: never).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Judge {
    /// When each member last detected.
    pub last_detect: [u64; 3],
    /// When the ensemble last alerted (a confirmed detection).
    pub last_alert: u64,
    /// When it last scored a lone detection.
    pub last_lone: u64,
}

/// The ensemble's judgement of point `n` from its members' scores: the one place where the
/// ensemble decides. A confirmed detection (two members within `confirm` points) outside
/// the `quiet` points after the previous alert is an alert, scored in [0.5, 1]; with
/// `lone`, a detection no other member confirms, outside the quiet points after an alert or
/// a lone one, scores in [0.25, 0.5): below every alert, so a threshold of 0.5 or more gives
/// the alerts alone (lone detections never hold an alert back), and a lower one adds them.
pub fn judge_point(n: u64, members: &[f64; 3], p: &Params, j: &mut Judge) -> f64 {
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
            && (0..3)
                .any(|k| !firing[k] && j.last_detect[k] > 0 && n - j.last_detect[k] <= p.confirm));
    for (last, _) in j.last_detect.iter_mut().zip(firing).filter(|(_, f)| *f) {
        *last = n;
    }
    let after = |last: u64| last == 0 || n - last > p.quiet;
    if confirmed && after(j.last_alert) {
        j.last_alert = n;
        j.last_lone = n;
        best.min(1.0)
    } else if p.lone && count == 1 && !confirmed && after(j.last_alert) && after(j.last_lone) {
        j.last_lone = n;
        0.25 + 0.25 * ((best - 0.5) / 0.5 * 0.999).min(1.0)
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests;

//! CAD OSE's maths (Contextual Anomaly Detector, Open Source Edition, M. Smirnov), free of
//! any host, written from NAB's `context_ose` detector read as reference. Each value is
//! binned (3 bits: 8 bins over the value range) into *facts*; a *context* pairs a left set of
//! facts (the previous step's facts and active contexts) with a right set (the current
//! facts). Contexts that keep predicting right are activated and become facts themselves;
//! the anomaly score is high when few selected contexts fire and many new ones must be made.
//!
//! Contexts are only ever added. [`Params::max_contexts`] caps them: at the cap no new one
//! is made (counted in [`Cad::refused`]), so the state stays bounded on an endless series.

use std::collections::{HashMap, HashSet};

use super::pydict::{PyDict, tuple_hash};

/// Sensor facts start here (CAD OSE's `65536`).
const SENSOR: u64 = 65_536;
/// Context facts (active "neurons") start here (`2^31`).
const NEURON: u64 = 1 << 31;

/// The tuning of the model.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    /// Lowest value of the range binned (NAB: the file's minimum).
    pub min: f64,
    /// Highest value of the range binned (NAB: the file's maximum).
    pub max: f64,
    /// A score at or above this silences the next `rest` scores.
    pub base_threshold: f64,
    /// Scores silenced after a high one (NAB: a fifth of the probationary period).
    pub rest: usize,
    /// Longest left semi-context proposed for a new context.
    pub max_left_semi: usize,
    /// Most contexts activated (become facts) per step.
    pub max_active: usize,
    /// Bits of the binned value.
    pub bits: u32,
    /// Most contexts kept.
    pub max_contexts: usize,
}

impl Params {
    /// Parameters as NAB runs CAD OSE on a file of `rows` rows with the given range.
    pub fn nab(rows: usize, min: f64, max: f64) -> Params {
        let probation = (0.15 * rows as f64).floor().min(0.15 * 5000.0);
        Params {
            min,
            max,
            base_threshold: 0.75,
            rest: (probation / 5.0) as usize,
            max_left_semi: 7,
            max_active: 15,
            bits: 3,
            max_contexts: 1 << 22,
        }
    }
}

/// A left semi-context: its size, which of the facts crossed at the crossing numbered
/// `stamp` it holds (bit j: the j-th fact of that crossing's sorted list), and its contexts
/// (right semi-context → context).
#[derive(Debug, Clone, PartialEq)]
struct LeftSemi {
    len: usize,
    stamp: u64,
    mask: u32,
    contexts: PyDict,
}

/// A right semi-context: its size and the facts it held at crossing `stamp`.
#[derive(Debug, Clone, PartialEq)]
struct RightSemi {
    len: usize,
    stamp: u64,
    mask: u32,
}

/// The facts of `list` picked by `mask`, in order.
fn picked(list: &[u64], mask: u32) -> Vec<u64> {
    list.iter()
        .enumerate()
        .filter(|(j, _)| mask & (1 << j) != 0)
        .map(|(_, f)| *f)
        .collect()
}

/// Crosses `facts` (at most 32) with the semi-contexts indexed in `index`: stamps each
/// touched one with `stamp` and the facts it holds; returns the touched ones in creation order.
fn cross(
    index: &HashMap<u64, Vec<u32>>,
    facts: &[u64],
    stamp: u64,
    mut touch: impl FnMut(u32, u32, u64) -> bool,
) -> Vec<u32> {
    let mut touched = Vec::new();
    for (j, f) in facts.iter().take(32).enumerate() {
        if let Some(list) = index.get(f) {
            for &s in list {
                if touch(s, 1 << j, stamp) {
                    touched.push(s);
                }
            }
        }
    }
    touched.sort_unstable();
    touched
}

#[derive(Debug, Clone, PartialEq)]
struct Context {
    selected: u64,
    crossed: u64,
    active: u64,
    right: Vec<u64>,
    zero_level: bool,
    left_hash: i64,
    right_hash: i64,
}

/// The model of one series.
#[derive(Debug, Clone, PartialEq)]
pub struct Cad {
    facts: [HashMap<u64, Vec<u32>>; 2],
    semi_ids: [HashMap<i64, u32>; 2],
    left: Vec<LeftSemi>,
    right: Vec<RightSemi>,
    crossed: [Vec<u32>; 2],
    /// Crossings made, per side (the stamp of the newest).
    gens: [u64; 2],
    /// The facts of the newest right crossing.
    right_facts: Vec<u64>,
    contexts: Vec<Context>,
    /// CAD OSE's `newContextID`, where "none" is `False`, which Python compares equal to 0.
    new_context: u32,
    left_group: Vec<u64>,
    predicted: HashSet<u64>,
    /// The newest `rest` scores (starting with CAD OSE's initial 1.0).
    history: std::collections::VecDeque<f64>,
    /// New contexts not made because the cap was reached.
    pub refused: u64,
}

type Pair = (Vec<u64>, Vec<u64>);

impl Cad {
    /// A fresh model.
    pub fn new(p: &Params) -> Self {
        let mut history = std::collections::VecDeque::new();
        history.push_back(1.0);
        let _ = p;
        Cad {
            facts: [HashMap::new(), HashMap::new()],
            semi_ids: [HashMap::new(), HashMap::new()],
            left: Vec::new(),
            right: Vec::new(),
            crossed: [Vec::new(), Vec::new()],
            gens: [0, 0],
            right_facts: Vec::new(),
            contexts: Vec::new(),
            new_context: 0,
            left_group: Vec::new(),
            predicted: HashSet::new(),
            history,
            refused: 0,
        }
    }

    /// Contexts held.
    pub fn contexts(&self) -> usize {
        self.contexts.len()
    }

    /// Learns one value and returns its anomaly score in [0, 1].
    pub fn update(&mut self, p: &Params, value: f64) -> f64 {
        let max_bin = f64::from((1u32 << p.bits) - 1);
        let mut range = p.max - p.min;
        if range == 0.0 {
            range = max_bin;
        }
        let step = range / max_bin;
        // Python's int() truncates towards zero; values beyond the range are clamped (the
        // reference, given the file's own range, never sees one).
        let bin = ((value - p.min) / step).trunc().clamp(0.0, max_bin) as u64;
        let sensors: Vec<u64> = (0..u64::from(p.bits))
            .map(|b| SENSOR + b * 2 + ((bin >> b) & 1))
            .collect();
        let mut delta = 0.0;
        for &f in &sensors {
            if !self.predicted.contains(&f) {
                delta += f64::from(1u32 << ((f - SENSOR) / 2));
            }
        }
        let error = delta / max_bin;
        let (pred, sel_active, added) = self.step(p, sensors);
        self.predicted = pred;
        let current = if error > 0.0 {
            (1.0 - sel_active + added) / 2.0
        } else {
            0.0
        };
        let quiet = self
            .history
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        let out = if quiet < p.base_threshold {
            current
        } else {
            0.0
        };
        if p.rest > 0 && self.history.len() >= p.rest {
            self.history.pop_front();
        }
        self.history.push_back(current);
        out
    }

    fn step(&mut self, p: &Params, mut sensors: Vec<u64>) -> (HashSet<u64>, f64, f64) {
        sensors.sort_unstable();
        sensors.dedup();
        let mut uniq: HashSet<Pair> = HashSet::new();
        let mut new_flag = false;
        if !self.left_group.is_empty() && !sensors.is_empty() {
            let pot = (self.left_group.clone(), sensors.clone());
            uniq.insert(pot.clone());
            new_flag = self.add_contexts(p, &[pot], true) > 0;
        }
        let (active, selected, proposals) = self.cross_right(&sensors, new_flag, p);
        uniq.extend(proposals.iter().cloned());
        let sel_active = if selected > 0 {
            active.len() as f64 / selected as f64
        } else {
            0.0
        };
        let mut active = active;
        active.sort_by_key(|&(_, count, lh, rh)| (count, lh, rh));
        let from = active.len().saturating_sub(p.max_active);
        let mut group: Vec<u64> = sensors.clone();
        group.extend(active[from..].iter().map(|a| NEURON + u64::from(a.0)));
        group.sort_unstable();
        group.dedup();
        self.left_group = group;
        let mut added = if proposals.is_empty() {
            0
        } else {
            self.add_contexts(p, &proposals, false)
        };
        let predictions = self.cross_left();
        if new_flag {
            added += 1;
        }
        let pct_added = if new_flag && !uniq.is_empty() {
            added as f64 / uniq.len() as f64
        } else {
            0.0
        };
        (predictions, sel_active, pct_added)
    }

    /// CAD OSE's `getContextByFacts`: stores the contexts not yet known; with `zero_level`
    /// (one context), returns 1 if it was new.
    fn add_contexts(&mut self, p: &Params, list: &[Pair], zero_level: bool) -> usize {
        let mut added = 0;
        for (lf, rf) in list {
            let lh = tuple_hash(lf);
            let rh = tuple_hash(rf);
            if self.contexts.len() >= p.max_contexts {
                // At the cap nothing new is stored (not even a semi-context); a known
                // zero-level context is still marked as such.
                let known = match (self.semi_ids[0].get(&lh), self.semi_ids[1].get(&rh)) {
                    (Some(l), Some(r)) => self.left[*l as usize].contexts.get(*r),
                    _ => None,
                };
                match known {
                    Some(cid) if zero_level => {
                        self.contexts[cid as usize].zero_level = true;
                        return 0;
                    }
                    Some(_) => {}
                    None => {
                        self.refused += 1;
                        if zero_level {
                            return 0;
                        }
                    }
                }
                continue;
            }
            let next = self.left.len() as u32;
            let lid = *self.semi_ids[0].entry(lh).or_insert(next);
            if lid == next {
                self.left.push(LeftSemi {
                    stamp: 0,
                    mask: 0,
                    len: lf.len(),
                    contexts: PyDict::default(),
                });
                for &f in lf {
                    self.facts[0].entry(f).or_default().push(lid);
                }
            }
            let next = self.right.len() as u32;
            let rid = *self.semi_ids[1].entry(rh).or_insert(next);
            if rid == next {
                self.right.push(RightSemi {
                    stamp: 0,
                    mask: 0,
                    len: rf.len(),
                });
                for &f in rf {
                    self.facts[1].entry(f).or_default().push(rid);
                }
            }
            let existing = self.left[lid as usize].contexts.get(rid);
            if let Some(cid) = existing {
                if zero_level {
                    self.contexts[cid as usize].zero_level = true;
                    return 0;
                }
                continue;
            }
            let cid = self.contexts.len() as u32;
            self.left[lid as usize].contexts.setdefault(rid, cid);
            added += 1;
            self.contexts.push(Context {
                selected: 0,
                crossed: 0,
                active: 0,
                right: rf.clone(),
                zero_level,
                left_hash: lh,
                right_hash: rh,
            });
            if zero_level {
                self.new_context = cid;
                return 1;
            }
        }
        added
    }

    /// Crosses the current facts with the right semi-contexts, updates every context whose
    /// left side was fully crossed at the previous step, and proposes new contexts.
    #[allow(clippy::type_complexity)]
    fn cross_right(
        &mut self,
        facts: &[u64],
        new_flag: bool,
        p: &Params,
    ) -> (Vec<(u32, u64, i64, i64)>, usize, Vec<Pair>) {
        self.gens[1] += 1;
        let stamp = self.gens[1];
        let right = &mut self.right;
        self.crossed[1] = cross(&self.facts[1], facts, stamp, |s, bit, g| {
            let r = &mut right[s as usize];
            let first = r.stamp != g;
            if first {
                r.stamp = g;
                r.mask = 0;
            }
            r.mask |= bit;
            first
        });
        self.right_facts.clear();
        self.right_facts.extend_from_slice(facts);
        let left_gen = self.gens[0];
        let mut active = Vec::new();
        let mut selected = 0;
        let mut proposals = Vec::new();
        for &ls in &self.crossed[0] {
            let l = &self.left[ls as usize];
            let l_crossed = if l.stamp == left_gen {
                l.mask.count_ones() as usize
            } else {
                0
            };
            let full = l.len == l_crossed;
            for (rid, cid) in l.contexts.iter() {
                if cid == self.new_context {
                    continue;
                }
                let r = &self.right[rid as usize];
                let r_mask = if r.stamp == stamp { r.mask } else { 0 };
                let (r_len, r_crossed) = (r.len, r_mask.count_ones() as usize);
                let ctx = &mut self.contexts[cid as usize];
                let propose = if full {
                    selected += 1;
                    ctx.selected += r_len as u64;
                    if r_crossed > 0 {
                        ctx.crossed += r_crossed as u64;
                        if r_len == r_crossed {
                            ctx.active += 1;
                            active.push((cid, ctx.active, ctx.left_hash, ctx.right_hash));
                            false
                        } else {
                            ctx.zero_level && new_flag
                        }
                    } else {
                        false
                    }
                } else {
                    ctx.zero_level && new_flag && r_crossed > 0
                };
                if propose && l_crossed <= p.max_left_semi {
                    proposals.push((
                        picked(&self.left_group, l.mask),
                        picked(&self.right_facts, r_mask),
                    ));
                }
            }
        }
        self.new_context = 0;
        (active, selected, proposals)
    }

    /// Crosses the new left group with the left semi-contexts; the right sides of the fully
    /// crossed contexts with the best hit rate are the predicted facts.
    fn cross_left(&mut self) -> HashSet<u64> {
        self.gens[0] += 1;
        let stamp = self.gens[0];
        let left = &mut self.left;
        let crossed = cross(&self.facts[0], &self.left_group, stamp, |s, bit, g| {
            let l = &mut left[s as usize];
            let first = l.stamp != g;
            if first {
                l.stamp = g;
                l.mask = 0;
            }
            l.mask |= bit;
            first
        });
        let mut best = 0.0;
        let mut winners: Vec<u32> = Vec::new();
        for &i in &crossed {
            let l = &self.left[i as usize];
            if l.len != l.mask.count_ones() as usize {
                continue;
            }
            for (_, cid) in l.contexts.iter() {
                let c = &self.contexts[cid as usize];
                let w = if c.selected > 0 {
                    c.crossed as f64 / c.selected as f64
                } else {
                    0.0
                };
                if w > best {
                    best = w;
                    winners.clear();
                    winners.push(cid);
                } else if w == best {
                    winners.push(cid);
                }
            }
        }
        self.crossed[0] = crossed;
        let mut out = HashSet::new();
        for cid in winners {
            out.extend(self.contexts[cid as usize].right.iter().copied());
        }
        out
    }
}

/// How a series is set up in production: NAB's probationary period, the range if known.
#[derive(Debug, Clone, PartialEq)]
pub struct Setup {
    /// NAB's probationary period (`rest` is a fifth of it); without a range, the points the
    /// range is learned from.
    pub probation: usize,
    /// The value range, when known.
    pub range: Option<(f64, f64)>,
    /// Without a range: share of the learned range added on each side.
    pub margin: f64,
    /// Most contexts kept.
    pub max_contexts: usize,
}

impl Setup {
    /// The model's parameters for the range `(min, max)`.
    pub fn params(&self, min: f64, max: f64) -> Params {
        let mut p = Params::nab(0, min, max);
        p.rest = self.probation / 5;
        p.max_contexts = self.max_contexts;
        p
    }
}

/// One series: the range is learned from the first `probation` points unless given.
#[derive(Debug, Clone)]
pub struct Series {
    /// The model, once the range is known.
    pub cad: Option<(Cad, Params)>,
    /// Points held until the range is known.
    pub pending: Vec<f64>,
    /// Points learned.
    pub n: u64,
}

impl Series {
    /// A fresh series.
    pub fn new(setup: &Setup) -> Self {
        let cad = setup.range.map(|(lo, hi)| {
            let p = setup.params(lo, hi);
            (Cad::new(&p), p)
        });
        Series {
            cad,
            pending: Vec::new(),
            n: 0,
        }
    }

    /// Learns one value; its anomaly score.
    pub fn update(&mut self, setup: &Setup, value: f64) -> f64 {
        self.n += 1;
        if let Some((cad, p)) = &mut self.cad {
            return cad.update(p, value);
        }
        self.pending.push(value);
        if self.pending.len() < setup.probation {
            return 0.0;
        }
        let lo = self.pending.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = self
            .pending
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        let pad = (hi - lo) * setup.margin;
        let p = setup.params(lo - pad, hi + pad);
        let mut cad = Cad::new(&p);
        for v in std::mem::take(&mut self.pending) {
            cad.update(&p, v);
        }
        self.cad = Some((cad, p));
        0.0
    }

    /// Contexts held.
    pub fn contexts(&self) -> usize {
        self.cad.as_ref().map_or(0, |(c, _)| c.contexts())
    }
}

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

/// Index slots reserved for sensor facts (`SENSOR + 2·bit + value`, bits ≤ 32); context
/// facts `NEURON + id` follow them.
const SENSOR_SLOTS: usize = 64;

/// Where fact `f` sits in a fact index: dense, so that crossing hashes nothing.
fn slot(f: u64) -> usize {
    if f >= NEURON {
        SENSOR_SLOTS + (f - NEURON) as usize
    } else {
        (f - SENSOR) as usize
    }
}

/// What a crossing needs of a semi-context, kept apart from the rest so a step reads a dense
/// array: the crossing numbered `stamp` found the facts `mask` of it (bit j: the j-th fact of
/// that crossing's sorted list); `len` facts in all; `zero_level`: its contexts that are
/// zero-level (left side only).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Crossing {
    stamp: u32,
    mask: u32,
    len: u16,
    zero_level: u16,
}

/// One context, held by its left semi-context: the right semi-context, the context's id and
/// its counters. A left semi-context has at most one context per right semi-context (sets
/// of the `2·bits` sensor facts: 26 for 3 bits), so its links are few.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Link {
    right: u32,
    id: u32,
    /// Counters (u32: at ≤ 3 a step they last beyond 10⁹ steps; they saturate).
    selected: u32,
    crossed: u32,
    active: u32,
    zero_level: bool,
}

/// A left semi-context's contexts: `dict` maps the right semi-context to the context (for
/// CPython 2's iteration order) and `links` holds them in that order.
#[derive(Debug, Clone, PartialEq)]
struct LeftSemi {
    hash: i64,
    dict: PyDict,
    links: Vec<Link>,
}

/// A right semi-context: its tuple hash and its (sensor) facts, by [`slot`].
#[derive(Debug, Clone, PartialEq)]
struct RightSemi {
    hash: i64,
    mask: u64,
}

/// The facts of `list` picked by `mask`, in order.
fn picked(list: &[u64], mask: u32) -> Vec<u64> {
    list.iter()
        .enumerate()
        .filter(|(j, _)| mask & (1 << j) != 0)
        .map(|(_, f)| *f)
        .collect()
}

/// The next crossing's stamp on one side: stamps are u32, so when they wrap every mark is
/// reset (a stale stamp never equals a new one).
fn next_stamp(newest: &mut u32, marks: &mut [Crossing]) -> u32 {
    *newest = newest.wrapping_add(1);
    if *newest == 0 {
        marks.iter_mut().for_each(|m| m.stamp = 0);
        *newest = 1;
    }
    *newest
}

/// Crosses `facts` (at most 32) with the semi-contexts indexed in `index` (by [`slot`]):
/// stamps each touched one in `marks` with `stamp` and the facts it holds; with `touched`,
/// lists the touched ones there in creation order.
fn cross(
    index: &[Vec<u32>],
    facts: &[u64],
    stamp: u32,
    marks: &mut [Crossing],
    mut touched: Option<&mut Vec<u32>>,
) {
    if let Some(t) = touched.as_deref_mut() {
        t.clear();
    }
    for (j, f) in facts.iter().take(32).enumerate() {
        for &s in index.get(slot(*f)).map_or(&[][..], |l| l.as_slice()) {
            let m = &mut marks[s as usize];
            if m.stamp != stamp {
                m.stamp = stamp;
                m.mask = 0;
                if let Some(t) = touched.as_deref_mut() {
                    t.push(s);
                }
            }
            m.mask |= 1 << j;
        }
    }
    let Some(t) = touched else { return };
    // Most semi-contexts are touched: a scan in id order beats a sort.
    if t.len() * 4 > marks.len() {
        t.clear();
        t.extend((0..marks.len() as u32).filter(|&s| marks[s as usize].stamp == stamp));
    } else {
        t.sort_unstable();
    }
}

/// Adds `id` to the index slot of each fact.
fn index_facts(index: &mut Vec<Vec<u32>>, facts: &[u64], id: u32) {
    for &f in facts {
        let k = slot(f);
        if index.len() <= k {
            index.resize_with(k + 1, Vec::new);
        }
        index[k].push(id);
    }
}

/// A hasher for keys that are hashes already (the semi-contexts' tuple hashes).
#[derive(Debug, Clone, Copy, Default)]
struct Rehash(u64);

impl std::hash::Hasher for Rehash {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_i64(&mut self, i: i64) {
        self.0 = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29);
    }
}

type SemiIds = HashMap<i64, u32, std::hash::BuildHasherDefault<Rehash>>;

/// The model of one series.
#[derive(Debug, Clone)]
pub struct Cad {
    /// Fact slot → semi-contexts holding the fact, per side.
    index: [Vec<Vec<u32>>; 2],
    semi_ids: [SemiIds; 2],
    /// Per side, what the crossings found of each semi-context.
    marks: [Vec<Crossing>; 2],
    left: Vec<LeftSemi>,
    right: Vec<RightSemi>,
    /// The left semi-contexts touched by the newest left crossing.
    crossed_left: Vec<u32>,
    /// The stamp of the newest crossing, per side.
    gens: [u32; 2],
    /// Reused buffer: the active contexts of a step.
    active: Vec<Active>,
    /// The facts of the newest right crossing.
    right_facts: Vec<u64>,
    /// Contexts held.
    contexts: u32,
    /// CAD OSE's `newContextID`, where "none" is `False`, which Python compares equal to 0.
    new_context: u32,
    left_group: Vec<u64>,
    /// The predicted sensor facts, by [`slot`].
    predicted: u64,
    /// The newest `rest` scores (starting with CAD OSE's initial 1.0).
    history: std::collections::VecDeque<f64>,
    /// Scores in `history` at or above the base threshold.
    high: usize,
    /// New contexts not made because the cap was reached.
    pub refused: u64,
}

type Pair = (Vec<u64>, Vec<u64>);

/// An active context: (id, activations, left hash, right hash); CAD OSE keeps the ones
/// highest by the last three.
type Active = (u32, u32, i64, i64);

impl Cad {
    /// A fresh model.
    pub fn new(p: &Params) -> Self {
        let mut history = std::collections::VecDeque::new();
        history.push_back(1.0);
        Cad {
            index: [Vec::new(), Vec::new()],
            semi_ids: [SemiIds::default(), SemiIds::default()],
            marks: [Vec::new(), Vec::new()],
            left: Vec::new(),
            right: Vec::new(),
            crossed_left: Vec::new(),
            gens: [0, 0],
            active: Vec::new(),
            right_facts: Vec::new(),
            contexts: 0,
            new_context: 0,
            left_group: Vec::new(),
            predicted: 0,
            high: usize::from(1.0 >= p.base_threshold),
            history,
            refused: 0,
        }
    }

    /// Contexts held.
    pub fn contexts(&self) -> usize {
        self.contexts as usize
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
            if self.predicted & (1 << slot(f)) == 0 {
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
        // The reference holds the score at 0 while the newest `rest` scores reach the base
        // threshold: counted rather than searched.
        let out = if self.high == 0 { current } else { 0.0 };
        if p.rest > 0 && self.history.len() >= p.rest {
            if let Some(old) = self.history.pop_front() {
                self.high -= usize::from(old >= p.base_threshold);
            }
        }
        self.history.push_back(current);
        self.high += usize::from(current >= p.base_threshold);
        out
    }

    fn step(&mut self, p: &Params, mut sensors: Vec<u64>) -> (u64, f64, f64) {
        sensors.sort_unstable();
        sensors.dedup();
        let has_pot = !self.left_group.is_empty() && !sensors.is_empty();
        let mut new_flag = false;
        if has_pot {
            let lf = std::mem::take(&mut self.left_group);
            new_flag = self.add_context(p, &lf, &sensors, true);
            self.left_group = lf;
        }
        let mut active = std::mem::take(&mut self.active);
        let (selected, proposals) = self.cross_right(&sensors, new_flag, p, &mut active);
        let sel_active = if selected > 0 {
            active.len() as f64 / selected as f64
        } else {
            0.0
        };
        // The `max_active` highest by (activations, hashes): the keys are distinct (one
        // context per pair of semi-contexts), so the set is the reference's sorted tail.
        if active.len() > p.max_active {
            let from = active.len() - p.max_active;
            active.select_nth_unstable_by_key(from, |&(_, count, lh, rh)| (count, lh, rh));
            active.drain(..from);
        }
        let pot = (new_flag && has_pot).then(|| (self.left_group.clone(), sensors.clone()));
        // The new left group, built in the old one's buffer (its facts are used up).
        let mut group = std::mem::take(&mut self.left_group);
        group.clear();
        group.extend_from_slice(&sensors);
        group.extend(active.iter().map(|a| NEURON + u64::from(a.0)));
        group.sort_unstable();
        group.dedup();
        self.left_group = group;
        active.clear();
        self.active = active;
        let mut added = 0;
        for (lf, rf) in &proposals {
            added += usize::from(self.add_context(p, lf, rf, false));
        }
        let predictions = self.cross_left();
        if new_flag {
            added += 1;
        }
        // Proposals are only made at a new zero-level context.
        let pct_added = if new_flag {
            let mut uniq: HashSet<&Pair> = proposals.iter().collect();
            uniq.extend(pot.as_ref());
            added as f64 / uniq.len() as f64
        } else {
            0.0
        };
        (predictions, sel_active, pct_added)
    }

    /// Marks context `link` of left semi-context `lid` zero-level.
    fn mark_zero_level(&mut self, lid: u32, link: usize) {
        let l = &mut self.left[lid as usize].links[link];
        if !l.zero_level {
            l.zero_level = true;
            self.marks[0][lid as usize].zero_level += 1;
        }
    }

    /// The link of right semi-context `rid` in left semi-context `lid`, if any.
    fn find(&self, lid: u32, rid: u32) -> Option<usize> {
        self.left[lid as usize]
            .links
            .iter()
            .position(|l| l.right == rid)
    }

    /// CAD OSE's `getContextByFacts` for one pair of fact lists: stores the context if not
    /// yet known (and below the cap); whether it was new. A known context offered at zero
    /// level is marked so.
    fn add_context(&mut self, p: &Params, lf: &[u64], rf: &[u64], zero_level: bool) -> bool {
        {
            let lh = tuple_hash(lf);
            let rh = tuple_hash(rf);
            if self.contexts() >= p.max_contexts {
                // At the cap nothing new is stored (not even a semi-context); a known
                // zero-level context is still marked as such.
                let known = match (self.semi_ids[0].get(&lh), self.semi_ids[1].get(&rh)) {
                    (Some(&l), Some(&r)) => self.find(l, r).map(|k| (l, k)),
                    _ => None,
                };
                match known {
                    Some((l, k)) if zero_level => self.mark_zero_level(l, k),
                    Some(_) => {}
                    None => self.refused += 1,
                }
                return false;
            }
            let next = self.left.len() as u32;
            let lid = *self.semi_ids[0].entry(lh).or_insert(next);
            if lid == next {
                self.left.push(LeftSemi {
                    hash: lh,
                    dict: PyDict::default(),
                    links: Vec::new(),
                });
                self.marks[0].push(Crossing {
                    len: lf.len() as u16,
                    ..Crossing::default()
                });
                index_facts(&mut self.index[0], lf, lid);
            }
            let next = self.right.len() as u32;
            let rid = *self.semi_ids[1].entry(rh).or_insert(next);
            if rid == next {
                self.right.push(RightSemi {
                    hash: rh,
                    mask: rf.iter().fold(0, |m, &f| m | 1 << slot(f)),
                });
                self.marks[1].push(Crossing {
                    len: rf.len() as u16,
                    ..Crossing::default()
                });
                index_facts(&mut self.index[1], rf, rid);
            }
            if let Some(k) = self.find(lid, rid) {
                if zero_level {
                    self.mark_zero_level(lid, k);
                }
                return false;
            }
            let cid = self.contexts;
            self.contexts += 1;
            let l = &mut self.left[lid as usize];
            l.dict.setdefault(rid, cid);
            l.links.push(Link {
                right: rid,
                id: cid,
                selected: 0,
                crossed: 0,
                active: 0,
                zero_level,
            });
            // Keep the links in the dict's (CPython 2's) order.
            let order: Vec<u32> = l.dict.iter().map(|(_, c)| c).collect();
            l.links.sort_by_key(|k| order.iter().position(|&c| c == k.id));
            if zero_level {
                self.marks[0][lid as usize].zero_level += 1;
                self.new_context = cid;
            }
            true
        }
    }

    /// Crosses the current facts with the right semi-contexts, updates every context whose
    /// left side was fully crossed at the previous step, and proposes new contexts.
    fn cross_right(
        &mut self,
        facts: &[u64],
        new_flag: bool,
        p: &Params,
        active: &mut Vec<Active>,
    ) -> (usize, Vec<Pair>) {
        let stamp = next_stamp(&mut self.gens[1], &mut self.marks[1]);
        cross(&self.index[1], facts, stamp, &mut self.marks[1], None);
        self.right_facts.clear();
        self.right_facts.extend_from_slice(facts);
        let left_gen = self.gens[0];
        let mut selected = 0;
        let mut proposals = Vec::new();
        let rights = &self.marks[1];
        for &ls in &self.crossed_left {
            let m = self.marks[0][ls as usize];
            let l_mask = if m.stamp == left_gen { m.mask } else { 0 };
            let l_crossed = l_mask.count_ones() as usize;
            let full = usize::from(m.len) == l_crossed;
            // A partly crossed left side only proposes, from its zero-level contexts at a
            // new zero-level context.
            if !full && !(new_flag && m.zero_level > 0) {
                continue;
            }
            let l = &mut self.left[ls as usize];
            for link in &mut l.links {
                if link.id == self.new_context || (!full && !link.zero_level) {
                    continue;
                }
                let r = rights[link.right as usize];
                let r_mask = if r.stamp == stamp { r.mask } else { 0 };
                let (r_len, r_crossed) = (u32::from(r.len), r_mask.count_ones());
                let propose = if full {
                    selected += 1;
                    link.selected = link.selected.saturating_add(r_len);
                    if r_crossed > 0 {
                        link.crossed = link.crossed.saturating_add(r_crossed);
                        if r_len == r_crossed {
                            link.active = link.active.saturating_add(1);
                            let rh = self.right[link.right as usize].hash;
                            active.push((link.id, link.active, l.hash, rh));
                            false
                        } else {
                            link.zero_level && new_flag
                        }
                    } else {
                        false
                    }
                } else {
                    r_crossed > 0
                };
                if propose && l_crossed <= p.max_left_semi {
                    proposals.push((
                        picked(&self.left_group, l_mask),
                        picked(&self.right_facts, r_mask),
                    ));
                }
            }
        }
        self.new_context = 0;
        (selected, proposals)
    }

    /// Crosses the new left group with the left semi-contexts; the right sides of the fully
    /// crossed contexts with the best hit rate are the predicted facts.
    fn cross_left(&mut self) -> u64 {
        let stamp = next_stamp(&mut self.gens[0], &mut self.marks[0]);
        let mut crossed = std::mem::take(&mut self.crossed_left);
        cross(
            &self.index[0],
            &self.left_group,
            stamp,
            &mut self.marks[0],
            Some(&mut crossed),
        );
        let mut best = 0.0;
        // The union of the winners' right facts (a winner's facts: its right semi-context's).
        let mut out = 0;
        for &i in &crossed {
            let m = self.marks[0][i as usize];
            if usize::from(m.len) != m.mask.count_ones() as usize {
                continue;
            }
            for link in &self.left[i as usize].links {
                let w = if link.selected > 0 {
                    f64::from(link.crossed) / f64::from(link.selected)
                } else {
                    0.0
                };
                if w > best {
                    best = w;
                    out = self.right[link.right as usize].mask;
                } else if w == best {
                    out |= self.right[link.right as usize].mask;
                }
            }
        }
        self.crossed_left = crossed;
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

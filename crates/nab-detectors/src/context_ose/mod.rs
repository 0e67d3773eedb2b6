//! CAD OSE's maths (Contextual Anomaly Detector, Open Source Edition, M. Smirnov), free of
//! any host, written from NAB's `context_ose` detector read as reference. Each value is
//! binned (3 bits: 8 bins over the value range) into *facts*; a *context* pairs a left set of
//! facts (the previous step's facts and active contexts) with a right set (the current
//! facts). Contexts that keep predicting right are activated and become facts themselves;
//! the anomaly score is high when few selected contexts fire and many new ones must be made.
//!
//! Contexts are only ever added. [`Params::max_contexts`] caps them: at the cap no new one
//! is made (counted in [`Cad::refused`]), so the state stays bounded on an endless series.

pub mod pydict;
mod semis;
mod series;

pub use series::{Series, Setup};

use crate::SeriesModel;
use pydict::tuple_hash;
use semis::{
    Crossing, Keyed, LeftSemi, NEURON, RightSemi, SENSOR, SemiIds, cross, full_left, index_facts,
    next_stamp, picked, signature, slot,
};

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

/// The model of one series.
#[derive(Debug, Clone)]
pub struct Cad {
    left: Vec<LeftSemi>,
    right: Vec<RightSemi>,
    semi_ids: [SemiIds; 2],
    /// Fact slot → the left semi-contexts whose highest fact it is.
    keyed: Vec<Vec<Keyed>>,
    /// Fact slot → the left semi-contexts holding it that have zero-level contexts.
    zero_level: Vec<Vec<u32>>,
    /// Fact slot → the right semi-contexts holding it.
    rights_by_fact: Vec<Vec<u32>>,
    /// What the newest crossing found, per left and right semi-context.
    marks: [Vec<Crossing>; 2],
    /// The stamp of the newest crossing, per side.
    stamps: [u32; 2],
    /// The left semi-contexts fully crossed by the newest left group, with their masks.
    full: Vec<(u32, u32)>,
    /// Left semi-contexts that existed at the newest left crossing.
    crossed_upto: u32,
    /// Reused buffers: the active contexts of a step, touched semi-contexts.
    active: Vec<Active>,
    touched: Vec<u32>,
    /// Contexts held.
    contexts: u32,
    /// CAD OSE's `newContextID`, where "none" is `False`, which Python compares equal to 0.
    new_context: u32,
    left_group: Vec<u64>,
    /// Reused buffers: the next left group, the sensor facts.
    spare: Vec<u64>,
    sensors: Vec<u64>,
    /// The predicted sensor facts, one bit per [`slot`].
    predicted: u64,
    /// The newest `rest` scores (starting with CAD OSE's initial 1.0).
    history: std::collections::VecDeque<f64>,
    /// Scores in `history` at or above the base threshold.
    high: usize,
    /// New contexts not made because the cap was reached.
    pub refused: u64,
}

/// An active context: (id, activations, left hash, right hash); CAD OSE keeps the ones
/// highest by the last three.
type Active = (u32, u32, i64, i64);

impl Cad {
    /// Contexts held.
    pub fn contexts(&self) -> usize {
        self.contexts as usize
    }

    /// Heap bytes held (vectors by capacity; hash maps by capacity, key, value and control
    /// byte): the state's size, measured rather than estimated.
    pub fn bytes(&self) -> usize {
        fn held<T>(v: &Vec<T>) -> usize {
            v.capacity() * std::mem::size_of::<T>()
        }
        fn index<T>(ix: &Vec<Vec<T>>) -> usize {
            held(ix) + ix.iter().map(held).sum::<usize>()
        }
        let left: usize = self
            .left
            .iter()
            .map(|l| held(&l.facts) + held(&l.links))
            .sum();
        let maps: usize = self.semi_ids.iter().map(|m| m.capacity() * 13).sum();
        held(&self.left)
            + left
            + held(&self.right)
            + maps
            + index(&self.keyed)
            + index(&self.zero_level)
            + index(&self.rights_by_fact)
            + self.marks.iter().map(held).sum::<usize>()
            + held(&self.full)
            + self.history.capacity() * 8
    }

    fn step(&mut self, p: &Params, sensors: &mut Vec<u64>) -> (u64, f64, f64) {
        sensors.sort_unstable();
        sensors.dedup();
        let has_pot = !self.left_group.is_empty() && !sensors.is_empty();
        let mut new_flag = false;
        if has_pot {
            let lf = std::mem::take(&mut self.left_group);
            new_flag = self.add_context(p, &lf, sensors, true);
            self.left_group = lf;
        }
        let mut active = std::mem::take(&mut self.active);
        let (selected, proposals) = self.cross_right(sensors, new_flag, p, &mut active);
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
        // The new left group, in the spare buffer: the proposals are picked from the old one.
        let mut group = std::mem::take(&mut self.spare);
        group.clear();
        group.extend_from_slice(sensors);
        group.extend(active.iter().map(|a| NEURON + u64::from(a.0)));
        group.sort_unstable();
        group.dedup();
        active.clear();
        self.active = active;
        let mut added = 0;
        let (mut lf, mut rf) = (Vec::new(), Vec::new());
        for &(lm, rm) in &proposals {
            picked(&self.left_group, lm, &mut lf);
            picked(sensors, rm, &mut rf);
            added += usize::from(self.add_context(p, &lf, &rf, false));
        }
        // A proposal is its two masks over the old group and the sensors: the same masks,
        // the same fact lists. The zero-level pair is both lists whole.
        let whole = |n: usize| if n <= 32 { (1u64 << n) - 1 } else { u64::MAX };
        let pot = has_pot.then(|| (whole(self.left_group.len()), whole(sensors.len())));
        self.spare = std::mem::replace(&mut self.left_group, group);
        let predictions = self.cross_left();
        if new_flag {
            added += 1;
        }
        // Proposals are only made at a new zero-level context.
        let pct_added = if new_flag {
            let mut uniq: Vec<(u64, u64)> = proposals
                .iter()
                .map(|&(l, r)| (u64::from(l), u64::from(r)))
                .chain(pot)
                .collect();
            uniq.sort_unstable();
            uniq.dedup();
            added as f64 / uniq.len() as f64
        } else {
            0.0
        };
        (predictions, sel_active, pct_added)
    }

    /// Marks context `link` of left semi-context `lid` zero-level.
    fn mark_zero_level(&mut self, lid: u32, link: usize) {
        let l = &mut self.left[lid as usize];
        if !l.links[link].zero_level {
            l.links[link].zero_level = true;
            l.zero_level += 1;
            if l.zero_level == 1 {
                index_facts(&mut self.zero_level, l.facts.iter().copied(), lid);
            }
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
            let facts: Vec<u32> = lf.iter().map(|&f| slot(f)).collect();
            let entry = Keyed {
                id: lid,
                signature: signature(facts.iter().copied()),
            };
            index_facts(&mut self.keyed, facts.last().copied(), entry);
            self.marks[0].push(Crossing {
                len: facts.len() as u32,
                ..Crossing::default()
            });
            self.left.push(LeftSemi {
                hash: lh,
                facts,
                links: Vec::new(),
                zero_level: 0,
            });
        }
        let next = self.right.len() as u32;
        let rid = *self.semi_ids[1].entry(rh).or_insert(next);
        if rid == next {
            self.right.push(RightSemi {
                hash: rh,
                mask: rf.iter().fold(0, |m, &f| m | 1 << slot(f)),
            });
            self.marks[1].push(Crossing {
                len: rf.len() as u32,
                ..Crossing::default()
            });
            index_facts(&mut self.rights_by_fact, rf.iter().map(|&f| slot(f)), rid);
        }
        if let Some(k) = self.find(lid, rid) {
            if zero_level {
                self.mark_zero_level(lid, k);
            }
            return false;
        }
        let cid = self.contexts;
        self.contexts += 1;
        self.left[lid as usize].link(rid, cid, false);
        if zero_level {
            let k = self.find(lid, rid).unwrap_or(0);
            self.mark_zero_level(lid, k);
            self.new_context = cid;
        }
        true
    }

    /// The left semi-contexts crossed by the newest left group that a step visits, with
    /// their masks, in id order: the fully crossed ones, and at a new zero-level context
    /// also the partly crossed ones holding zero-level contexts (they may propose). The
    /// latter are crossed only then, against the same group.
    fn visited(&mut self, new_flag: bool) -> Vec<(u32, u32)> {
        if !new_flag {
            return std::mem::take(&mut self.full);
        }
        let mut out = self.full.clone();
        let stamp = next_stamp(&mut self.stamps[0], &mut self.marks[0]);
        let mut touched = std::mem::take(&mut self.touched);
        touched.clear();
        cross(
            &self.zero_level,
            &self.left_group,
            stamp,
            &mut self.marks[0],
            Some(&mut touched),
        );
        out.extend(
            touched
                .iter()
                .filter(|&&s| s < self.crossed_upto)
                .map(|&s| (s, self.marks[0][s as usize].mask)),
        );
        out.sort_unstable();
        out.dedup_by_key(|x| x.0);
        self.touched = touched;
        out
    }

    /// Crosses the current facts with the right semi-contexts, updates every context whose
    /// left side was fully crossed at the previous step, and proposes new contexts.
    fn cross_right(
        &mut self,
        facts: &[u64],
        new_flag: bool,
        p: &Params,
        active: &mut Vec<Active>,
    ) -> (usize, Vec<(u32, u32)>) {
        let visited = self.visited(new_flag);
        let visited_full = !new_flag;
        let stamp = next_stamp(&mut self.stamps[1], &mut self.marks[1]);
        cross(&self.rights_by_fact, facts, stamp, &mut self.marks[1], None);
        let mut selected = 0;
        let mut proposals = Vec::new();
        let rights = &self.marks[1];
        for &(ls, l_mask) in &visited {
            let l = &mut self.left[ls as usize];
            let l_crossed = l_mask.count_ones() as usize;
            let full = l.facts.len() == l_crossed;
            for link in &mut l.links {
                if link.id == self.new_context || (!full && !link.zero_level) {
                    continue;
                }
                let r = rights[link.right as usize];
                let r_mask = if r.stamp == stamp { r.mask } else { 0 };
                let (r_len, r_crossed) = (r.len, r_mask.count_ones());
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
                    proposals.push((l_mask, r_mask));
                }
            }
        }
        if visited_full {
            self.full = visited;
        }
        self.new_context = 0;
        (selected, proposals)
    }

    /// Crosses the new left group with the left semi-contexts; the right sides of the fully
    /// crossed contexts with the best hit rate are the predicted facts.
    fn cross_left(&mut self) -> u64 {
        let mut full = std::mem::take(&mut self.full);
        full_left(&self.keyed, &self.left, &self.left_group, &mut full);
        self.crossed_upto = self.left.len() as u32;
        let mut best = 0.0;
        // The union of the winners' right facts (a winner's facts: its right semi-context's).
        let mut out = 0;
        for &(i, _) in &full {
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
        self.full = full;
        out
    }
}

/// The score at or above which a point is a detection by default (the `ContextOSE` plugin's
/// `threshold`, the Ensemble's threshold for ContextOSE): CAD OSE's NAB optimum.
pub const THRESHOLD: f64 = 0.7;

impl SeriesModel for Cad {
    type Params = Params;
    type Output = f64;

    /// A fresh model.
    fn new(p: &Params) -> Self {
        let mut history = std::collections::VecDeque::new();
        history.push_back(1.0);
        Cad {
            left: Vec::new(),
            right: Vec::new(),
            semi_ids: [SemiIds::default(), SemiIds::default()],
            keyed: Vec::new(),
            zero_level: Vec::new(),
            rights_by_fact: Vec::new(),
            marks: [Vec::new(), Vec::new()],
            stamps: [0, 0],
            full: Vec::new(),
            crossed_upto: 0,
            active: Vec::new(),
            touched: Vec::new(),
            contexts: 0,
            new_context: 0,
            left_group: Vec::new(),
            spare: Vec::new(),
            sensors: Vec::new(),
            predicted: 0,
            high: usize::from(1.0 >= p.base_threshold),
            history,
            refused: 0,
        }
    }

    /// Learns one value and returns its anomaly score in [0, 1].
    fn update(&mut self, p: &Params, value: f64) -> f64 {
        let max_bin = f64::from((1u32 << p.bits) - 1);
        let mut range = p.max - p.min;
        if range == 0.0 {
            range = max_bin;
        }
        let step = range / max_bin;
        // Python's int() truncates towards zero; values beyond the range are clamped (the
        // reference, given the file's own range, never sees one).
        let bin = ((value - p.min) / step).trunc().clamp(0.0, max_bin) as u64;
        let mut sensors = std::mem::take(&mut self.sensors);
        sensors.clear();
        sensors.extend((0..u64::from(p.bits)).map(|b| SENSOR + b * 2 + ((bin >> b) & 1)));
        let mut delta = 0.0;
        for &f in &sensors {
            if self.predicted & (1 << slot(f)) == 0 {
                delta += f64::from(1u32 << ((f - SENSOR) / 2));
            }
        }
        let error = delta / max_bin;
        let (pred, sel_active, added) = self.step(p, &mut sensors);
        self.sensors = sensors;
        self.predicted = pred;
        let current = if error > 0.0 {
            (1.0 - sel_active + added) / 2.0
        } else {
            0.0
        };
        // The reference holds the score at 0 while the newest `rest` scores reach the base
        // threshold: counted rather than searched.
        let out = if self.high == 0 { current } else { 0.0 };
        if p.rest > 0
            && self.history.len() >= p.rest
            && let Some(old) = self.history.pop_front()
        {
            self.high -= usize::from(old >= p.base_threshold);
        }
        self.history.push_back(current);
        self.high += usize::from(current >= p.base_threshold);
        out
    }

    fn score(out: &f64) -> f64 {
        *out
    }
}

#[cfg(test)]
mod tests;

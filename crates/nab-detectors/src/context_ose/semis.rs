//! The semi-contexts of CAD OSE and how a step crosses facts with them, laid out so a step
//! reads little: a left semi-context is found *fully* crossed through one fact (its
//! highest), and its contexts' counters sit beside it.

use std::collections::HashMap;

use super::pydict::PyDict;

/// Sensor facts start here (CAD OSE's `65536`).
pub const SENSOR: u64 = 65_536;
/// Context facts (active "neurons") start here (`2^31`).
pub const NEURON: u64 = 1 << 31;
/// Slots reserved for sensor facts (`SENSOR + 2·bit + value`, bits ≤ 32); context facts
/// `NEURON + id` follow them.
const SENSOR_SLOTS: u64 = 64;

/// A fact's slot: dense and in the facts' order, so that crossing hashes nothing.
pub fn slot(f: u64) -> u32 {
    let s = if f >= NEURON {
        SENSOR_SLOTS + (f - NEURON)
    } else {
        f - SENSOR
    };
    s as u32
}

/// What a crossing found of a semi-context: the crossing numbered `stamp` found its facts
/// `mask` (bit j: the j-th fact of the crossed list); `len` facts in all.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Crossing {
    pub stamp: u32,
    pub mask: u32,
    pub len: u32,
}

/// One context, held by its left semi-context: the right semi-context, the context's id and
/// its counters. A left semi-context has at most one context per right semi-context (sets
/// of the `2·bits` sensor facts: 26 for 3 bits), so its links are few.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Link {
    pub right: u32,
    pub id: u32,
    /// Counters (u32: at ≤ 3 a step they last beyond 10⁹ steps; they saturate).
    pub selected: u32,
    pub crossed: u32,
    pub active: u32,
    pub zero_level: bool,
}

/// A left semi-context: its tuple hash, its facts' slots (ascending), its contexts (in the
/// iteration order of the CPython 2 dict the reference keeps them in, keyed by the right
/// semi-context) and how many of them are zero-level.
#[derive(Debug, Clone, PartialEq)]
pub struct LeftSemi {
    pub hash: i64,
    pub facts: Vec<u32>,
    pub links: Vec<Link>,
    pub zero_level: u32,
}

impl LeftSemi {
    /// Adds the context `id` (newer than every context held) with right semi-context
    /// `right`, keeping the dict's order. The dict is not kept: its table depends only on
    /// the keys and their insertion order (context ids grow with time), so it is rebuilt
    /// here, at most 26 insertions for 3 bits.
    pub fn link(&mut self, right: u32, id: u32, zero_level: bool) {
        self.links.push(Link {
            right,
            id,
            selected: 0,
            crossed: 0,
            active: 0,
            zero_level,
        });
        self.links.sort_by_key(|k| k.id);
        let mut dict = PyDict::default();
        for k in &self.links {
            dict.setdefault(k.right, k.id);
        }
        let order: Vec<u32> = dict.iter().map(|(_, c)| c).collect();
        self.links
            .sort_by_key(|k| order.iter().position(|&c| c == k.id));
    }
}

/// A right semi-context: its tuple hash and its (sensor) facts, one bit per [`slot`].
#[derive(Debug, Clone, PartialEq)]
pub struct RightSemi {
    pub hash: i64,
    pub mask: u64,
}

/// The facts of `list` picked by `mask`, in order, into `out`.
pub fn picked(list: &[u64], mask: u32, out: &mut Vec<u64>) {
    out.clear();
    out.extend(
        list.iter()
            .enumerate()
            .filter(|(j, _)| mask & (1 << j) != 0)
            .map(|(_, f)| *f),
    );
}

/// The next crossing's stamp: stamps are u32, so when they wrap every mark is reset (a
/// stale stamp never equals a new one).
pub fn next_stamp(newest: &mut u32, marks: &mut [Crossing]) -> u32 {
    *newest = newest.wrapping_add(1);
    if *newest == 0 {
        marks.iter_mut().for_each(|m| m.stamp = 0);
        *newest = 1;
    }
    *newest
}

/// Crosses `facts` (at most 32) with the semi-contexts indexed in `index` (by [`slot`]):
/// stamps each touched one in `marks` with `stamp` and the facts it holds; with `touched`,
/// appends the touched ones there.
pub fn cross(
    index: &[Vec<u32>],
    facts: &[u64],
    stamp: u32,
    marks: &mut [Crossing],
    mut touched: Option<&mut Vec<u32>>,
) {
    for (j, f) in facts.iter().take(32).enumerate() {
        for &s in index
            .get(slot(*f) as usize)
            .map_or(&[][..], |l| l.as_slice())
        {
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
}

/// A 64-bit summary of a set of fact slots: one bit for each of the first 6 slots (the
/// sensor facts of 3 bits), the others hashed onto the other 58. A set can hold another
/// only if its signature covers the other's.
pub fn signature(slots: impl IntoIterator<Item = u32>) -> u64 {
    slots.into_iter().fold(0, |sig, k| {
        let bit = if k < 6 {
            k
        } else {
            6 + ((u64::from(k).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) % 58) as u32
        };
        sig | 1 << bit
    })
}

/// A left semi-context in the index of highest facts, with its [`signature`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Keyed {
    pub id: u32,
    pub signature: u64,
}

/// The left semi-contexts all of whose facts are in `group` (sorted, at most its first 32
/// facts count), with the mask of their facts in it, in id order. Each left semi-context
/// is keyed by its highest fact (`keyed`), so only those whose key is in the group are
/// looked at, and only those whose signature the group's covers are checked.
pub fn full_left(
    keyed: &[Vec<Keyed>],
    left: &[LeftSemi],
    group: &[u64],
    out: &mut Vec<(u32, u32)>,
) {
    out.clear();
    let mut slots = [0u32; 32];
    let n = group.len().min(32);
    for (k, &f) in slots.iter_mut().zip(group) {
        *k = slot(f);
    }
    let slots = &slots[..n];
    let group_sig = signature(slots.iter().copied());
    for (j, &key) in slots.iter().enumerate() {
        for entry in keyed.get(key as usize).map_or(&[][..], |l| l.as_slice()) {
            if entry.signature & !group_sig != 0 {
                continue;
            }
            let s = entry.id;
            // Both ascending: walk the semi-context's facts through the group's first j+1.
            let mut mask = 0u32;
            let mut g = 0;
            let mut all = true;
            for &f in &left[s as usize].facts {
                while g <= j && slots[g] < f {
                    g += 1;
                }
                if g <= j && slots[g] == f {
                    mask |= 1 << g;
                    g += 1;
                } else {
                    all = false;
                    break;
                }
            }
            if all {
                out.push((s, mask));
            }
        }
    }
    out.sort_unstable();
}

/// Adds `id` to the index slot of each fact.
pub fn index_facts<T: Copy>(index: &mut Vec<Vec<T>>, facts: impl IntoIterator<Item = u32>, id: T) {
    for k in facts {
        let k = k as usize;
        if index.len() <= k {
            index.resize_with(k + 1, Vec::new);
        }
        index[k].push(id);
    }
}

/// A hasher for keys that are hashes already (the semi-contexts' tuple hashes).
#[derive(Debug, Clone, Copy, Default)]
pub struct Rehash(u64);

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
        self.0 = (i as u64)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(29);
    }
}

/// Semi-contexts by their tuple hash.
pub type SemiIds = HashMap<i64, u32, std::hash::BuildHasherDefault<Rehash>>;

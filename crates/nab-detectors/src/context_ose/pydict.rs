//! The iteration order of a CPython 2 `dict` with small non-negative integer keys and no
//! deletions. CAD OSE walks such a dict when it proposes new contexts, and the order of the
//! proposals numbers the contexts, which in turn breaks ties between equally active ones:
//! reproducing the published scores needs the same order. Open addressing with CPython 2's
//! probe sequence and growth rule (table ×4 when two thirds full).

/// Insert-only map from `u32` keys to `u32` values, iterated in CPython 2's slot order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PyDict {
    slots: Vec<Option<(u32, u32)>>,
    used: usize,
}

const MIN_SIZE: usize = 8;
const PERTURB_SHIFT: u32 = 5;

fn probe(slots: &[Option<(u32, u32)>], key: u32) -> (usize, bool) {
    let mask = slots.len() - 1;
    let hash = key as usize;
    let mut i = hash & mask;
    let mut perturb = hash;
    loop {
        match slots[i & mask] {
            None => return (i & mask, false),
            Some((k, _)) if k == key => return (i & mask, true),
            Some(_) => {
                i = (i << 2)
                    .wrapping_add(i)
                    .wrapping_add(perturb)
                    .wrapping_add(1);
                perturb >>= PERTURB_SHIFT;
            }
        }
    }
}

impl PyDict {
    /// Entries held.
    pub fn len(&self) -> usize {
        self.used
    }

    /// No entry.
    pub fn is_empty(&self) -> bool {
        self.used == 0
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: u32) -> Option<u32> {
        if self.slots.is_empty() {
            return None;
        }
        match probe(&self.slots, key) {
            (i, true) => self.slots[i].map(|(_, v)| v),
            _ => None,
        }
    }

    /// `dict.setdefault(key, value)`: the existing value, or `value` after inserting it.
    pub fn setdefault(&mut self, key: u32, value: u32) -> u32 {
        if self.slots.is_empty() {
            self.slots = vec![None; MIN_SIZE];
        }
        let (i, found) = probe(&self.slots, key);
        if found {
            return self.slots[i].map_or(value, |(_, v)| v);
        }
        self.slots[i] = Some((key, value));
        self.used += 1;
        if self.used * 3 >= self.slots.len() * 2 {
            let min_used = if self.used > 50_000 { 2 } else { 4 } * self.used;
            let mut size = MIN_SIZE;
            while size <= min_used {
                size <<= 1;
            }
            let old = std::mem::replace(&mut self.slots, vec![None; size]);
            for (k, v) in old.into_iter().flatten() {
                let (j, _) = probe(&self.slots, k);
                self.slots[j] = Some((k, v));
            }
        }
        value
    }

    /// The entries in CPython 2's iteration order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.slots.iter().flatten().copied()
    }

    /// Bytes held by the table.
    pub fn bytes(&self) -> usize {
        self.slots.len() * std::mem::size_of::<Option<(u32, u32)>>()
    }
}

/// CPython 2's hash of a tuple of non-negative integers below 2^63 (64-bit build).
pub fn tuple_hash(items: &[u64]) -> i64 {
    let mut x: i64 = 0x345678;
    let mut mult: i64 = 1_000_003;
    let mut len = items.len() as i64;
    for &y in items {
        len -= 1;
        x = (x ^ y as i64).wrapping_mul(mult);
        mult = mult.wrapping_add(82_520 + len + len);
    }
    x = x.wrapping_add(97_531);
    if x == -1 { -2 } else { x }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_keys_iterate_in_order_and_growth_keeps_all() {
        let mut d = PyDict::default();
        for k in (0..100u32).rev() {
            assert_eq!(d.setdefault(k, k * 2), k * 2);
        }
        assert_eq!(d.setdefault(5, 0), 10);
        let keys: Vec<u32> = d.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn colliding_keys_follow_the_probe_sequence() {
        // Table of 8: 11 collides with 3 at slot 3; the probe goes to 5·3 + 11 + 1 = 27
        // (slot 3 again), then with perturb 11 >> 5 = 0 to 5·27 + 1 = 136, slot 0.
        let mut d = PyDict::default();
        d.setdefault(3, 0);
        d.setdefault(11, 1);
        let keys: Vec<u32> = d.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, vec![11, 3]);
    }

    #[test]
    fn tuple_hash_matches_cpython2() {
        // CPython 2.7, 64-bit: hash(()) == 3527539, hash((1,)) == 3430019387558.
        assert_eq!(tuple_hash(&[]), 3_527_539);
        assert_eq!(tuple_hash(&[1]), 3_430_019_387_558);
    }
}

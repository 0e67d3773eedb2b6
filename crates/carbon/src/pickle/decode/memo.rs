//! The pickle memo, bounded by the number of PUT opcodes rather than by the indices they name.

use std::collections::HashMap;

use super::Value;

/// Memo keys written in order (as every pickler does) live in a vector; a key far beyond the
/// number of PUTs seen so far (such as `LONG_BINPUT 4000000000`) goes to a map instead, so no
/// index can make the decoder allocate more than a few slots per PUT opcode.
#[derive(Debug, Default)]
pub(crate) struct Memo {
    dense: Vec<Option<Value>>,
    sparse: HashMap<u64, Value>,
    puts: usize,
    /// Distinct keys stored: `len(memo)` in Python, the key MEMOIZE uses.
    count: usize,
}

impl Memo {
    pub(crate) fn clear(&mut self) {
        self.dense.clear();
        self.sparse.clear();
        self.puts = 0;
        self.count = 0;
    }

    pub(crate) fn release_large(&mut self, max: usize) {
        if self.dense.capacity() > max {
            self.dense = Vec::new();
        }
        if self.sparse.capacity() > max {
            self.sparse = HashMap::new();
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.count
    }

    #[inline]
    pub(crate) fn put(&mut self, key: u64, value: Value) {
        let dense_limit = self.puts.saturating_mul(2).saturating_add(64);
        self.puts += 1;
        let dense_index = usize::try_from(key)
            .ok()
            .filter(|&i| i < self.dense.len() || i < dense_limit);
        if let Some(index) = dense_index {
            if index >= self.dense.len() {
                self.dense.resize(index + 1, None);
            }
            if let Some(slot) = self.dense.get_mut(index) {
                let was_empty = slot.is_none();
                *slot = Some(value);
                // A key first stored sparse moves here once the vector reaches it.
                let moved =
                    was_empty && !self.sparse.is_empty() && self.sparse.remove(&key).is_some();
                if was_empty && !moved {
                    self.count += 1;
                }
            }
            return;
        }
        if self.sparse.insert(key, value).is_none() {
            self.count += 1;
        }
    }

    #[inline]
    pub(crate) fn get(&self, key: u64) -> Option<Value> {
        let dense = usize::try_from(key)
            .ok()
            .and_then(|i| self.dense.get(i))
            .copied()
            .flatten();
        dense.or_else(|| self.sparse.get(&key).copied())
    }
}

//! Stack, MARK and memo operations and the container builders: where nesting depth is limited
//! and lists are sealed once placed in another container.

use super::{Decoder, ListRec, MAX_HEIGHT, Value};
use crate::pickle::PickleError;

impl Decoder {
    pub(super) fn push(&mut self, v: Value) {
        self.stack.push(v);
    }

    pub(super) fn fence(&self) -> usize {
        self.marks.last().copied().unwrap_or(0)
    }

    pub(super) fn top(&self, opcode: &'static str, at: usize) -> Result<Value, PickleError> {
        match self.stack.last() {
            Some(&v) if self.stack.len() > self.fence() => Ok(v),
            _ => Err(PickleError::StackUnderflow { opcode, offset: at }),
        }
    }

    pub(super) fn pop_mark(
        &mut self,
        opcode: &'static str,
        at: usize,
    ) -> Result<usize, PickleError> {
        self.marks
            .pop()
            .ok_or(PickleError::NoMark { opcode, offset: at })
    }

    /// Start index of the top `k` stack values, all above the innermost MARK.
    pub(super) fn top_k(
        &self,
        k: usize,
        opcode: &'static str,
        at: usize,
    ) -> Result<usize, PickleError> {
        match self.stack.len().checked_sub(k) {
            Some(from) if from >= self.fence() => Ok(from),
            _ => Err(PickleError::StackUnderflow { opcode, offset: at }),
        }
    }

    /// Height of a value placed into a container, sealing it if it is a list.
    pub(super) fn enclose(&mut self, v: Value) -> u8 {
        match v {
            Value::Tuple { height, .. } => height,
            Value::List(i) => match self.lists.get_mut(i as usize) {
                Some(list) => {
                    list.sealed = true;
                    list.height
                }
                None => MAX_HEIGHT,
            },
            _ => 0,
        }
    }

    /// Height of a container holding `stack[from..]`, sealing any lists among them.
    pub(super) fn enclose_from(
        &mut self,
        from: usize,
        opcode: &'static str,
        at: usize,
    ) -> Result<u8, PickleError> {
        let mut inner = 0;
        for i in from..self.stack.len() {
            if let Some(&v) = self.stack.get(i) {
                inner = inner.max(self.enclose(v));
            }
        }
        if inner >= MAX_HEIGHT {
            return Err(PickleError::TooDeep { opcode, offset: at });
        }
        Ok(inner + 1)
    }

    /// Replaces `stack[from..]` by a tuple of those values.
    pub(super) fn make_tuple(
        &mut self,
        from: usize,
        opcode: &'static str,
        at: usize,
    ) -> Result<(), PickleError> {
        let height = self.enclose_from(from, opcode, at)?;
        let start = self.tuple_items.len() as u32;
        let len = self.stack.len().saturating_sub(from) as u32;
        self.tuple_items
            .extend_from_slice(self.stack.get(from..).unwrap_or_default());
        self.stack.truncate(from);
        self.push(Value::Tuple { start, len, height });
        Ok(())
    }

    /// TUPLE2, the hottest opcode: [`make_tuple`](Self::make_tuple) without the loop.
    pub(super) fn make_pair(&mut self, at: usize) -> Result<(), PickleError> {
        let from = self.top_k(2, "TUPLE2", at)?;
        let (Some(&a), Some(&b)) = (self.stack.get(from), self.stack.get(from + 1)) else {
            return Err(PickleError::StackUnderflow {
                opcode: "TUPLE2",
                offset: at,
            });
        };
        let inner = self.enclose(a).max(self.enclose(b));
        if inner >= MAX_HEIGHT {
            return Err(PickleError::TooDeep {
                opcode: "TUPLE2",
                offset: at,
            });
        }
        let start = self.tuple_items.len() as u32;
        self.tuple_items.push(a);
        self.tuple_items.push(b);
        self.stack.truncate(from);
        self.push(Value::Tuple {
            start,
            len: 2,
            height: inner + 1,
        });
        Ok(())
    }

    /// Replaces `stack[from..]` by a new list of those values.
    pub(super) fn make_list(
        &mut self,
        from: usize,
        opcode: &'static str,
        at: usize,
    ) -> Result<(), PickleError> {
        let height = if from == self.stack.len() {
            1
        } else {
            self.enclose_from(from, opcode, at)?
        };
        let mut items = self.spare_vecs.pop().unwrap_or_default();
        items.extend_from_slice(self.stack.get(from..).unwrap_or_default());
        self.stack.truncate(from);
        let index = self.lists.len() as u32;
        self.lists.push(ListRec {
            items,
            height,
            sealed: false,
        });
        self.push(Value::List(index));
        Ok(())
    }

    /// Moves `stack[from..]` into the list at `stack[from - 1]`.
    pub(super) fn append_from(
        &mut self,
        from: usize,
        opcode: &'static str,
        at: usize,
    ) -> Result<(), PickleError> {
        if from >= self.stack.len() {
            return Ok(()); // nothing to append: Python does not even look at the target
        }
        let target = match from.checked_sub(1).and_then(|i| self.stack.get(i)) {
            Some(&v) => v,
            None => return Err(PickleError::StackUnderflow { opcode, offset: at }),
        };
        let Value::List(index) = target else {
            return Err(PickleError::NotAList {
                opcode,
                offset: at,
                found: target.kind(),
            });
        };
        let height = self.enclose_from(from, opcode, at)?;
        let Some(list) = self.lists.get_mut(index as usize) else {
            return Err(PickleError::NotAList {
                opcode,
                offset: at,
                found: "a missing list",
            });
        };
        if list.sealed {
            return Err(PickleError::SealedList { opcode, offset: at });
        }
        list.height = list.height.max(height);
        list.items
            .extend_from_slice(self.stack.get(from..).unwrap_or_default());
        self.stack.truncate(from);
        Ok(())
    }

    pub(super) fn push_str(&mut self, start: usize, len: usize) {
        // execute() refuses payloads over u32::MAX / 4 bytes, so offsets into it fit.
        self.push(Value::Str {
            start: start as u32,
            len: len as u32,
        });
    }

    /// Pushes text produced into scratch since `start`.
    pub(super) fn push_owned(&mut self, start: usize) {
        let len = self.scratch.len().saturating_sub(start);
        self.push(Value::Owned {
            start: start as u32,
            len: len as u32,
        });
    }

    pub(super) fn memo_put(
        &mut self,
        key: u64,
        opcode: &'static str,
        at: usize,
    ) -> Result<(), PickleError> {
        let v = self.top(opcode, at)?;
        self.memo.put(key, v);
        Ok(())
    }

    pub(super) fn memo_get(
        &mut self,
        key: u64,
        opcode: &'static str,
        at: usize,
    ) -> Result<(), PickleError> {
        let v = self.memo.get(key).ok_or(PickleError::MemoMissing {
            opcode,
            offset: at,
            key,
        })?;
        self.push(v);
        Ok(())
    }
}

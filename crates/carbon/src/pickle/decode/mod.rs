//! The pickle machine: an iterative interpreter of the data-only opcodes, building values in
//! flat arenas so that nothing recurses, nothing is copied on memo GET, and memory stays
//! proportional to the frame.

mod arena;
mod execute;
mod memo;
mod reader;

use super::PickleError;
use crate::pynum;
use memo::Memo;

/// Deepest container allowed: top-level list (3) → item (2) → datapoint (1) → scalars.
const MAX_HEIGHT: u8 = 3;

/// Buffer capacity (in elements) kept between frames: ample for carbon-relay's 500-point frames
/// (about 2000 tuple slots); larger buffers are released after each frame so that one big or
/// hostile frame does not pin memory for the life of a connection.
const RETAIN_VALUES: usize = 8192;

/// Spare list buffers kept for reuse.
const SPARE_VECS: usize = 4;

/// One unpickled value. Containers are indices into the decoder's arenas, so copying a value
/// (as memo GET does) is O(1) whatever its size.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Value {
    /// An int, bool or float, converted as Python's `float()` would.
    Num(f64),
    /// A scalar Python's `float()` refuses: `None`, or an int beyond the float range.
    NotNum,
    /// Text or bytes borrowed from the payload: `payload[start..start + len]`.
    Str { start: u32, len: u32 },
    /// Unescaped text in the decoder's scratch buffer.
    Owned { start: u32, len: u32 },
    /// A tuple: `tuple_items[start..start + len]`; `height` = nesting depth (1 = of scalars).
    Tuple { start: u32, len: u32, height: u8 },
    /// A list: index into `lists`.
    List(u32),
}

impl Value {
    fn kind(self) -> &'static str {
        match self {
            Value::Num(_) => "a number",
            Value::NotNum => "None or an out-of-range int",
            Value::Str { .. } | Value::Owned { .. } => "a string",
            Value::Tuple { .. } => "a tuple",
            Value::List(_) => "a list",
        }
    }

    fn is_container(self) -> bool {
        matches!(self, Value::Tuple { .. } | Value::List(_))
    }
}

#[derive(Debug, Default)]
struct ListRec {
    items: Vec<Value>,
    height: u8,
    /// Set once the list is inside another container; it may not change after that.
    sealed: bool,
}

/// Counts for one decoded frame.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FrameStats {
    /// Points delivered to the visitor.
    pub points: usize,
    /// Items skipped because the name is not UTF-8 text or the timestamp or value cannot be
    /// converted to a float (carbon skips these too and keeps the rest of the frame).
    pub invalid_points: usize,
    /// Items skipped because the value is NaN (carbon drops NaN values on receipt).
    pub nan_values: usize,
}

/// A reusable pickle decoder. Keeping one per connection reuses its buffers from frame to
/// frame; [`decode_frame`](super::decode_frame) makes a fresh one per call.
#[derive(Debug, Default)]
pub struct Decoder {
    stack: Vec<Value>,
    /// Stack lengths at each open MARK.
    marks: Vec<usize>,
    tuple_items: Vec<Value>,
    lists: Vec<ListRec>,
    spare_vecs: Vec<Vec<Value>>,
    memo: Memo,
    scratch: Vec<u8>,
}

impl Decoder {
    /// A decoder with empty buffers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Decodes one frame payload (without its length prefix) and, only if the whole frame is
    /// valid, calls `visit(name, timestamp, value)` for each point in order. Returns the
    /// counts, or why the frame was refused (then nothing was visited).
    pub fn decode(
        &mut self,
        payload: &[u8],
        mut visit: impl FnMut(&str, f64, f64),
    ) -> Result<FrameStats, PickleError> {
        self.reset();
        let result = self.execute(payload).and_then(|(root, stop)| {
            let items = self.check_shape(root, stop)?;
            Ok(self.emit(items, payload, &mut visit))
        });
        self.release_large();
        result
    }

    fn reset(&mut self) {
        self.stack.clear();
        self.marks.clear();
        self.tuple_items.clear();
        for mut list in self.lists.drain(..) {
            if list.items.capacity() > 0 && list.items.capacity() <= RETAIN_VALUES {
                list.items.clear();
                self.spare_vecs.push(list.items);
            }
        }
        self.spare_vecs.truncate(SPARE_VECS);
        self.memo.clear();
        self.scratch.clear();
    }

    fn release_large(&mut self) {
        fn shrink<T>(v: &mut Vec<T>, max: usize) {
            if v.capacity() > max {
                *v = Vec::new();
            }
        }
        shrink(&mut self.stack, RETAIN_VALUES);
        shrink(&mut self.marks, RETAIN_VALUES);
        shrink(&mut self.tuple_items, RETAIN_VALUES);
        shrink(&mut self.lists, RETAIN_VALUES / 8);
        shrink(&mut self.scratch, RETAIN_VALUES);
        self.memo.release_large(RETAIN_VALUES);
    }

    /// Elements of a tuple or list.
    fn elements(&self, v: Value) -> Option<&[Value]> {
        match v {
            Value::Tuple { start, len, .. } => {
                let start = start as usize;
                self.tuple_items.get(start..start + len as usize)
            }
            Value::List(i) => self.lists.get(i as usize).map(|l| l.items.as_slice()),
            _ => None,
        }
    }

    /// Checks the whole frame is carbon's shape before any point is delivered; returns the
    /// top-level list's items.
    fn check_shape(&self, root: Value, stop: usize) -> Result<&[Value], PickleError> {
        let shape = |reason: String| PickleError::BadShape {
            offset: stop,
            reason,
        };
        let Value::List(_) = root else {
            return Err(shape(format!(
                "the top-level object is {}, not a list",
                root.kind()
            )));
        };
        // Why `v`, item `i` (`part` "") or its datapoint (`part` ": the datapoint"), is not a
        // pair: a tuple (or list) of `holds`. Only called on the way out.
        let not_a_pair = |v: Value, i: usize, part: &str, holds: &str| match self.elements(v) {
            Some(elements) => format!("item {i}{part} has {} elements, expected 2", elements.len()),
            None => format!("item {i}{part} is {}, not a {holds} tuple", v.kind()),
        };
        let items = self.elements(root).unwrap_or_default();
        for (i, &item) in items.iter().enumerate() {
            let Some(&[name, datapoint]) = self.elements(item) else {
                return Err(shape(not_a_pair(item, i, "", "(name, (timestamp, value))")));
            };
            if name.is_container() {
                return Err(shape(format!("item {i}: the name is {}", name.kind())));
            }
            let Some(&[ts, value]) = self.elements(datapoint) else {
                let holds = "(timestamp, value)";
                return Err(shape(not_a_pair(datapoint, i, ": the datapoint", holds)));
            };
            if ts.is_container() || value.is_container() {
                return Err(shape(format!(
                    "item {i}: the timestamp or value is a container"
                )));
            }
        }
        Ok(items)
    }

    fn string_bytes<'p>(&'p self, v: Value, payload: &'p [u8]) -> Option<&'p [u8]> {
        let (src, start, len) = match v {
            Value::Str { start, len } => (payload, start, len),
            Value::Owned { start, len } => (self.scratch.as_slice(), start, len),
            _ => return None,
        };
        let start = start as usize;
        src.get(start..start + len as usize)
    }

    /// Python `float(v)`, `None` where Python raises.
    fn number(&self, v: Value, payload: &[u8]) -> Option<f64> {
        match v {
            Value::Num(f) => Some(f),
            _ => pynum::parse_float(self.string_bytes(v, payload)?),
        }
    }

    fn emit(
        &self,
        items: &[Value],
        payload: &[u8],
        visit: &mut impl FnMut(&str, f64, f64),
    ) -> FrameStats {
        let mut stats = FrameStats::default();
        for &item in items {
            let point = self.elements(item).and_then(|parts| {
                let &[name, datapoint] = parts else {
                    return None;
                };
                let &[ts, value] = self.elements(datapoint)? else {
                    return None;
                };
                let name = std::str::from_utf8(self.string_bytes(name, payload)?).ok()?;
                Some((
                    name,
                    self.number(ts, payload)?,
                    self.number(value, payload)?,
                ))
            });
            match point {
                Some((_, _, value)) if value.is_nan() => stats.nan_values += 1,
                Some((name, ts, value)) => {
                    visit(name, ts, value);
                    stats.points += 1;
                }
                None => stats.invalid_points += 1,
            }
        }
        stats
    }
}

//! Carbon's plaintext protocol: one `name value timestamp` line per datapoint, `\n`-terminated.
//!
//! Carbon parses a line with `metric, value, timestamp = line.strip().split()` and `float()`
//! on the numbers, and drops NaN values; [`parse_line`] does the same, naming what was wrong.

use bytes::{Buf, BytesMut};

use crate::pynum;

/// Default longest line accepted by [`LineSplitter`], newline excluded.
pub const DEFAULT_MAX_LINE: usize = 64 * 1024;

/// Longest excerpt of a bad field quoted in an error.
const EXCERPT: usize = 64;

/// Why a line is not a datapoint. Offsets are byte offsets within the line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LineError {
    /// The line is empty or only whitespace.
    #[error("empty line")]
    Empty,
    /// Not exactly three whitespace-separated fields.
    #[error("expected 3 fields (name value timestamp), found {found}")]
    FieldCount {
        /// Fields found.
        found: usize,
    },
    /// The name (first field) is not UTF-8.
    #[error("metric name at byte {offset} is not UTF-8")]
    NonUtf8Name {
        /// Offset of the name.
        offset: usize,
    },
    /// The value (second field) is not a number Python's `float()` accepts.
    #[error("value {text:?} at byte {offset} is not a number")]
    BadValue {
        /// Offset of the field.
        offset: usize,
        /// The field (lossily decoded, cut to 64 bytes).
        text: String,
    },
    /// The timestamp (third field) is not a number Python's `float()` accepts.
    #[error("timestamp {text:?} at byte {offset} is not a number")]
    BadTimestamp {
        /// Offset of the field.
        offset: usize,
        /// The field (lossily decoded, cut to 64 bytes).
        text: String,
    },
    /// The value is NaN; carbon drops such datapoints, so callers count rather than store them.
    #[error("value at byte {offset} is NaN (carbon drops NaN values)")]
    NanValue {
        /// Offset of the value.
        offset: usize,
    },
    /// A line longer than the splitter's limit; its bytes were discarded up to the next newline.
    #[error("line longer than {max} bytes, discarded")]
    TooLong {
        /// The limit.
        max: usize,
    },
}

fn excerpt(field: &[u8]) -> String {
    String::from_utf8_lossy(field.get(..EXCERPT).unwrap_or(field)).into_owned()
}

/// Parses one line (with or without its trailing `\n` or `\r\n`) into
/// `(name, value, timestamp)`. Fields are separated by any run of whitespace; the timestamp is
/// returned as sent (carbon maps `-1` to "now" and truncates to whole seconds downstream).
pub fn parse_line(line: &[u8]) -> Result<(&str, f64, f64), LineError> {
    let mut fields = Fields { line, pos: 0 };
    let Some((name_at, name)) = fields.next() else {
        return Err(LineError::Empty);
    };
    let (value, ts) = match (fields.next(), fields.next()) {
        (Some(v), Some(t)) => match fields.count() {
            0 => (v, t),
            extra => return Err(LineError::FieldCount { found: 3 + extra }),
        },
        (Some(_), None) => return Err(LineError::FieldCount { found: 2 }),
        (None, _) => return Err(LineError::FieldCount { found: 1 }),
    };
    let name = std::str::from_utf8(name).map_err(|_| LineError::NonUtf8Name { offset: name_at })?;
    let value_f = pynum::parse_float(value.1).ok_or_else(|| LineError::BadValue {
        offset: value.0,
        text: excerpt(value.1),
    })?;
    let ts_f = pynum::parse_float(ts.1).ok_or_else(|| LineError::BadTimestamp {
        offset: ts.0,
        text: excerpt(ts.1),
    })?;
    if value_f.is_nan() {
        return Err(LineError::NanValue { offset: value.0 });
    }
    Ok((name, value_f, ts_f))
}

/// Whitespace-separated fields of a line, with their offsets.
struct Fields<'a> {
    line: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for Fields<'a> {
    type Item = (usize, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.line.get(self.pos..)?;
        let start = self.pos + rest.iter().position(|&b| !pynum::is_py_space(b))?;
        let field = self.line.get(start..)?;
        let len = field
            .iter()
            .position(|&b| pynum::is_py_space(b))
            .unwrap_or(field.len());
        self.pos = start + len;
        Some((start, field.get(..len)?))
    }
}

/// Splits complete lines off the front of a read buffer, refusing lines longer than a limit
/// without buffering them: their bytes are dropped as they arrive, up to the next newline.
///
/// ```
/// use am_carbon::plaintext::LineSplitter;
/// use bytes::BytesMut;
///
/// let mut lines = LineSplitter::default();
/// let mut buf = BytesMut::from(&b"a 1 2\nb 3"[..]);
/// assert_eq!(&lines.next_line(&mut buf).unwrap().unwrap()[..], b"a 1 2");
/// assert_eq!(lines.next_line(&mut buf).unwrap(), None); // "b 3" waits for its newline
/// ```
#[derive(Debug, Clone)]
pub struct LineSplitter {
    max_line: usize,
    /// Bytes at the front of the buffer already known to hold no newline.
    scanned: usize,
    /// Dropping the rest of an over-long line.
    discarding: bool,
}

impl Default for LineSplitter {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_LINE)
    }
}

impl LineSplitter {
    /// A splitter refusing lines longer than `max_line` bytes (newline excluded).
    pub fn new(max_line: usize) -> Self {
        Self {
            max_line,
            scanned: 0,
            discarding: false,
        }
    }

    /// The line length limit.
    pub fn max_line(&self) -> usize {
        self.max_line
    }

    /// The next complete line, without its `\n` (a `\r` before it is kept; [`parse_line`]
    /// ignores it). `Ok(None)` when no complete line is buffered. `Err(TooLong)` once per
    /// over-long line, whose bytes are then dropped; call again to continue. Bytes after the
    /// last newline at end of stream are an incomplete line, which carbon ignores too.
    pub fn next_line(&mut self, buf: &mut BytesMut) -> Result<Option<BytesMut>, LineError> {
        if self.discarding {
            match buf.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    buf.advance(i + 1);
                    self.discarding = false;
                }
                None => {
                    buf.clear();
                    return Ok(None);
                }
            }
        }
        let window = buf
            .get(..buf.len().min(self.max_line.saturating_add(1)))
            .unwrap_or_default();
        let from = self.scanned.min(window.len());
        let newline = window
            .get(from..)
            .and_then(|w| w.iter().position(|&b| b == b'\n'));
        if let Some(i) = newline {
            let mut line = buf.split_to(from + i + 1);
            line.truncate(from + i);
            self.scanned = 0;
            return Ok(Some(line));
        }
        if buf.len() > self.max_line {
            self.scanned = 0;
            let rest = buf.get(self.max_line..).unwrap_or_default();
            match rest.iter().position(|&b| b == b'\n') {
                Some(i) => buf.advance(self.max_line + i + 1),
                None => {
                    buf.clear();
                    self.discarding = true;
                }
            }
            return Err(LineError::TooLong { max: self.max_line });
        }
        self.scanned = buf.len();
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_long_lines_are_skipped_once() {
        let mut s = LineSplitter::new(4);
        let mut buf = BytesMut::from(&b"abcdefgh"[..]);
        assert_eq!(s.next_line(&mut buf), Err(LineError::TooLong { max: 4 }));
        assert!(buf.is_empty());
        buf.extend_from_slice(b"ij\nok\n");
        assert_eq!(s.next_line(&mut buf).unwrap().as_deref(), Some(&b"ok"[..]));
        assert_eq!(s.next_line(&mut buf), Ok(None));
        let mut buf = BytesMut::from(&b"abcd\nabcde\nx\n"[..]);
        assert_eq!(
            s.next_line(&mut buf).unwrap().as_deref(),
            Some(&b"abcd"[..])
        );
        assert_eq!(s.next_line(&mut buf), Err(LineError::TooLong { max: 4 }));
        assert_eq!(s.next_line(&mut buf).unwrap().as_deref(), Some(&b"x"[..]));
    }
}

//! Reading lines: [`parse_line`] and [`LineSplitter`].

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
    match parse_common(line) {
        Some(point) => Ok(point),
        None => parse_general(line),
    }
}

/// The shape nearly every sender emits, `name value timestamp` with single spaces, plain
/// decimal numbers and an optional `\r`, parsed in one pass; `None` for anything else, which
/// [`parse_general`] then handles (and gives the same answer for these lines too).
fn parse_common(line: &[u8]) -> Option<(&str, f64, f64)> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let sp1 = memchr::memchr(b' ', line)?;
    let (name, rest) = (line.get(..sp1)?, line.get(sp1 + 1..)?);
    let sp2 = memchr::memchr(b' ', rest)?;
    // Numbers of digits and one dot only, so neither holds whitespace nor is NaN.
    let value = pynum::parse_plain_decimal(rest.get(..sp2)?)?;
    let ts = pynum::parse_plain_decimal(rest.get(sp2 + 1..)?)?;
    // No whitespace in the name (a tab before the first space would end it), and ASCII, so
    // valid UTF-8; a name with other bytes takes the general path.
    let odd = name
        .iter()
        .fold(false, |odd, &b| odd | (b >= 0x80) | pynum::is_py_space(b));
    if name.is_empty() || odd {
        return None;
    }
    let name = std::str::from_utf8(name).ok()?;
    Some((name, value, ts))
}

/// [`parse_line`] for any line: runs of any whitespace, Python's whole float grammar, and an
/// error naming what is wrong.
fn parse_general(line: &[u8]) -> Result<(&str, f64, f64), LineError> {
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

    /// Calls `f` with every complete line buffered, in order, without its `\n` (as
    /// [`next_line`](Self::next_line) would return them one by one, and with the same
    /// `Err(TooLong)` for an over-long line), then removes them from `buf`. Lines are borrowed
    /// from the buffer rather than split off, which is what makes this the faster way.
    pub fn for_each_line(
        &mut self,
        buf: &mut BytesMut,
        mut f: impl FnMut(Result<&[u8], LineError>),
    ) {
        let mut pos = 0;
        loop {
            let rest = buf.get(pos..).unwrap_or_default();
            if self.discarding {
                match memchr::memchr(b'\n', rest) {
                    Some(i) => {
                        pos += i + 1;
                        self.discarding = false;
                        continue;
                    }
                    None => {
                        pos = buf.len();
                        break;
                    }
                }
            }
            let window = rest.len().min(self.max_line.saturating_add(1));
            let from = self.scanned.min(window);
            let newline = rest
                .get(from..window)
                .and_then(|w| memchr::memchr(b'\n', w));
            if let Some(i) = newline {
                self.scanned = 0;
                pos += from + i + 1;
                f(Ok(rest.get(..from + i).unwrap_or_default()));
                continue;
            }
            if rest.len() > self.max_line {
                self.scanned = 0;
                let after = rest.get(self.max_line..).unwrap_or_default();
                match memchr::memchr(b'\n', after) {
                    Some(i) => pos += self.max_line + i + 1,
                    None => {
                        pos = buf.len();
                        self.discarding = true;
                    }
                }
                f(Err(LineError::TooLong { max: self.max_line }));
                continue;
            }
            self.scanned = rest.len();
            break;
        }
        buf.advance(pos);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The one-pass path answers only for lines the general parser reads the same way.
        #[test]
        fn common_shape_parses_like_the_general_path(line in "[a-c.;=\\-+0-9 \t\r\x1cé]{0,24}") {
            if let Some(fast) = parse_common(line.as_bytes()) {
                let general = parse_general(line.as_bytes());
                prop_assert_eq!(
                    general.map(|(n, v, t)| (n, v.to_bits(), t.to_bits())),
                    Ok((fast.0, fast.1.to_bits(), fast.2.to_bits()))
                );
            }
        }

        #[test]
        fn common_lines_take_the_fast_path(
            name in "[a-z0-9_.;=:-]{1,40}",
            value in -1e6f64..1e6,
            decimals in 0usize..6,
            ts in 0u32..2_000_000_000,
            crlf in any::<bool>(),
        ) {
            let line = format!("{name} {value:.decimals$} {ts}{}", if crlf { "\r" } else { "" });
            let fast = parse_common(line.as_bytes());
            prop_assert!(fast.is_some(), "{line:?}");
            prop_assert_eq!(parse_line(line.as_bytes()), parse_general(line.as_bytes()));
        }

        /// Lines delivered by `for_each_line` are those of `next_line`, however reads are cut.
        #[test]
        fn for_each_line_splits_like_next_line(
            stream in prop::collection::vec(prop::sample::select(&b"ab\n\n\r xyz"[..]), 0..200),
            cuts in prop::collection::vec(1usize..40, 1..12),
            max in 1usize..12,
        ) {
            let (mut one, mut all) = (LineSplitter::new(max), LineSplitter::new(max));
            let (mut buf1, mut buf2) = (BytesMut::new(), BytesMut::new());
            let (mut got1, mut got2) = (Vec::new(), Vec::new());
            let mut rest = &stream[..];
            let mut i = 0;
            while !rest.is_empty() {
                let n = cuts[i % cuts.len()].min(rest.len());
                i += 1;
                buf1.extend_from_slice(&rest[..n]);
                buf2.extend_from_slice(&rest[..n]);
                rest = &rest[n..];
                loop {
                    match one.next_line(&mut buf1) {
                        Ok(Some(line)) => got1.push(Ok(line.to_vec())),
                        Ok(None) => break,
                        Err(e) => got1.push(Err(e)),
                    }
                }
                all.for_each_line(&mut buf2, |l| got2.push(l.map(<[u8]>::to_vec)));
                prop_assert_eq!(&buf1[..], &buf2[..]);
            }
            prop_assert_eq!(got1, got2);
        }
    }

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

    #[test]
    fn odd_lines_take_the_general_path() {
        // A tab inside the name, doubled spaces, a trailing space, a non-ASCII name.
        assert_eq!(
            parse_line(b"a\tb 1 2"),
            Err(LineError::FieldCount { found: 4 })
        );
        assert_eq!(parse_line(b"a  1 2"), Ok(("a", 1.0, 2.0)));
        assert_eq!(parse_line(b"a 1 2 "), Ok(("a", 1.0, 2.0)));
        assert_eq!(parse_line(b" a 1 2"), Ok(("a", 1.0, 2.0)));
        assert_eq!(parse_line("é 1 2".as_bytes()), Ok(("é", 1.0, 2.0)));
        assert_eq!(
            parse_line(b"\xff 1 2"),
            Err(LineError::NonUtf8Name { offset: 0 })
        );
        assert_eq!(parse_line(b"a 1e3 2\r"), Ok(("a", 1000.0, 2.0)));
        assert_eq!(
            parse_line(b"a nan 2"),
            Err(LineError::NanValue { offset: 2 })
        );
        assert_eq!(parse_line(b"a 1 2\r\r"), Ok(("a", 1.0, 2.0)));
    }
}

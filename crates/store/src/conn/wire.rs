//! Reading RESP2 replies for the store's own bulk-read connections ([`super::bulk`]): the
//! length of a complete reply without building it, and the bulk strings of an `MGET` reply
//! borrowed from the read buffer.
//!
//! The `redis` crate copies every bulk string of a reply into its own `Vec` and builds a value
//! tree around them; a window read of 100k series is ~700k bulk strings per tick, and the
//! points are decoded from them once and dropped. Reading them where they lie took
//! `MODES=single bench/analysis` from 1.92M–1.94M to 2.13M–2.35M metrics/min on one Redis, and
//! the 3-node cluster's tick-to-carbon latency from 2.34 s to 1.95 s (README, issue 19).

use crate::Error;

/// Size and nesting bounds, so a confused peer cannot make us wait for or walk without limit.
const MAX_BULK: usize = 512 * 1024 * 1024;
const MAX_DEPTH: usize = 8;
/// The longest header line accepted (a type byte, a length or a message, CRLF).
const MAX_LINE: usize = 64 * 1024;

/// Finds the line at `*pos`: its type byte and the byte range of its body; moves `*pos` past
/// it. `Ok(None)` if the line is not complete yet.
fn line_at(buf: &[u8], pos: &mut usize) -> Result<Option<(u8, std::ops::Range<usize>)>, Error> {
    let rest = buf.get(*pos..).unwrap_or_default();
    let Some(end) = rest.iter().position(|&b| b == b'\n') else {
        if rest.len() > MAX_LINE {
            return Err(Error::Protocol("reply line longer than 64 KiB".into()));
        }
        return Ok(None);
    };
    // The shortest line is a type byte and CRLF.
    if end < 2 || rest.get(end - 1) != Some(&b'\r') {
        return Err(Error::Protocol("empty reply line or LF without CR".into()));
    }
    let kind = rest.first().copied().unwrap_or_default();
    let body = *pos + 1..*pos + end - 1;
    *pos += end + 1;
    Ok(Some((kind, body)))
}

/// A RESP integer (a length, a count or an integer reply).
fn parse_int(text: &[u8]) -> Result<i64, Error> {
    let (neg, digits) = match text.split_first() {
        Some((b'-', d)) => (true, d),
        _ => (false, text),
    };
    if digits.is_empty() || digits.len() > 18 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(Error::Protocol(format!(
            "bad integer {:?}",
            String::from_utf8_lossy(text)
        )));
    }
    let v = digits
        .iter()
        .fold(0i64, |v, d| v * 10 + i64::from(d - b'0'));
    Ok(if neg { -v } else { v })
}

/// The data range of a bulk string whose header said `text`, starting at `*pos`: `Ok(None)`
/// if incomplete, `Some(None)` for the null bulk string; moves `*pos` past it when complete.
fn bulk_at(
    buf: &[u8],
    pos: &mut usize,
    text: &[u8],
) -> Result<Option<Option<std::ops::Range<usize>>>, Error> {
    let n = parse_int(text)?;
    if n < 0 {
        return Ok(Some(None));
    }
    let n = usize::try_from(n).unwrap_or(usize::MAX);
    if n > MAX_BULK {
        return Err(Error::Protocol(format!("bulk reply of {n} bytes")));
    }
    let start = *pos;
    let Some(data) = buf.get(start..start + n + 2) else {
        return Ok(None);
    };
    if data.get(n..) != Some(b"\r\n".as_slice()) {
        return Err(Error::Protocol("bulk reply not terminated by CRLF".into()));
    }
    *pos += n + 2;
    Ok(Some(Some(start..start + n)))
}

/// The length of the complete reply starting at `buf[pos..]`, without building it; `Ok(None)`
/// if it is incomplete.
pub(crate) fn reply_len(buf: &[u8], pos: usize) -> Result<Option<usize>, Error> {
    let mut p = pos;
    Ok(skip_at(buf, &mut p, 0)?.then_some(p - pos))
}

/// Moves `*pos` past the reply starting there; `Ok(false)` if it is incomplete.
fn skip_at(buf: &[u8], pos: &mut usize, depth: usize) -> Result<bool, Error> {
    if depth > MAX_DEPTH {
        return Err(Error::Protocol("reply nested too deeply".into()));
    }
    let Some((kind, body)) = line_at(buf, pos)? else {
        return Ok(false);
    };
    let text = buf.get(body).unwrap_or_default();
    match kind {
        b'+' | b'-' => Ok(true),
        b':' => parse_int(text).map(|_| true),
        b'$' => Ok(bulk_at(buf, pos, text)?.is_some()),
        b'*' => {
            let n = parse_int(text)?;
            for _ in 0..n.max(0) {
                if !skip_at(buf, pos, depth + 1)? {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        other => Err(Error::Protocol(format!(
            "unexpected reply type byte 0x{other:02x}"
        ))),
    }
}

/// The simple-string or error text of a complete one-line reply (`+OK`, `-ERR ...`): `Ok`
/// for a simple string or integer, `Err(Error::Server)` for an error reply.
pub(crate) fn status(reply: &[u8]) -> Result<(), Error> {
    let mut pos = 0;
    match line_at(reply, &mut pos)? {
        Some((b'-', body)) => Err(Error::Server(
            String::from_utf8_lossy(reply.get(body).unwrap_or_default()).into_owned(),
        )),
        Some(_) => Ok(()),
        None => Err(Error::Protocol("incomplete reply".into())),
    }
}

/// The elements of a complete reply that is an array of bulk strings (as `MGET` answers),
/// borrowed from the reply's bytes, `None` for a null bulk string. An error reply is
/// [`Error::Server`]; any other shape a protocol error.
pub(crate) fn bulk_items(reply: &[u8]) -> Result<BulkItems<'_>, Error> {
    let mut pos = 0usize;
    let Some((kind, body)) = line_at(reply, &mut pos)? else {
        return Err(Error::Protocol("incomplete reply".into()));
    };
    let text = reply.get(body).unwrap_or_default();
    match kind {
        b'*' => Ok(BulkItems {
            buf: reply,
            pos,
            left: usize::try_from(parse_int(text)?).unwrap_or(0),
        }),
        b'-' => Err(Error::Server(String::from_utf8_lossy(text).into_owned())),
        other => Err(Error::Protocol(format!(
            "expected an array of bulk strings, got type byte 0x{other:02x}"
        ))),
    }
}

/// The bulk strings of an array reply; see [`bulk_items`].
#[derive(Debug)]
pub struct BulkItems<'a> {
    buf: &'a [u8],
    pos: usize,
    left: usize,
}

impl<'a> BulkItems<'a> {
    fn item(&mut self) -> Result<Option<&'a [u8]>, Error> {
        let Some((kind, body)) = line_at(self.buf, &mut self.pos)? else {
            return Err(Error::Protocol("incomplete array reply".into()));
        };
        if kind != b'$' {
            return Err(Error::Protocol(format!(
                "expected a bulk string, got type byte 0x{kind:02x}"
            )));
        }
        let text = self.buf.get(body).unwrap_or_default();
        match bulk_at(self.buf, &mut self.pos, text)? {
            Some(Some(range)) => Ok(self.buf.get(range)),
            Some(None) => Ok(None),
            None => Err(Error::Protocol("incomplete bulk string".into())),
        }
    }
}

impl<'a> Iterator for BulkItems<'a> {
    type Item = Result<Option<&'a [u8]>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let item = self.item();
        if item.is_err() {
            self.left = 0;
        }
        Some(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_complete_replies_only() {
        let buf = b"*3\r\n$3\r\nabc\r\n$-1\r\n$0\r\n\r\n:12\r\n+OK\r\n";
        assert_eq!(reply_len(buf, 0).unwrap(), Some(24));
        assert_eq!(reply_len(buf, 24).unwrap(), Some(5));
        assert_eq!(reply_len(buf, 29).unwrap(), Some(5));
        for cut in 0..24 {
            assert_eq!(reply_len(&buf[..cut], 0).unwrap(), None, "cut at {cut}");
        }
    }

    #[test]
    fn borrows_the_bulk_strings_of_an_array() {
        let buf = b"*3\r\n$3\r\nabc\r\n$-1\r\n$0\r\n\r\n";
        let items: Vec<Option<&[u8]>> = bulk_items(buf).unwrap().map(|i| i.unwrap()).collect();
        assert_eq!(items, vec![Some(&b"abc"[..]), None, Some(&b""[..])]);
        assert_eq!(bulk_items(b"*0\r\n").unwrap().count(), 0);
    }

    #[test]
    fn error_replies_are_server_errors() {
        match bulk_items(b"-WRONGTYPE no\r\n") {
            Err(Error::Server(m)) => assert_eq!(m, "WRONGTYPE no"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(status(b"-NOAUTH x\r\n"), Err(Error::Server(_))));
        assert!(status(b"+OK\r\n").is_ok());
    }

    #[test]
    fn refuses_garbage() {
        assert!(reply_len(b"?x\r\n", 0).is_err());
        assert!(reply_len(b"$3\r\nabcd\r\n", 0).is_err());
        assert!(reply_len(b"*1\n", 0).is_err());
        assert!(reply_len(b"$99999999999999999999\r\n", 0).is_err());
        assert!(reply_len(&[b'+'; 70 * 1024], 0).is_err());
        let deep = "*1\r\n".repeat(20);
        assert!(reply_len(deep.as_bytes(), 0).is_err());
        let mut items = bulk_items(b"*2\r\n:1\r\n$1\r\nx\r\n").unwrap();
        assert!(items.next().unwrap().is_err());
        assert!(items.next().is_none());
    }
}

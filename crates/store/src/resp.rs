//! A small RESP2 client: command encoding, incremental reply parsing and a connection.
//!
//! Written here rather than taken from a client crate because the collector's hot path encodes
//! hundreds of thousands of commands a second straight into one buffer and keeps many pipelines
//! in flight on one socket; a general client allocates per command and waits per pipeline.

use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::Error;

pub use crate::addr::RedisAddr;

/// One RESP2 reply.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `+OK` and friends.
    Simple(String),
    /// `-ERR ...`: the server refused the command.
    Error(String),
    /// `:123`.
    Int(i64),
    /// `$n` bulk string, `None` for the null bulk string.
    Bulk(Option<Vec<u8>>),
    /// `*n` array, `None` for the null array.
    Array(Option<Vec<Value>>),
}

impl Value {
    /// The server's error message, if this reply is an error.
    pub fn as_error(&self) -> Option<&str> {
        match self {
            Value::Error(e) => Some(e),
            _ => None,
        }
    }
}

/// Appends one command (an array of bulk strings) to `buf`.
pub fn push_cmd(buf: &mut BytesMut, args: &[&[u8]]) {
    push_array_header(buf, args.len());
    for a in args {
        push_bulk(buf, a);
    }
}

/// Appends `*n\r\n`.
pub fn push_array_header(buf: &mut BytesMut, n: usize) {
    buf.extend_from_slice(b"*");
    push_decimal(buf, n as u64);
    buf.extend_from_slice(b"\r\n");
}

/// Appends one bulk string `$len\r\n<bytes>\r\n`.
pub fn push_bulk(buf: &mut BytesMut, arg: &[u8]) {
    buf.extend_from_slice(b"$");
    push_decimal(buf, arg.len() as u64);
    buf.extend_from_slice(b"\r\n");
    buf.extend_from_slice(arg);
    buf.extend_from_slice(b"\r\n");
}

/// Appends a bulk string header for `len` bytes; the caller writes the bytes and `\r\n`.
pub fn push_bulk_header(buf: &mut BytesMut, len: usize) {
    buf.extend_from_slice(b"$");
    push_decimal(buf, len as u64);
    buf.extend_from_slice(b"\r\n");
}

/// Appends `v` in decimal without allocating.
pub fn push_decimal(buf: &mut BytesMut, mut v: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    buf.extend_from_slice(&tmp[i..]);
}

/// Length of `v` in decimal, for computing bulk lengths before writing.
pub fn decimal_len_i64(v: i64) -> usize {
    let mut n = if v < 0 { 2 } else { 1 };
    let mut u = v.unsigned_abs();
    while u >= 10 {
        u /= 10;
        n += 1;
    }
    n
}

/// Nesting and size bounds on replies, so a confused peer cannot make us allocate without limit.
const MAX_BULK: usize = 512 * 1024 * 1024;
const MAX_DEPTH: usize = 8;

/// Parses one complete reply from the front of `buf`, consuming it; `Ok(None)` if more bytes
/// are needed (nothing is consumed then).
pub fn parse_reply(buf: &mut BytesMut) -> Result<Option<Value>, Error> {
    let mut pos = 0usize;
    match parse_at(buf, &mut pos, 0)? {
        Some(v) => {
            buf.advance(pos);
            Ok(Some(v))
        }
        None => Ok(None),
    }
}

/// Parses the reply starting at `*pos` of `buf` and moves `*pos` past it; `Ok(None)` (with
/// `*pos` unchanged) if it is incomplete. For reading many replies from one buffer and
/// consuming them at once.
pub fn parse_reply_at(buf: &[u8], pos: &mut usize) -> Result<Option<Value>, Error> {
    // Integer replies (every APPEND) skip the general path.
    if buf.get(*pos) == Some(&b':') {
        let start = *pos + 1;
        let rest = buf.get(start..).unwrap_or_default();
        if let Some(end) = rest.iter().position(|&b| b == b'\r') {
            if rest.get(end + 1) == Some(&b'\n') {
                let v = parse_int(&rest[..end])?;
                *pos = start + end + 2;
                return Ok(Some(Value::Int(v)));
            }
            if end + 1 < rest.len() {
                return Err(Error::Protocol("CR without LF in an integer reply".into()));
            }
        }
        return Ok(None);
    }
    let mut p = *pos;
    let v = parse_at(buf, &mut p, 0)?;
    if v.is_some() {
        *pos = p;
    }
    Ok(v)
}

/// Finds the line at `pos`: its type byte and the byte range of its body.
fn line_at(buf: &[u8], pos: &mut usize) -> Result<Option<(u8, std::ops::Range<usize>)>, Error> {
    let rest = buf.get(*pos..).unwrap_or_default();
    let Some(end) = rest.iter().position(|&b| b == b'\n') else {
        if rest.len() > 64 * 1024 {
            return Err(Error::Protocol("reply line longer than 64 KiB".into()));
        }
        return Ok(None);
    };
    // The shortest line is a type byte and CRLF.
    if end < 2 || rest[end - 1] != b'\r' {
        return Err(Error::Protocol("empty reply line or LF without CR".into()));
    }
    let kind = rest[0];
    let body = *pos + 1..*pos + end - 1;
    *pos += end + 1;
    Ok(Some((kind, body)))
}

fn parse_int(text: &[u8]) -> Result<i64, Error> {
    let (neg, digits) = match text.split_first() {
        Some((b'-', d)) => (true, d),
        _ => (false, text),
    };
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(Error::Protocol(format!(
            "bad integer {:?}",
            String::from_utf8_lossy(text)
        )));
    }
    let mut v: i64 = 0;
    for d in digits {
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add(i64::from(d - b'0')))
            .ok_or_else(|| Error::Protocol("integer out of range".into()))?;
    }
    Ok(if neg { -v } else { v })
}

fn parse_at(buf: &[u8], pos: &mut usize, depth: usize) -> Result<Option<Value>, Error> {
    if depth > MAX_DEPTH {
        return Err(Error::Protocol("reply nested too deeply".into()));
    }
    let Some((kind, body)) = line_at(buf, pos)? else {
        return Ok(None);
    };
    let text = &buf[body];
    match kind {
        b'+' => Ok(Some(Value::Simple(
            String::from_utf8_lossy(text).into_owned(),
        ))),
        b'-' => Ok(Some(Value::Error(
            String::from_utf8_lossy(text).into_owned(),
        ))),
        b':' => Ok(Some(Value::Int(parse_int(text)?))),
        b'$' => Ok(bulk_at(buf, pos, text)?.map(|body| Value::Bulk(body.map(|r| buf[r].to_vec())))),
        b'*' => {
            let n = parse_int(text)?;
            if n < 0 {
                return Ok(Some(Value::Array(None)));
            }
            // Each element takes at least 3 bytes, so a count beyond what is buffered cannot
            // be complete yet; this bounds the Vec we reserve.
            let n = usize::try_from(n).unwrap_or(usize::MAX);
            let mut items = Vec::with_capacity(n.min(buf.len() / 3 + 1));
            for _ in 0..n {
                match parse_at(buf, pos, depth + 1)? {
                    Some(v) => items.push(v),
                    None => return Ok(None),
                }
            }
            Ok(Some(Value::Array(Some(items))))
        }
        other => Err(Error::Protocol(format!(
            "unexpected reply type byte 0x{other:02x}"
        ))),
    }
}

/// The data of a bulk reply whose header line said `text`, starting at `buf[*pos..]`:
/// `Ok(None)` if it is incomplete, `Some(None)` for the null bulk string, else the range of its
/// bytes; moves `*pos` past it when complete.
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
    if &data[n..] != b"\r\n" {
        return Err(Error::Protocol("bulk reply not terminated by CRLF".into()));
    }
    *pos += n + 2;
    Ok(Some(Some(start..start + n)))
}

/// The length of the complete reply starting at `buf[pos..]`, without building it; `Ok(None)`
/// if it is incomplete. Validates as [`parse_reply`] does.
pub fn reply_len(buf: &[u8], pos: usize) -> Result<Option<usize>, Error> {
    let mut p = pos;
    Ok(skip_at(buf, &mut p, 0)?.then_some(p - pos))
}

/// Moves `*pos` past the reply starting there; `Ok(false)` (with `*pos` unspecified) if it
/// is incomplete.
fn skip_at(buf: &[u8], pos: &mut usize, depth: usize) -> Result<bool, Error> {
    if depth > MAX_DEPTH {
        return Err(Error::Protocol("reply nested too deeply".into()));
    }
    let Some((kind, body)) = line_at(buf, pos)? else {
        return Ok(false);
    };
    let text = &buf[body];
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

/// The elements of a complete reply that is an array of bulk strings (as `MGET` answers),
/// borrowed from the reply's bytes: `None` for a null bulk string. An error reply becomes
/// [`Error::Server`]; any other shape is a protocol error.
pub fn bulk_items(reply: &[u8]) -> Result<BulkItems<'_>, Error> {
    let mut pos = 0usize;
    let Some((kind, body)) = line_at(reply, &mut pos)? else {
        return Err(Error::Protocol("incomplete reply".into()));
    };
    let text = &reply[body];
    match kind {
        b'*' => {
            let n = parse_int(text)?;
            Ok(BulkItems {
                buf: reply,
                pos,
                left: usize::try_from(n).unwrap_or(0),
            })
        }
        b'-' => Err(Error::Server(String::from_utf8_lossy(text).into_owned())),
        other => Err(Error::Protocol(format!(
            "expected an array of bulk strings, got type byte 0x{other:02x}"
        ))),
    }
}

/// Iterator over the bulk strings of an array reply; see [`bulk_items`].
#[derive(Debug)]
pub struct BulkItems<'a> {
    buf: &'a [u8],
    pos: usize,
    left: usize,
}

impl<'a> Iterator for BulkItems<'a> {
    type Item = Result<Option<&'a [u8]>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let item = (|| {
            let Some((kind, body)) = line_at(self.buf, &mut self.pos)? else {
                return Err(Error::Protocol("incomplete array reply".into()));
            };
            if kind != b'$' {
                return Err(Error::Protocol(format!(
                    "expected a bulk string, got type byte 0x{kind:02x}"
                )));
            }
            let n = parse_int(&self.buf[body])?;
            if n < 0 {
                return Ok(None);
            }
            let n = usize::try_from(n).unwrap_or(usize::MAX);
            let data = self
                .buf
                .get(self.pos..self.pos.saturating_add(n))
                .ok_or_else(|| Error::Protocol("incomplete bulk string".into()))?;
            self.pos += n + 2;
            Ok(Some(data))
        })();
        if item.is_err() {
            self.left = 0;
        }
        Some(item)
    }
}

/// A connection to one Redis server, for request/response use (reads, admin, tests).
#[derive(Debug)]
pub struct Conn {
    stream: TcpStream,
    rbuf: BytesMut,
    addr: RedisAddr,
}

impl Conn {
    /// Connects, authenticates and selects the database, within `timeout`.
    pub async fn connect(addr: &RedisAddr, timeout: Duration) -> Result<Conn, Error> {
        let stream =
            tokio::time::timeout(timeout, TcpStream::connect((addr.host.as_str(), addr.port)))
                .await
                .map_err(|_| Error::Timeout(format!("connecting to {addr}")))?
                .map_err(|e| Error::Io(format!("connecting to {addr}"), e))?;
        stream.set_nodelay(true).ok();
        let mut conn = Conn {
            stream,
            rbuf: BytesMut::with_capacity(64 * 1024),
            addr: addr.clone(),
        };
        if let Some(pw) = &addr.password {
            conn.cmd_ok(&[b"AUTH", pw.as_bytes()]).await?;
        }
        if addr.db != 0 {
            conn.cmd_ok(&[b"SELECT", addr.db.to_string().as_bytes()])
                .await?;
        }
        Ok(conn)
    }

    /// Gives up request/response use: the socket and any reply bytes already read, for a
    /// caller that pipelines on its own (the collector's sink).
    pub fn into_parts(self) -> (TcpStream, BytesMut) {
        (self.stream, self.rbuf)
    }

    /// The address this connection was made to.
    pub fn addr(&self) -> &RedisAddr {
        &self.addr
    }

    /// Sends one command and returns its reply (an error reply is returned, not raised).
    pub async fn cmd(&mut self, args: &[&[u8]]) -> Result<Value, Error> {
        let mut buf = BytesMut::new();
        push_cmd(&mut buf, args);
        let mut v = self.pipeline(&buf, 1).await?;
        v.pop()
            .ok_or_else(|| Error::Protocol("no reply to command".into()))
    }

    /// Sends one command and fails if the server answers with an error.
    pub async fn cmd_ok(&mut self, args: &[&[u8]]) -> Result<Value, Error> {
        let v = self.cmd(args).await?;
        if let Some(e) = v.as_error() {
            let name = String::from_utf8_lossy(args.first().copied().unwrap_or_default());
            return Err(Error::Server(format!("{name}: {e}")));
        }
        Ok(v)
    }

    /// Sends `n` already-encoded commands and hands each reply's raw bytes (one complete
    /// RESP reply) to `each` as soon as it has arrived, in order, without building [`Value`]s:
    /// for large replies decoded by the caller (series reads). Stops at the first error
    /// `each` returns, after reading the remaining replies so the connection stays usable.
    pub async fn pipeline_raw(
        &mut self,
        cmds: &[u8],
        n: usize,
        mut each: impl FnMut(&[u8]) -> Result<(), Error>,
    ) -> Result<(), Error> {
        self.send(cmds).await?;
        let mut done = 0usize;
        let mut failed: Option<Error> = None;
        while done < n {
            // Take every complete reply in the buffer, then consume them at once.
            let mut pos = 0usize;
            while done < n {
                let Some(len) = reply_len(&self.rbuf, pos)? else {
                    break;
                };
                if failed.is_none()
                    && let Err(e) = each(&self.rbuf[pos..pos + len])
                {
                    failed = Some(e);
                }
                pos += len;
                done += 1;
            }
            self.rbuf.advance(pos);
            if done == n {
                break;
            }
            // A reply larger than what is buffered: make room for it in one step.
            self.rbuf.reserve(64 * 1024);
            self.fill().await?;
        }
        failed.map_or(Ok(()), Err)
    }

    /// Writes already-encoded commands.
    async fn send(&mut self, cmds: &[u8]) -> Result<(), Error> {
        self.stream
            .write_all(cmds)
            .await
            .map_err(|e| Error::Io(format!("writing to {}", self.addr), e))
    }

    /// Reads what the socket has into the reply buffer; a closed connection is an error.
    async fn fill(&mut self) -> Result<(), Error> {
        let read = self
            .stream
            .read_buf(&mut self.rbuf)
            .await
            .map_err(|e| Error::Io(format!("reading from {}", self.addr), e))?;
        if read == 0 {
            return Err(Error::Io(
                format!("reading from {}", self.addr),
                std::io::ErrorKind::UnexpectedEof.into(),
            ));
        }
        Ok(())
    }

    /// Sends `n` already-encoded commands and reads their `n` replies.
    pub async fn pipeline(&mut self, cmds: &[u8], n: usize) -> Result<Vec<Value>, Error> {
        self.send(cmds).await?;
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            if let Some(v) = parse_reply(&mut self.rbuf)? {
                out.push(v);
                continue;
            }
            self.fill().await?;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_commands() {
        let mut b = BytesMut::new();
        push_cmd(&mut b, &[b"SET", b"k", b""]);
        assert_eq!(&b[..], b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n");
        for v in [0i64, 9, 10, -1, -10, i64::MIN, i64::MAX, 1_700_000_000] {
            assert_eq!(decimal_len_i64(v), v.to_string().len(), "{v}");
        }
    }

    #[test]
    fn parses_replies_incrementally() {
        let all = b"+OK\r\n-ERR no\r\n:42\r\n$3\r\nabc\r\n$-1\r\n*2\r\n:1\r\n$1\r\nx\r\n*-1\r\n";
        let want = vec![
            Value::Simple("OK".into()),
            Value::Error("ERR no".into()),
            Value::Int(42),
            Value::Bulk(Some(b"abc".to_vec())),
            Value::Bulk(None),
            Value::Array(Some(vec![Value::Int(1), Value::Bulk(Some(b"x".to_vec()))])),
            Value::Array(None),
        ];
        // Feed one byte at a time: every prefix must be "incomplete", never an error.
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for &byte in all.iter() {
            buf.extend_from_slice(&[byte]);
            while let Some(v) = parse_reply(&mut buf).unwrap() {
                got.push(v);
            }
        }
        assert_eq!(got, want);
        assert!(buf.is_empty());
    }

    #[test]
    fn reply_len_measures_complete_replies_only() {
        let all = b"+OK\r\n-ERR no\r\n:42\r\n$3\r\nabc\r\n$-1\r\n*2\r\n:1\r\n$1\r\nx\r\n*-1\r\n";
        let mut pos = 0usize;
        let mut lens = Vec::new();
        while let Some(n) = reply_len(all, pos).unwrap() {
            // Every proper prefix of a reply is incomplete, never an error.
            for cut in pos..pos + n {
                assert_eq!(reply_len(&all[..cut], pos).unwrap(), None, "cut at {cut}");
            }
            lens.push(n);
            pos += n;
        }
        assert_eq!(pos, all.len());
        assert_eq!(lens, vec![5, 9, 5, 9, 5, 15, 5]);
        for bad in [&b"?x\r\n"[..], b"$abc\r\n", b"$3\r\nabcXY", b"\r\n"] {
            assert!(reply_len(bad, 0).is_err(), "{bad:?}");
        }
        assert!(reply_len(&b"*1\r\n".repeat(20), 0).is_err());
    }

    #[test]
    fn bulk_items_borrow_the_elements_of_an_array() {
        let reply = b"*3\r\n$3\r\nabc\r\n$-1\r\n$0\r\n\r\n";
        let items: Vec<Option<&[u8]>> = bulk_items(reply)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(items, vec![Some(&b"abc"[..]), None, Some(&b""[..])]);
        assert!(matches!(
            bulk_items(b"-WRONGTYPE no\r\n"),
            Err(Error::Server(m)) if m == "WRONGTYPE no"
        ));
        assert!(bulk_items(b":1\r\n").is_err());
        let mut mixed = bulk_items(b"*2\r\n:1\r\n$1\r\nx\r\n").unwrap();
        assert!(matches!(mixed.next(), Some(Err(_))));
        assert!(mixed.next().is_none(), "stops after an error");
    }

    #[test]
    fn refuses_garbage() {
        for bad in [&b"?x\r\n"[..], b"$abc\r\n", b"$3\r\nabcXY", b"\r\n"] {
            let mut buf = BytesMut::from(bad);
            assert!(parse_reply(&mut buf).is_err(), "{bad:?}");
        }
        let mut deep = BytesMut::from(&b"*1\r\n".repeat(20)[..]);
        assert!(parse_reply(&mut deep).is_err());
    }
}

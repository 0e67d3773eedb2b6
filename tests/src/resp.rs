//! A minimal synchronous Redis client (RESP2 over `std::net::TcpStream`) for tests to look at what
//! the code under test left in Redis: keys, values, `INFO memory`, and so on.
//!
//! Every socket has read and write timeouts, so no call blocks for longer than the client's
//! timeout.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail, ensure};

use crate::net::connect;
use crate::ports::LOOPBACK;

/// Nesting deeper than this in a reply is treated as a protocol error.
const MAX_DEPTH: usize = 32;

/// Bulk strings longer than this are treated as a protocol error (Redis' own limit is 512 MiB).
const MAX_BULK: usize = 512 * 1024 * 1024;

/// One RESP2 reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resp {
    /// `+OK`-style status reply.
    Simple(String),
    /// `-ERR ...` error reply (the text after the dash).
    Error(String),
    /// `:42` integer reply.
    Integer(i64),
    /// `$n` bulk string.
    Bulk(Vec<u8>),
    /// Null bulk string (`$-1`) or null array (`*-1`).
    Nil,
    /// `*n` array of replies.
    Array(Vec<Resp>),
}

impl Resp {
    /// The reply as text: a simple string, or a bulk string decoded as lossy UTF-8.
    pub fn as_text(&self) -> Option<String> {
        match self {
            Resp::Simple(s) => Some(s.clone()),
            Resp::Bulk(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
            _ => None,
        }
    }

    /// The reply as an integer: an integer reply, or a simple/bulk string that parses as one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Resp::Integer(n) => Some(*n),
            other => other.as_text().and_then(|s| s.trim().parse().ok()),
        }
    }

    /// The elements of an array reply.
    pub fn as_array(&self) -> Option<&[Resp]> {
        match self {
            Resp::Array(items) => Some(items),
            _ => None,
        }
    }

    /// True for a null reply.
    pub fn is_nil(&self) -> bool {
        matches!(self, Resp::Nil)
    }

    /// The reply itself, or an error if it is an error reply.
    pub fn into_result(self) -> Result<Resp> {
        match self {
            Resp::Error(msg) => Err(anyhow!("redis error reply: {msg}")),
            other => Ok(other),
        }
    }
}

/// Encodes a command as a RESP array of bulk strings.
pub fn encode_command<A: AsRef<[u8]>>(args: &[A]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        let arg = arg.as_ref();
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Reads one reply from `reader`.
pub fn read_reply(reader: &mut impl BufRead) -> Result<Resp> {
    read_reply_at(reader, 0)
}

fn read_reply_at(reader: &mut impl BufRead, depth: usize) -> Result<Resp> {
    ensure!(
        depth <= MAX_DEPTH,
        "RESP reply nested deeper than {MAX_DEPTH}"
    );
    let line = read_line(reader)?;
    let (kind, rest) = line
        .split_first()
        .ok_or_else(|| anyhow!("empty RESP line"))?;
    let text = || String::from_utf8_lossy(rest).into_owned();
    let number = || -> Result<i64> {
        text().parse::<i64>().with_context(|| {
            format!(
                "bad number in RESP line {:?}",
                String::from_utf8_lossy(&line)
            )
        })
    };
    match kind {
        b'+' => Ok(Resp::Simple(text())),
        b'-' => Ok(Resp::Error(text())),
        b':' => Ok(Resp::Integer(number()?)),
        b'$' => {
            let len = number()?;
            if len < 0 {
                return Ok(Resp::Nil);
            }
            let len = usize::try_from(len).context("bulk length")?;
            ensure!(len <= MAX_BULK, "bulk string of {len} bytes is too long");
            let mut bytes = vec![0; len + 2];
            reader
                .read_exact(&mut bytes)
                .with_context(|| format!("reading a bulk string of {len} bytes"))?;
            ensure!(bytes.ends_with(b"\r\n"), "bulk string not followed by CRLF");
            bytes.truncate(len);
            Ok(Resp::Bulk(bytes))
        }
        b'*' => {
            let len = number()?;
            if len < 0 {
                return Ok(Resp::Nil);
            }
            let len = usize::try_from(len).context("array length")?;
            let mut items = Vec::with_capacity(len.min(1024));
            for i in 0..len {
                items.push(
                    read_reply_at(reader, depth + 1)
                        .with_context(|| format!("reading element {i} of an array of {len}"))?,
                );
            }
            Ok(Resp::Array(items))
        }
        other => bail!(
            "unknown RESP type byte {:?} in line {:?}",
            char::from(*other),
            String::from_utf8_lossy(&line)
        ),
    }
}

fn read_line(reader: &mut impl BufRead) -> Result<Vec<u8>> {
    let mut line = Vec::new();
    let n = reader
        .read_until(b'\n', &mut line)
        .context("reading a RESP line")?;
    ensure!(n > 0, "connection closed before a complete RESP reply");
    ensure!(
        line.ends_with(b"\r\n"),
        "RESP line not terminated by CRLF: {:?}",
        String::from_utf8_lossy(&line)
    );
    line.truncate(line.len() - 2);
    Ok(line)
}

/// Parses the text of an `INFO` reply into `field -> value` (section headers and blank lines
/// skipped).
pub fn parse_info(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split_once(':'))
        .map(|(key, value)| (key.trim().to_owned(), value.trim().to_owned()))
        .collect()
}

/// A connection to a Redis server on 127.0.0.1 with read and write timeouts.
#[derive(Debug)]
pub struct RespClient {
    reader: BufReader<TcpStream>,
    addr: SocketAddr,
}

impl RespClient {
    /// Connects to `127.0.0.1:port`; connecting, each write and each read give up after
    /// `timeout`.
    pub fn connect(port: u16, timeout: Duration) -> Result<Self> {
        let addr = SocketAddr::from((LOOPBACK, port));
        let stream = connect(port, timeout).context("redis")?;
        stream
            .set_nodelay(true)
            .with_context(|| format!("setting TCP_NODELAY for redis at {addr}"))?;
        Ok(Self {
            reader: BufReader::new(stream),
            addr,
        })
    }

    /// Sends one command and reads its reply. An error reply from Redis is returned as
    /// `Ok(Resp::Error(..))`; use [`Resp::into_result`] to turn it into an `Err`.
    pub fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<Resp> {
        let name = args
            .first()
            .map(|a| String::from_utf8_lossy(a.as_ref()).into_owned())
            .unwrap_or_default();
        self.reader
            .get_mut()
            .write_all(&encode_command(args))
            .with_context(|| format!("sending {name} to redis at {}", self.addr))?;
        read_reply(&mut self.reader)
            .with_context(|| format!("reading the reply to {name} from redis at {}", self.addr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> Result<Resp> {
        read_reply(&mut &bytes[..])
    }

    #[test]
    fn encodes_commands() {
        assert_eq!(
            encode_command(&["SET", "k", "v a"]),
            b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\nv a\r\n"
        );
        assert_eq!(encode_command::<&str>(&[]), b"*0\r\n");
    }

    #[test]
    fn parses_each_type() {
        assert_eq!(parse(b"+PONG\r\n").unwrap(), Resp::Simple("PONG".into()));
        assert_eq!(
            parse(b"-ERR wrong\r\n").unwrap(),
            Resp::Error("ERR wrong".into())
        );
        assert_eq!(parse(b":-42\r\n").unwrap(), Resp::Integer(-42));
        assert_eq!(
            parse(b"$5\r\nhe\r\no\r\n").unwrap(),
            Resp::Bulk(b"he\r\no".to_vec())
        );
        assert_eq!(parse(b"$0\r\n\r\n").unwrap(), Resp::Bulk(Vec::new()));
        assert_eq!(parse(b"$-1\r\n").unwrap(), Resp::Nil);
        assert_eq!(parse(b"*-1\r\n").unwrap(), Resp::Nil);
        assert_eq!(
            parse(b"*3\r\n:1\r\n*1\r\n$1\r\nx\r\n$-1\r\n").unwrap(),
            Resp::Array(vec![
                Resp::Integer(1),
                Resp::Array(vec![Resp::Bulk(b"x".to_vec())]),
                Resp::Nil
            ])
        );
    }

    #[test]
    fn rejects_malformed_replies() {
        for bad in [
            &b""[..],
            b"+OK",
            b"+OK\n",
            b"?x\r\n",
            b":abc\r\n",
            b"$3\r\nab\r\n",
            b"$3\r\nabcde",
            b"*2\r\n:1\r\n",
        ] {
            assert!(parse(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        let deep = "*1\r\n".repeat(MAX_DEPTH + 2) + ":1\r\n";
        assert!(parse(deep.as_bytes()).is_err());
    }

    #[test]
    fn accessors() {
        assert_eq!(Resp::Bulk(b"12".to_vec()).as_int(), Some(12));
        assert_eq!(Resp::Integer(3).as_int(), Some(3));
        assert_eq!(Resp::Simple("OK".into()).as_text().as_deref(), Some("OK"));
        assert!(Resp::Nil.is_nil());
        assert!(Resp::Error("ERR x".into()).into_result().is_err());
        assert_eq!(
            Resp::Array(vec![Resp::Nil]).as_array().map(<[Resp]>::len),
            Some(1)
        );
    }

    #[test]
    fn parses_info() {
        let info = parse_info("# Memory\r\nused_memory:123\r\nmaxmemory_policy:noeviction\r\n\r\n");
        assert_eq!(info.get("used_memory").map(String::as_str), Some("123"));
        assert_eq!(
            info.get("maxmemory_policy").map(String::as_str),
            Some("noeviction")
        );
        assert_eq!(info.len(), 2);
    }
}

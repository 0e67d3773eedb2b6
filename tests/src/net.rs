//! Talking to the daemons over TCP on 127.0.0.1: sending carbon plaintext lines, and a listener
//! that stands in for a pickle destination (what carbon-relay sends to) and reads its frames.
//!
//! Every socket operation here has a timeout.

use std::io::{ErrorKind, Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};

use crate::ports::{LOOPBACK, bind_any};

/// Connect and write timeout of [`send_lines`] and [`send_frame`].
pub const SEND_TIMEOUT: Duration = Duration::from_secs(5);

/// Frames longer than this are treated as garbage (carbon's own receive limit is 1 MiB).
pub const MAX_FRAME_LEN: usize = 16 * 1024 * 1024;

/// How long one blocking read or accept waits before the deadline is looked at again.
const SLICE: Duration = Duration::from_millis(100);

/// A connection to `127.0.0.1:port`; connecting, each read and each write give up after
/// `timeout`.
pub fn connect(port: u16, timeout: Duration) -> Result<TcpStream> {
    let addr = SocketAddr::from((LOOPBACK, port));
    let stream = TcpStream::connect_timeout(&addr, timeout)
        .with_context(|| format!("connecting to {addr}"))?;
    stream
        .set_write_timeout(Some(timeout))
        .and_then(|()| stream.set_read_timeout(Some(timeout)))
        .with_context(|| format!("setting timeouts on a connection to {addr}"))?;
    Ok(stream)
}

/// Sends `text` (carbon plaintext: `metric value timestamp\n` lines) to `127.0.0.1:port` on a
/// new connection, then closes it. A missing final newline is added.
pub fn send_lines(port: u16, text: &str) -> Result<()> {
    let mut stream = connect(port, SEND_TIMEOUT)?;
    let mut data = text.as_bytes().to_vec();
    if !data.ends_with(b"\n") {
        data.push(b'\n');
    }
    stream
        .write_all(&data)
        .and_then(|()| stream.flush())
        .with_context(|| format!("sending {} bytes of lines to 127.0.0.1:{port}", data.len()))?;
    // Ignore errors: the peer may already have closed its side.
    let _ = stream.shutdown(Shutdown::Write);
    Ok(())
}

/// One carbon plaintext line: `metric value timestamp\n`.
pub fn line(metric: &str, value: f64, timestamp: i64) -> String {
    format!("{metric} {value} {timestamp}\n")
}

/// Sends one length-prefixed frame (4-byte big-endian length, then `payload`) to
/// `127.0.0.1:port` on a new connection, then closes it: how carbon's pickle protocol frames a
/// pickled list of datapoints.
pub fn send_frame(port: u16, payload: &[u8]) -> Result<()> {
    let len = u32::try_from(payload.len()).context("frame longer than 4 GiB")?;
    let mut stream = connect(port, SEND_TIMEOUT)?;
    let mut data = len.to_be_bytes().to_vec();
    data.extend_from_slice(payload);
    stream
        .write_all(&data)
        .and_then(|()| stream.flush())
        .with_context(|| format!("sending a {len}-byte frame to 127.0.0.1:{port}"))?;
    let _ = stream.shutdown(Shutdown::Write);
    Ok(())
}

/// The current Unix time in whole seconds.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// A TCP listener on a free port of 127.0.0.1 that reads length-prefixed frames (4-byte
/// big-endian length + payload) from whoever connects: a stand-in for a carbon destination
/// that speaks the pickle protocol. The payloads are returned as raw bytes (pickle is not
/// decoded here).
///
/// When the sender reconnects, the listener reads from the new connection.
#[derive(Debug)]
pub struct FrameListener {
    listener: TcpListener,
    port: u16,
    conn: Option<TcpStream>,
    buf: Vec<u8>,
}

impl FrameListener {
    /// Listens on a free port of 127.0.0.1.
    pub fn bind() -> Result<Self> {
        let (listener, port) = bind_any("a frame listener")?;
        listener
            .set_nonblocking(true)
            .context("making the frame listener non-blocking")?;
        Ok(Self {
            listener,
            port,
            conn: None,
            buf: Vec::new(),
        })
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Reads the next frame's payload, accepting a connection first if there is none; fails
    /// after `timeout`.
    pub fn read_frame(&mut self, timeout: Duration) -> Result<Vec<u8>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(frame) = self.pop_frame()? {
                return Ok(frame);
            }
            let now = Instant::now();
            if now >= deadline {
                bail!(
                    "no complete frame on 127.0.0.1:{} within {timeout:?} ({}; {} bytes of a \
                     partial frame buffered)",
                    self.port,
                    if self.conn.is_some() {
                        "connected"
                    } else {
                        "nobody connected"
                    },
                    self.buf.len()
                );
            }
            let slice = SLICE.min(deadline - now);
            match self.conn.as_mut() {
                None => self.try_accept(slice)?,
                Some(conn) => {
                    conn.set_read_timeout(Some(slice))
                        .context("setting a read timeout on the frame connection")?;
                    let mut chunk = [0u8; 64 * 1024];
                    match conn.read(&mut chunk) {
                        // The sender closed: a partial frame is lost with the connection.
                        Ok(0) => {
                            self.conn = None;
                            self.buf.clear();
                        }
                        Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                        Err(err)
                            if matches!(
                                err.kind(),
                                ErrorKind::WouldBlock
                                    | ErrorKind::TimedOut
                                    | ErrorKind::Interrupted
                            ) => {}
                        Err(_) => {
                            self.conn = None;
                            self.buf.clear();
                        }
                    }
                }
            }
        }
    }

    /// Reads frames until one contains `needle`, and returns it (skipping others, such as
    /// carbon's self-metrics); fails after `timeout`.
    pub fn read_frame_containing(&mut self, needle: &[u8], timeout: Duration) -> Result<Vec<u8>> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let frame = self.read_frame(left).with_context(|| {
                format!(
                    "waiting for a frame containing {:?}",
                    String::from_utf8_lossy(needle)
                )
            })?;
            if contains(&frame, needle) {
                return Ok(frame);
            }
        }
    }

    fn pop_frame(&mut self) -> Result<Option<Vec<u8>>> {
        let Some(header) = self.buf.get(..4) else {
            return Ok(None);
        };
        let mut len = [0u8; 4];
        len.copy_from_slice(header);
        let len = u32::from_be_bytes(len) as usize;
        ensure!(
            len <= MAX_FRAME_LEN,
            "frame length {len} on 127.0.0.1:{} exceeds {MAX_FRAME_LEN}: not a pickle stream?",
            self.port
        );
        if self.buf.len() < 4 + len {
            return Ok(None);
        }
        let frame = self.buf[4..4 + len].to_vec();
        self.buf.drain(..4 + len);
        Ok(Some(frame))
    }

    fn try_accept(&mut self, wait: Duration) -> Result<()> {
        match self.listener.accept() {
            Ok((stream, _)) => {
                stream
                    .set_nonblocking(false)
                    .context("making an accepted frame connection blocking")?;
                self.conn = Some(stream);
                self.buf.clear();
            }
            Err(err) if err.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(wait.min(Duration::from_millis(20)))
            }
            Err(err) => {
                return Err(err)
                    .with_context(|| format!("accepting a connection on 127.0.0.1:{}", self.port));
            }
        }
        Ok(())
    }
}

/// True if `needle` occurs in `haystack` (an empty needle always does).
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_across_connections() {
        let mut listener = FrameListener::bind().unwrap();
        let port = listener.port();
        send_frame(port, b"first payload").unwrap();
        assert_eq!(
            listener.read_frame(Duration::from_secs(5)).unwrap(),
            b"first payload"
        );
        // A second connection, with two frames written in pieces.
        let mut stream = connect(port, SEND_TIMEOUT).unwrap();
        stream.write_all(&[0, 0, 0, 3, b'a']).unwrap();
        stream.flush().unwrap();
        std::thread::sleep(Duration::from_millis(50));
        stream.write_all(&[b'b', b'c', 0, 0, 0, 0]).unwrap();
        stream.write_all(&[0, 0, 0, 4]).unwrap();
        stream.write_all(b"neXt").unwrap();
        drop(stream);
        // The listener is still on the first (closed) connection, then accepts the second.
        assert_eq!(listener.read_frame(Duration::from_secs(5)).unwrap(), b"abc");
        assert_eq!(listener.read_frame(Duration::from_secs(5)).unwrap(), b"");
        assert_eq!(
            listener
                .read_frame_containing(b"eX", Duration::from_secs(5))
                .unwrap(),
            b"neXt"
        );
    }

    #[test]
    fn read_frame_times_out() {
        let mut listener = FrameListener::bind().unwrap();
        let started = Instant::now();
        let err = listener.read_frame(Duration::from_millis(200)).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(err.to_string().contains("nobody connected"), "{err}");
    }

    #[test]
    fn rejects_huge_frames() {
        let mut listener = FrameListener::bind().unwrap();
        let mut stream = connect(listener.port(), SEND_TIMEOUT).unwrap();
        stream.write_all(&[0xff, 0xff, 0xff, 0xff]).unwrap();
        let err = listener.read_frame(Duration::from_secs(5)).unwrap_err();
        assert!(err.to_string().contains("exceeds"), "{err}");
    }

    #[test]
    fn lines_arrive() {
        let listener = TcpListener::bind((LOOPBACK, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        send_lines(port, "a.b 1 2").unwrap();
        let (mut conn, _) = listener.accept().unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut text = String::new();
        conn.read_to_string(&mut text).unwrap();
        assert_eq!(text, "a.b 1 2\n");
        assert_eq!(line("x.y", 42.0, 7), "x.y 42 7\n");
        assert_eq!(line("x.y", 0.5, 7), "x.y 0.5 7\n");
    }

    #[test]
    fn contains_bytes() {
        assert!(contains(b"hello world", b"o w"));
        assert!(!contains(b"hello", b"hello!"));
        assert!(contains(b"", b""));
    }
}

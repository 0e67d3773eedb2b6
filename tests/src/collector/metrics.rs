//! The collector's self-metrics: `GET` on its metrics endpoint, the Prometheus text it
//! answers, and the host name it uses in Graphite names.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;

use anyhow::{Context, Result, anyhow};

use super::IO_TIMEOUT;

/// A connection to `127.0.0.1:port` with [`IO_TIMEOUT`] for connecting, reading and writing.
pub(super) fn connect(port: u16) -> Result<TcpStream> {
    crate::net::connect(port, IO_TIMEOUT)
}

/// `GET path` on `127.0.0.1:port` with HTTP/1.1 and `Connection: close`: `(status, body)`.
pub fn http_get(port: u16, path: &str) -> Result<(u16, String)> {
    let mut stream = connect(port)?;
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .with_context(|| format!("sending GET {path} to 127.0.0.1:{port}"))?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .with_context(|| format!("reading the answer to GET {path} from 127.0.0.1:{port}"))?;
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| anyhow!("no end of the HTTP head in {text:?}"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow!("no status code in {head:?}"))?;
    Ok((status, body.to_owned()))
}

/// Parses Prometheus text: every non-comment line `NAME VALUE` as `(NAME, VALUE)`.
pub fn parse_prometheus(text: &str) -> Result<Vec<(String, f64)>> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, value) = line
            .rsplit_once(' ')
            .ok_or_else(|| anyhow!("metrics line without a value: {line:?}"))?;
        let value: f64 = value
            .parse()
            .with_context(|| format!("metrics line with a bad value: {line:?}"))?;
        out.push((name.to_owned(), value));
    }
    Ok(out)
}

/// This host's name as the collector puts it into Graphite names: `/proc/sys/kernel/hostname`
/// with every character but ASCII letters, digits, `-` and `_` replaced by `_`.
pub fn graphite_hostname() -> Result<String> {
    let raw = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .context("reading /proc/sys/kernel/hostname")?;
    Ok(raw
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect())
}

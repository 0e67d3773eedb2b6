//! A minimal HTTP/1.1 client: one `POST` of a JSON body per connection to an `http://` URL,
//! returning the status code. No TLS, no redirects, no keep-alive, no chunked bodies: event
//! outputs need nothing more, and it keeps heavy dependencies out of the runner.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Header names the client sets itself; a config may not set them.
pub(crate) const RESERVED_HEADERS: &[&str] =
    &["host", "content-length", "connection", "transfer-encoding"];

/// Where to send: a parsed `http://host[:port]/path?query` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HttpTarget {
    /// Host to connect to (an IPv6 literal without brackets).
    pub(crate) host: String,
    /// TCP port (80 unless given).
    pub(crate) port: u16,
    /// Request target: path and query, starting with `/`.
    pub(crate) path: String,
    /// Value of the `Host` header.
    pub(crate) host_header: String,
}

/// Parses an `http://` URL; the error says what is wrong (for a config message).
pub(crate) fn parse_url(url: &str) -> Result<HttpTarget, String> {
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("https://") {
        return Err(
            "https is not supported yet: use an http:// endpoint, or a local \
                    TLS-terminating proxy (e.g. stunnel or nginx) in front of the https one"
                .into(),
        );
    }
    if !lower.starts_with("http://") {
        return Err(format!("expected an http:// URL, got {url:?}"));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain spaces or control characters (percent-encode them)".into());
    }
    let rest = &url["http://".len()..];
    let rest = rest.split_once('#').map_or(rest, |(r, _)| r);
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(split);
    let path = match path {
        "" => "/".to_string(),
        p if p.starts_with('?') => format!("/{p}"),
        p => p.to_string(),
    };
    if authority.contains('@') {
        return Err(
            "credentials in the URL are not supported: set an `Authorization` header \
                    in `headers` instead"
                .into(),
        );
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6
            .split_once(']')
            .ok_or_else(|| format!("unclosed '[' in host {authority:?}"))?;
        match after {
            "" => (host, None),
            p => (
                host,
                Some(p.strip_prefix(':').ok_or("expected ':' after ']'")?),
            ),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(format!("no host in {url:?}"));
    }
    let port = match port {
        None => 80,
        Some(p) => match p.parse::<u16>() {
            Ok(p) if p > 0 => p,
            _ => return Err(format!("bad port {p:?}")),
        },
    };
    Ok(HttpTarget {
        host: host.to_string(),
        port,
        path,
        host_header: authority.to_string(),
    })
}

/// Whether `name` is a valid header name (an RFC 9110 token).
pub(crate) fn valid_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Whether `value` is a header value that cannot split the request (no CR, LF, NUL or other
/// control characters except tab).
pub(crate) fn valid_header_value(value: &str) -> bool {
    value.chars().all(|c| c == '\t' || !c.is_control())
}

/// What went wrong with a request.
#[derive(Debug)]
pub(crate) enum HttpError {
    /// The whole exchange took longer than the timeout.
    Timeout,
    /// Connecting, writing or reading failed.
    Io(std::io::Error),
    /// The peer did not answer with an HTTP status line.
    BadResponse(String),
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::Timeout => f.write_str("timed out"),
            HttpError::Io(e) => write!(f, "{e}"),
            HttpError::BadResponse(s) => write!(f, "bad response: {s}"),
        }
    }
}

/// An answer: the status code and the start of whatever followed the status line (for logs).
#[derive(Debug)]
pub(crate) struct Response {
    /// The status code.
    pub(crate) status: u16,
    /// Up to a few hundred bytes after the status line, lossily decoded.
    pub(crate) snippet: String,
}

/// `POST`s `body` as `application/json` (unless `headers` sets `Content-Type`), with
/// `Connection: close`, and reads the status line, all within `timeout`.
pub(crate) async fn post_json(
    target: &HttpTarget,
    headers: &BTreeMap<String, String>,
    body: &[u8],
    timeout: Duration,
) -> Result<Response, HttpError> {
    match tokio::time::timeout(timeout, exchange(target, headers, body)).await {
        Ok(r) => r,
        Err(_) => Err(HttpError::Timeout),
    }
}

/// The request head.
fn request_head(target: &HttpTarget, headers: &BTreeMap<String, String>, len: usize) -> String {
    let mut head = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Length: {len}\r\nConnection: close\r\n",
        target.path, target.host_header
    );
    if !headers
        .keys()
        .any(|k| k.eq_ignore_ascii_case("content-type"))
    {
        head.push_str("Content-Type: application/json\r\n");
    }
    if !headers.keys().any(|k| k.eq_ignore_ascii_case("user-agent")) {
        head.push_str(concat!(
            "User-Agent: am-runner/",
            env!("CARGO_PKG_VERSION"),
            "\r\n"
        ));
    }
    for (name, value) in headers {
        // Validated with the config; checked again so a header can never split the request.
        if valid_header_name(name)
            && valid_header_value(value)
            && !RESERVED_HEADERS
                .iter()
                .any(|r| r.eq_ignore_ascii_case(name))
        {
            head.push_str(name);
            head.push_str(": ");
            head.push_str(value);
            head.push_str("\r\n");
        }
    }
    head.push_str("\r\n");
    head
}

async fn exchange(
    target: &HttpTarget,
    headers: &BTreeMap<String, String>,
    body: &[u8],
) -> Result<Response, HttpError> {
    let mut stream = TcpStream::connect((target.host.as_str(), target.port))
        .await
        .map_err(HttpError::Io)?;
    let _ = stream.set_nodelay(true);
    let mut request = request_head(target, headers, body.len()).into_bytes();
    request.extend_from_slice(body);
    stream.write_all(&request).await.map_err(HttpError::Io)?;
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let line_end = loop {
        if let Some(i) = buf.windows(2).position(|w| w == b"\r\n") {
            break i;
        }
        if buf.len() > 8192 {
            return Err(HttpError::BadResponse(
                "no status line in the first 8 KiB".into(),
            ));
        }
        let n = stream.read(&mut chunk).await.map_err(HttpError::Io)?;
        if n == 0 {
            return Err(HttpError::BadResponse(if buf.is_empty() {
                "connection closed without a response".into()
            } else {
                format!("truncated status line {:?}", String::from_utf8_lossy(&buf))
            }));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let line = String::from_utf8_lossy(&buf[..line_end]).into_owned();
    let status = parse_status_line(&line)
        .ok_or_else(|| HttpError::BadResponse(format!("not an HTTP status line: {line:?}")))?;
    let rest = &buf[line_end + 2..];
    let snippet = String::from_utf8_lossy(&rest[..rest.len().min(300)]).into_owned();
    Ok(Response { status, snippet })
}

/// `HTTP/1.1 200 OK` → 200.
fn parse_status_line(line: &str) -> Option<u16> {
    let mut parts = line.splitn(3, ' ');
    let version = parts.next()?;
    if !version.starts_with("HTTP/") {
        return None;
    }
    let code = parts.next()?;
    if code.len() != 3 {
        return None;
    }
    code.parse().ok().filter(|c| (100..600).contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let t = parse_url("http://graphite/events/").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("graphite", 80, "/events/")
        );
        assert_eq!(t.host_header, "graphite");
        let t = parse_url("HTTP://127.0.0.1:8080").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("127.0.0.1", 8080, "/")
        );
        assert_eq!(t.host_header, "127.0.0.1:8080");
        let t = parse_url("http://[::1]:9000/hook?a=b#frag").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("::1", 9000, "/hook?a=b")
        );
        assert_eq!(t.host_header, "[::1]:9000");
        let t = parse_url("http://h?x=1").unwrap();
        assert_eq!(t.path, "/?x=1");
        assert!(
            parse_url("https://h/")
                .unwrap_err()
                .contains("https is not supported")
        );
        assert!(parse_url("ftp://h/").is_err());
        assert!(
            parse_url("http://u:p@h/")
                .unwrap_err()
                .contains("Authorization")
        );
        assert!(parse_url("http://h:0/").is_err());
        assert!(parse_url("http://h:x/").is_err());
        assert!(parse_url("http:///x").is_err());
        assert!(parse_url("http://h/a b").is_err());
        assert!(parse_url("http://h/a\r\nX: y").is_err());
        assert!(parse_url("http://[::1/").is_err());
    }

    #[test]
    fn head_never_splits() {
        let t = parse_url("http://h:81/p").unwrap();
        let mut headers = BTreeMap::new();
        headers.insert("X-Token".to_string(), "abc".to_string());
        headers.insert("X-Evil".to_string(), "a\r\nHost: evil".to_string());
        headers.insert("Content-Length".to_string(), "1".to_string());
        let head = request_head(&t, &headers, 12);
        assert!(head.starts_with("POST /p HTTP/1.1\r\nHost: h:81\r\nContent-Length: 12\r\n"));
        assert!(head.contains("X-Token: abc\r\n"));
        assert!(head.contains("Content-Type: application/json\r\n"));
        assert!(!head.contains("evil"));
        assert_eq!(head.matches("Content-Length").count(), 1);
        assert!(head.ends_with("\r\n\r\n"));
    }

    #[test]
    fn status_lines() {
        assert_eq!(parse_status_line("HTTP/1.1 200 OK"), Some(200));
        assert_eq!(parse_status_line("HTTP/1.0 503"), Some(503));
        assert_eq!(parse_status_line("HTTP/1.1 2000 OK"), None);
        assert_eq!(parse_status_line("SSH-2.0-OpenSSH"), None);
        assert_eq!(parse_status_line("HTTP/1.1 999 X"), None);
    }
}

//! HTTP for the outputs, through `reqwest` (rustls, the system's certificate authorities plus
//! an output's `ca_file`, proxies from `HTTP_PROXY` / `HTTPS_PROXY` / `NO_PROXY`).

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use super::SendError;
use super::config::Delivery;

/// Checks an output's URL: `http://` or `https://` with a host.
pub fn check_url(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("not a URL ({e}): {url:?}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("expected an http:// or https:// URL, got {url:?}"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(format!("no host in {url:?}"));
    }
    Ok(())
}

/// Checks a configured header.
pub fn check_header(name: &str, value: &str) -> Result<(), String> {
    HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
        "not a valid header name (letters, digits and !#$%&'*+-.^_`|~ only)".to_string()
    })?;
    HeaderValue::from_str(value).map_err(|_| {
        "a header value cannot contain line breaks or control characters".to_string()
    })?;
    Ok(())
}

/// The client of one output.
pub fn client(d: &Delivery<'_>) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .timeout(Duration::from_secs(d.timeout_secs.max(1)))
        .user_agent(concat!("anna-molly/", env!("CARGO_PKG_VERSION")));
    if let Some(file) = d.ca_file {
        let pem = std::fs::read(file).map_err(|e| format!("reading {}: {e}", file.display()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| format!("{}: not PEM certificates: {e}", file.display()))?;
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    let mut headers = HeaderMap::new();
    for (name, value) in d.headers.into_iter().flatten() {
        let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) else {
            return Err(format!("header {name:?} is invalid"));
        };
        headers.insert(n, v);
    }
    builder
        .default_headers(headers)
        .build()
        .map_err(|e| format!("building the HTTP client: {}", chain(&e)))
}

/// `POST`s `body` as JSON. A 2xx answer is success; 408, 429, 5xx, a timeout or a connection
/// that could not be made are worth retrying; anything else (another 4xx, a redirect, a
/// certificate that is not trusted) is not.
pub async fn post_json(client: &reqwest::Client, url: &str, body: &[u8]) -> Result<(), SendError> {
    let response = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body.to_vec())
        .send()
        .await
        .map_err(|e| {
            let message = chain(&e);
            let tls = message.contains("certificate") || message.contains("Certificate");
            SendError {
                retry: !tls && (e.is_timeout() || e.is_connect() || e.is_request()),
                message,
            }
        })?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let text = response.text().await.unwrap_or_default();
    let excerpt: String = text.chars().take(200).collect();
    Err(SendError {
        retry: status.as_u16() == 408 || status.as_u16() == 429 || status.is_server_error(),
        message: format!("{url} answered {status}: {excerpt}"),
    })
}

/// An error and its causes, in one line.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = c.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_headers_are_checked() {
        assert!(check_url("https://hooks.example/x").is_ok());
        assert!(check_url("http://127.0.0.1:9093").is_ok());
        assert!(check_url("ftp://x/").unwrap_err().contains("http://"));
        assert!(check_url("graphite/events/").is_err());
        assert!(check_header("X-Token", "t").is_ok());
        assert!(check_header("Bad Name", "v").is_err());
        assert!(check_header("X-A", "a\nb").is_err());
    }
}

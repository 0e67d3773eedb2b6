//! Fetching a configuration's text from a file, a URL or a command, each within `max_bytes`
//! (and `timeout` for URLs and commands), and checking it is text.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::SourceError;

mod command;
mod file;
mod http;

pub use http::agent;

/// Where a configuration comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A file.
    File(PathBuf),
    /// An `http://` or `https://` URL.
    Url(String),
    /// A program and its arguments, run without a shell.
    Command(Vec<String>),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File(path) => write!(f, "{}", path.display()),
            Location::Url(url) => f.write_str(&without_credentials(url)),
            Location::Command(argv) => f.write_str(&argv.join(" ")),
        }
    }
}

/// `url` with any `user:password@` shown as `***@`: reasons and logs go to people.
pub fn without_credentials(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{}***{}", &url[..scheme_end], &rest[at..]),
        None => url.to_owned(),
    }
}

/// What one fetch may take.
#[derive(Debug, Clone, Copy)]
pub struct FetchLimits {
    /// The most bytes read; more is an error.
    pub max_bytes: u64,
    /// How long a URL or a command may take, all included.
    pub timeout: Duration,
}

/// Reads the text at `location`. `agent` serves URLs (one per plugin instance).
pub fn fetch(
    location: &Location,
    limits: FetchLimits,
    agent: Option<&ureq::Agent>,
) -> Result<String, SourceError> {
    let bytes = match location {
        Location::File(path) => file::read(path, limits.max_bytes)?,
        Location::Url(url) => match agent {
            Some(agent) => http::get(agent, url, limits)?,
            None => {
                return Err(SourceError::Http {
                    url: without_credentials(url),
                    message: "no HTTP client was set up".into(),
                });
            }
        },
        Location::Command(argv) => command::run(argv, limits)?,
    };
    text(location, bytes)
}

/// The bytes as text: no NUL byte, valid UTF-8, a byte-order mark dropped.
fn text(location: &Location, bytes: Vec<u8>) -> Result<String, SourceError> {
    if let Some(offset) = bytes.iter().position(|&b| b == 0) {
        return Err(SourceError::Binary {
            what: location.to_string(),
            offset,
        });
    }
    let mut text = String::from_utf8(bytes).map_err(|e| SourceError::NotUtf8 {
        what: location.to_string(),
        offset: e.utf8_error().valid_up_to(),
    })?;
    if text.starts_with('\u{feff}') {
        text.drain(..'\u{feff}'.len_utf8());
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> FetchLimits {
        FetchLimits {
            max_bytes: 64,
            timeout: Duration::from_secs(5),
        }
    }

    #[test]
    fn credentials_are_not_shown() {
        assert_eq!(
            without_credentials("https://ops:s3cret@as1:8081/aerospike.conf"),
            "https://***@as1:8081/aerospike.conf"
        );
        assert_eq!(without_credentials("http://as1/a@b"), "http://as1/a@b");
        assert_eq!(without_credentials("not a url"), "not a url");
    }

    #[test]
    fn text_refuses_binary_and_invalid_utf8_and_drops_a_bom() {
        let here = Location::File("x.conf".into());
        let err = text(&here, b"ab\0c".to_vec()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "x.conf is not text: a NUL byte at offset 2"
        );
        let err = text(&here, b"ab\xffc".to_vec()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "x.conf is not UTF-8 text: invalid byte at offset 2"
        );
        assert_eq!(text(&here, "\u{feff}a 1".into()).unwrap(), "a 1");
    }

    #[test]
    fn files_are_capped_and_must_be_regular() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.conf");
        std::fs::write(&big, vec![b'a'; 65]).unwrap();
        let err = fetch(&Location::File(big.clone()), limits(), None).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{} is larger than the limit of 64 bytes (`max_bytes`): 65 bytes",
                big.display()
            )
        );
        let err = fetch(&Location::File(dir.path().into()), limits(), None).unwrap_err();
        assert!(err.to_string().ends_with("is not a regular file"), "{err}");
        let err = fetch(&Location::File("/dev/zero".into()), limits(), None).unwrap_err();
        assert_eq!(err.to_string(), "/dev/zero is not a regular file");
        let missing = dir.path().join("missing.conf");
        let err = fetch(&Location::File(missing), limits(), None).unwrap_err();
        assert!(err.to_string().contains("No such file"), "{err}");
    }
}

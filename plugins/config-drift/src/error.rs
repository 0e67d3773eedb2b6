//! [`SourceError`]: why a configuration could not be read or parsed. Each becomes the reason
//! of an `unknown` verdict, so every message names the source and says what was wrong.

use std::path::PathBuf;

/// A configuration that could not be had: unreadable, too large, not text, or not parsable.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The file could not be opened or read.
    #[error("reading {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// A directory, a FIFO, a device: never opened (a FIFO would block, a device may be
    /// endless).
    #[error("{path} is not a regular file")]
    NotRegular {
        /// The path.
        path: PathBuf,
    },
    /// More bytes than `max_bytes`; reading stopped there.
    #[error("{what} is larger than the limit of {limit} bytes (`max_bytes`){}", size_note(*.size))]
    TooLarge {
        /// The file, URL or command.
        what: String,
        /// `max_bytes`.
        limit: u64,
        /// The size, when known without reading (a file's length).
        size: Option<u64>,
    },
    /// A NUL byte: binary data, not a configuration.
    #[error("{what} is not text: a NUL byte at offset {offset}")]
    Binary {
        /// The file, URL or command.
        what: String,
        /// Where the first NUL byte is.
        offset: usize,
    },
    /// Not UTF-8.
    #[error("{what} is not UTF-8 text: invalid byte at offset {offset}")]
    NotUtf8 {
        /// The file, URL or command.
        what: String,
        /// Where the first invalid byte is.
        offset: usize,
    },
    /// An HTTP request failed: connection, TLS, status, timeout or size.
    #[error("fetching {url}: {message}")]
    Http {
        /// The URL.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The command could not be started.
    #[error("starting `{command}`: {source}")]
    Spawn {
        /// The command line.
        command: String,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The command ran longer than `timeout`; it was killed with its process group.
    #[error("`{command}` did not finish within {secs} s (`timeout`); killed")]
    Timeout {
        /// The command line.
        command: String,
        /// The timeout.
        secs: f64,
    },
    /// The command exited unsuccessfully.
    #[error("`{command}` failed ({status}){}", stderr_note(stderr))]
    Failed {
        /// The command line.
        command: String,
        /// How it ended.
        status: String,
        /// The start of what it wrote to stderr.
        stderr: String,
    },
    /// No source for this node: no runtime file matched it, or its name cannot go into a
    /// URL or command.
    #[error("{0}")]
    Missing(String),
    /// The text is not a configuration in the expected format, or exceeds a limit.
    #[error("{what}: {error}")]
    Parse {
        /// The file, URL or command.
        what: String,
        /// What is wrong, and where.
        error: ParseError,
    },
}

fn size_note(size: Option<u64>) -> String {
    size.map_or_else(String::new, |s| format!(": {s} bytes"))
}

fn stderr_note(stderr: &str) -> String {
    if stderr.is_empty() {
        String::new()
    } else {
        format!(": {stderr}")
    }
}

/// Why a text does not parse as a configuration, or exceeds the limits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// A syntax error, with its place when the parser says it.
    #[error("{format} syntax: {message}")]
    Syntax {
        /// The format (`aerospike`, `json`, ...).
        format: &'static str,
        /// The parser's message, with the line when known.
        message: String,
    },
    /// Nested deeper than `max_depth`.
    #[error("nested deeper than {limit} levels (`max_depth`){}", at_line(*.line))]
    TooDeep {
        /// `max_depth`.
        limit: usize,
        /// Where, when known.
        line: Option<usize>,
    },
    /// More key paths than `max_keys`.
    #[error("more than {limit} key paths (`max_keys`)")]
    TooManyKeys {
        /// `max_keys`.
        limit: usize,
    },
    /// More bytes of key paths and values than the limit (8 × `max_bytes`).
    #[error("expands to more than {limit} bytes of key paths and values (8 × `max_bytes`)")]
    TooExpanded {
        /// The limit.
        limit: usize,
    },
    /// The parser panicked on this input (a bug in it); the node is judged unknown, the
    /// others go on.
    #[error("the {format} parser failed on this input: {message}")]
    Panicked {
        /// The format.
        format: &'static str,
        /// The panic's message.
        message: String,
    },
}

fn at_line(line: Option<usize>) -> String {
    line.map_or_else(String::new, |l| format!(" at line {l}"))
}

impl ParseError {
    /// A syntax error in `format`.
    pub fn syntax(format: &'static str, message: impl Into<String>) -> Self {
        ParseError::Syntax {
            format,
            message: message.into(),
        }
    }
}

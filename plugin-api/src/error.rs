//! [`PluginError`]: what a plugin's code returns when something goes wrong.

use std::fmt;

/// What kind of failure a [`PluginError`] is. The kind stays on the plugin's side (tests can
/// match on it); the runner receives only the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The service's options are invalid (unknown key, wrong type, value out of range).
    Options,
    /// A call into the runner failed (the store could not be read, for example). The runner
    /// logs its own details.
    Host,
    /// The data does not allow the analysis (too few points, stale data, …).
    Data,
    /// Anything else; the kind of errors built with [`PluginError::new`] or converted with `?`.
    Other,
}

/// The error type of a plugin: a message for the runner's log, and a [`kind`](Self::kind).
///
/// Build one from a message with [`PluginError::new`] (or [`PluginError::options`],
/// [`PluginError::data`]), or let `?` convert any [`std::error::Error`]:
///
/// ```
/// use am_plugin_api::PluginError;
///
/// fn parse(text: &str) -> Result<i64, PluginError> {
///     let n: i64 = text.trim().parse()?; // ParseIntError -> PluginError
///     if n < 0 {
///         return Err(PluginError::options(format!("`window` must be positive, got {n}")));
///     }
///     Ok(n)
/// }
/// assert_eq!(parse(" 60 ").ok(), Some(60));
/// assert_eq!(parse("x").unwrap_err().message(), "invalid digit found in string");
/// ```
///
/// `PluginError` deliberately does not implement [`std::error::Error`]: that is what lets it
/// be converted from *every* error type with `?` (like `anyhow::Error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginError {
    kind: ErrorKind,
    message: String,
}

impl PluginError {
    /// An error of kind [`ErrorKind::Other`] with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Self::with_kind(ErrorKind::Other, message)
    }

    /// An error of the given kind with this message.
    pub fn with_kind(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// An error of kind [`ErrorKind::Options`]: the service's options are invalid.
    pub fn options(message: impl Into<String>) -> Self {
        Self::with_kind(ErrorKind::Options, message)
    }

    /// An error of kind [`ErrorKind::Data`]: the data does not allow the analysis.
    pub fn data(message: impl Into<String>) -> Self {
        Self::with_kind(ErrorKind::Data, message)
    }

    /// Prefixes the message with what was being done: `"{context}: {message}"`.
    ///
    /// ```
    /// # use am_plugin_api::PluginError;
    /// let e = PluginError::new("no points").context("reading `cpu.load`");
    /// assert_eq!(e.to_string(), "reading `cpu.load`: no points");
    /// ```
    #[must_use]
    pub fn context(mut self, context: impl fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }

    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message, as the runner will log it.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Any error converts (with `?`) into a [`PluginError`] of kind [`ErrorKind::Other`]; the
/// message is the error's text followed by its sources' (`"outer: inner"`).
impl<E: std::error::Error> From<E> for PluginError {
    fn from(error: E) -> Self {
        let mut message = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        Self::new(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Outer(std::io::Error);
    impl fmt::Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("outer")
        }
    }
    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn converts_errors_with_their_sources() {
        let e: PluginError = Outer(std::io::Error::other("inner")).into();
        assert_eq!(e.message(), "outer: inner");
        assert_eq!(e.kind(), ErrorKind::Other);
    }

    #[test]
    fn kinds_and_context() {
        assert_eq!(PluginError::options("x").kind(), ErrorKind::Options);
        assert_eq!(PluginError::data("x").kind(), ErrorKind::Data);
        let e = PluginError::data("too few points").context("service1");
        assert_eq!(e.to_string(), "service1: too few points");
        assert_eq!(e.kind(), ErrorKind::Data);
    }
}

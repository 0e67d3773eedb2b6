//! [`Verdict`]: what a plugin concludes about one subject at a tick, with [`State`] and
//! [`Severity`].
//!
//! A plugin judges; the runner remembers. Each verdict goes to the runner's alarm layer, which
//! keeps a state per (algorithm, service, subject) — OK, PENDING, ALARM or UNDETERMINED — in
//! Redis, applies the flap settings, and notifies people of the transitions only. So a plugin
//! need not remember what it said before: how it reports is its
//! [`BaseTask::REPORTING`](crate::BaseTask::REPORTING).

use std::fmt;

pub use crate::abi::Reporting;

/// What a plugin concludes about a subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// `ok`: normal.
    Ok,
    /// `anomalous`: the detector flags it; its alarm fires (after `for`, if set).
    Anomalous,
    /// `unknown`: no verdict possible (no data, stale data, unreadable input); its alarm
    /// becomes UNDETERMINED.
    Unknown,
}

impl State {
    /// The word sent to the runner: `ok`, `anomalous` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Ok => "ok",
            State::Anomalous => "anomalous",
            State::Unknown => "unknown",
        }
    }

    /// The state named by `word` (`ok`, `anomalous`, `unknown`).
    pub fn parse(word: &str) -> Option<State> {
        match word {
            "ok" => Some(State::Ok),
            "anomalous" => Some(State::Anomalous),
            "unknown" => Some(State::Unknown),
            _ => None,
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How urgent a verdict is: the severity of the alarm it raises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    /// `info`.
    Info,
    /// `warning`.
    Warning,
    /// `critical`.
    Critical,
}

impl Severity {
    /// The word sent to the runner: `info`, `warning` or `critical`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A verdict on one subject, reported with [`Context::verdict`](crate::Context::verdict).
///
/// Build it with [`Verdict::anomalous`], [`Verdict::ok`] or [`Verdict::unknown`] and the
/// builder methods; the fields are public to read and change.
///
/// ```
/// use am_plugin_api::{Severity, State, Verdict};
///
/// let verdict = Verdict::anomalous("system.cpu.load")
///     .severity(Severity::Critical)
///     .reason("load 12.5 above the threshold 8")
///     .value("last", 12.5)
///     .value("threshold", 8.0);
/// assert_eq!(verdict.state, State::Anomalous);
/// assert_eq!(verdict.ts, None); // stamped with the tick time when reported
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Verdict {
    /// The verdict.
    pub state: State,
    /// How urgent the alarm it raises is.
    pub severity: Severity,
    /// What is judged: a metric's name, or another subject (a node, a pair of metrics). The
    /// alarm is (algorithm, service, subject).
    pub subject: String,
    /// A sentence for a person: why.
    pub reason: String,
    /// The values behind the verdict, in order.
    pub values: Vec<(String, f64)>,
    /// When (seconds since the epoch); `None` means the tick time.
    pub ts: Option<i64>,
}

impl Verdict {
    /// A verdict on `subject`. The severity is [`Severity::Warning`]; the reason is empty.
    pub fn new(state: State, subject: impl Into<String>) -> Self {
        Self {
            state,
            severity: Severity::Warning,
            subject: subject.into(),
            reason: String::new(),
            values: Vec::new(),
            ts: None,
        }
    }

    /// `Verdict::new(State::Anomalous, subject)`.
    pub fn anomalous(subject: impl Into<String>) -> Self {
        Self::new(State::Anomalous, subject)
    }

    /// `Verdict::new(State::Ok, subject)`.
    pub fn ok(subject: impl Into<String>) -> Self {
        Self::new(State::Ok, subject)
    }

    /// `Verdict::new(State::Unknown, subject)`.
    pub fn unknown(subject: impl Into<String>) -> Self {
        Self::new(State::Unknown, subject)
    }

    /// Sets the severity.
    #[must_use]
    pub fn severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }

    /// Sets the reason: a sentence for a person.
    #[must_use]
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = reason.into();
        self
    }

    /// Adds a named value behind the verdict.
    #[must_use]
    pub fn value(mut self, name: impl Into<String>, value: f64) -> Self {
        self.values.push((name.into(), value));
        self
    }

    /// Sets the time (seconds since the epoch) instead of the tick time.
    #[must_use]
    pub fn at(mut self, ts: i64) -> Self {
        self.ts = Some(ts);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_defaults() {
        assert_eq!(State::Unknown.as_str(), "unknown");
        assert_eq!(State::parse("anomalous"), Some(State::Anomalous));
        assert_eq!(State::parse("flapping"), None);
        assert_eq!(Severity::Critical.to_string(), "critical");
        assert_eq!(Verdict::ok("m").severity, Severity::Warning);
        assert_eq!(Verdict::unknown("m").state, State::Unknown);
        assert_eq!(Verdict::ok("m").at(5).ts, Some(5));
    }
}

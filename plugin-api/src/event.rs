//! [`Event`]: a change of state a plugin reports, with [`State`] and [`Severity`].

use std::fmt;

/// The state an [`Event`] reports, rendered as a short word.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum State {
    /// `ok`: back to normal.
    Ok,
    /// `anomalous`: the detector flags it.
    Anomalous,
    /// `unknown`: no verdict (no data, stale data).
    Unknown,
    /// Any other short state word.
    Other(String),
}

impl State {
    /// The word sent to the runner: `ok`, `anomalous`, `unknown`, or the [`Other`](Self::Other)
    /// text.
    pub fn as_str(&self) -> &str {
        match self {
            State::Ok => "ok",
            State::Anomalous => "anomalous",
            State::Unknown => "unknown",
            State::Other(word) => word,
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How urgent an [`Event`] is.
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

/// An event: a change of state of something a plugin watches, sent with
/// [`Context::event`](crate::Context::event).
///
/// Build it with [`Event::new`] (or [`Event::anomalous`], [`Event::ok`]) and the builder
/// methods; the fields are public to read and change.
///
/// ```
/// use am_plugin_api::{Event, Severity, State};
///
/// let event = Event::anomalous("system.cpu.load")
///     .severity(Severity::Critical)
///     .reason("load 12.5 above the threshold 8")
///     .value("last", 12.5)
///     .value("threshold", 8.0);
/// assert_eq!(event.state, State::Anomalous);
/// assert_eq!(event.ts, None); // stamped with the tick time when sent
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Event {
    /// The new state.
    pub state: State,
    /// How urgent it is.
    pub severity: Severity,
    /// The metric (or other subject) the event is about.
    pub metric: String,
    /// A sentence for a person.
    pub reason: String,
    /// The values behind the verdict, in order.
    pub values: Vec<(String, f64)>,
    /// When (seconds since the epoch); `None` means the tick time.
    pub ts: Option<i64>,
}

impl Event {
    /// An event about `metric` entering `state`. The severity is [`Severity::Info`] for
    /// [`State::Ok`] and [`Severity::Warning`] otherwise; the reason is empty.
    pub fn new(state: State, metric: impl Into<String>) -> Self {
        let severity = match state {
            State::Ok => Severity::Info,
            _ => Severity::Warning,
        };
        Self {
            state,
            severity,
            metric: metric.into(),
            reason: String::new(),
            values: Vec::new(),
            ts: None,
        }
    }

    /// `Event::new(State::Anomalous, metric)`: severity [`Severity::Warning`].
    pub fn anomalous(metric: impl Into<String>) -> Self {
        Self::new(State::Anomalous, metric)
    }

    /// `Event::new(State::Ok, metric)`: severity [`Severity::Info`].
    pub fn ok(metric: impl Into<String>) -> Self {
        Self::new(State::Ok, metric)
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
        assert_eq!(State::Other("flapping".into()).to_string(), "flapping");
        assert_eq!(State::Unknown.as_str(), "unknown");
        assert_eq!(Severity::Critical.to_string(), "critical");
        assert_eq!(Event::ok("m").severity, Severity::Info);
        assert_eq!(Event::new(State::Unknown, "m").severity, Severity::Warning);
        assert_eq!(Event::ok("m").at(5).ts, Some(5));
    }
}

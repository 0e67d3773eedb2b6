//! What a backtest found: the transitions per subject, and totals; as text or one JSON object.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use am_daemon::text::escaped;
use am_plugin_api::hosting::Outcome;
use serde_json::{Value, json};

use crate::alarm::store::Scope;
use crate::alarm::{AlarmState, Policy, Transition};
use crate::notify::format::rfc3339;

/// Failures listed in the report at most (the rest are counted).
const FAILURES_SHOWN: usize = 5;

/// A backtest's result.
#[derive(Debug, Clone)]
pub struct Report {
    /// The algorithm.
    pub algorithm: String,
    /// Its plugin.
    pub plugin: String,
    /// The service.
    pub service: String,
    /// The options replayed (JSON).
    pub options: String,
    /// The flap control applied.
    pub policy: Policy,
    /// The schedule's period, in seconds.
    pub period: u64,
    /// The replay's span, Unix seconds.
    pub from: i64,
    /// Its end.
    pub until: i64,
    /// Ticks replayed.
    pub ticks: usize,
    /// Tasks that failed (their verdicts are discarded, as live).
    pub failed: usize,
    /// The first failures: tick and message.
    pub failures: Vec<(i64, String)>,
    /// Every transition, in tick order.
    pub transitions: Vec<Transition>,
}

/// The totals of a report.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Totals {
    /// Times an alarm started firing.
    pub alarms: usize,
    /// Transitions that would have notified people.
    pub notifications: usize,
    /// Days replayed.
    pub days: f64,
    /// Subjects with at least one transition.
    pub subjects: usize,
}

impl Totals {
    /// Notifications per day.
    pub fn per_day(&self) -> f64 {
        if self.days > 0.0 {
            self.notifications as f64 / self.days
        } else {
            0.0
        }
    }
}

/// `ALARM`, `OK`, `PENDING`, `UNDETERMINED`.
fn upper(state: AlarmState) -> String {
    state.as_str().to_uppercase()
}

impl Report {
    /// An empty report of `scope` over `[from, until]`.
    pub fn new(
        scope: &Scope,
        policy: &Policy,
        from: i64,
        until: i64,
        options: &str,
        period: u64,
    ) -> Report {
        Report {
            algorithm: scope.algorithm.clone(),
            plugin: scope.plugin.clone(),
            service: scope.service.clone(),
            options: options.to_owned(),
            policy: policy.clone(),
            period,
            from,
            until,
            ticks: 0,
            failed: 0,
            failures: Vec::new(),
            transitions: Vec::new(),
        }
    }

    /// Records a task that failed at `tick`.
    pub fn failed(&mut self, tick: i64, outcome: &Outcome) {
        self.failed += 1;
        if self.failures.len() < FAILURES_SHOWN {
            let message = match outcome {
                Outcome::Failed(m) => m.clone(),
                Outcome::Panicked(m) => format!("panicked: {m}"),
                Outcome::Ok => String::new(),
            };
            self.failures.push((tick, message));
        }
    }

    /// Records a transition.
    pub fn transition(&mut self, t: Transition) {
        self.transitions.push(t);
    }

    /// The totals.
    pub fn totals(&self) -> Totals {
        let subjects: std::collections::HashSet<&str> = self
            .transitions
            .iter()
            .map(|t| t.subject.as_str())
            .collect();
        Totals {
            alarms: self
                .transitions
                .iter()
                .filter(|t| t.state == AlarmState::Alarm)
                .count(),
            notifications: self.transitions.iter().filter(|t| t.notifies()).count(),
            days: (self.until - self.from) as f64 / 86_400.0,
            subjects: subjects.len(),
        }
    }

    /// The report as one JSON object: `transitions` (each with `metric`, `ts`, `state`,
    /// `previous_state`, `notifies`, `since`, `severity`, `reason`, `values`) and `totals`.
    pub fn to_json(&self) -> Value {
        let totals = self.totals();
        let transitions: Vec<Value> = self
            .transitions
            .iter()
            .map(|t| {
                let values: serde_json::Map<String, Value> = t
                    .values
                    .iter()
                    .map(|(k, v)| (k.clone(), json!(v)))
                    .collect();
                json!({
                    "metric": t.subject, "ts": t.ts, "state": upper(t.state),
                    "previous_state": t.previous_state.map(upper),
                    "notifies": t.notifies(), "since": t.since, "severity": t.severity,
                    "reason": t.reason, "values": values,
                })
            })
            .collect();
        let options: Value = serde_json::from_str(&self.options).unwrap_or(Value::Null);
        json!({
            "algorithm": self.algorithm, "plugin": self.plugin, "service": self.service,
            "options": options, "from": self.from, "until": self.until,
            "period": self.period, "ticks": self.ticks, "failed_ticks": self.failed,
            "failures": self.failures.iter().map(|(t, m)| json!({"ts": t, "error": m})).collect::<Vec<_>>(),
            "policy": {"for": self.policy.for_secs, "keep_firing_for": self.policy.keep_firing_secs,
                       "undetermined_after": self.policy.undetermined_secs},
            "transitions": transitions,
            "totals": {"alarms": totals.alarms, "notifications": totals.notifications,
                       "notifications_per_day": totals.per_day(), "days": totals.days,
                       "subjects": totals.subjects},
        })
    }

    /// The report for a person: a header, the transitions per subject, the totals.
    pub fn to_text(&self) -> String {
        let e = escaped;
        let mut out = String::new();
        let p = &self.policy;
        let _ = writeln!(
            out,
            "{}/{} (plugin {}): {} ticks every {} s, {} to {}; for {} s, keep_firing_for {} s, undetermined_after {} s",
            e(&self.algorithm),
            e(&self.service),
            e(&self.plugin),
            self.ticks,
            self.period,
            rfc3339(self.from),
            rfc3339(self.until),
            p.for_secs,
            p.keep_firing_secs,
            p.undetermined_secs
        );
        if self.failed > 0 {
            let _ = writeln!(
                out,
                "{} tasks failed (their verdicts were discarded):",
                self.failed
            );
            for (tick, m) in &self.failures {
                let _ = writeln!(out, "  {}  {}", rfc3339(*tick), e(m));
            }
        }
        let mut by_subject: BTreeMap<&str, Vec<&Transition>> = BTreeMap::new();
        for t in &self.transitions {
            by_subject.entry(t.subject.as_str()).or_default().push(t);
        }
        if by_subject.is_empty() {
            let _ = writeln!(out, "\nno transitions: nothing would have been notified");
        }
        for (subject, ts) in by_subject {
            let _ = writeln!(out, "\n{}", e(subject));
            for t in ts {
                let change = format!(
                    "{} -> {}{}",
                    t.previous_state.map_or("NONE".into(), upper),
                    upper(t.state),
                    if t.notifies() { "" } else { " (quiet)" }
                );
                let _ = writeln!(out, "  {}  {:<30} {}", rfc3339(t.ts), change, e(&t.reason));
            }
        }
        let totals = self.totals();
        let _ = writeln!(
            out,
            "\ntotals: {} alarms, {} notifications over {:.2} days ({:.1} per day), {} subjects",
            totals.alarms,
            totals.notifications,
            totals.days,
            totals.per_day(),
            totals.subjects
        );
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn transition(subject: &str, ts: i64, from: Option<AlarmState>, to: AlarmState) -> Transition {
        Transition {
            algorithm: "Threshold".into(),
            plugin: "Threshold".into(),
            service: "cpu".into(),
            subject: subject.into(),
            state: to,
            previous_state: from,
            severity: "warning".into(),
            reason: "avg(x) > 90: 95".into(),
            values: vec![("avg(x)".into(), 95.0)],
            ts,
            since: ts,
            labels: Default::default(),
        }
    }

    #[test]
    fn totals_text_and_json() {
        let scope = Scope {
            algorithm: "Threshold".into(),
            plugin: "Threshold".into(),
            service: "cpu".into(),
            labels: Default::default(),
        };
        let mut r = Report::new(&scope, &Policy::default(), 0, 2 * 86_400, "{}", 60);
        r.ticks = 2880;
        use AlarmState::*;
        r.transition(transition("b", 600, None, Alarm));
        r.transition(transition("a", 700, None, Undetermined));
        r.transition(transition("b", 900, Some(Alarm), Ok));
        r.transition(transition("a", 960, Some(Undetermined), Pending));
        let t = r.totals();
        assert_eq!((t.alarms, t.notifications, t.subjects), (1, 2, 2));
        assert_eq!(t.per_day(), 1.0);
        let text = r.to_text();
        assert!(text.starts_with("Threshold/cpu (plugin Threshold): 2880 ticks every 60 s"));
        assert!(
            text.contains("\nb\n  1970-01-01T00:10:00Z  NONE -> ALARM "),
            "{text}"
        );
        assert!(text.contains("NONE -> UNDETERMINED (quiet)"), "{text}");
        assert!(text.contains(
            "totals: 1 alarms, 2 notifications over 2.00 days (1.0 per day), 2 subjects"
        ));
        let json = r.to_json();
        assert_eq!(json["transitions"][0]["metric"], "b");
        assert_eq!(json["transitions"][0]["state"], "ALARM");
        assert_eq!(json["transitions"][0]["previous_state"], Value::Null);
        assert_eq!(json["transitions"][2]["previous_state"], "ALARM");
        assert_eq!(json["transitions"][3]["notifies"], false);
        assert_eq!(json["totals"]["notifications_per_day"], 1.0);
    }
}

//! Alarms: every verdict becomes a state with transitions, and only transitions reach people.
//!
//! An alarm is (algorithm, service, subject). Its state is one of
//!
//! ```text
//!                 anomalous, `for` not yet held
//!        ┌────┐ ─────────────────────────────────▶ ┌─────────┐
//!        │ OK │ ◀───────────────────────────────── │ PENDING │
//!        └────┘        ok (nobody notified)        └─────────┘
//!          ▲ │                                          │ anomalous for `for`
//!  ok for  │ │ anomalous (`for` = 0)                    ▼
//! `keep_   │ └──────────────────────────────────▶ ┌─────────┐
//! firing_  └───────────────────────────────────── │  ALARM  │
//! for`                                            └─────────┘
//!                                                      │ unknown, or not judged
//!   any state ── unknown ──▶ ┌──────────────┐ ◀────────┘ for `undetermined_after`
//!                            │ UNDETERMINED │ ── ok ──▶ OK,  anomalous ──▶ PENDING/ALARM
//!                            └──────────────┘
//! ```
//!
//! - A subject's first verdict, if `ok` (or `unknown`), notifies nobody.
//! - Notified: entering ALARM (firing), leaving ALARM (resolved, or undetermined), entering
//!   UNDETERMINED from OK, and leaving UNDETERMINED. PENDING is recorded in the history but
//!   notifies nobody.
//! - What a subject a run does not mention means is the plugin's [`Reporting`]: not judged
//!   (`EveryRun`), judged ok (`Anomalies`), or its last verdict again (`Changes`).
//!
//! The state lives in Redis ([`store`]), so every runner and worker shares it and a restart
//! forgets nothing; each change is a compare-and-set, so two runners judging the same subject
//! record (and notify) one transition. Every transition goes to a bounded stream, the
//! history, which the notifiers ([`crate::notify`]) read.
//!
//! [`Reporting`]: am_plugin_api::Reporting

pub mod config;
pub mod layer;
pub mod machine;
pub mod store;

use serde::{Deserialize, Serialize};

pub use config::{AlarmConfig, AlarmsConfig, Policy};
pub use layer::Alarms;
pub use machine::Record;

/// The state of an alarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlarmState {
    /// Normal.
    Ok,
    /// Anomalous, but not yet for `for`.
    Pending,
    /// Firing.
    Alarm,
    /// No verdict possible (`unknown`), or not judged for `undetermined_after`.
    Undetermined,
}

impl AlarmState {
    /// `ok`, `pending`, `alarm`, `undetermined`.
    pub fn as_str(self) -> &'static str {
        match self {
            AlarmState::Ok => "ok",
            AlarmState::Pending => "pending",
            AlarmState::Alarm => "alarm",
            AlarmState::Undetermined => "undetermined",
        }
    }

    /// The value of the alarm-state series in Graphite: 0 OK, 1 PENDING, 2 ALARM,
    /// 3 UNDETERMINED.
    pub fn gauge(self) -> f64 {
        match self {
            AlarmState::Ok => 0.0,
            AlarmState::Pending => 1.0,
            AlarmState::Alarm => 2.0,
            AlarmState::Undetermined => 3.0,
        }
    }
}

impl std::fmt::Display for AlarmState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A change of an alarm's state, as the history keeps it and the notifiers send it. As JSON it
/// is the `Webhook` body: `{"algorithm": "Threshold", "plugin": "Threshold", "service":
/// "cpu", "metric": "servers.web01.cpu", "state": "alarm", "previous_state": "ok",
/// "severity": "warning", "reason": "...", "values": {"avg": 95.5}, "ts": 1700000000,
/// "since": 1700000000}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    /// The algorithm (its key in `services`).
    pub algorithm: String,
    /// The plugin.
    pub plugin: String,
    /// The service.
    pub service: String,
    /// The subject (a metric's name, usually).
    #[serde(rename = "metric")]
    pub subject: String,
    /// The new state.
    pub state: AlarmState,
    /// The state before; `null` for a subject's first verdict.
    pub previous_state: Option<AlarmState>,
    /// `info`, `warning` or `critical`.
    pub severity: String,
    /// Why, in a sentence.
    pub reason: String,
    /// The values behind the verdict, in the plugin's order.
    #[serde(with = "am_plugin_api::records::ordered_values")]
    pub values: Vec<(String, f64)>,
    /// When (the verdict's time: the tick's, unless the plugin said otherwise).
    pub ts: i64,
    /// When the alarm started firing (for a firing or resolved alarm), else `ts`.
    pub since: i64,
    /// The alarm's labels (`alarm.labels` of its algorithm and service).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub labels: std::collections::BTreeMap<String, String>,
}

impl Transition {
    /// Whether people are told: not PENDING, not a subject's first verdict unless it fires,
    /// not PENDING going back to OK.
    pub fn notifies(&self) -> bool {
        use AlarmState::*;
        match (self.previous_state, self.state) {
            (_, Pending) | (Some(Pending), Ok) => false,
            (None, Alarm) => true,
            (None, _) => false,
            (Some(a), b) => a != b,
        }
    }

    /// The alarm's identity, stable across its transitions (PagerDuty's `dedup_key`).
    pub fn alarm_id(&self) -> String {
        format!(
            "anna-molly/{}/{}/{}",
            self.algorithm, self.service, self.subject
        )
    }
}

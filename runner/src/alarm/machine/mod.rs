//! The state machine of one alarm: what a verdict (or its absence) does to the stored
//! [`Record`], and the transition it makes, under a [`Policy`]. Pure: no I/O, no clock.

use am_plugin_api::State;
use serde::{Deserialize, Serialize};

use super::{AlarmState, Policy};

/// What is kept of one alarm, per subject, in the service's Redis hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Its state.
    #[serde(rename = "s")]
    pub state: AlarmState,
    /// When it entered that state.
    #[serde(rename = "t")]
    pub since: i64,
    /// When its verdict became anomalous (PENDING, ALARM): what `for` counts from.
    #[serde(rename = "a", default, skip_serializing_if = "Option::is_none")]
    pub anomalous_since: Option<i64>,
    /// When a firing alarm's verdict turned ok: what `keep_firing_for` counts from.
    #[serde(rename = "c", default, skip_serializing_if = "Option::is_none")]
    pub ok_since: Option<i64>,
    /// When it started firing (ALARM, and an UNDETERMINED that was firing).
    #[serde(rename = "f", default, skip_serializing_if = "Option::is_none")]
    pub fired: Option<i64>,
    /// When a run last judged it (not kept for OK: only non-OK alarms time out).
    #[serde(rename = "j", default, skip_serializing_if = "Option::is_none")]
    pub judged: Option<i64>,
    /// Its last verdict (`ok`, `anomalous`, `unknown`), which a `Changes` plugin's silence
    /// repeats.
    #[serde(rename = "v", default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<String>,
    /// Which shard judged it, `[shard, shards]` (an `Anomalies` plugin's silence resolves only
    /// what its own shard raised).
    #[serde(rename = "h", default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<(u32, u32)>,
    /// Severity, reason and values of the verdict behind its state (not kept for OK).
    #[serde(rename = "d", default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<Detail>,
}

impl Record {
    /// An OK alarm (what a subject in the service's OK set stands for).
    pub fn ok() -> Record {
        Record {
            state: AlarmState::Ok,
            since: 0,
            anomalous_since: None,
            ok_since: None,
            fired: None,
            judged: None,
            verdict: None,
            shard: None,
            detail: None,
        }
    }
}

/// What a verdict said besides its state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Detail {
    /// `info`, `warning` or `critical`.
    #[serde(rename = "s")]
    pub severity: String,
    /// Why.
    #[serde(rename = "r")]
    pub reason: String,
    /// The values behind it.
    #[serde(rename = "v", with = "am_plugin_api::records::ordered_values")]
    pub values: Vec<(String, f64)>,
}

impl Detail {
    /// No severity beyond `warning`, no reason, no values.
    pub fn empty() -> Detail {
        Detail {
            severity: "warning".into(),
            reason: String::new(),
            values: Vec::new(),
        }
    }
}

/// What happens to an alarm at a run.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// The run judged it.
    Judged {
        /// The verdict.
        state: State,
        /// Its time.
        ts: i64,
        /// The shard that judged it.
        shard: (u32, u32),
        /// What it said.
        detail: Detail,
    },
    /// The run did not judge it (or failed): only the `undetermined_after` clock runs.
    Unjudged {
        /// The run's time.
        ts: i64,
    },
}

/// The outcome of one step: the record to store (`None`: unchanged) and the state change.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The new record, when it changed.
    pub record: Option<Record>,
    /// `(from, to)` when the state changed (`from` is `None` for a first verdict).
    pub change: Option<(Option<AlarmState>, AlarmState)>,
}

impl Step {
    fn unchanged() -> Step {
        Step {
            record: None,
            change: None,
        }
    }
}

/// Applies `input` to the alarm whose stored record is `prev` (`None`: never judged).
pub fn step(prev: Option<&Record>, input: &Input, policy: &Policy) -> Step {
    match input {
        Input::Unjudged { ts } => unjudged(prev, *ts, policy),
        Input::Judged {
            state,
            ts,
            shard,
            detail,
        } => {
            let from = prev.map(|r| r.state);
            let mut next = judged(prev, *state, *ts, policy);
            next.judged = (next.state != AlarmState::Ok).then_some(*ts);
            next.verdict = Some(state.as_str().to_owned());
            next.shard = Some(*shard);
            next.detail = match (next.state, state) {
                (AlarmState::Ok, _) => None,
                // Kept firing on an ok verdict: the reason stays the one that fired it.
                (AlarmState::Alarm, State::Ok) => prev
                    .and_then(|r| r.detail.clone())
                    .or_else(|| Some(with_severity(detail, policy))),
                _ => Some(with_severity(detail, policy)),
            };
            let changed_state = from != Some(next.state);
            let change = (changed_state && !(from.is_none() && next.state == AlarmState::Ok))
                .then_some((from, next.state));
            // An OK alarm judged OK again: nothing to store.
            if prev == Some(&next) || (from == Some(AlarmState::Ok) && next.state == AlarmState::Ok)
            {
                return Step {
                    record: None,
                    change,
                };
            }
            Step {
                record: Some(next),
                change,
            }
        }
    }
}

fn with_severity(detail: &Detail, policy: &Policy) -> Detail {
    let mut d = detail.clone();
    if let Some(s) = &policy.severity {
        d.severity.clone_from(s);
    }
    d
}

/// The record after a verdict, before the bookkeeping fields common to every verdict.
fn judged(prev: Option<&Record>, verdict: State, ts: i64, policy: &Policy) -> Record {
    let state = prev.map_or(AlarmState::Ok, |r| r.state);
    let fresh = |state: AlarmState| Record {
        state,
        since: ts,
        ..Record::ok()
    };
    let keep = |r: &Record| r.clone();
    match (state, verdict, prev) {
        (_, State::Unknown, Some(r)) if state == AlarmState::Undetermined => keep(r),
        (_, State::Unknown, _) => Record {
            fired: prev.and_then(|r| r.fired),
            ..fresh(AlarmState::Undetermined)
        },
        (AlarmState::Alarm, State::Anomalous, Some(r)) => Record {
            ok_since: None,
            ..keep(r)
        },
        (AlarmState::Alarm, State::Ok, Some(r)) => {
            let ok_since = r.ok_since.unwrap_or(ts);
            if ts - ok_since >= secs(policy.keep_firing_secs) {
                fresh(AlarmState::Ok)
            } else {
                Record {
                    ok_since: Some(ok_since),
                    ..keep(r)
                }
            }
        }
        (AlarmState::Pending, State::Anomalous, Some(r)) => {
            let since = r.anomalous_since.unwrap_or(r.since);
            if ts - since >= secs(policy.for_secs) {
                Record {
                    anomalous_since: Some(since),
                    fired: Some(ts),
                    ..fresh(AlarmState::Alarm)
                }
            } else {
                keep(r)
            }
        }
        (_, State::Anomalous, _) => {
            if policy.for_secs == 0 {
                Record {
                    anomalous_since: Some(ts),
                    fired: Some(ts),
                    ..fresh(AlarmState::Alarm)
                }
            } else {
                Record {
                    anomalous_since: Some(ts),
                    ..fresh(AlarmState::Pending)
                }
            }
        }
        (AlarmState::Ok, State::Ok, Some(r)) => keep(r),
        (_, State::Ok, _) => fresh(AlarmState::Ok),
    }
}

/// A run that did not judge the alarm: a firing (or pending) one not judged for
/// `undetermined_after` becomes UNDETERMINED.
fn unjudged(prev: Option<&Record>, ts: i64, policy: &Policy) -> Step {
    let Some(r) = prev else {
        return Step::unchanged();
    };
    let active = matches!(r.state, AlarmState::Alarm | AlarmState::Pending);
    let last = r.judged.unwrap_or(r.since);
    if !active || policy.undetermined_secs == 0 || ts - last < secs(policy.undetermined_secs) {
        return Step::unchanged();
    }
    let mut detail = r.detail.clone().unwrap_or_else(Detail::empty);
    detail.reason = format!("not judged for {} s", ts - last);
    Step {
        record: Some(Record {
            state: AlarmState::Undetermined,
            since: ts,
            anomalous_since: None,
            ok_since: None,
            detail: Some(detail),
            ..r.clone()
        }),
        change: Some((Some(r.state), AlarmState::Undetermined)),
    }
}

fn secs(s: u64) -> i64 {
    i64::try_from(s).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests;

//! [`Alarms`]: a task's verdicts (or its failure) applied to its service's alarms.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use am_plugin_api::hosting::Outcome;
use am_plugin_api::records::VerdictRecord;
use am_plugin_api::{Reporting, State};
use am_plugin_host::{Task, TaskResult};
use am_store::RedisAddr;

use super::machine::{Detail, Input, step};
use super::store::{AlarmStore, Change, Scope, Stored};
use super::{AlarmState, AlarmsConfig, Policy, Transition};
use crate::metrics::RunnerMetrics;

/// A point of an alarm's state series: subject, state (as [`AlarmState::gauge`]), time.
pub type StatePoint = (String, f64, i64);

/// The alarm layer: judges each task's subjects against the alarms kept in Redis.
#[derive(Debug)]
pub struct Alarms {
    redis: RedisAddr,
    config: AlarmsConfig,
    stores: Mutex<Vec<AlarmStore>>,
    metrics: Arc<RunnerMetrics>,
}

impl Alarms {
    /// The alarms of `config` in the Redis at `redis`.
    pub fn new(redis: RedisAddr, config: AlarmsConfig, metrics: Arc<RunnerMetrics>) -> Alarms {
        Alarms {
            redis,
            config,
            stores: Mutex::new(Vec::new()),
            metrics,
        }
    }

    /// The settings.
    pub fn config(&self) -> &AlarmsConfig {
        &self.config
    }

    fn store(&self) -> AlarmStore {
        self.stores
            .lock()
            .ok()
            .and_then(|mut v| v.pop())
            .unwrap_or_else(|| {
                AlarmStore::new(
                    self.redis.clone(),
                    &self.config.prefix,
                    self.config.history_max_len,
                )
            })
    }

    /// Applies what `task` concluded to its service's alarms (a failed task judged nothing:
    /// only the `undetermined_after` clock runs), records the transitions, and returns the
    /// points of the alarm-state series to write (empty when `graphite_state` is off). A
    /// store failure is counted and logged; the verdicts of that run are then lost to the
    /// alarms (the next run judges again).
    pub async fn judge(
        &self,
        task: &Task,
        policy: &Policy,
        result: &TaskResult,
    ) -> Vec<StatePoint> {
        let scope = Scope {
            algorithm: task.algorithm.clone(),
            plugin: task.plugin.clone(),
            service: task.service.clone(),
            labels: policy.labels.clone(),
        };
        let mut store = self.store();
        let outcome = self
            .judge_with(&mut store, &scope, task, policy, result)
            .await;
        match outcome {
            Ok(points) => {
                if let Ok(mut pool) = self.stores.lock() {
                    pool.push(store);
                }
                if self.config.graphite_state {
                    points
                } else {
                    Vec::new()
                }
            }
            Err(e) => {
                self.metrics.alarm_errors.inc();
                tracing::error!(algorithm = %scope.algorithm, service = %scope.service, tick = task.tick, error = %e, "alarms not updated for this run");
                Vec::new()
            }
        }
    }

    async fn judge_with(
        &self,
        store: &mut AlarmStore,
        scope: &Scope,
        task: &Task,
        policy: &Policy,
        result: &TaskResult,
    ) -> Result<Vec<StatePoint>, super::store::AlarmStoreError> {
        let stored = store.load(scope).await?;
        let inputs = inputs(&stored, task, result);
        let mut changes = Vec::new();
        let mut points = Vec::new();
        for (subject, input) in inputs {
            let prev = stored.get(&subject);
            let step = step(prev.map(|s| &s.record), &input, policy);
            let ts = match &input {
                Input::Judged { ts, .. } | Input::Unjudged { ts } => *ts,
            };
            let now_state = step
                .record
                .as_ref()
                .map(|r| r.state)
                .or(prev.map(|s| s.record.state))
                .unwrap_or(AlarmState::Ok);
            if now_state != AlarmState::Ok || step.change.is_some() {
                points.push((subject.clone(), now_state.gauge(), ts));
            }
            if step.record.is_none() && step.change.is_none() {
                continue;
            }
            let transition = step.change.map(|(from, to)| {
                let record = step.record.as_ref().or(prev.map(|s| &s.record));
                let detail = record.and_then(|r| r.detail.clone());
                let since = match to {
                    AlarmState::Alarm => record.and_then(|r| r.fired),
                    _ => prev.and_then(|s| s.record.fired),
                }
                .unwrap_or(ts);
                let (severity, reason, values) = match (detail, &input) {
                    (Some(d), _) => (d.severity, d.reason, d.values),
                    (None, Input::Judged { detail, .. }) => (
                        detail.severity.clone(),
                        detail.reason.clone(),
                        detail.values.clone(),
                    ),
                    (None, Input::Unjudged { .. }) => ("warning".into(), String::new(), Vec::new()),
                };
                Transition {
                    algorithm: scope.algorithm.clone(),
                    plugin: scope.plugin.clone(),
                    service: scope.service.clone(),
                    subject: subject.clone(),
                    state: to,
                    previous_state: from,
                    severity,
                    reason,
                    values,
                    ts,
                    since,
                    labels: policy.labels.clone(),
                }
            });
            changes.push(Change {
                subject,
                expected: prev.map(|s| s.raw.clone()),
                new: step.record,
                transition,
            });
        }
        if changes.is_empty() {
            return Ok(points);
        }
        let applied = store.apply(scope, &changes).await?;
        for (change, ok) in changes.iter().zip(applied) {
            let Some(t) = &change.transition else {
                continue;
            };
            if !ok {
                self.metrics.alarm_conflicts.inc();
                tracing::debug!(algorithm = %t.algorithm, service = %t.service, subject = %t.subject, "another runner changed this alarm first");
                continue;
            }
            self.metrics.alarm_transitions.inc();
            let (from, to) = (
                t.previous_state.map_or("none", AlarmState::as_str),
                t.state.as_str(),
            );
            if t.notifies() {
                tracing::info!(algorithm = %t.algorithm, service = %t.service, subject = %t.subject, from, to, reason = %t.reason, "alarm");
            } else {
                tracing::debug!(algorithm = %t.algorithm, service = %t.service, subject = %t.subject, from, to, "alarm (not notified)");
            }
        }
        Ok(points)
    }
}

/// What each subject of the service meets at this run: its verdict, the verdict its plugin's
/// silence means ([`Reporting`]), or no verdict.
fn inputs(
    stored: &HashMap<String, Stored>,
    task: &Task,
    result: &TaskResult,
) -> Vec<(String, Input)> {
    let shard = (task.shard, task.shards.max(1));
    let mine = |s: &Stored| match s.record.shard {
        Some((k, n)) if n == shard.1 => k == shard.0,
        // Judged under another number of shards (or never): the first shard looks after it.
        _ => shard.0 == 0,
    };
    let ok = result.outcome == Outcome::Ok;
    let mut inputs: Vec<(String, Input)> = Vec::new();
    let mut reported: HashMap<&str, usize> = HashMap::new();
    if ok {
        for v in &result.verdicts {
            let input = judged(v, shard);
            match reported.get(v.subject.as_str()) {
                // The last verdict on a subject in one run wins.
                Some(&i) => inputs[i].1 = input,
                None => {
                    reported.insert(v.subject.as_str(), inputs.len());
                    inputs.push((v.subject.clone(), input));
                }
            }
        }
    }
    for (subject, s) in stored {
        if reported.contains_key(subject.as_str()) || s.record.state == AlarmState::Ok || !mine(s) {
            continue;
        }
        let held = || s.record.verdict.as_deref().and_then(State::parse);
        let input = match (ok, result.reporting, held()) {
            (true, Reporting::Anomalies, _) => silent(State::Ok, task.tick, shard),
            (true, Reporting::Changes, Some(state)) => Input::Judged {
                state,
                ts: task.tick,
                shard,
                detail: s.record.detail.clone().unwrap_or_else(empty_detail),
            },
            _ => Input::Unjudged { ts: task.tick },
        };
        inputs.push((subject.clone(), input));
    }
    inputs
}

fn judged(v: &VerdictRecord, shard: (u32, u32)) -> Input {
    Input::Judged {
        // The hosting layer refuses any other word.
        state: State::parse(&v.state).unwrap_or(State::Unknown),
        ts: v.ts,
        shard,
        detail: Detail {
            severity: v.severity.clone(),
            reason: v.reason.clone(),
            values: v.values.clone(),
        },
    }
}

fn silent(state: State, ts: i64, shard: (u32, u32)) -> Input {
    Input::Judged {
        state,
        ts,
        shard,
        detail: Detail {
            reason: "no longer reported".into(),
            ..empty_detail()
        },
    }
}

fn empty_detail() -> Detail {
    Detail {
        severity: "warning".into(),
        reason: String::new(),
        values: Vec::new(),
    }
}

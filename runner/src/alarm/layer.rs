//! [`Alarms`]: a task's verdicts (or its failure) applied to its service's alarms.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use am_plugin_api::hosting::Outcome;
use am_plugin_api::records::VerdictRecord;
use am_plugin_api::{Reporting, State};
use am_plugin_host::{Task, TaskResult};
use am_store::RedisAddr;

use super::machine::Record;
use super::machine::{Detail, Input, step};
use super::store::{AlarmStore, AlarmStoreError, Change, Scope, Stored};
use super::{AlarmState, AlarmsConfig, Policy, Transition};
use crate::metrics::RunnerMetrics;

/// A point of an alarm's state series: subject, state (as [`AlarmState::gauge`]), time.
pub type StatePoint = (String, f64, i64);

/// Subjects known to be judged OK before, per service, remembered by this process up to this
/// many per service (past it, asked of Redis each run).
const KNOWN_CACHE_MAX: usize = 2_000_000;

/// The alarm layer: judges each task's subjects against the alarms kept in Redis.
#[derive(Debug)]
pub struct Alarms {
    redis: RedisAddr,
    config: AlarmsConfig,
    stores: Mutex<Vec<AlarmStore>>,
    /// Subjects of each service this process has seen judged OK: they are members of the
    /// service's OK set for good, so an `ok` verdict on one of them needs no Redis at all.
    known: Mutex<HashMap<Scope, Arc<HashSet<String>>>>,
    metrics: Arc<RunnerMetrics>,
}

impl Alarms {
    /// The alarms of `config` in the Redis at `redis`.
    pub fn new(redis: RedisAddr, config: AlarmsConfig, metrics: Arc<RunnerMetrics>) -> Alarms {
        Alarms {
            redis,
            config,
            stores: Mutex::new(Vec::new()),
            known: Mutex::new(HashMap::new()),
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

    fn cached(&self, scope: &Scope) -> Arc<HashSet<String>> {
        self.known
            .lock()
            .ok()
            .and_then(|m| m.get(scope).cloned())
            .unwrap_or_default()
    }

    fn remember(&self, scope: &Scope, known: Arc<HashSet<String>>, more: Vec<String>) {
        if more.is_empty() || known.len() + more.len() > KNOWN_CACHE_MAX {
            return;
        }
        let mut set = Arc::unwrap_or_clone(known);
        set.extend(more);
        if let Ok(mut m) = self.known.lock() {
            m.insert(scope.clone(), Arc::new(set));
        }
    }

    async fn judge_with(
        &self,
        store: &mut AlarmStore,
        scope: &Scope,
        task: &Task,
        policy: &Policy,
        result: &TaskResult,
    ) -> Result<Vec<StatePoint>, AlarmStoreError> {
        let stored = store.load(scope).await?;
        let known = self.cached(scope);
        let judged = judged(result);
        // Subjects without a record that this process has not seen OK: ask Redis whether
        // they are known (OK) or new.
        let ask: Vec<&str> = judged
            .iter()
            .filter(|v| !stored.contains_key(v.subject) && !known.contains(v.subject))
            .map(|v| v.subject)
            .collect();
        let answers = if ask.is_empty() {
            Vec::new()
        } else {
            store.known(scope, &ask).await?
        };
        let newly_known: HashSet<&str> = ask
            .iter()
            .zip(&answers)
            .filter(|(_, k)| **k)
            .map(|(s, _)| *s)
            .collect();
        let Plan { changes, points } =
            plan(scope, task, policy, result, &judged, &stored, &|s: &str| {
                known.contains(s) || newly_known.contains(s)
            });
        let mut seen_ok: Vec<String> = newly_known.into_iter().map(str::to_owned).collect();
        if !changes.is_empty() {
            let applied = store.apply(scope, &changes).await?;
            for (change, ok) in changes.iter().zip(applied) {
                if ok && change.new.is_none() {
                    seen_ok.push(change.subject.clone());
                }
                self.report(change, ok);
            }
        }
        self.remember(scope, known, seen_ok);
        Ok(points)
    }

    fn report(&self, change: &Change, applied: bool) {
        let Some(t) = &change.transition else {
            return;
        };
        if !applied {
            self.metrics.alarm_conflicts.inc();
            tracing::debug!(algorithm = %t.algorithm, service = %t.service, subject = %t.subject, "another runner changed this alarm first");
            return;
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
}

/// What one run does to its service's alarms: the changes to record (each a compare-and-set
/// against the stored record it was computed from) and the points of the alarm-state series.
#[derive(Debug, Default)]
pub struct Plan {
    /// The changes, in the order of the run's verdicts, then its silent alarms.
    pub changes: Vec<Change>,
    /// `(subject, state gauge, ts)` of every alarm judged that is not OK or just changed.
    pub points: Vec<StatePoint>,
}

/// Plans what a run's verdicts (`judged`, from [`judged`]) and its silence ([`Reporting`]) do
/// to the alarms `stored` of its service; `known` says whether a subject without a stored
/// record was judged OK before (a member of the service's OK set). Pure: the layer runs it
/// between reading Redis and writing it, the backtest on its own state in memory, so both
/// apply the state machine the same way.
pub(crate) fn plan(
    scope: &Scope,
    task: &Task,
    policy: &Policy,
    result: &TaskResult,
    judged: &[Judged<'_>],
    stored: &HashMap<String, Stored>,
    known: &dyn Fn(&str) -> bool,
) -> Plan {
    let ok_record = Record::ok();
    let mut run = Run::new(scope, policy);
    for v in judged {
        let is_known = known(v.subject);
        let prev = match stored.get(v.subject) {
            Some(s) => Some(s),
            None if v.state == State::Ok && is_known => {
                // An OK alarm judged OK: nothing happens (the common case).
                continue;
            }
            None => None,
        };
        let prev_record = prev.map(|s| &s.record).or(is_known.then_some(&ok_record));
        run.step(v.subject, prev, prev_record, &v.input(task));
    }
    let silent = silent_inputs(stored, judged, task, result);
    for (subject, input) in silent {
        let prev = stored.get(subject);
        run.step(subject, prev, prev.map(|s| &s.record), &input);
    }
    Plan {
        changes: run.changes,
        points: run.points,
    }
}

/// The changes and state points of one run.
struct Run<'a> {
    scope: &'a Scope,
    policy: &'a Policy,
    changes: Vec<Change>,
    points: Vec<StatePoint>,
}

impl<'a> Run<'a> {
    fn new(scope: &'a Scope, policy: &'a Policy) -> Self {
        Run {
            scope,
            policy,
            changes: Vec::new(),
            points: Vec::new(),
        }
    }

    /// One alarm's step: `stored` is its record in Redis (what the change compares with),
    /// `prev` the record it is judged from (a stored one, an OK one, or none when new).
    fn step(
        &mut self,
        subject: &str,
        stored: Option<&Stored>,
        prev: Option<&Record>,
        input: &Input,
    ) {
        let step = step(prev, input, self.policy);
        let ts = match input {
            Input::Judged { ts, .. } | Input::Unjudged { ts } => *ts,
        };
        let now = step
            .record
            .as_ref()
            .map(|r| r.state)
            .or(prev.map(|r| r.state))
            .unwrap_or(AlarmState::Ok);
        if now != AlarmState::Ok || step.change.is_some() {
            self.points.push((subject.to_owned(), now.gauge(), ts));
        }
        if step.record.is_none() && step.change.is_none() {
            return;
        }
        let transition = step.change.map(|(from, to)| {
            self.transition(subject, from, to, prev, step.record.as_ref(), input, ts)
        });
        let new = step.record.filter(|r| r.state != AlarmState::Ok);
        // A new subject judged OK, or an OK one staying OK: only the OK set changes.
        self.changes.push(Change {
            subject: subject.to_owned(),
            expected: stored.map(|s| s.raw.clone()),
            new,
            transition,
        });
    }

    #[allow(clippy::too_many_arguments)]
    fn transition(
        &self,
        subject: &str,
        from: Option<AlarmState>,
        to: AlarmState,
        prev: Option<&Record>,
        next: Option<&Record>,
        input: &Input,
        ts: i64,
    ) -> Transition {
        let record = next.or(prev);
        let since = match to {
            AlarmState::Alarm => record.and_then(|r| r.fired),
            _ => prev.and_then(|r| r.fired),
        }
        .unwrap_or(ts);
        let detail = record
            .and_then(|r| r.detail.clone())
            .or_else(|| match input {
                Input::Judged { detail, .. } => Some(detail.clone()),
                Input::Unjudged { .. } => None,
            })
            .unwrap_or_else(Detail::empty);
        Transition {
            algorithm: self.scope.algorithm.clone(),
            plugin: self.scope.plugin.clone(),
            service: self.scope.service.clone(),
            subject: subject.to_owned(),
            state: to,
            previous_state: from,
            severity: detail.severity,
            reason: detail.reason,
            values: detail.values,
            ts,
            since,
            labels: self.policy.labels.clone(),
        }
    }
}

/// One subject's verdict at a run.
pub(crate) struct Judged<'r> {
    /// The subject.
    pub(crate) subject: &'r str,
    state: State,
    record: &'r VerdictRecord,
}

impl Judged<'_> {
    /// The state machine's input.
    fn input(&self, task: &Task) -> Input {
        Input::Judged {
            state: self.state,
            ts: self.record.ts,
            shard: (task.shard, task.shards.max(1)),
            detail: Detail {
                severity: self.record.severity.clone(),
                reason: self.record.reason.clone(),
                values: self.record.values.clone(),
            },
        }
    }
}

/// A run's verdicts, one per subject (the last reported wins); none when the task failed.
pub(crate) fn judged(result: &TaskResult) -> Vec<Judged<'_>> {
    if result.outcome != Outcome::Ok {
        return Vec::new();
    }
    let mut last: HashMap<&str, usize> = HashMap::with_capacity(result.verdicts.len());
    let mut out: Vec<Judged<'_>> = Vec::with_capacity(result.verdicts.len());
    for v in &result.verdicts {
        let j = Judged {
            subject: &v.subject,
            // The hosting layer refuses any other word.
            state: State::parse(&v.state).unwrap_or(State::Unknown),
            record: v,
        };
        match last.get(v.subject.as_str()) {
            Some(&i) => out[i] = j,
            None => {
                last.insert(&v.subject, out.len());
                out.push(j);
            }
        }
    }
    out
}

/// What the run's silence means for each alarm that is not OK and that the run did not
/// mention ([`Reporting`]): `ok` (`Anomalies`), its last verdict again (`Changes`), or no
/// verdict (`EveryRun`, and any failed run: only the `undetermined_after` clock runs).
fn silent_inputs<'s>(
    stored: &'s HashMap<String, Stored>,
    judged: &[Judged<'_>],
    task: &Task,
    result: &TaskResult,
) -> Vec<(&'s str, Input)> {
    let shard = (task.shard, task.shards.max(1));
    let mine = |s: &Stored| match s.record.shard {
        Some((k, n)) if n == shard.1 => k == shard.0,
        // Judged under another number of shards (or never): the first shard looks after it.
        _ => shard.0 == 0,
    };
    let mentioned: HashSet<&str> = judged.iter().map(|j| j.subject).collect();
    let ok = result.outcome == Outcome::Ok;
    let mut out = Vec::new();
    for (subject, s) in stored {
        if mentioned.contains(subject.as_str()) || !mine(s) {
            continue;
        }
        let held = s.record.verdict.as_deref().and_then(State::parse);
        let input = match (ok, result.reporting, held) {
            (true, Reporting::Anomalies, _) => Input::Judged {
                state: State::Ok,
                ts: task.tick,
                shard,
                detail: Detail {
                    reason: "no longer reported".into(),
                    ..Detail::empty()
                },
            },
            (true, Reporting::Changes, Some(state)) => Input::Judged {
                state,
                ts: task.tick,
                shard,
                detail: s.record.detail.clone().unwrap_or_else(Detail::empty),
            },
            _ => Input::Unjudged { ts: task.tick },
        };
        out.push((subject.as_str(), input));
    }
    out
}

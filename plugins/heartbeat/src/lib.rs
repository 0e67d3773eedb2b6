//! `Heartbeat`: numbat's automatic heartbeat, for every series at once, and rules for series
//! that must (or must never) report.
//!
//! No series is configured one by one: every series matching `patterns` is tracked from its
//! first point. Its **cadence** is learned — the median of its last intervals between points
//! (up to 7), once `learn` of them were seen — and at every tick a series silent for more than
//! `tolerance` cadences is **overdue**: verdict `anomalous` (ALARM), or `unknown`
//! (UNDETERMINED) with `"overdue": "undetermined"`. It is OK again as soon as it reports.
//!
//! A series is **retired**, not alarmed, when it says goodbye — a point of `shutdown_value` on
//! it, or a point on `<series><shutdown_suffix>` at or after its newest — until it reports
//! again; and it is **forgotten** (dropped from the state, not alarmed) once silent for
//! `forget_after` seconds. Two more rules, judged by the first shard:
//! `presence_required` (ALARM, subject `presence:<pattern>`, when no series matching it has a
//! point in the last `window` seconds) and `absence_required` (ALARM, subject the series, for every
//! series matching it that has one: counters that must never report).
//!
//! ```json
//! "Heartbeat": {
//!   "scheduler_options": { "cron": "*/10 * * * * *", "plugin_args": { "name": "Heartbeat" } },
//!   "worker_options": {
//!     "apps": { "patterns": ["apps.*.heartbeat"], "tolerance": 3, "shutdown_suffix": ".shutdown",
//!               "presence_required": [{ "pattern": "apps.*.requests", "window": 300 }],
//!               "absence_required": [{ "pattern": "apps.*.errors.fatal", "window": 600 }] }
//!   }
//! }
//! ```
//!
//! # Options
//!
//! | option | default | meaning |
//! |---|---|---|
//! | `patterns` | `[]` | globs (or `re:` regexes) of the series whose heartbeat is tracked |
//! | `tolerance` | 3 | overdue after this many cadences of silence |
//! | `learn` | 3 | intervals seen before the cadence counts (1–7); until then a series is not judged |
//! | `overdue` | `"alarm"` | what an overdue series is: `"alarm"` or `"undetermined"` |
//! | `shutdown_suffix` | none | a point on `<series><suffix>` retires the series |
//! | `shutdown_value` | none | a point of exactly this value retires the series |
//! | `forget_after` | 86400 | seconds of silence after which a series is forgotten |
//! | `lateness` | 30 | seconds a point may reach the store late and still count |
//! | `max_series` | 1000000 | series tracked at most; past it new series are not tracked (counted, logged) |
//! | `presence_required` | `[]` | `{"pattern", "window" (300)}`: ALARM when nothing matching reports for `window` s |
//! | `absence_required` | `[]` | `{"pattern", "window" (300)}`: ALARM for each matching series that reported within `window` s |
//! | `severity` | `"warning"` | `info`, `warning`, `critical` |
//!
//! # State, and what a tick costs
//!
//! Per series: its newest point's time, its last intervals, whether it is retired — about 10
//! bytes besides the part of its name it does not share with the previous name, in the plugin
//! state (key `series`, or `series:<k>/<n>` for shard
//! `k` of `n`) in a compact encoding ([`codec`]), so a restart or another worker continues
//! where the last tick stopped. Each tick reads only the points since the previous tick (and
//! `lateness` seconds before), so its cost follows the number of series, not their history;
//! the state is read back only when another instance wrote it last (a hash of it is kept
//! beside it). With `shards`, each shard tracks the series whose name hashes to it.
//!
//! The plugin reports only overdue and forbidden series (`Reporting::Anomalies`): every other
//! alarm of the service is OK. Per tick it writes `tracked`, `overdue`, `retired`,
//! `forgotten` and `untracked` (new series refused by `max_series`), with `.shard<k>` when
//! sharded.

pub mod codec;
mod rules;
pub mod track;

use std::hash::{Hash, Hasher};

use am_plugin_api::{BaseTask, Context, Init, PluginError, Reporting, Severity, Verdict};
pub use am_plugin_kit::SeverityWord;
use am_plugin_kit::bytes::in_shard;
use serde::Deserialize;

use track::{Entry, Judgement, RING, Rules, Tracked, judge};

pub use rules::Rule;

/// What an overdue series is judged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Overdue {
    /// `anomalous`: its alarm fires.
    #[default]
    Alarm,
    /// `unknown`: its alarm becomes UNDETERMINED.
    Undetermined,
}

/// The options of one service.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Options {
    /// Globs (or `re:` regexes) of the series whose heartbeat is tracked.
    pub patterns: Vec<String>,
    /// A series is overdue after this many cadences of silence (default 3).
    pub tolerance: f64,
    /// Intervals seen before a series' cadence counts, 1 to 7 (default 3).
    pub learn: usize,
    /// What an overdue series is judged: `alarm` (default) or `undetermined`.
    pub overdue: Overdue,
    /// A point on `<series><shutdown_suffix>` at or after the series' newest retires it.
    pub shutdown_suffix: Option<String>,
    /// A point of exactly this value on a series retires it.
    pub shutdown_value: Option<f64>,
    /// Seconds of silence after which a series is forgotten, not alarmed (default 86400).
    pub forget_after: i64,
    /// Seconds a point may reach the store after its time and still count (default 30).
    pub lateness: i64,
    /// Series tracked at most (default 1,000,000): the state's bound.
    pub max_series: usize,
    /// ALARM when no series matching a rule's pattern reported within its window.
    pub presence_required: Vec<Rule>,
    /// ALARM for every series matching a rule's pattern that reported within its window.
    pub absence_required: Vec<Rule>,
    /// The severity of the alarms: `info`, `warning` (default) or `critical`.
    pub severity: SeverityWord,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            patterns: Vec::new(),
            tolerance: 3.0,
            learn: 3,
            overdue: Overdue::default(),
            shutdown_suffix: None,
            shutdown_value: None,
            forget_after: 86_400,
            lateness: 30,
            max_series: 1_000_000,
            presence_required: Vec::new(),
            absence_required: Vec::new(),
            severity: SeverityWord::default(),
        }
    }
}

/// The plugin.
#[derive(Debug)]
pub struct Heartbeat {
    options: Options,
    severity: Severity,
    /// The series as this instance last wrote them, with the hash of what it wrote: read
    /// back from the state only when the stored hash differs (another instance wrote it).
    cache: Option<(u64, i64, Tracked)>,
}

/// Refuses an option.
fn refuse(message: String) -> PluginError {
    PluginError::options(message)
}

/// A hash of the state's bytes, stored beside them.
fn digest(bytes: &[u8]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

impl BaseTask for Heartbeat {
    type Options = Options;
    const NAME: &'static str = "Heartbeat";
    const REPORTING: Reporting = Reporting::Anomalies;

    fn new(options: Options, _init: &Init<'_>) -> Result<Self, PluginError> {
        let o = &options;
        if o.patterns.is_empty() && o.presence_required.is_empty() && o.absence_required.is_empty()
        {
            return Err(refuse(
                "nothing to watch: give `patterns`, `presence_required` or `absence_required`"
                    .into(),
            ));
        }
        if o.patterns.iter().any(String::is_empty) {
            return Err(refuse("`patterns` must not hold an empty pattern".into()));
        }
        if !(o.tolerance.is_finite() && o.tolerance > 0.0) {
            return Err(refuse(format!(
                "`tolerance` must be a positive number of cadences, got {}",
                o.tolerance
            )));
        }
        if !(1..=RING).contains(&o.learn) {
            return Err(refuse(format!(
                "`learn` must be 1 to {RING}, got {}",
                o.learn
            )));
        }
        if o.forget_after <= 0 || o.lateness < 0 {
            return Err(refuse(format!(
                "`forget_after` must be positive and `lateness` not negative, got {} and {}",
                o.forget_after, o.lateness
            )));
        }
        if o.max_series == 0 {
            return Err(refuse("`max_series` must be at least 1".into()));
        }
        if o.shutdown_suffix.as_deref() == Some("") {
            return Err(refuse("`shutdown_suffix` must not be empty".into()));
        }
        for (what, rules) in [
            ("presence_required", &o.presence_required),
            ("absence_required", &o.absence_required),
        ] {
            for (i, r) in rules.iter().enumerate() {
                r.check()
                    .map_err(|e| refuse(format!("`{what}[{i}]`: {e}")))?;
            }
        }
        let severity = o.severity.into();
        Ok(Heartbeat {
            options,
            severity,
            cache: None,
        })
    }

    fn run(&mut self, ctx: &mut Context<'_>) -> Result<(), PluginError> {
        let tick = ctx.tick();
        let shard = ctx.shard();
        let (key, suffix) = match shard {
            (_, 0 | 1) => ("series".to_owned(), String::new()),
            (k, n) => (format!("series:{k}/{n}"), format!(".shard{k}")),
        };
        let (prev, mut series) = self.load(ctx, &key)?;
        let from = match prev {
            Some(p) if p < tick => p.min(tick - self.options.lateness),
            _ => tick - self.options.lateness,
        } + 1;
        let untracked = self.observe(ctx, &mut series, shard, from, tick)?;
        let o = &self.options;
        let rules = Rules {
            tolerance: o.tolerance,
            learn: o.learn,
            forget_after: o.forget_after,
        };
        let j = judge(&mut series, tick, &rules);
        self.report(ctx, &j)?;
        if untracked > 0 {
            ctx.warn(format!(
                "{untracked} new series not tracked: `max_series` ({}) reached",
                o.max_series
            ));
        }
        if shard.0 == 0 {
            let (presence, absence) = (&o.presence_required, &o.absence_required);
            rules::judge(ctx, presence, absence, tick, self.severity)?;
        }
        self.store(ctx, &key, series, tick)?;
        ctx.emit(&format!("tracked{suffix}"), j.tracked as f64)?;
        ctx.emit(&format!("overdue{suffix}"), j.overdue.len() as f64)?;
        ctx.emit(&format!("retired{suffix}"), j.retired as f64)?;
        ctx.emit(&format!("forgotten{suffix}"), j.forgotten as f64)?;
        ctx.emit(&format!("untracked{suffix}"), untracked as f64)?;
        Ok(())
    }
}

impl Heartbeat {
    /// The tracked series and the tick they were written at: this instance's own, unless
    /// another instance wrote the state since.
    fn load(
        &mut self,
        ctx: &Context<'_>,
        key: &str,
    ) -> Result<(Option<i64>, Tracked), PluginError> {
        let stored_digest = ctx
            .state_get(&format!("{key}.digest"))?
            .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
            .map(u64::from_le_bytes);
        if let (Some((d, tick, _)), Some(stored)) = (&self.cache, stored_digest)
            && *d == stored
        {
            let tick = *tick;
            let series = self.cache.take().map(|c| c.2).unwrap_or_default();
            return Ok((Some(tick), series));
        }
        self.cache = None;
        let Some(bytes) = ctx.state_get(key)? else {
            return Ok((None, Vec::new()));
        };
        match codec::decode(&bytes) {
            Some((tick, series)) => Ok((Some(tick), series)),
            None => {
                ctx.warn(format!(
                    "state `{key}` is unreadable ({} bytes): tracking starts afresh",
                    bytes.len()
                ));
                Ok((None, Vec::new()))
            }
        }
    }

    fn store(
        &mut self,
        ctx: &Context<'_>,
        key: &str,
        series: Tracked,
        tick: i64,
    ) -> Result<(), PluginError> {
        let bytes = codec::encode(&series, tick);
        let d = digest(&bytes);
        ctx.state_set(key, &bytes)?;
        ctx.state_set(&format!("{key}.digest"), &d.to_le_bytes())?;
        self.cache = Some((d, tick, series));
        Ok(())
    }

    /// Reads the points of this shard's series since `from` and merges them into `series`
    /// (both in name order: one pass); returns how many new series `max_series` refused.
    fn observe(
        &self,
        ctx: &Context<'_>,
        series: &mut Tracked,
        shard: (u32, u32),
        from: i64,
        tick: i64,
    ) -> Result<usize, PluginError> {
        let o = &self.options;
        let mine = |name: &str| in_shard(name, shard);
        let suffix = o.shutdown_suffix.as_deref();
        let mut names: Vec<String> = Vec::new();
        for p in &o.patterns {
            names.extend(ctx.find(p)?);
        }
        if !names.is_sorted() {
            names.sort_unstable();
        }
        names.dedup();
        names.retain(|n| mine(n) && !suffix.is_some_and(|s| n.ends_with(s)));
        let old = std::mem::take(series);
        let mut total = old.len();
        let mut merged: Tracked = Vec::with_capacity(total + 16);
        let mut rest = old.into_iter().peekable();
        let mut untracked = 0;
        for chunk in names.chunks(4096) {
            for s in ctx.read_many(chunk, from, tick)? {
                while rest.peek().is_some_and(|(n, _)| *n < s.name) {
                    merged.extend(rest.next());
                }
                let known = rest.next_if(|(n, _)| *n == s.name).map(|(_, e)| e);
                let mut entry = match (known, s.points.first()) {
                    (Some(e), _) => e,
                    (None, None) => continue,
                    (None, Some(_)) if total >= o.max_series => {
                        untracked += 1;
                        continue;
                    }
                    (None, Some(first)) => {
                        total += 1;
                        Entry::new(first.ts)
                    }
                };
                for p in &s.points {
                    entry.point(p.ts, o.shutdown_value == Some(p.value));
                }
                merged.push((s.name, entry));
            }
        }
        merged.extend(rest);
        *series = merged;
        if let Some(suffix) = suffix {
            let mut markers: Vec<String> = Vec::new();
            for p in &o.patterns {
                markers.extend(ctx.find(&format!("{p}{suffix}"))?);
            }
            markers.sort_unstable();
            markers.dedup();
            markers.retain(|m| m.strip_suffix(suffix).is_some_and(&mine));
            for s in ctx.read_many(&markers, from, tick)? {
                let Some(newest) = s.points.last() else {
                    continue;
                };
                let base = s.name.strip_suffix(suffix).unwrap_or(&s.name);
                if let Ok(i) = series.binary_search_by(|(n, _)| n.as_str().cmp(base))
                    && newest.ts >= series[i].1.last_seen
                {
                    series[i].1.retired = true;
                }
            }
        }
        Ok(untracked)
    }

    fn report(&self, ctx: &Context<'_>, j: &Judgement) -> Result<(), PluginError> {
        for (name, silence, cadence) in &j.overdue {
            let reason = format!(
                "no point for {silence} s (cadence {cadence} s, tolerance {} cadences)",
                self.options.tolerance
            );
            let v = match self.options.overdue {
                Overdue::Alarm => Verdict::anomalous(name),
                Overdue::Undetermined => Verdict::unknown(name),
            };
            ctx.verdict(
                v.severity(self.severity)
                    .reason(reason)
                    .value("silence", *silence as f64)
                    .value("cadence", f64::from(*cadence)),
            )?;
        }
        Ok(())
    }
}

am_plugin_api::export_plugin!(Heartbeat);

#[cfg(test)]
mod tests;

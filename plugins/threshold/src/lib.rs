//! `Threshold`: monasca-thresh's alarm expressions over Graphite metrics.
//!
//! A service is one monasca alarm definition: an `expression`, and `match_by` saying whether
//! it raises one alarm or one per series (or per tag value). At every tick the plugin judges
//! each alarm as monasca-thresh does and reports it: **ALARM** (verdict `anomalous`) when the
//! expression holds, **OK** when it does not, **UNDETERMINED** (verdict `unknown`) when a
//! sub-expression has had no data for `2 × period × periods` seconds — OK instead for a
//! `deterministic` one. The runner's alarm layer turns the verdicts into notifications.
//!
//! ```json
//! "Threshold": {
//!   "scheduler_options": { "cron": "0 * * * * *", "plugin_args": { "name": "Threshold" } },
//!   "worker_options": {
//!     "cpu_high": { "expression": "avg(servers.*.cpu, 120) > 90 times 2", "match_by": true,
//!                   "severity": "critical" },
//!     "disk_or_load": { "expression": "max(servers.db01.disk.used_pct) > 95 or avg(servers.db01.load) > 20" }
//!   }
//! }
//! ```
//!
//! # The expression language (monasca's, whole)
//!
//! ```text
//! expression  ::= sub_expr ( ("and" | "&&" | "or" | "||") sub_expr )*     `and` binds tighter
//! sub_expr    ::= func "(" metric [ "," "deterministic" ] [ "," period ] ")" op threshold [ "times" periods ]
//!               | metric op threshold [ "times" periods ]
//!               | "(" expression ")"
//! func        ::= min | max | sum | count | avg | last
//! op          ::= "<" | "lt" | "<=" | "lte" | ">" | "gt" | ">=" | "gte"
//! metric      ::= graphite_name_or_glob [ "{" key "=" value ( "," key "=" value )* "}" ]
//! ```
//!
//! - Keywords in any case; `threshold` a decimal number (`-5`, `0.25`); whitespace anywhere
//!   between tokens.
//! - Without a function, monasca's default: `max` for `>`/`>=`, `min` for `<`/`<=`.
//! - `period`: seconds per period, default 60, a positive multiple of the tick interval
//!   (option `interval`); `periods` (after `times`): how many periods in a row, default 1.
//! - The metric is a Graphite name or glob (`*` any run of characters, dots included; `?`;
//!   `[a-z]`; `{web,db}`). monasca's dimensions are Graphite tags: `cpu{hostname=a}` reads the
//!   tagged series `cpu;hostname=a` (other tags allowed); a metric without dimensions reads its
//!   untagged and tagged series alike.
//! - The function reduces each period's points of every series of the alarm to one value:
//!   `min`, `max`, `sum`, `count` (points), `avg`, `last` (the newest point).
//!
//! A bad expression is refused when the service starts (and by `am-runner check`) with the
//! column and what was expected there, for example
//! ``at column 16: expected `,` or `)`, found `> 90` ``.
//!
//! # States
//!
//! Per sub-expression, over the `periods` periods before the tick (see [`eval`]): OK as soon
//! as one period's value does not satisfy the comparison; ALARM when every period has a value
//! and all satisfy it; with periods missing data and the rest satisfying it, a `deterministic`
//! sub-expression is OK, one with no point at all for `2 × period × periods` seconds is
//! UNDETERMINED, and any other keeps its previous state (kept in the plugin state, see
//! [`held`]). `last` keeps its state as long as no point comes. The alarm is UNDETERMINED when
//! any sub-expression is, else the expression's value over its sub-expressions' (ALARM is
//! true). Where it departs from monasca: a new alarm starts OK, not UNDETERMINED (monasca's
//! first notification would be UNDETERMINED → OK for every new series); evaluation is at each
//! tick of the schedule, over windows ending at the tick, not in monasca's minute slots.
//!
//! # Options
//!
//! | option | default | meaning |
//! |---|---|---|
//! | `expression` | — | the alarm expression |
//! | `match_by` | `false` | `false`: one alarm (subject: the first metric as written); `true`: one per value of the metrics' wildcards (subject: the matched name of the first metric with a wildcard); a list of tag names (monasca's `match_by` over dimensions): one per combination of their values (subject `hostname=a,device=sda`) |
//! | `severity` | `"warning"` | `info`, `warning`, `critical` |
//! | `interval` | 60 | the tick interval in seconds (of the schedule): periods must be multiples |
//! | `delay` | 0 | judge as of this many seconds before the tick, so points that reach the store late (a point stamped with the tick itself often does) still fall in their period; monasca-thresh waits likewise before it judges a period |
//!
//! With `match_by`, every metric with wildcards must have the same number of them (their values
//! name the alarm), and a metric without one is shared by every alarm. The plugin reports only
//! ALARM and UNDETERMINED alarms (`Reporting::Anomalies`): every other alarm of the service is
//! OK. It writes `subjects`, `alarm` and `undetermined` (how many alarms are in each state) per
//! tick; with `shards`, each shard judges the alarms whose group hashes to it and writes them
//! as `<field>.shard<k>`.

pub mod eval;
pub mod expr;
pub mod glob;
pub mod groups;
pub mod held;
pub mod parse;

use am_plugin_api::{BaseTask, Context, Init, PluginError, Reporting, Severity, Verdict};
pub use am_plugin_kit::SeverityWord;
use am_plugin_kit::bytes::fnv1a;
use am_plugin_kit::check;
use serde::Deserialize;

use eval::{Scratch, SubState, judge};
use expr::Expression;
use glob::Matcher;
use groups::{Grouping, Read, Source, groups, read, shared};
use held::{Held, decode, encode};

/// `match_by`: `false`, `true`, or tag names.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum MatchBy {
    /// `false`: one alarm; `true`: one per value of the wildcards.
    Wildcards(bool),
    /// One alarm per combination of these tags' values.
    Tags(Vec<String>),
}

impl Default for MatchBy {
    fn default() -> Self {
        MatchBy::Wildcards(false)
    }
}

/// The options of one service: one alarm definition.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// The alarm expression, in monasca's language (see the crate docs). Required.
    pub expression: String,
    /// `false` (default): one alarm; `true`: one per value of the metrics' wildcards; a list of
    /// tag names: one per combination of their values.
    #[serde(default)]
    pub match_by: MatchBy,
    /// The severity of the alarms: `info`, `warning` (default) or `critical`.
    #[serde(default)]
    pub severity: SeverityWord,
    /// The tick interval of the service's schedule, in seconds (default 60): every period must
    /// be a positive multiple of it.
    #[serde(default = "default_interval")]
    pub interval: i64,
    /// Judge as of this many seconds before the tick (default 0: windows end at the tick), so
    /// points that reach the store a little late still fall in their period.
    #[serde(default)]
    pub delay: i64,
}

fn default_interval() -> i64 {
    60
}

/// The plugin.
#[derive(Debug)]
pub struct Threshold {
    expression: Expression,
    grouping: Grouping,
    severity: Severity,
    sources: Vec<Source>,
    /// The source of each sub-expression.
    source_of: Vec<usize>,
    /// The hash of the canonical expression, for the held states.
    hash: u64,
    /// Seconds judged before the tick.
    delay: i64,
}

/// Parses and checks `options` into the parts a tick needs.
pub fn compile(options: &Options) -> Result<Threshold, PluginError> {
    let interval = options.interval;
    check(
        interval > 0,
        "interval",
        "a positive number of seconds",
        interval,
    )?;
    if options.delay < 0 {
        return Err(PluginError::options(format!(
            "`delay` must not be negative, got {}",
            options.delay
        )));
    }
    let expression = parse::parse(&options.expression, options.interval)
        .map_err(|e| PluginError::options(format!("`expression` {e}")))?;
    let grouping = match &options.match_by {
        MatchBy::Wildcards(false) => Grouping::One,
        MatchBy::Wildcards(true) => Grouping::Wildcards,
        MatchBy::Tags(t) if t.is_empty() => Grouping::One,
        MatchBy::Tags(t) => Grouping::Tags(t.clone()),
    };
    let mut sources: Vec<Source> = Vec::new();
    let mut source_of = Vec::new();
    for sub in &expression.subs {
        let i = match sources.iter().position(|s| s.metric == sub.metric) {
            Some(i) => i,
            None => {
                let matcher = Matcher::new(&sub.metric)
                    .map_err(|e| PluginError::options(format!("`expression`: {e}")))?;
                sources.push(Source {
                    metric: sub.metric.clone(),
                    matcher,
                    span: 0,
                });
                sources.len() - 1
            }
        };
        sources[i].span = sources[i].span.max(sub.silence());
        source_of.push(i);
    }
    if grouping == Grouping::Wildcards {
        let counts: Vec<usize> = sources
            .iter()
            .map(|s| s.matcher.wildcards())
            .filter(|&w| w > 0)
            .collect();
        if counts.windows(2).any(|w| w[0] != w[1]) {
            return Err(PluginError::options(
                "`match_by`: every metric with wildcards must have as many of them (their values name the alarm)",
            ));
        }
    }
    let severity = options.severity.into();
    let hash = fnv1a(expression.to_string().as_bytes());
    Ok(Threshold {
        expression,
        grouping,
        severity,
        sources,
        source_of,
        hash,
        delay: options.delay,
    })
}

/// An alarm that is not OK at a tick.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Its subject.
    pub subject: String,
    /// Each sub-expression's state (the alarm is UNDETERMINED when one is, else ALARM).
    pub states: Vec<SubState>,
    /// Each sub-expression's newest period value.
    pub values: Vec<Option<f64>>,
}

impl Threshold {
    /// The parsed expression.
    pub fn expression(&self) -> &Expression {
        &self.expression
    }

    /// How series become alarms.
    pub fn grouping(&self) -> &Grouping {
        &self.grouping
    }

    /// The metrics read (one per distinct metric of the expression).
    pub fn sources(&self) -> &[Source] {
        &self.sources
    }

    fn held_key(&self, shard: (u32, u32)) -> String {
        match shard {
            (_, 0 | 1) => "held".to_owned(),
            (k, n) => format!("held:{k}/{n}"),
        }
    }

    /// Judges every alarm of this shard at `tick` from `reads` (one per source) and the held
    /// states, updating `held` to the new ones. Returns how many alarms there are and the
    /// outcome of each that is not OK (ALARM or UNDETERMINED), by subject.
    pub fn judge(&self, reads: &[Read], tick: i64, held: &mut Held) -> (usize, Vec<Outcome>) {
        let grouped = groups(&self.grouping, &self.sources, reads);
        let mut out = Vec::new();
        let mut next = Held::new();
        let mut scratch = Scratch::default();
        let subs = &self.expression.subs;
        let mut states = Vec::with_capacity(subs.len());
        let mut values = Vec::with_capacity(subs.len());
        let mut alarm = Vec::with_capacity(subs.len());
        for group in &grouped.groups {
            let before = held.get(&group.subject);
            states.clear();
            values.clear();
            for (i, sub) in subs.iter().enumerate() {
                let s = self.source_of[i];
                let series = &reads[s].series;
                let judged = if shared(&self.grouping, &self.sources[s]) || group.range.is_empty() {
                    judge(
                        sub,
                        series.iter().map(|x| x.points.as_slice()),
                        tick,
                        &mut scratch,
                    )
                } else {
                    let members = grouped.members(group, s).filter_map(|k| series.get(k));
                    judge(
                        sub,
                        members.map(|x| x.points.as_slice()),
                        tick,
                        &mut scratch,
                    )
                };
                let previous = before
                    .and_then(|b| b.get(i).copied())
                    .unwrap_or(SubState::Ok);
                states.push(judged.state.unwrap_or(previous));
                values.push(judged.value);
            }
            if states.iter().all(|s| *s == SubState::Ok) {
                continue;
            }
            next.insert(group.subject.clone(), states.clone());
            alarm.clear();
            alarm.extend(states.iter().map(|s| *s == SubState::Alarm));
            let undetermined = states.contains(&SubState::Undetermined);
            if undetermined || self.expression.eval(&alarm) {
                out.push(Outcome {
                    subject: group.subject.clone(),
                    states: states.clone(),
                    values: values.clone(),
                });
            }
        }
        *held = next;
        (grouped.groups.len(), out)
    }

    fn verdict(&self, o: &Outcome) -> Option<Verdict> {
        let subs = &self.expression.subs;
        let mut values = Vec::new();
        for (sub, v) in subs.iter().zip(&o.values) {
            if let Some(v) = v {
                values.push((format!("{}({})", sub.func.as_str(), sub.metric), *v));
            }
        }
        let undetermined: Vec<String> = subs
            .iter()
            .zip(&o.states)
            .filter(|(_, s)| **s == SubState::Undetermined)
            .map(|(sub, _)| format!("no data for {} s: {sub}", sub.silence()))
            .collect();
        let verdict = if !undetermined.is_empty() {
            Verdict::unknown(&o.subject).reason(undetermined.join("; "))
        } else {
            let alarm: Vec<bool> = o.states.iter().map(|s| *s == SubState::Alarm).collect();
            if !self.expression.eval(&alarm) {
                return None;
            }
            let held: Vec<String> = subs
                .iter()
                .zip(&o.states)
                .zip(&o.values)
                .filter(|((_, s), _)| **s == SubState::Alarm)
                .map(|((sub, _), v)| match v {
                    Some(v) => format!("{sub}: {v}"),
                    None => format!("{sub} (held)"),
                })
                .collect();
            Verdict::anomalous(&o.subject).reason(held.join("; "))
        };
        let mut verdict = verdict.severity(self.severity);
        for (name, v) in values {
            verdict = verdict.value(name, v);
        }
        Some(verdict)
    }
}

impl BaseTask for Threshold {
    type Options = Options;
    const NAME: &'static str = "Threshold";
    const REPORTING: Reporting = Reporting::Anomalies;

    fn new(options: Options, init: &Init<'_>) -> Result<Self, PluginError> {
        let t = compile(&options)?;
        init.debug(format!("expression: {}", t.expression));
        Ok(t)
    }

    fn run(&mut self, ctx: &mut Context<'_>) -> Result<(), PluginError> {
        // The time judged: the tick, or `delay` seconds before it.
        let at = ctx.tick() - self.delay;
        let shard = ctx.shard();
        let mut reads = Vec::with_capacity(self.sources.len());
        for source in &self.sources {
            reads.push(read(ctx, &self.grouping, source, at)?);
        }
        let key = self.held_key(shard);
        let subs = self.expression.subs.len();
        let stored = ctx.state_get(&key)?;
        let mut held = stored
            .as_deref()
            .and_then(|b| decode(b, subs, self.hash))
            .unwrap_or_default();
        let (alarms, outcomes) = self.judge(&reads, at, &mut held);
        let (mut alarm, mut undetermined) = (0u64, 0u64);
        for o in &outcomes {
            if let Some(v) = self.verdict(o) {
                match v.state {
                    am_plugin_api::State::Unknown => undetermined += 1,
                    _ => alarm += 1,
                }
                ctx.verdict(v)?;
            }
        }
        let bytes = encode(&held, subs, self.hash);
        if held.is_empty() {
            if stored.is_some() {
                ctx.state_delete(&key)?;
            }
        } else if stored.as_deref() != Some(bytes.as_slice()) {
            ctx.state_set(&key, &bytes)?;
        }
        let suffix = match shard {
            (_, 0 | 1) => String::new(),
            (k, _) => format!(".shard{k}"),
        };
        ctx.emit(&format!("subjects{suffix}"), alarms as f64)?;
        ctx.emit(&format!("alarm{suffix}"), alarm as f64)?;
        ctx.emit(&format!("undetermined{suffix}"), undetermined as f64)?;
        Ok(())
    }
}

am_plugin_api::export_plugin!(Threshold);

#[cfg(test)]
mod tests;

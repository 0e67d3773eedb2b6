//! `presence_required` and `absence_required`: series that must report, and series that must
//! never.

use am_plugin_api::{Context, PluginError, Severity, Verdict};
use serde::Deserialize;

/// Series read per batch while looking for one that reported.
const BATCH: usize = 256;

/// A rule: a pattern and a window.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// A glob (or `re:` regex) of series names.
    pub pattern: String,
    /// Seconds looked back from the tick (default 300).
    #[serde(default = "default_window")]
    pub window: i64,
}

fn default_window() -> i64 {
    300
}

impl Rule {
    /// Why the rule is invalid, if it is.
    pub fn check(&self) -> Result<(), String> {
        if self.pattern.is_empty() {
            return Err("`pattern` must not be empty".into());
        }
        if self.window <= 0 {
            return Err(format!("`window` must be positive, got {}", self.window));
        }
        Ok(())
    }
}

/// The subject of a presence rule's alarm: `presence:<pattern>` (not the pattern alone, which
/// may be the name of a series whose heartbeat is tracked too).
pub fn presence_subject(pattern: &str) -> String {
    format!("presence:{pattern}")
}

/// ALARM (subject: [`presence_subject`]) for each rule no matching series satisfied: none has
/// a point in its window.
pub fn presence(
    ctx: &Context<'_>,
    rules: &[Rule],
    tick: i64,
    severity: Severity,
) -> Result<(), PluginError> {
    for rule in rules {
        let names = ctx.find(&rule.pattern)?;
        let mut present = false;
        for chunk in names.chunks(BATCH) {
            let read = ctx.read_many(chunk, tick - rule.window + 1, tick)?;
            if read.iter().any(|s| !s.points.is_empty()) {
                present = true;
                break;
            }
        }
        if !present {
            ctx.verdict(
                Verdict::anomalous(presence_subject(&rule.pattern))
                    .severity(severity)
                    .reason(format!(
                        "nothing matching `{}` reported in the last {} s ({} series match)",
                        rule.pattern,
                        rule.window,
                        names.len()
                    ))
                    .value("series", names.len() as f64),
            )?;
        }
    }
    Ok(())
}

/// ALARM (subject: the series) for each series matching a rule that has a point in its
/// window.
pub fn absence(
    ctx: &Context<'_>,
    rules: &[Rule],
    tick: i64,
    severity: Severity,
) -> Result<(), PluginError> {
    for rule in rules {
        let names = ctx.find(&rule.pattern)?;
        for chunk in names.chunks(BATCH) {
            for s in ctx.read_many(chunk, tick - rule.window + 1, tick)? {
                let Some(last) = s.points.last() else {
                    continue;
                };
                ctx.verdict(
                    Verdict::anomalous(&s.name)
                        .severity(severity)
                        .reason(format!(
                            "must never report (`{}`), reported {} at {}",
                            rule.pattern, last.value, last.ts
                        ))
                        .value("last", last.value)
                        .value("points", s.points.len() as f64),
                )?;
            }
        }
    }
    Ok(())
}

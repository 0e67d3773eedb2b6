//! `presence_required` and `absence_required`: series that must report, and series that must
//! never.

use am_plugin_api::{Context, PluginError, Series, Severity, Verdict};
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

impl Rule {
    /// Reads the series matching the pattern over the window ending at `tick`, a batch at a
    /// time, handing each batch to `visit` until it returns `false`; the number of series
    /// matching.
    fn read(
        &self,
        ctx: &Context<'_>,
        tick: i64,
        mut visit: impl FnMut(Vec<Series>) -> Result<bool, PluginError>,
    ) -> Result<usize, PluginError> {
        let names = ctx.find(&self.pattern)?;
        for chunk in names.chunks(BATCH) {
            if !visit(ctx.read_many(chunk, tick - self.window + 1, tick)?)? {
                break;
            }
        }
        Ok(names.len())
    }
}

/// ALARM for each presence rule no matching series satisfied, then for each series
/// matching an absence rule that has a point in its window.
pub fn judge(
    ctx: &Context<'_>,
    presence: &[Rule],
    absence: &[Rule],
    tick: i64,
    severity: Severity,
) -> Result<(), PluginError> {
    for rule in presence {
        rule.presence(ctx, tick, severity)?;
    }
    for rule in absence {
        rule.absence(ctx, tick, severity)?;
    }
    Ok(())
}

impl Rule {
    /// ALARM (subject: [`presence_subject`]) when no matching series satisfied the rule: none
    /// has a point in its window.
    fn presence(
        &self,
        ctx: &Context<'_>,
        tick: i64,
        severity: Severity,
    ) -> Result<(), PluginError> {
        let mut present = false;
        let matching = self.read(ctx, tick, |read| {
            present = read.iter().any(|s| !s.points.is_empty());
            Ok(!present)
        })?;
        if !present {
            ctx.verdict(
                Verdict::anomalous(presence_subject(&self.pattern))
                    .severity(severity)
                    .reason(format!(
                        "nothing matching `{}` reported in the last {} s ({matching} series match)",
                        self.pattern, self.window,
                    ))
                    .value("series", matching as f64),
            )?;
        }
        Ok(())
    }

    /// ALARM (subject: the series) for each series matching the rule that has a point in its
    /// window.
    fn absence(&self, ctx: &Context<'_>, tick: i64, severity: Severity) -> Result<(), PluginError> {
        self.read(ctx, tick, |read| {
            for s in read {
                let Some(last) = s.points.last() else {
                    continue;
                };
                ctx.verdict(
                    Verdict::anomalous(&s.name)
                        .severity(severity)
                        .reason(format!(
                            "must never report (`{}`), reported {} at {}",
                            self.pattern, last.value, last.ts
                        ))
                        .value("last", last.value)
                        .value("points", s.points.len() as f64),
                )?;
            }
            Ok(true)
        })?;
        Ok(())
    }
}

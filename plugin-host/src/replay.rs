//! Replaying a plugin offline over recorded series: tick by tick at the data's timestamps,
//! each tick seeing only the points up to it, with an in-memory metric store and state (the
//! plugin API's `TestHost`), through the same ABI calls the runner makes. No Redis needed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use am_plugin_api::testing::{Failure, TestHost, TestRunner};

use crate::loader::LoadedPlugin;

/// Which recorded series the plugin reads.
#[derive(Debug, Clone)]
pub enum Inputs {
    /// One series standing for whatever the plugin's options name.
    Any(Vec<(i64, f64)>),
    /// Series by metric name.
    Named(Vec<(String, Vec<(i64, f64)>)>),
}

impl Inputs {
    fn ticks(&self) -> Vec<i64> {
        let set: BTreeSet<i64> = match self {
            Inputs::Any(p) => p.iter().map(|(t, _)| *t).collect(),
            Inputs::Named(v) => v
                .iter()
                .flat_map(|(_, p)| p.iter().map(|(t, _)| *t))
                .collect(),
        };
        set.into_iter().collect()
    }
}

/// What one tick produced: the fields emitted (last value per field) and whether the task
/// failed (its message).
#[derive(Debug, Clone, PartialEq)]
pub struct TickResult {
    /// The tick (a data timestamp).
    pub tick: i64,
    /// Field → value.
    pub fields: BTreeMap<String, f64>,
    /// The task's error or panic message, when it failed.
    pub failure: Option<String>,
}

/// Errors that stop a replay before it starts.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The plugin refused its options or could not start.
    #[error("the plugin could not start: {0}")]
    Start(String),
    /// An input file is unusable.
    #[error("{file}: line {line}: {message}")]
    Input {
        /// The file.
        file: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

fn failure_text(f: Failure) -> String {
    match f {
        Failure::Error(m) => m,
        Failure::Panic(m) => format!("panic: {m}"),
    }
}

/// Runs `plugin` over `inputs`, one tick per distinct timestamp, calling `on_tick` after each.
pub fn replay(
    plugin: &LoadedPlugin,
    options_json: &str,
    service: &str,
    inputs: &Inputs,
    mut on_tick: impl FnMut(TickResult),
) -> Result<(), ReplayError> {
    let mut host = TestHost::new();
    let mut runner =
        TestRunner::from_plugin(plugin.plugin.clone(), options_json, service, &mut host)
            .map_err(|f| ReplayError::Start(failure_text(f)))?;
    // Points are added as time passes, so a plugin can never read ahead of its tick.
    let mut cursors: Vec<usize> = match inputs {
        Inputs::Any(_) => vec![0],
        Inputs::Named(v) => vec![0; v.len()],
    };
    for tick in inputs.ticks() {
        match inputs {
            Inputs::Any(points) => {
                while let Some((t, v)) = points.get(cursors[0]).filter(|(t, _)| *t <= tick) {
                    host.add_any_point(*t, *v);
                    cursors[0] += 1;
                }
            }
            Inputs::Named(series) => {
                for ((name, points), c) in series.iter().zip(cursors.iter_mut()) {
                    while let Some((t, v)) = points.get(*c).filter(|(t, _)| *t <= tick) {
                        host.add_point(name, *t, *v);
                        *c += 1;
                    }
                }
            }
        }
        let failure = runner.run(&mut host, tick).err().map(failure_text);
        let mut fields = BTreeMap::new();
        // As in the runner, the outputs of a failed task are discarded.
        for e in host.take_emitted() {
            if failure.is_none() {
                fields.insert(e.field, e.value);
            }
        }
        for l in host.logs() {
            use am_plugin_api::Level;
            let m = &l.message;
            match l.level {
                Level::Error => tracing::error!(tick, plugin = %l.plugin, "{m}"),
                Level::Warn => tracing::warn!(tick, plugin = %l.plugin, "{m}"),
                Level::Info => tracing::info!(tick, plugin = %l.plugin, "{m}"),
                _ => tracing::debug!(tick, plugin = %l.plugin, "{m}"),
            }
        }
        for v in host.verdicts() {
            if v.state != "ok" {
                tracing::info!(tick, state = %v.state, severity = %v.severity, subject = %v.subject, reason = %v.reason, "verdict");
            }
        }
        host.clear_outputs();
        on_tick(TickResult {
            tick,
            fields,
            failure,
        });
    }
    Ok(())
}

/// One data row as written in its file, and parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The timestamp as written.
    pub raw_ts: String,
    /// The value as written.
    pub raw_value: String,
    /// Unix seconds.
    pub ts: i64,
    /// The value.
    pub value: f64,
}

/// Reads a `timestamp,value` CSV keeping every data row in file order (a header is skipped).
pub fn read_rows(path: &Path) -> Result<Vec<Row>, ReplayError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ReplayError::Input {
        file: file.clone(),
        line: 0,
        message: format!("cannot read: {e}"),
    })?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            continue;
        }
        let mut cols = trimmed.split(',');
        let (Some(raw_ts), Some(raw_value)) = (cols.next(), cols.next()) else {
            return Err(ReplayError::Input {
                file,
                line: i + 1,
                message: "expected `timestamp,value`".into(),
            });
        };
        let ts = parse_ts(raw_ts.trim().trim_matches('"'));
        let value = raw_value.trim().trim_matches('"').parse::<f64>();
        match (ts, value) {
            (Some(ts), Ok(value)) => out.push(Row {
                raw_ts: raw_ts.to_string(),
                raw_value: raw_value.to_string(),
                ts,
                value,
            }),
            _ if i == 0 => continue,
            _ => {
                return Err(ReplayError::Input {
                    file,
                    line: i + 1,
                    message: format!("expected `timestamp,value`, got {trimmed:?}"),
                });
            }
        }
    }
    Ok(out)
}

/// Reads a `timestamp,value` CSV: a header line is skipped; timestamps are Unix seconds
/// (integer or decimal) or `YYYY-MM-DD HH:MM:SS` in UTC (as NAB's files have them); rows are
/// sorted by time.
pub fn read_csv(path: &Path) -> Result<Vec<(i64, f64)>, ReplayError> {
    let mut out: Vec<(i64, f64)> = read_rows(path)?
        .into_iter()
        .map(|r| (r.ts, r.value))
        .collect();
    out.sort_by_key(|(t, _)| *t);
    Ok(out)
}

fn parse_ts(s: &str) -> Option<i64> {
    if let Ok(t) = s.parse::<i64>() {
        return Some(t);
    }
    if let Ok(t) = s.parse::<f64>() {
        return t.is_finite().then_some(t.floor() as i64);
    }
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
        .ok()
        .map(|d| d.and_utc().timestamp())
}

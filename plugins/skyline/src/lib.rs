//! `Skyline`: every metric matching the service's patterns, every tick, judged by Skyline's
//! nine algorithms and a consensus — no thresholds to set.
//!
//! At each tick the task lists the metrics matching `patterns`, keeps those of its shard,
//! reads them in batches over `[tick − full_duration, tick]`, skips the series that are too
//! short, stale or boring, and runs the ensemble of [`am_skyline`] on the rest. A metric is
//! anomalous when at least `consensus` of the nine algorithms fire. For each anomalous metric
//! it reports an `anomalous` verdict whose reason counts and names the algorithms that fired
//! ("6 of 9 algorithms fired (consensus 6): ..."; values:
//! `value`, the newest point; `algorithms`, how many fired) and writes its flag; the metrics it
//! does not report are judged ok (`Reporting::Anomalies`), so an alarm it stops reporting
//! resolves. Then it writes the tick's totals:
//!
//! | field | value |
//! |---|---|
//! | `<metric>.flag` | `1` for an anomalous metric (with `flags: "all"`, also `0` for every analysed one that is not) |
//! | `analysed` | metrics judged |
//! | `anomalous` | metrics judged anomalous |
//! | `skipped_short`, `skipped_stale`, `skipped_boring` | metrics skipped, by reason |
//! | `run_time_ms` | the task's run time (sharded: the slowest shard's) |
//!
//! as `<prefix>.Skyline.<service>.<field>`; a metric's dots stay path separators, so the flag
//! of `web01.cpu` is `<prefix>.Skyline.<service>.web01.cpu.flag`.
//!
//! ```json
//! "Skyline": {
//!   "scheduler_options": { "cron": "0 * * * * *", "shards": 4, "plugin_args": { "name": "Skyline" } },
//!   "worker_options": { "all": { "patterns": ["*"], "full_duration": 86400, "consensus": 6 } }
//! }
//! ```
//!
//! # Options
//!
//! | option | default | meaning |
//! |---|---|---|
//! | `patterns` | `["*"]` | metric globs (or `re:` regexes), as `Context::find` takes them |
//! | `full_duration` | 86400 | seconds of history analysed (Skyline's `FULL_DURATION`) |
//! | `consensus` | 6 | how many of the 9 algorithms must fire (1..=9) |
//! | `stale_period` | 500 | a metric whose newest point is older than this many seconds is skipped |
//! | `min_points` | 100 | a metric with fewer points in the window is skipped |
//! | `flags` | `"anomalous"` | `"anomalous"`: write flag 1 for anomalous metrics only; `"all"`: also 0 for the others analysed |
//! | `batch_size` | 50 | metrics read per batched read (one pipelined round trip) |
//!
//! `min_points` defaults to 100, not Skyline's 1: `histogram_bins` fires on every series of 20
//! points or fewer (every bin then holds at most 20), and below about a hundred points the
//! other algorithms' small-sample quirks, not the data, decide a 6-of-9 vote; 100 is also the
//! window of the boredom rule (the last 100 values identical), which then always sees a full
//! window.
//!
//! # Sharding
//!
//! With `"shards": n` in `scheduler_options`, the runner runs n tasks per tick, each told its
//! shard by `Context::shard`. A metric belongs to shard [`am_skyline::shard_of`]`(name, n)`
//! (FNV-1a 64 of the name modulo n): every task lists the same names and keeps its own, so
//! every metric is analysed exactly once per tick without coordination. Each shard stores its
//! totals in the plugin state (key `totals:<shard>/<shards>`, its last 8 ticks); the shard
//! whose write completes a tick's set writes the summed totals (two finishing together may
//! both write the same sums: Graphite keeps one value per timestamp, so that is harmless).

mod totals;

use std::time::Instant;

use am_plugin_api::{BaseTask, Context, Init, PluginError, Reporting, Verdict};
use am_skyline::{Analyser, Rules, Skip, Window, shard_of};
use serde::Deserialize;

pub use totals::Totals;

/// What to write as flags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Flags {
    /// Flag 1 for anomalous metrics only.
    #[default]
    Anomalous,
    /// Flag 1 for anomalous metrics and 0 for every other metric analysed.
    All,
}

/// The options of one service; every one has a default ([`Options::default`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Options {
    /// Metric globs (or `re:` regexes). Default `["*"]`: every metric.
    pub patterns: Vec<String>,
    /// Seconds of history analysed. Default 86400.
    pub full_duration: i64,
    /// How many algorithms must fire, 1..=9. Default 6.
    pub consensus: usize,
    /// Seconds after which a metric without a new point is stale. Default 500.
    pub stale_period: i64,
    /// Fewer points than this in the window: too short. Default 100.
    pub min_points: usize,
    /// Which flags to write. Default `anomalous`.
    pub flags: Flags,
    /// Metrics per batched read. Default 50.
    pub batch_size: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            patterns: vec!["*".to_owned()],
            full_duration: 86_400,
            consensus: 6,
            stale_period: 500,
            min_points: 100,
            flags: Flags::Anomalous,
            // Small batches are faster, not slower: a batch of day-long series is 23 KB a
            // metric, and batches of a few megabytes are freed back to the system and faulted
            // in again at every batch (1000 a batch took about twice the CPU of 50 in
            // `bench/analysis`); a round trip per 50 metrics is cheap next to reading them.
            batch_size: 50,
        }
    }
}

/// The detector.
#[derive(Debug)]
pub struct Skyline {
    options: Options,
    analyser: Analyser,
    ts: Vec<i64>,
    values: Vec<f64>,
}

/// Refuses an option value.
fn refuse(what: &str, value: impl std::fmt::Display) -> PluginError {
    PluginError::options(format!("`{what}` {value}"))
}

impl BaseTask for Skyline {
    type Options = Options;
    const NAME: &'static str = "Skyline";
    /// Only the anomalous metrics are reported; every other metric of the service (and
    /// shard) that an earlier tick raised is judged ok again.
    const REPORTING: Reporting = Reporting::Anomalies;

    fn new(options: Options, _init: &Init<'_>) -> Result<Self, PluginError> {
        if options.patterns.is_empty() || options.patterns.iter().any(String::is_empty) {
            return Err(refuse(
                "patterns",
                "must list at least one non-empty pattern",
            ));
        }
        if options.full_duration <= 0 {
            let d = options.full_duration;
            return Err(refuse(
                "full_duration",
                format!("must be positive, got {d}"),
            ));
        }
        if !(1..=9).contains(&options.consensus) {
            let c = options.consensus;
            return Err(refuse("consensus", format!("must be 1..=9, got {c}")));
        }
        if options.stale_period <= 0 {
            let s = options.stale_period;
            return Err(refuse("stale_period", format!("must be positive, got {s}")));
        }
        if options.min_points == 0 {
            return Err(refuse("min_points", "must be at least 1"));
        }
        if options.batch_size == 0 {
            return Err(refuse("batch_size", "must be at least 1"));
        }
        Ok(Skyline {
            options,
            analyser: Analyser::new(),
            ts: Vec::new(),
            values: Vec::new(),
        })
    }

    fn run(&mut self, ctx: &mut Context<'_>) -> Result<(), PluginError> {
        let started = Instant::now();
        let (shard, shards) = ctx.shard();
        let names = self.my_metrics(ctx, shard, shards)?;
        let mut totals = self.analyse(ctx, &names)?;
        totals.run_time_ms = started.elapsed().as_secs_f64() * 1e3;
        ctx.debug(format!(
            "shard {shard}/{shards}: {} metrics, {} analysed, {} anomalous",
            names.len(),
            totals.analysed,
            totals.anomalous
        ));
        totals::report(ctx, shard, shards, totals)
    }
}

impl Skyline {
    /// The metrics matching the patterns that belong to this shard, in name order, once each.
    fn my_metrics(
        &self,
        ctx: &Context<'_>,
        shard: u32,
        shards: u32,
    ) -> Result<Vec<String>, PluginError> {
        let mut names = Vec::new();
        for pattern in &self.options.patterns {
            names.extend(
                ctx.find(pattern)?
                    .into_iter()
                    .filter(|n| shard_of(n, shards) == shard),
            );
        }
        if self.options.patterns.len() > 1 {
            names.sort_unstable();
            names.dedup();
        }
        Ok(names)
    }

    /// Reads and judges `names` in batches; emits flags and verdicts; counts.
    fn analyse(&mut self, ctx: &Context<'_>, names: &[String]) -> Result<Totals, PluginError> {
        let o = &self.options;
        let tick = ctx.tick();
        let window = Window {
            now: tick,
            full_duration: o.full_duration,
        };
        let rules = Rules {
            consensus: o.consensus,
            stale_period: o.stale_period,
            min_points: o.min_points,
        };
        let mut totals = Totals::default();
        for batch in names.chunks(o.batch_size) {
            let series = ctx.read_many(batch, tick.saturating_sub(o.full_duration), tick)?;
            for s in &series {
                // `extend` from a slice iterator: one reservation and a vectorised copy (a
                // `push` loop re-reads the vectors' lengths through `self` at every point).
                self.ts.clear();
                self.values.clear();
                self.ts.extend(s.points.iter().map(|p| p.ts));
                self.values.extend(s.points.iter().map(|p| p.value));
                match self.analyser.judge(&self.ts, &self.values, &window, &rules) {
                    Err(Skip::Short) => totals.skipped_short += 1,
                    Err(Skip::Stale) => totals.skipped_stale += 1,
                    Err(Skip::Boring) => totals.skipped_boring += 1,
                    Ok(verdict) => {
                        totals.analysed += 1;
                        if verdict.anomalous {
                            totals.anomalous += 1;
                            let last = self
                                .values
                                .iter()
                                .rev()
                                .find(|v| v.is_finite())
                                .copied()
                                .unwrap_or(f64::NAN);
                            ctx.verdict(
                                Verdict::anomalous(s.name.as_str())
                                    .reason(format!(
                                        "{} of 9 algorithms fired (consensus {}): {}",
                                        verdict.fired.len(),
                                        o.consensus,
                                        verdict.fired
                                    ))
                                    .value("value", last)
                                    .value("algorithms", verdict.fired.len() as f64),
                            )?;
                            ctx.emit(&format!("{}.flag", s.name), 1.0)?;
                        } else if o.flags == Flags::All {
                            ctx.emit(&format!("{}.flag", s.name), 0.0)?;
                        }
                    }
                }
            }
        }
        Ok(totals)
    }
}

am_plugin_api::export_plugin!(Skyline);

#[cfg(test)]
mod tests;

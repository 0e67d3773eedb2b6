//! `Template`: the plugin to copy when you start a new detector.
//!
//! It is small but complete and useful: a **z-score detector** over one metric. At every tick
//! it reads the last `window` seconds of `metric`, and judges the newest point against the
//! points before it: `zscore = (newest − mean) / stddev`. It writes
//!
//! | field    | value                                                              |
//! |----------|--------------------------------------------------------------------|
//! | `flag`   | `1` when `zscore > threshold`, `-1` when `zscore < −threshold`, else `0` |
//! | `zscore` | the newest point's z-score (not written when the history is flat)  |
//! | `mean`   | the mean of the history the newest point is judged against         |
//!
//! as `<prefix>.Template.<service>.<field>`, and reports its verdict on the metric at every
//! tick: `anomalous` when flagged, `ok` otherwise, `unknown` when the data is missing, stale
//! (newest point older than `max_age`) or too short (fewer than `min_points` before the
//! newest) — then it writes **nothing** (a gap in Graphite) and logs why. The runner's alarm
//! layer turns the verdicts into an alarm and notifies its transitions only.
//!
//! ```json
//! "Template": {
//!   "scheduler_options": { "cron": "0 * * * * *", "plugin_args": { "name": "Template" } },
//!   "worker_options": {
//!     "web_cpu": { "metric": "system.web01.cpu", "window": 3600, "threshold": 3 }
//!   }
//! }
//! ```
//!
//! # How to use this file
//!
//! Copy `plugins/template/` to `plugins/<your-plugin>/`, rename the crate in `Cargo.toml`, then
//! walk through the sections below: each starts with `CHANGE:` saying what to adapt. The
//! guide is `docs/plugins.md`; the API reference is `cargo doc -p am-plugin-api --open`.

// ---------------------------------------------------------------------------------------------
// Imports. `am_plugin_api` is the only anna-molly crate a plugin needs (the shipped detectors
// also use `am_plugin_kit` for t-digests, gap filling and STL; add it if you need those).
// ---------------------------------------------------------------------------------------------
use am_plugin_api::{BaseTask, Context, Init, PluginError, Point, Verdict};
use serde::Deserialize;

// ---------------------------------------------------------------------------------------------
// 1. Options: one service's `worker_options` entry in analyzer.json.
//
// CHANGE: replace the fields with your detector's settings. Rules that keep users happy:
// - one doc comment per field: say the unit and the default (users read these in the docs);
// - a default (`#[serde(default = "...")]`) for everything that has a sensible one;
// - `deny_unknown_fields`: a misspelt key (`treshold`) is refused, naming it, at
//   `am-runner check` and at start, instead of being silently ignored. (am-plugin-api refuses
//   unknown keys even without it; with it, serde's message also lists the valid keys.)
// - to accept an old spelling too, add `#[serde(alias = "old_name")]`.
// ---------------------------------------------------------------------------------------------

/// The options of one service.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// The metric to watch, by its exact name (e.g. `system.web01.cpu`). Required.
    pub metric: String,
    /// How far back to read, in seconds: the newest point is judged against the points of
    /// this window before it. Default 3600.
    #[serde(default = "default_window")]
    pub window: i64,
    /// How many standard deviations from the mean make a point anomalous. Default 3.
    #[serde(default = "default_threshold")]
    pub threshold: f64,
    /// The fewest points the window must hold before the newest for a verdict. Default 10.
    #[serde(default = "default_min_points")]
    pub min_points: usize,
    /// The data is stale when its newest point is older than this many seconds before the
    /// tick; nothing is written then. Default 600.
    #[serde(default = "default_max_age")]
    pub max_age: i64,
}

// serde's `default = "..."` takes a function name; one small function per default.
fn default_window() -> i64 {
    3600
}
fn default_threshold() -> f64 {
    3.0
}
fn default_min_points() -> usize {
    10
}
fn default_max_age() -> i64 {
    600
}

// ---------------------------------------------------------------------------------------------
// 2. Persistent state: what must survive from one tick to the next.
//
// The runner may rebuild your instance at any time (after a panic, on another worker, after a
// restart), so anything that must be remembered goes into the state (a Redis hash per plugin
// and service, `ctx.state_set_json`/`state_get_json`), never into fields of the struct. This
// detector needs none: it judges each tick afresh, and the runner's alarm layer remembers what
// it said (so it need not keep its last verdict to report changes only).
//
// CHANGE: keep whatever your algorithm needs (a t-digest, a running average, a counter...).
// If you change its shape later, old state will not parse: handle that.
// ---------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------
// 3. The detector.
//
// CHANGE: rename `Template` (and `NAME` below). Fields hold what `new` derives from the
// options once (compiled patterns, parsed enums...); nothing that must survive a restart.
// ---------------------------------------------------------------------------------------------

/// The `Template` detector.
#[derive(Debug)]
pub struct Template {
    options: Options,
}

impl BaseTask for Template {
    type Options = Options;

    /// CHANGE: the name analyzer.json's `services` and `plugin_args.name` use, and the second
    /// part of every output series (`<prefix>.Template.<service>.<field>`). Pick it once:
    /// Graphite dashboards depend on it.
    const NAME: &'static str = "Template";

    // -----------------------------------------------------------------------------------------
    // 4. `new`: called once per service, when the runner starts (and by `am-runner check`).
    //
    // CHANGE: check every option whose *type* alone does not make it valid, and name the
    // option in the message: it is what the user sees. Only logging is allowed here (no reads,
    // no state, no outputs): the store is not reachable during `new`.
    // -----------------------------------------------------------------------------------------
    fn new(options: Options, init: &Init<'_>) -> Result<Self, PluginError> {
        if options.metric.trim().is_empty() {
            return Err(PluginError::options("`metric` must not be empty"));
        }
        if options.window <= 0 {
            return Err(PluginError::options(format!(
                "`window` must be a positive number of seconds, got {}",
                options.window
            )));
        }
        if !(options.threshold.is_finite() && options.threshold > 0.0) {
            return Err(PluginError::options(format!(
                "`threshold` must be a positive number, got {}",
                options.threshold
            )));
        }
        if options.min_points < 2 {
            return Err(PluginError::options(format!(
                "`min_points` must be at least 2 (a standard deviation needs two points), got {}",
                options.min_points
            )));
        }
        if options.max_age <= 0 {
            return Err(PluginError::options(format!(
                "`max_age` must be a positive number of seconds, got {}",
                options.max_age
            )));
        }
        init.debug(format!(
            "{}: watching `{}` over {} s, threshold {}",
            init.service(),
            options.metric,
            options.window,
            options.threshold
        ));
        Ok(Template { options })
    }

    // -----------------------------------------------------------------------------------------
    // 5. `run`: called at every tick of the schedule, once per service.
    //
    // The shape most detectors share: read → check the data → compute → emit → remember.
    // CHANGE: the compute step (and the reads, if you watch several metrics: use
    // `ctx.read_pattern("system.*.cpu", from, until)` for a pattern).
    //
    // Errors: return `Err` (with `?`) when the task cannot do its job (the store failed, the
    // state is corrupt). The runner logs it and DISCARDS the task's outputs and verdicts; state
    // already written stays written. Data that does not allow a verdict (stale, too short) is
    // NOT an error: say so in the log and return `Ok`. Never panic on purpose: a panic is
    // caught, logged, fails the task and makes the runner rebuild the instance.
    // -----------------------------------------------------------------------------------------
    fn run(&mut self, ctx: &mut Context<'_>) -> Result<(), PluginError> {
        let o = &self.options;
        // The tick is the analysis' "now": use it, never the clock, so a late or replayed
        // tick looks at the right window.
        let now = ctx.tick();

        // Read. `read` gives the points with `from <= ts <= now`, oldest first; an unknown
        // metric has none. `?` passes a store failure on (the runner has logged its details).
        let points = ctx.read(&o.metric, now - o.window, now)?;

        // Check the data. Each "no verdict" case logs a warning and writes nothing.
        let Some((newest, history)) = points.split_last() else {
            let why = format!("`{}` has no points in the last {} s", o.metric, o.window);
            return no_verdict(ctx, &o.metric, &why);
        };
        let age = now - newest.ts;
        if age > o.max_age {
            let why = format!(
                "`{}` is stale: its newest point is {age} s old (max_age is {} s)",
                o.metric, o.max_age
            );
            return no_verdict(ctx, &o.metric, &why);
        }
        if history.len() < o.min_points {
            let why = format!(
                "`{}` has {} points before the newest in the last {} s; min_points is {}",
                o.metric,
                history.len(),
                o.window,
                o.min_points
            );
            return no_verdict(ctx, &o.metric, &why);
        }

        // Compute.
        let (mean, stddev) = mean_and_stddev(history);
        let zscore = zscore(newest.value, mean, stddev);
        let flag = if zscore > o.threshold {
            1.0
        } else if zscore < -o.threshold {
            -1.0
        } else {
            0.0
        };
        ctx.debug(format!(
            "value {} mean {mean} stddev {stddev} zscore {zscore}",
            newest.value
        ));

        // Emit. Each `emit` becomes `<prefix>.Template.<service>.<field>`, stamped with the
        // tick (use `emit_at(field, value, ts)` to stamp another time). The runner drops NaN
        // and infinite values, so do not emit them: here an infinite z-score (a flat history
        // and a different newest value) is simply not written.
        ctx.emit("flag", flag)?;
        if zscore.is_finite() {
            ctx.emit("zscore", zscore)?;
        }
        ctx.emit("mean", mean)?;

        // Judge. The verdict goes to the runner's alarm layer, which keeps the alarm's state
        // and notifies people of its transitions only: report it at every tick.
        let mut verdict = if flag == 0.0 {
            Verdict::ok(&o.metric).reason(format!(
                "value {} is within {} standard deviations of the mean {mean:.3}",
                newest.value, o.threshold
            ))
        } else {
            Verdict::anomalous(&o.metric).reason(format!(
                "value {} is {:.1} standard deviations from the mean {mean:.3} (threshold {})",
                newest.value, zscore, o.threshold
            ))
        };
        verdict = verdict.value("value", newest.value).value("mean", mean);
        if zscore.is_finite() {
            verdict = verdict.value("zscore", zscore);
        }
        ctx.verdict(verdict)
    }
}

// ---------------------------------------------------------------------------------------------
// 6. Helpers. Plain functions are easy to unit-test without a host.
// CHANGE: your algorithm's maths.
// ---------------------------------------------------------------------------------------------

/// The mean and the (sample) standard deviation of the points' values; needs 2 points or more.
pub fn mean_and_stddev(points: &[Point]) -> (f64, f64) {
    let n = points.len() as f64;
    let mean = points.iter().map(|p| p.value).sum::<f64>() / n;
    let var = points.iter().map(|p| (p.value - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

/// `(value − mean) / stddev`; with a flat history (stddev 0) it is 0 for the same value and
/// ±infinity for any other.
pub fn zscore(value: f64, mean: f64, stddev: f64) -> f64 {
    if stddev > 0.0 {
        (value - mean) / stddev
    } else if value == mean {
        0.0
    } else {
        f64::INFINITY.copysign(value - mean)
    }
}

/// No verdict this tick: log why, write nothing, and report `unknown`.
fn no_verdict(ctx: &Context<'_>, metric: &str, why: &str) -> Result<(), PluginError> {
    ctx.warn(format!("{why}; nothing written"));
    ctx.verdict(Verdict::unknown(metric).reason(why))
}

// ---------------------------------------------------------------------------------------------
// 7. Export: generates the two symbols the runner looks for. Exactly once per crate.
// CHANGE: the type name.
// ---------------------------------------------------------------------------------------------
am_plugin_api::export_plugin!(Template);

#[cfg(test)]
mod tests;

//! `Example`: a small detector that shows every part of the plugin API.
//!
//! At each tick, for one service, it reads the metrics matching `metrics` over the last
//! `window` seconds (and the `reference` metric, if given), and
//!
//! - emits `count` (series read), `max` and `mean` (of their last values), `runs` (how many
//!   times this service ran, kept in the persistent state) and `reference` (the reference
//!   metric's last value);
//! - reports a verdict on every metric it read: `anomalous` (severity warning) while its last
//!   value is above `threshold`, `ok` otherwise (the runner's alarm layer remembers them and
//!   notifies each crossing once);
//! - logs a summary at info level.
//!
//! ```json
//! "Example": {
//!   "scheduler_options": { "cron": "*/30 * * * * *", "plugin_args": { "name": "Example" } },
//!   "worker_options": {
//!     "service1": { "metrics": "system.*.cpu", "window": 300, "threshold": 90,
//!                   "reference": "system.total.cpu" }
//!   }
//! }
//! ```

use am_plugin_api::{BaseTask, Context, Init, PluginError, Verdict};
use serde::{Deserialize, Serialize};

/// The options of one service.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// The metrics to watch: a glob or `re:` + a regex.
    pub metrics: String,
    /// How far back to read, in seconds (default 300).
    #[serde(default = "default_window")]
    pub window: i64,
    /// Above this, a metric's last value is anomalous.
    pub threshold: f64,
    /// A metric read by its exact name, whose last value is emitted as `reference`.
    pub reference: Option<String>,
}

fn default_window() -> i64 {
    300
}

/// What the plugin keeps across runs, as JSON under the key `memory`.
#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Memory {
    /// How many times the service ran.
    pub runs: u64,
    /// The `max` of the previous run with data.
    pub last_max: Option<f64>,
}

/// The state key of [`Memory`].
pub const MEMORY: &str = "memory";

/// The `Example` detector.
#[derive(Debug)]
pub struct Example {
    options: Options,
}

impl BaseTask for Example {
    type Options = Options;
    const NAME: &'static str = "Example";

    fn new(options: Options, init: &Init<'_>) -> Result<Self, PluginError> {
        if options.window <= 0 {
            return Err(PluginError::options(format!(
                "`window` must be positive, got {}",
                options.window
            )));
        }
        if !options.threshold.is_finite() {
            return Err(PluginError::options("`threshold` must be a finite number"));
        }
        init.debug(format!(
            "{}: watching `{}` over {} s",
            init.service(),
            options.metrics,
            options.window
        ));
        Ok(Example { options })
    }

    fn run(&mut self, ctx: &mut Context<'_>) -> Result<(), PluginError> {
        let now = ctx.tick();
        let from = now - self.options.window;
        let mut memory: Memory = ctx.state_get_json(MEMORY)?.unwrap_or_default();
        memory.runs += 1;

        let series = ctx.read_pattern(&self.options.metrics, from, now)?;
        let lasts: Vec<(&str, f64)> = series
            .iter()
            .filter_map(|s| Some((s.name.as_str(), s.points.last()?.value)))
            .collect();
        ctx.emit("count", series.len() as f64)?;
        ctx.emit("runs", memory.runs as f64)?;

        let max = lasts.iter().map(|&(_, v)| v).reduce(f64::max);
        if let Some(max) = max {
            let mean = lasts.iter().map(|&(_, v)| v).sum::<f64>() / lasts.len() as f64;
            ctx.emit("max", max)?;
            ctx.emit("mean", mean)?;
            memory.last_max = Some(max);
        }

        if let Some(reference) = &self.options.reference {
            match ctx.read(reference, from, now)?.last() {
                Some(point) => ctx.emit("reference", point.value)?,
                None => ctx.warn(format!("reference `{reference}` has no data")),
            }
        }

        let mut anomalous = 0;
        for &(name, value) in &lasts {
            let t = self.options.threshold;
            let verdict = if value > t {
                anomalous += 1;
                Verdict::anomalous(name)
                    .reason(format!("last value {value} is above the threshold {t}"))
            } else {
                Verdict::ok(name).reason(format!("last value {value} is under the threshold {t}"))
            };
            ctx.verdict(verdict.value("last", value).value("threshold", t))?;
        }

        ctx.state_set_json(MEMORY, &memory)?;
        ctx.info(format!(
            "run {}: {} series, max {}, {} anomalous",
            memory.runs,
            series.len(),
            max.map_or_else(|| "-".to_owned(), |m| m.to_string()),
            anomalous
        ));
        Ok(())
    }
}

am_plugin_api::export_plugin!(Example);

#[cfg(test)]
mod tests;

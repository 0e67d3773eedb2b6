//! `TukeysFilter`: is each instance of a service inside the service's normal range?
//!
//! Reads two quantile metrics (`quantile_25`, `quantile_75`, e.g. computed by the service's
//! own monitoring) and every instance metric matching `metrics`; takes the datapoint of each
//! closest to `tick − offset`, ignoring datapoints older than `maximum_delay`; computes Tukey's
//! fences `q25 − k·IQR` and `q75 + k·IQR` (`iqr_scaling` k, default 1.5), narrowed by
//! `static_lower_threshold` / `static_upper_threshold` when given; and writes, per instance,
//! `1` (above), `-1` (below) or `0`, plus `quantile_25`, `quantile_75`, `count` (instances
//! judged) and `invalid` (instances flagged) — anna-molly's output fields — and reports a verdict
//! on each instance metric: `anomalous` when flagged, `ok` otherwise.
//!
//! The instance's field is its metric name without the pattern's literal path, up to the last
//! dot before the first wildcard (`metrics: "system.*"` or `"system.web*"`, metric
//! `system.web01` → field `web01`).
//!
//! When a quantile is missing or older than `maximum_delay`, the quantiles are inconsistent
//! (`q25 > q75`) or no instance has a recent datapoint, nothing is written (as anna-molly did):
//! the reason is logged at error level, and the task succeeds.
//!
//! ```json
//! "TukeysFilter": {
//!   "scheduler_options": { "cron": "*/30 * * * * *", "plugin_args": { "name": "TukeysFilter" } },
//!   "worker_options": { "service1": { "quantile_25": "service.quartil_25", "quantile_75": "service.quartil_75",
//!                                     "metrics": "system.*", "iqr_scaling": 2, "offset": 60, "maximum_delay": 900 } }
//! }
//! ```

use am_plugin_api::{BaseTask, Context, Init, PluginError, Verdict};
use am_plugin_kit::{check, closest};
use serde::Deserialize;

/// The options of one service.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// The metric holding the service's 25th percentile.
    pub quantile_25: String,
    /// The metric holding the service's 75th percentile.
    pub quantile_75: String,
    /// The instance metrics: a glob or `re:` + a regex.
    pub metrics: String,
    /// k in the fences `q25 − k·IQR`, `q75 + k·IQR`.
    #[serde(default = "am_plugin_kit::default_iqr_scaling")]
    pub iqr_scaling: f64,
    /// Seconds before the tick to look at (lets late data arrive).
    #[serde(default)]
    pub offset: i64,
    /// Datapoints older than this (seconds before `tick − offset`) are ignored. anna-molly's
    /// code read it as `maxmium_delay`; both spellings are accepted.
    #[serde(default = "default_delay", alias = "maxmium_delay")]
    pub maximum_delay: i64,
    /// The lower fence is at least this.
    pub static_lower_threshold: Option<f64>,
    /// The upper fence is at most this.
    pub static_upper_threshold: Option<f64>,
    /// Accepted for anna-molly's files (a fill value there); unused.
    pub default: Option<f64>,
}

fn default_delay() -> i64 {
    600
}

/// The detector.
#[derive(Debug)]
pub struct TukeysFilter {
    options: Options,
    prefix: String,
}

/// The path every match of a glob starts with, up to its last dot: what is cut from metric
/// names to name the instances (`system.*` → `system.`; `demo.latency.web*` → `demo.latency.`).
fn literal_prefix(pattern: &str) -> String {
    if pattern.starts_with("re:") {
        return String::new();
    }
    let literal: String = pattern
        .chars()
        .take_while(|c| !matches!(c, '*' | '?' | '[' | '{' | '\\'))
        .collect();
    match literal.rfind('.') {
        Some(i) => literal[..=i].to_string(),
        None => String::new(),
    }
}

impl BaseTask for TukeysFilter {
    type Options = Options;
    const NAME: &'static str = "TukeysFilter";

    fn new(options: Options, _init: &Init<'_>) -> Result<Self, PluginError> {
        let (k, offset, delay) = (options.iqr_scaling, options.offset, options.maximum_delay);
        check(k.is_finite() && k >= 0.0, "iqr_scaling", "a number ≥ 0", k)?;
        check(offset >= 0, "offset", "≥ 0", offset)?;
        check(delay > 0, "maximum_delay", "positive", delay)?;
        if let (Some(lo), Some(hi)) = (
            options.static_lower_threshold,
            options.static_upper_threshold,
        ) && lo > hi
        {
            return Err(PluginError::options(format!(
                "`static_lower_threshold` ({lo}) is above `static_upper_threshold` ({hi})"
            )));
        }
        let prefix = literal_prefix(&options.metrics);
        Ok(TukeysFilter { options, prefix })
    }

    fn run(&mut self, ctx: &mut Context<'_>) -> Result<(), PluginError> {
        let o = &self.options;
        let at = ctx.tick() - o.offset;
        let (from, until) = (at - o.maximum_delay, ctx.tick());
        let fresh = |name: &str, points: &[am_plugin_api::Point]| {
            closest(points, at)
                .filter(|p| at - p.ts <= o.maximum_delay)
                .map(|p| p.value)
                .ok_or(name.to_string())
        };
        let q25 = fresh(&o.quantile_25, &ctx.read(&o.quantile_25, from, until)?);
        let q75 = fresh(&o.quantile_75, &ctx.read(&o.quantile_75, from, until)?);
        let (q25, q75) = match (q25, q75) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(m), _) | (_, Err(m)) => {
                ctx.error(format!(
                    "quantile `{m}` has no datapoint within maximum_delay; nothing written"
                ));
                return Ok(());
            }
        };
        if q25 > q75 {
            ctx.error(format!(
                "inconsistent quantiles: q25 {q25} > q75 {q75}; nothing written"
            ));
            return Ok(());
        }
        let iqr = q75 - q25;
        let mut lower = q25 - o.iqr_scaling * iqr;
        let mut upper = q75 + o.iqr_scaling * iqr;
        if let Some(l) = o.static_lower_threshold {
            lower = lower.max(l);
        }
        if let Some(u) = o.static_upper_threshold {
            upper = upper.min(u);
        }
        let mut states = Vec::new();
        for s in ctx.read_pattern(&o.metrics, from, until)? {
            let Ok(v) = fresh(&s.name, &s.points) else {
                continue;
            };
            let state = if v > upper {
                1.0
            } else if v < lower {
                -1.0
            } else {
                0.0
            };
            let instance = s
                .name
                .strip_prefix(&self.prefix)
                .filter(|r| !r.is_empty())
                .unwrap_or(&s.name);
            states.push((instance.to_string(), state));
            let verdict = match state {
                1.0 => Verdict::anomalous(&s.name)
                    .reason(format!("{v} is above the upper fence {upper}")),
                -1.0 => Verdict::anomalous(&s.name)
                    .reason(format!("{v} is below the lower fence {lower}")),
                _ => Verdict::ok(&s.name).reason(format!("{v} is within [{lower}, {upper}]")),
            };
            ctx.verdict(
                verdict
                    .value("value", v)
                    .value("lower", lower)
                    .value("upper", upper),
            )?;
        }
        if states.is_empty() {
            ctx.error(format!(
                "no instance of `{}` has a datapoint within maximum_delay; nothing written",
                o.metrics
            ));
            return Ok(());
        }
        let invalid = states.iter().filter(|(_, s)| *s != 0.0).count();
        for (instance, state) in &states {
            ctx.emit(instance, *state)?;
        }
        ctx.emit("quantile_25", q25)?;
        ctx.emit("quantile_75", q75)?;
        ctx.emit("count", states.len() as f64)?;
        ctx.emit("invalid", invalid as f64)?;
        Ok(())
    }
}

am_plugin_api::export_plugin!(TukeysFilter);

#[cfg(test)]
mod tests {
    use super::*;
    use am_plugin_api::testing::{TestHost, run_task};

    const OPTS: &str = r#"{"quantile_25": "svc.q25", "quantile_75": "svc.q75", "metrics": "system.*", "iqr_scaling": 1.5, "offset": 0, "maximum_delay": 120, "default": 0}"#;

    fn host(now: i64) -> TestHost {
        let mut h = TestHost::new();
        h.add_point("svc.q25", now - 10, 10.0);
        h.add_point("svc.q75", now - 10, 20.0);
        for (name, v) in [
            ("system.web01", 15.0),
            ("system.web02", 100.0),
            ("system.web03", -20.0),
        ] {
            h.add_point(name, now - 5, v);
        }
        h.add_point("system.old", now - 1000, 1000.0);
        h
    }

    #[test]
    fn flags_each_instance_against_the_fences() {
        let now = 1_700_000_000;
        let mut h = host(now);
        run_task::<TukeysFilter>(OPTS, "s1", &mut h, now).unwrap();
        assert_eq!(h.last_value("web01"), Some(0.0));
        assert_eq!(h.last_value("web02"), Some(1.0));
        assert_eq!(h.last_value("web03"), Some(-1.0));
        assert_eq!(h.last_value("old"), None, "stale instances are not judged");
        assert_eq!(h.last_value("count"), Some(3.0));
        assert_eq!(h.last_value("invalid"), Some(2.0));
        assert_eq!(h.last_value("quantile_25"), Some(10.0));
    }

    #[test]
    fn static_thresholds_narrow_the_fences() {
        let now = 1_700_000_000;
        let mut h = host(now);
        let opts = OPTS.replace(
            "\"offset\": 0",
            "\"offset\": 0, \"static_upper_threshold\": 14",
        );
        run_task::<TukeysFilter>(&opts, "s1", &mut h, now).unwrap();
        assert_eq!(h.last_value("web01"), Some(1.0));
    }

    #[test]
    fn stale_quantiles_write_nothing() {
        let now = 1_700_000_000;
        let mut h = host(now);
        run_task::<TukeysFilter>(OPTS, "s1", &mut h, now + 10_000).unwrap();
        assert!(h.emitted().is_empty());
    }

    #[test]
    fn options_are_checked() {
        let mut h = TestHost::new();
        let bad = OPTS.replace("\"iqr_scaling\": 1.5", "\"iqr_scaling\": -1");
        let e = run_task::<TukeysFilter>(&bad, "s1", &mut h, 0).unwrap_err();
        assert!(format!("{e:?}").contains("iqr_scaling"), "{e:?}");
        let bad = OPTS.replace("\"offset\": 0", "\"ofset\": 0");
        let e = run_task::<TukeysFilter>(&bad, "s1", &mut h, 0).unwrap_err();
        assert!(format!("{e:?}").contains("ofset"), "{e:?}");
    }
}

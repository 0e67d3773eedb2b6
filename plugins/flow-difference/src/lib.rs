//! `FlowDifference`: does what flows out of a stage match what flowed in?
//!
//! Takes the second-newest point of `in_metric` and of `out_metric` (the newest may still be
//! filling), their deviation `out − in`, adds it to a t-digest of past deviations kept in the
//! plugin's state (a runner restart continues it), and flags it with Tukey
//! fences of the digest's quartiles (`error_params.iqr_scaling`, default 1.5; flag 1 also needs
//! the deviation above `minimal_upper_threshold`, −1 below `minimal_lower_threshold`).
//!
//! Reports a verdict on `out_metric` at every tick: `anomalous` when flagged, `ok` otherwise,
//! `unknown` when either metric is missing, short or stale.
//!
//! Writes anna-molly's fields: `flag`, `lower`, `upper`, `deviation`. When either metric has
//! fewer than two points or its newest is older than `stale` seconds, only `flag` = −1 is
//! written, and the reason logged.
//!
//! ```json
//! "FlowDifference": {
//!   "scheduler_options": { "cron": "*/30 * * * * *", "plugin_args": { "name": "FlowDifference" } },
//!   "worker_options": { "fd_service1": { "in_metric": "service1.out", "out_metric": "service2.in",
//!     "stale": 120, "error_params": { "scaling": 2, "minimal_upper_threshold": 0.1,
//!     "minimal_lower_threshold": -0.1 } } }
//! }
//! ```

use am_plugin_api::{BaseTask, Context, Init, PluginError};
use am_plugin_kit::{ErrorParams, check, eval_tukey, no_verdict, record};
use serde::Deserialize;

/// The options of one service.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// What flows into the stage.
    pub in_metric: String,
    /// What flows out of it.
    pub out_metric: String,
    /// Seconds after which a metric's newest point is too old.
    pub stale: i64,
    /// How deviations are judged (`iqr_scaling`/`scaling`, minimal thresholds).
    #[serde(default)]
    pub error_params: ErrorParams,
}

/// The detector.
#[derive(Debug)]
pub struct FlowDifference {
    options: Options,
}

/// State key of the deviation distribution.
const DIGEST: &str = "deviations";

impl BaseTask for FlowDifference {
    type Options = Options;
    const NAME: &'static str = "FlowDifference";

    fn new(options: Options, _init: &Init<'_>) -> Result<Self, PluginError> {
        check(options.stale > 0, "stale", "positive", options.stale)?;
        options.error_params.validate()?;
        options.error_params.refuse_unused(
            "FlowDifference (Tukey fences only)",
            &["alpha", "threshold", "error_type", "error_handling"],
        )?;
        Ok(FlowDifference { options })
    }

    fn run(&mut self, ctx: &mut Context<'_>) -> Result<(), PluginError> {
        let o = &self.options;
        let tick = ctx.tick();
        // Enough history for two points of a slow metric.
        let from = tick - (o.stale * 10).max(3600);
        let mut second_newest = Vec::new();
        for metric in [&o.in_metric, &o.out_metric] {
            let points = ctx.read(metric, from, tick)?;
            let why = match points.len() {
                0 | 1 => Some(format!(
                    "`{metric}` has {} point(s); two are needed",
                    points.len()
                )),
                n if tick - points[n - 1].ts > o.stale => Some(format!(
                    "`{metric}` is stale: its newest point is {} s old (stale is {} s)",
                    tick - points[n - 1].ts,
                    o.stale
                )),
                n => {
                    second_newest.push(points[n - 2].value);
                    None
                }
            };
            if let Some(why) = why {
                return no_verdict(ctx, "flag", &o.out_metric, &why);
            }
        }
        let deviation = second_newest[1] - second_newest[0];
        let digest = record(ctx, DIGEST, deviation)?;
        let v = eval_tukey(deviation, &o.error_params, &digest)
            .ok_or_else(|| PluginError::data("the deviation distribution is empty"))?;
        v.emit(ctx, "")?;
        ctx.emit("deviation", deviation)?;
        ctx.verdict(v.verdict(&o.out_metric, "deviation", deviation))?;
        Ok(())
    }
}

am_plugin_api::export_plugin!(FlowDifference);

#[cfg(test)]
mod tests {
    use super::*;
    use am_plugin_api::testing::{TestHost, TestRunner, run_task};

    const OPTS: &str = r#"{"in_metric": "a.in", "out_metric": "b.out", "stale": 120}"#;

    #[test]
    fn a_leak_is_flagged_and_steady_flow_is_not() {
        let t0 = 1_700_000_000;
        let mut h = TestHost::new();
        for i in 0..200i64 {
            let v = 1000.0 + (i % 17) as f64;
            let out = if i == 150 {
                v - 400.0
            } else {
                v + ((i * 13) % 5) as f64 - 2.0
            };
            h.add_point("a.in", t0 + i * 60, v);
            h.add_point("b.out", t0 + i * 60, out);
        }
        let mut r = TestRunner::new::<FlowDifference>(OPTS, "s", &mut h).unwrap();
        let flags: Vec<f64> = (20..200)
            .map(|i| {
                r.run(&mut h, t0 + i * 60).unwrap();
                h.last_value("flag").unwrap()
            })
            .collect();
        assert_eq!(flags[151 - 20], -1.0, "{flags:?}");
        assert_eq!(flags.iter().filter(|f| **f != 0.0).count(), 1, "{flags:?}");
        // A verdict on the out metric at every tick, anomalous at the leak alone.
        let anomalous: Vec<i64> = h
            .verdicts()
            .iter()
            .filter(|v| v.state == "anomalous")
            .map(|v| (v.ts - t0) / 60)
            .collect();
        assert_eq!(anomalous, [151]);
        assert_eq!(h.verdicts().len(), 180);
        assert!(h.verdicts().iter().all(|v| v.subject == "b.out"));
        assert_eq!(
            h.last_value("deviation").map(f64::abs).map(|d| d < 10.0),
            Some(true)
        );
    }

    #[test]
    fn settings_it_would_ignore_are_refused() {
        let mut h = TestHost::new();
        let opts = r#"{"in_metric": "a", "out_metric": "b", "stale": 60, "error_params": {"error_handling": "quantile"}}"#;
        let e = format!(
            "{:?}",
            run_task::<FlowDifference>(opts, "s", &mut h, 0).unwrap_err()
        );
        assert!(e.contains("error_params.error_handling"), "{e}");
    }

    #[test]
    fn stale_or_missing_writes_flag_minus_one() {
        let mut h = TestHost::new();
        h.add_point("a.in", 1000, 1.0);
        h.add_point("a.in", 1060, 1.0);
        h.add_point("b.out", 1000, 1.0);
        run_task::<FlowDifference>(OPTS, "s", &mut h, 1060).unwrap();
        assert_eq!(h.last_value("flag"), Some(-1.0));
        assert_eq!(h.verdicts()[0].state, "unknown");
        h.add_point("b.out", 1060, 1.0);
        run_task::<FlowDifference>(OPTS, "s", &mut h, 1060 + 500).unwrap();
        assert_eq!(h.last_value("flag"), Some(-1.0));
        run_task::<FlowDifference>(OPTS, "s", &mut h, 1061).unwrap();
        assert_eq!(h.last_value("flag"), Some(0.0));
    }
}

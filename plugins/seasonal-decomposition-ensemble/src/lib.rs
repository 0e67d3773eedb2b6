//! `SeasonalDecompositionEnsemble`: the seasonal decomposition of `SeasonalDecomposition`,
//! judged four ways, and a vote.
//!
//! The window and model are exactly `SeasonalDecomposition`'s (robust periodic STL over the
//! `period_length · seasons` points ending at the second-newest, model floored at 0.01). Two
//! errors — `norm` (relative) and `stl` (absolute: input − model) — each go into their own
//! t-digest kept in the plugin's state, and each is judged both by Tukey fences (`tukey`) and
//! by quantile fences (`quantile`): four flags of 1, −1 or 0. Their sum is the `consensus`;
//! `overall.flag` is 1 when it is ≥ `threshold`, −1 when ≤ −`threshold` (default 2; anna-molly's
//! files spell it `treshold`).
//!
//! Reports a verdict on `metric` at every tick: `anomalous` when `overall.flag` is set, `ok`
//! otherwise, `unknown` when there is no model.
//!
//! Writes anna-molly's fields: `overall.flag`, `overall.consensus`, for each of `norm_tukey`,
//! `norm_quantile`, `stl_tukey`, `stl_quantile` its `.flag`, `.lower`, `.upper` (and `.alpha`
//! for the quantile ones), and `input`, `seasonal`, `trend`, `model`, `error`, `error_norm`.
//! Stale, missing or too-short data writes only `overall.flag` = −1 and logs why.
//!
//! ```json
//! "SeasonalDecompositionEnsemble": {
//!   "scheduler_options": { "cron": "*/30 * * * * *", "plugin_args": { "name": "SeasonalDecompositionEnsemble" } },
//!   "worker_options": { "stle_service1": { "metric": "system.loadavg", "period_length": 144, "seasons": 3,
//!     "interval": 600, "error_params": { "scaling": 2, "minimal_upper_threshold": 0.1,
//!     "minimal_lower_threshold": -0.1, "treshold": 2 } } }
//! }
//! ```

use am_plugin_api::{BaseTask, Context, Init, PluginError, Verdict};
use am_plugin_kit::seasonal::{SeasonalOptions, model};
use am_plugin_kit::{eval_quantile, eval_tukey, no_verdict, record};

/// The options of one service (shared with `SeasonalDecomposition`).
pub type Options = SeasonalOptions;

/// The detector.
#[derive(Debug)]
pub struct SeasonalDecompositionEnsemble {
    options: Options,
}

impl BaseTask for SeasonalDecompositionEnsemble {
    type Options = Options;
    const NAME: &'static str = "SeasonalDecompositionEnsemble";

    fn new(options: Options, _init: &Init<'_>) -> Result<Self, PluginError> {
        options.validate(
            "SeasonalDecompositionEnsemble (both error types, both judgements)",
            &["error_type", "error_handling"],
        )?;
        if options.error_type.is_some() || options.error_handling.is_some() {
            return Err(PluginError::options(
                "`error_type` and `error_handling` are not used by SeasonalDecompositionEnsemble (it uses both of each); remove them",
            ));
        }
        Ok(SeasonalDecompositionEnsemble { options })
    }

    fn run(&mut self, ctx: &mut Context<'_>) -> Result<(), PluginError> {
        let m = match model(ctx, &self.options)? {
            Ok(m) => m,
            Err(why) => return no_verdict(ctx, "overall.flag", &self.options.metric, &why.0),
        };
        let p = &self.options.error_params;
        let mut consensus = 0.0;
        for (kind, error) in [("norm", m.norm_error()), ("stl", m.error)] {
            let digest = record(ctx, &format!("errors.{kind}"), error)?;
            for (method, fences) in [
                ("tukey", eval_tukey(error, p, &digest)),
                ("quantile", eval_quantile(error, p, &digest)),
            ] {
                let fences =
                    fences.ok_or_else(|| PluginError::data("the error distribution is empty"))?;
                consensus += fences.flag;
                fences.emit(ctx, &format!("{kind}_{method}."))?;
                if method == "quantile" {
                    ctx.emit(&format!("{kind}_{method}.alpha"), p.alpha)?;
                }
            }
        }
        let overall = if consensus >= p.threshold {
            1.0
        } else if consensus <= -p.threshold {
            -1.0
        } else {
            0.0
        };
        ctx.emit("overall.flag", overall)?;
        ctx.emit("overall.consensus", consensus)?;
        let metric = &self.options.metric;
        let verdict = if overall == 0.0 {
            Verdict::ok(metric).reason(format!("consensus {consensus} within ±{}", p.threshold))
        } else {
            Verdict::anomalous(metric).reason(format!(
                "consensus {consensus} of the four judgements reaches ±{}",
                p.threshold
            ))
        };
        ctx.verdict(
            verdict
                .value("consensus", consensus)
                .value("input", m.input)
                .value("model", m.model),
        )?;
        ctx.emit("input", m.input)?;
        ctx.emit("seasonal", m.seasonal)?;
        ctx.emit("trend", m.trend)?;
        ctx.emit("model", m.model)?;
        ctx.emit("error", m.error)?;
        ctx.emit("error_norm", m.norm_error())?;
        Ok(())
    }
}

am_plugin_api::export_plugin!(SeasonalDecompositionEnsemble);

#[cfg(test)]
mod tests {
    use super::*;
    use am_plugin_api::testing::{TestHost, TestRunner, run_task};

    const STEP: i64 = 600;
    const OPTS: &str = r#"{"metric": "m", "period_length": 24, "seasons": 3, "interval": 600,
      "error_params": {"scaling": 1.5, "treshold": 2}}"#;

    fn run(n: i64, spike_at: Option<i64>) -> Vec<f64> {
        let t0 = 1_700_000_000;
        let mut h = TestHost::new();
        for i in 0..n {
            let base = 50.0 + 20.0 * ((i % 24) as f64 / 24.0 * std::f64::consts::TAU).cos();
            let v = if Some(i) == spike_at {
                500.0
            } else {
                base + ((i * 31) % 7) as f64 * 0.2
            };
            h.add_point("m", t0 + i * STEP, v);
        }
        let mut r = TestRunner::new::<SeasonalDecompositionEnsemble>(OPTS, "s", &mut h).unwrap();
        (80..n)
            .map(|i| {
                r.run(&mut h, t0 + i * STEP).unwrap();
                h.last_value("overall.flag").unwrap()
            })
            .collect()
    }

    #[test]
    fn clean_is_quiet_and_a_spike_wins_the_vote() {
        assert!(run(200, None).iter().all(|f| *f == 0.0));
        let f = run(200, Some(150));
        assert_eq!(f[151 - 80], 1.0, "{f:?}");
        // Nothing before the spike. (The quantile fences cannot flag yet — with fewer than
        // 1/alpha errors the spike is the digest's own maximum — so the two Tukey flags carry
        // the vote. While the spike is inside the window, the periodic seasonal component,
        // R's mean per cycle position, is pulled by it, so points after it may be judged
        // against a distorted model: anna-molly's R-based plugin behaved the same.)
        assert!(f[..151 - 80].iter().all(|x| *x == 0.0), "{f:?}");
    }

    #[test]
    fn too_short_writes_overall_flag_minus_one() {
        let mut h = TestHost::new();
        h.add_point("m", 1_700_000_000, 1.0);
        run_task::<SeasonalDecompositionEnsemble>(OPTS, "s", &mut h, 1_700_000_000).unwrap();
        assert_eq!(h.last_value("overall.flag"), Some(-1.0));
        assert_eq!(h.emitted().len(), 1);
    }
}

//! `SeasonalDecomposition`: is the latest point what the season and the trend predict?
//!
//! Puts `metric` on a grid of `interval` seconds (gaps filled with `default`, or interpolated),
//! takes the `period_length · seasons` points ending at the second-newest one (the newest
//! interval may still be filling), decomposes them with robust periodic STL (as anna-molly did
//! with R's `stl`), and models the window's last point ("input") as seasonal + trend, floored
//! at 0.01. The error (`abs`: input − model; `norm`: relative, see below) goes into a t-digest
//! of past errors kept in the plugin's state — so a runner restart continues the
//! distribution — and is flagged by `error_handling`: `tukey` (IQR fences of the digest's
//! quartiles, `iqr_scaling`) or `quantile` (fences at the `alpha/2` and `1 − alpha/2`
//! quantiles). Flag 1 needs the error above the upper fence and above
//! `minimal_upper_threshold`; −1 below the lower fence and below `minimal_lower_threshold`.
//!
//! `norm` divides the error by the model when the error is ≤ 0, and by the input otherwise
//! (1.0 when the input is 0).
//!
//! Reports a verdict on `metric` at every tick: `anomalous` when flagged, `ok` otherwise,
//! `unknown` when there is no model (stale, missing or short data).
//!
//! Writes anna-molly's fields: `flag`, `lower`, `upper`, `model`, `input`, `seasonal`, `trend`,
//! `error` (and `alpha` with `quantile`). When the data is stale (newest point older than 3
//! intervals), missing or too short, it writes only `flag` = −1, as anna-molly did, and logs
//! why.
//!
//! STL needs more than two full periods: `seasons` must be at least 3 (anna-molly's example of
//! `period_length` 6 × `seasons` 2 is refused at `am-runner check` and at start).
//!
//! ```json
//! "SeasonalDecomposition": {
//!   "scheduler_options": { "cron": "*/30 * * * * *", "plugin_args": { "name": "SeasonalDecomposition" } },
//!   "worker_options": { "stl_service1": { "metric": "system.loadavg", "period_length": 144, "seasons": 3,
//!     "interval": 600, "error_params": { "error_type": "norm", "error_handling": "quantile", "alpha": 0.01,
//!     "minimal_upper_threshold": 0.1, "minimal_lower_threshold": -0.1 } } }
//! }
//! ```

use am_plugin_api::{BaseTask, Context, Init, PluginError};
use am_plugin_kit::seasonal::{SeasonalOptions, model};
use am_plugin_kit::{eval_quantile, eval_tukey, no_verdict, record};

/// The options of one service (shared with the ensemble).
pub type Options = SeasonalOptions;

#[derive(Debug, Clone, Copy, PartialEq)]
enum ErrorType {
    Abs,
    Norm,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Handling {
    Tukey,
    Quantile,
}

/// The detector.
#[derive(Debug)]
pub struct SeasonalDecomposition {
    options: Options,
    error_type: ErrorType,
    handling: Handling,
}

/// State key of the error distribution.
const DIGEST: &str = "errors";

/// The option `name`: the first of `settings` that is set (the plugin's own, then
/// `error_params`'), one of `choices` by its spelling; the first choice when none is set.
fn choose<T: Copy>(
    name: &str,
    settings: [&Option<String>; 2],
    choices: &[(&str, T)],
    expected: &str,
) -> Result<T, PluginError> {
    let value = settings.into_iter().find_map(Option::as_deref);
    let choice = match value {
        None => choices.first(),
        Some(v) => choices.iter().find(|(spelling, _)| *spelling == v),
    };
    choice.map(|(_, c)| *c).ok_or_else(|| {
        PluginError::options(format!(
            "`{name}` must be {expected}, got `{}`",
            value.unwrap_or_default()
        ))
    })
}

impl BaseTask for SeasonalDecomposition {
    type Options = Options;
    const NAME: &'static str = "SeasonalDecomposition";

    fn new(options: Options, _init: &Init<'_>) -> Result<Self, PluginError> {
        options.validate("SeasonalDecomposition", &["threshold"])?;
        let error_type = choose(
            "error_type",
            [&options.error_type, &options.error_params.error_type],
            &[
                ("norm", ErrorType::Norm),
                ("abs", ErrorType::Abs),
                ("stl", ErrorType::Abs),
            ],
            "`abs` or `norm`",
        )?;
        let handling = choose(
            "error_handling",
            [
                &options.error_handling,
                &options.error_params.error_handling,
            ],
            &[("tukey", Handling::Tukey), ("quantile", Handling::Quantile)],
            "`tukey` or `quantile`",
        )?;
        Ok(SeasonalDecomposition {
            options,
            error_type,
            handling,
        })
    }

    fn run(&mut self, ctx: &mut Context<'_>) -> Result<(), PluginError> {
        let m = match model(ctx, &self.options)? {
            Ok(m) => m,
            Err(why) => return no_verdict(ctx, "flag", &self.options.metric, &why.0),
        };
        let error = match self.error_type {
            ErrorType::Abs => m.error,
            ErrorType::Norm => m.norm_error(),
        };
        let digest = record(ctx, DIGEST, error)?;
        let p = &self.options.error_params;
        let fences = match self.handling {
            Handling::Tukey => eval_tukey(error, p, &digest),
            Handling::Quantile => eval_quantile(error, p, &digest),
        }
        .ok_or_else(|| PluginError::data("the error distribution is empty"))?;
        fences.emit(ctx, "")?;
        ctx.verdict(
            fences
                .verdict(&self.options.metric, "error", error)
                .value("model", m.model)
                .value("input", m.input),
        )?;
        if self.handling == Handling::Quantile {
            ctx.emit("alpha", p.alpha)?;
        }
        ctx.emit("model", m.model)?;
        ctx.emit("input", m.input)?;
        ctx.emit("seasonal", m.seasonal)?;
        ctx.emit("trend", m.trend)?;
        ctx.emit("error", error)?;
        Ok(())
    }
}

am_plugin_api::export_plugin!(SeasonalDecomposition);

#[cfg(test)]
mod tests;

//! The decomposition both seasonal plugins share: read a metric, put it on a regular grid,
//! take the window of `period_length · seasons` points ending at the second-newest point (the
//! newest interval may still be filling), decompose it with robust periodic STL as anna-molly
//! did with R, and model its last point.

use am_plugin_api::{Context, PluginError, Point};
use am_stl::{StlParams, decompose};
use serde::Deserialize;

use crate::{ErrorParams, Fill, check, common_step, fill_gaps};

/// The options of both seasonal plugins (one service's `worker_options` entry).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeasonalOptions {
    /// The metric to model.
    pub metric: String,
    /// Points per season (e.g. 144 for a day at 10-minute intervals).
    pub period_length: usize,
    /// Seasons in the window; STL needs more than two, so at least 3.
    pub seasons: usize,
    /// Seconds between points; gaps are filled on this grid. When absent, the most common
    /// step in the data.
    pub interval: Option<i64>,
    /// Value for missing points (anna-molly's `default`); when absent, gaps are interpolated.
    pub default: Option<f64>,
    /// SeasonalDecomposition: `abs` or `norm` (default; anna-molly's `stl` means `abs`);
    /// overrides `error_params.error_type`. The ensemble uses both and refuses it.
    pub error_type: Option<String>,
    /// SeasonalDecomposition: `tukey` (default) or `quantile`; overrides
    /// `error_params.error_handling`. The ensemble uses both and refuses it.
    pub error_handling: Option<String>,
    /// How errors are judged (and, for the ensemble, the vote threshold).
    #[serde(default)]
    pub error_params: ErrorParams,
}

impl SeasonalOptions {
    /// Checks the window can ever be decomposed and the error parameters are in range, and
    /// refuses the `unused` error parameters (see [`ErrorParams::refuse_unused`]); the message
    /// names the option, and `plugin` for an unused one.
    pub fn validate(&self, plugin: &str, unused: &[&str]) -> Result<(), PluginError> {
        check(
            self.period_length >= 2,
            "period_length",
            "at least 2",
            self.period_length,
        )?;
        if self.seasons <= 2 {
            return Err(PluginError::options(format!(
                "STL needs more than two full periods: `period_length` {} × `seasons` {} = {} points is {} period(s); set `seasons` to 3 or more",
                self.period_length,
                self.seasons,
                self.period_length * self.seasons,
                self.seasons
            )));
        }
        if self.period_length.saturating_mul(self.seasons) > 100_000 {
            return Err(PluginError::options(format!(
                "`period_length` × `seasons` = {} points is more than the 100000 a run may decompose",
                self.period_length.saturating_mul(self.seasons)
            )));
        }
        if let Some(i) = self.interval {
            check(i > 0, "interval", "positive", i)?;
        }
        self.error_params.validate()?;
        self.error_params.refuse_unused(plugin, unused)
    }
}

/// The modelled last point of the window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Model {
    /// The window's last value.
    pub input: f64,
    /// Its seasonal component.
    pub seasonal: f64,
    /// Its trend component.
    pub trend: f64,
    /// seasonal + trend, floored at 0.01 (an outage can pull the trend below zero).
    pub model: f64,
    /// input − model.
    pub error: f64,
}

impl Model {
    /// The error relative to the level: divided by the model when it is ≤ 0, by the input
    /// otherwise (1.0 when the input is 0).
    pub fn norm_error(&self) -> f64 {
        if self.error <= 0.0 {
            self.error / self.model
        } else if self.input == 0.0 {
            1.0
        } else {
            self.error / self.input
        }
    }
}

/// Why a run cannot produce a model (reported with `flag` −1, as anna-molly did).
#[derive(Debug, Clone, PartialEq)]
pub struct Unusable(pub String);

/// Reads the metric and models the window's last point.
pub fn model(
    ctx: &Context<'_>,
    o: &SeasonalOptions,
) -> Result<Result<Model, Unusable>, PluginError> {
    let need = o.period_length * o.seasons + 1;
    let tick = ctx.tick();
    // Read enough for the window at the configured interval, or a day to find the step.
    let span = o.interval.map_or(86_400, |i| i * (need as i64 + 3));
    let mut points = ctx.read(&o.metric, tick - span, tick)?;
    let Some(step) = o.interval.or_else(|| common_step(&points)) else {
        return Ok(Err(Unusable(format!(
            "`{}` has too few points to find its interval",
            o.metric
        ))));
    };
    if o.interval.is_none() && step * (need as i64 + 3) > span {
        points = ctx.read(&o.metric, tick - step * (need as i64 + 3), tick)?;
    }
    let Some(newest) = points.last() else {
        // Nothing in the window: say whether the metric stopped (stale) or never came.
        let week = ctx.read(&o.metric, tick - 7 * 86_400, tick)?;
        return Ok(Err(Unusable(match week.last() {
            Some(p) => format!(
                "`{}` is stale: its newest point is {} s old (more than 3 intervals of {step} s)",
                o.metric,
                tick - p.ts
            ),
            None => format!("`{}` has no datapoints in the last 7 days", o.metric),
        })));
    };
    if tick - newest.ts > 3 * step {
        return Ok(Err(Unusable(format!(
            "`{}` is stale: its newest point is {} s old (more than 3 intervals of {step} s)",
            o.metric,
            tick - newest.ts
        ))));
    }
    let fill = o.default.map_or(Fill::Linear, Fill::Value);
    let grid = fill_gaps(&points, step, fill);
    if grid.len() < need {
        return Ok(Err(Unusable(format!(
            "`{}` has {} points on its {step} s grid; the window needs {need} ({} × {} + the newest)",
            o.metric,
            grid.len(),
            o.period_length,
            o.seasons
        ))));
    }
    let window: Vec<f64> = grid[grid.len() - need..grid.len() - 1]
        .iter()
        .map(|p: &Point| p.value)
        .collect();
    let d = decompose(&window, &StlParams::periodic(o.period_length, true))
        .map_err(|e| PluginError::data(format!("STL failed: {e}")))?;
    let last = window.len() - 1;
    let (input, seasonal, trend) = (window[last], d.seasonal[last], d.trend[last]);
    let model = (seasonal + trend).max(0.01);
    Ok(Ok(Model {
        input,
        seasonal,
        trend,
        model,
        error: input - model,
    }))
}

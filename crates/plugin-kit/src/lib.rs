//! Building blocks shared by anna-molly's detector plugins (TukeysFilter,
//! SeasonalDecomposition, SeasonalDecompositionEnsemble, FlowDifference): picking the datapoint
//! closest to a time, filling gaps on a regular grid, and judging an error against the
//! distribution of past errors kept in a t-digest in the plugin's persistent state, and the
//! verdicts on it. For any plugin: [`SeverityWord`] (a severity option) and [`bytes`]
//! (varints and FNV-1a for compact state and sharding). For the plugins of the models in `am-nab-detectors` (Novelty, ARTime,
//! ContextOSE, Ensemble): [`held`], a model of one metric held in the plugin instance and
//! the options they share, and [`series_options!`] to declare their options.

pub mod bytes;
pub mod held;
pub mod options;
pub mod seasonal;
#[cfg(feature = "testing")]
pub mod testing;

use am_plugin_api::{Context, PluginError, Point, Severity, Verdict};
use am_tdigest::TDigest;
use serde::Deserialize;

/// The point closest to `t` (the earlier one on a tie), as anna-molly's
/// `get_closest_datapoint`. `points` must be sorted by time.
pub fn closest(points: &[Point], t: i64) -> Option<Point> {
    let pos = points.partition_point(|p| p.ts < t);
    match (
        pos.checked_sub(1).and_then(|i| points.get(i)),
        points.get(pos),
    ) {
        (None, None) => None,
        (Some(a), None) => Some(*a),
        (None, Some(b)) => Some(*b),
        (Some(a), Some(b)) => Some(if b.ts - t < t - a.ts { *b } else { *a }),
    }
}

/// The most common step between consecutive timestamps (anna-molly's `find_step_size`).
pub fn common_step(points: &[Point]) -> Option<i64> {
    let mut steps: Vec<i64> = points
        .windows(2)
        .map(|w| w[1].ts - w[0].ts)
        .filter(|s| *s > 0)
        .collect();
    steps.sort_unstable();
    let mut best: Option<(i64, usize)> = None;
    let mut i = 0;
    while i < steps.len() {
        let j = steps[i..].iter().take_while(|s| **s == steps[i]).count();
        if best.is_none_or(|(_, n)| j > n) {
            best = Some((steps[i], j));
        }
        i += j;
    }
    best.map(|(s, _)| s)
}

/// How gaps are filled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fill {
    /// With a constant (anna-molly's `default` option).
    Value(f64),
    /// Linearly between the points around the gap.
    Linear,
}

/// Puts `points` (sorted) on a grid of `step` seconds starting at the first point, filling
/// missing steps. Points off the grid are moved to the grid step they fall in (the later
/// point of a step wins).
pub fn fill_gaps(points: &[Point], step: i64, fill: Fill) -> Vec<Point> {
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return Vec::new();
    };
    let step = step.max(1);
    let n = ((last.ts - first.ts) / step + 1) as usize;
    let mut grid: Vec<Option<f64>> = vec![None; n];
    for p in points {
        let i = ((p.ts - first.ts) / step) as usize;
        if let Some(slot) = grid.get_mut(i) {
            *slot = Some(p.value);
        }
    }
    let mut out = Vec::with_capacity(n);
    let mut prev: Option<(usize, f64)> = None;
    for (i, v) in grid.iter().enumerate() {
        let ts = first.ts + i as i64 * step;
        match v {
            Some(v) => {
                out.push(Point { ts, value: *v });
                prev = Some((i, *v));
            }
            None => {
                let value = match fill {
                    Fill::Value(d) => d,
                    Fill::Linear => {
                        let next = grid[i..]
                            .iter()
                            .enumerate()
                            .find_map(|(k, v)| v.map(|v| (i + k, v)));
                        match (prev, next) {
                            (Some((a, va)), Some((b, vb))) => {
                                va + (vb - va) * (i - a) as f64 / (b - a) as f64
                            }
                            (Some((_, va)), None) => va,
                            (None, Some((_, vb))) => vb,
                            (None, None) => 0.0,
                        }
                    }
                };
                out.push(Point { ts, value });
            }
        }
    }
    out
}

/// A severity as options spell it: `info`, `warning` (the default) or `critical`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SeverityWord {
    /// `info`.
    Info,
    /// `warning`.
    #[default]
    Warning,
    /// `critical`.
    Critical,
}

impl From<SeverityWord> for Severity {
    fn from(word: SeverityWord) -> Severity {
        match word {
            SeverityWord::Info => Severity::Info,
            SeverityWord::Warning => Severity::Warning,
            SeverityWord::Critical => Severity::Critical,
        }
    }
}

/// Checks one option: an options error, ``"`option` must be RULE, got VALUE"``, unless `ok`.
pub fn check(
    ok: bool,
    option: &str,
    rule: &str,
    value: impl std::fmt::Display,
) -> Result<(), PluginError> {
    if ok {
        Ok(())
    } else {
        Err(PluginError::options(format!(
            "`{option}` must be {rule}, got {value}"
        )))
    }
}

/// Checks a whole-number option against `range`: an options error, ``"`option` must be
/// between LO and HI{unit}, got VALUE"``, unless it is within.
pub fn check_within(
    option: &str,
    range: std::ops::RangeInclusive<usize>,
    unit: &str,
    value: usize,
) -> Result<(), PluginError> {
    let rule = format!("between {} and {}{unit}", range.start(), range.end());
    check(range.contains(&value), option, &rule, value)
}

/// Tukey's k: fences at `q25 − 1.5·IQR` and `q75 + 1.5·IQR` unless configured otherwise.
pub const DEFAULT_IQR_SCALING: f64 = 1.5;

/// [`DEFAULT_IQR_SCALING`], for serde's `default = "..."`.
pub fn default_iqr_scaling() -> f64 {
    DEFAULT_IQR_SCALING
}

/// How errors are judged against their past distribution (anna-molly's `error_params`).
/// Every field has a default ([`ErrorParams::default`]).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ErrorParams {
    /// Tukey fences: `q25 − k·IQR`, `q75 + k·IQR` (default 1.5). anna-molly also called it
    /// `scaling`.
    #[serde(alias = "scaling")]
    pub iqr_scaling: f64,
    /// Quantile fences at `alpha/2` and `1 − alpha/2` (default 0.01).
    pub alpha: f64,
    /// Flag 1 also needs the error above this.
    pub minimal_upper_threshold: Option<f64>,
    /// Flag −1 also needs the error below this.
    pub minimal_lower_threshold: Option<f64>,
    /// Ensemble: |consensus| at which `overall.flag` is set (default 2; anna-molly's files
    /// spell it `treshold`).
    #[serde(alias = "treshold")]
    pub threshold: f64,
    /// Single decomposition: `abs` (error as is) or `norm` (relative; anna-molly's default).
    /// anna-molly's `stl` means `abs`.
    pub error_type: Option<String>,
    /// Single decomposition: `tukey` or `quantile` (default `tukey`).
    pub error_handling: Option<String>,
}

/// [`ErrorParams::alpha`]'s default.
const DEFAULT_ALPHA: f64 = 0.01;
/// [`ErrorParams::threshold`]'s default.
const DEFAULT_THRESHOLD: f64 = 2.0;

impl Default for ErrorParams {
    fn default() -> Self {
        ErrorParams {
            iqr_scaling: DEFAULT_IQR_SCALING,
            alpha: DEFAULT_ALPHA,
            minimal_upper_threshold: None,
            minimal_lower_threshold: None,
            threshold: DEFAULT_THRESHOLD,
            error_type: None,
            error_handling: None,
        }
    }
}

impl ErrorParams {
    /// Checks ranges; the message names the option.
    pub fn validate(&self) -> Result<(), PluginError> {
        let (k, a, t) = (self.iqr_scaling, self.alpha, self.threshold);
        check(
            k.is_finite() && k >= 0.0,
            "error_params.iqr_scaling",
            "a number ≥ 0",
            k,
        )?;
        check(
            a > 0.0 && a < 1.0,
            "error_params.alpha",
            "between 0 and 1 (exclusive)",
            a,
        )?;
        check(
            t.is_finite() && t > 0.0,
            "error_params.threshold",
            "positive",
            t,
        )?;
        if let (Some(lo), Some(hi)) = (self.minimal_lower_threshold, self.minimal_upper_threshold)
            && lo > hi
        {
            return Err(PluginError::options(format!(
                "`error_params.minimal_lower_threshold` ({lo}) is above `minimal_upper_threshold` ({hi})"
            )));
        }
        Ok(())
    }

    /// Refuses settings the plugin ignores (rather than accepting and silently not using
    /// them): each of `names` (`alpha`, `threshold`, `error_type`, `error_handling`) that was
    /// set is an error naming it.
    pub fn refuse_unused(&self, plugin: &str, names: &[&str]) -> Result<(), PluginError> {
        for name in names {
            let set = match *name {
                "alpha" => self.alpha != DEFAULT_ALPHA,
                "threshold" => self.threshold != DEFAULT_THRESHOLD,
                "error_type" => self.error_type.is_some(),
                "error_handling" => self.error_handling.is_some(),
                _ => false,
            };
            if set {
                return Err(PluginError::options(format!(
                    "`error_params.{name}` is not used by {plugin}; remove it"
                )));
            }
        }
        Ok(())
    }
}

/// Where a value fell: flag (1 above, −1 below, 0 within) and the fences used.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fences {
    /// 1, −1 or 0.
    pub flag: f64,
    /// Lower fence.
    pub lower: f64,
    /// Upper fence.
    pub upper: f64,
}

impl Fences {
    /// The verdict on `subject` for `what` (`error`, `deviation`) being `value`: anomalous
    /// when flagged, with the fences as values.
    pub fn verdict(&self, subject: &str, what: &str, value: f64) -> Verdict {
        let (l, u) = (self.lower, self.upper);
        let verdict = if self.flag > 0.0 {
            Verdict::anomalous(subject)
                .reason(format!("{what} {value} is above the upper fence {u}"))
        } else if self.flag < 0.0 {
            Verdict::anomalous(subject)
                .reason(format!("{what} {value} is below the lower fence {l}"))
        } else {
            Verdict::ok(subject).reason(format!("{what} {value} is within [{l}, {u}]"))
        };
        verdict
            .value(what, value)
            .value("lower", l)
            .value("upper", u)
    }

    /// Writes it as anna-molly's fields `<prefix>flag`, `<prefix>lower`, `<prefix>upper`
    /// (`prefix` is `""` or ends with a dot).
    pub fn emit(&self, ctx: &Context<'_>, prefix: &str) -> Result<(), PluginError> {
        ctx.emit(&format!("{prefix}flag"), self.flag)?;
        ctx.emit(&format!("{prefix}lower"), self.lower)?;
        ctx.emit(&format!("{prefix}upper"), self.upper)
    }
}

fn judge(error: f64, lower: f64, upper: f64, p: &ErrorParams) -> Fences {
    let above = error > upper && p.minimal_upper_threshold.is_none_or(|m| error > m);
    let below = error < lower && p.minimal_lower_threshold.is_none_or(|m| error < m);
    let flag = if above {
        1.0
    } else if below {
        -1.0
    } else {
        0.0
    };
    Fences { flag, lower, upper }
}

/// Tukey fences from the digest's quartiles.
pub fn eval_tukey(error: f64, p: &ErrorParams, digest: &TDigest) -> Option<Fences> {
    let q25 = digest.quantile(0.25)?;
    let q75 = digest.quantile(0.75)?;
    let iqr = q75 - q25;
    Some(judge(
        error,
        q25 - p.iqr_scaling * iqr,
        q75 + p.iqr_scaling * iqr,
        p,
    ))
}

/// Fences at the digest's `alpha/2` and `1 − alpha/2` quantiles.
pub fn eval_quantile(error: f64, p: &ErrorParams, digest: &TDigest) -> Option<Fences> {
    let lower = digest.quantile(p.alpha / 2.0)?;
    let upper = digest.quantile(1.0 - p.alpha / 2.0)?;
    Some(judge(error, lower, upper, p))
}

/// Loads a t-digest from the plugin's state (a new one when absent). A digest that does not
/// decode is reported (logged) and replaced, rather than failing every run forever.
pub fn load_digest(ctx: &Context<'_>, key: &str) -> Result<TDigest, PluginError> {
    match ctx.state_get(key)? {
        None => Ok(TDigest::new(100.0)),
        Some(bytes) => match TDigest::from_bytes(&bytes) {
            Ok(d) => Ok(d),
            Err(e) => {
                ctx.warn(format!(
                    "state `{key}` is not a t-digest ({e}); starting a new one"
                ));
                Ok(TDigest::new(100.0))
            }
        },
    }
}

/// Saves a t-digest to the plugin's state.
pub fn save_digest(ctx: &Context<'_>, key: &str, digest: &TDigest) -> Result<(), PluginError> {
    ctx.state_set(key, &digest.to_bytes())
}

/// Adds `value` to the distribution kept in the plugin's state under `key` (see
/// [`load_digest`]) and saves it; returns it, `value` included, to judge `value` by.
pub fn record(ctx: &Context<'_>, key: &str, value: f64) -> Result<TDigest, PluginError> {
    let mut digest = load_digest(ctx, key)?;
    digest.add(value);
    digest.compress();
    save_digest(ctx, key, &digest)?;
    Ok(digest)
}

/// No verdict this tick, anna-molly's way: logs why at warning level and writes −1 as the
/// flag field `flag` (`flag`, `overall.flag`); and reports the verdict `unknown` on `subject`
/// (its alarm becomes UNDETERMINED).
pub fn no_verdict(
    ctx: &Context<'_>,
    flag: &str,
    subject: &str,
    why: &str,
) -> Result<(), PluginError> {
    ctx.warn(format!("{why}; writing {flag} -1"));
    ctx.emit(flag, -1.0)?;
    ctx.verdict(Verdict::unknown(subject).reason(why))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(ts: i64, value: f64) -> Point {
        Point { ts, value }
    }

    #[test]
    fn closest_like_anna_molly() {
        let pts = [p(10, 1.0), p(20, 2.0), p(30, 3.0)];
        assert_eq!(closest(&pts, 14), Some(p(10, 1.0)));
        assert_eq!(closest(&pts, 15), Some(p(10, 1.0)));
        assert_eq!(closest(&pts, 16), Some(p(20, 2.0)));
        assert_eq!(closest(&pts, 0), Some(p(10, 1.0)));
        assert_eq!(closest(&pts, 99), Some(p(30, 3.0)));
        assert_eq!(closest(&[], 5), None);
    }

    #[test]
    fn gaps_filled_on_the_grid() {
        let pts = [p(0, 1.0), p(60, 2.0), p(240, 5.0)];
        assert_eq!(common_step(&pts), Some(60));
        let lin = fill_gaps(&pts, 60, Fill::Linear);
        let v: Vec<f64> = lin.iter().map(|p| p.value).collect();
        assert_eq!(v, vec![1.0, 2.0, 3.0, 4.0, 5.0]);
        let c = fill_gaps(&pts, 60, Fill::Value(0.0));
        assert_eq!(c[2], p(120, 0.0));
    }

    #[test]
    fn minimal_thresholds_gate_the_flags() {
        let mut d = TDigest::new(100.0);
        for i in 0..1000 {
            d.add(f64::from(i % 10));
        }
        let mut params = ErrorParams::default();
        assert_eq!(eval_tukey(100.0, &params, &d).unwrap().flag, 1.0);
        assert_eq!(eval_tukey(-100.0, &params, &d).unwrap().flag, -1.0);
        assert_eq!(eval_tukey(5.0, &params, &d).unwrap().flag, 0.0);
        params.minimal_upper_threshold = Some(200.0);
        assert_eq!(eval_tukey(100.0, &params, &d).unwrap().flag, 0.0);
        assert_eq!(
            eval_quantile(100.0, &ErrorParams::default(), &d)
                .unwrap()
                .flag,
            1.0
        );
        assert!(eval_tukey(1.0, &params, &TDigest::new(100.0)).is_none());
    }
}

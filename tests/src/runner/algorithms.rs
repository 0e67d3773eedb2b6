//! Constructed series and options for anna-molly's four detectors (TukeysFilter,
//! SeasonalDecomposition, SeasonalDecompositionEnsemble, FlowDifference), shared by the test
//! files that run them.
//!
//! The series are functions of the timestamp, so that every write agrees on every second
//! (a later write of the same second replaces the earlier one in the store).

use serde_json::{Value, json};

/// Points per season of [`seasonal_value`] (one point per second).
pub const SEASON_PERIOD: i64 = 30;

/// One point per second over `from..=until`, valued `value(ts)`.
pub fn per_second(from: i64, until: i64, value: impl Fn(i64) -> f64) -> Vec<(i64, f64)> {
    (from..=until).map(|ts| (ts, value(ts))).collect()
}

/// A seasonal series around 100 (amplitude 30, period [`SEASON_PERIOD`] s) with a little
/// deterministic noise (0 to 0.06).
pub fn seasonal_value(ts: i64) -> f64 {
    let phase = ts.rem_euclid(SEASON_PERIOD) as f64 / SEASON_PERIOD as f64;
    100.0 + 30.0 * (phase * std::f64::consts::TAU).sin() + ts.rem_euclid(13) as f64 * 0.005
}

/// What flows into a stage: integers from 1000 to 1016.
pub fn flow_in(ts: i64) -> f64 {
    1000.0 + ts.rem_euclid(17) as f64
}

/// What flows out of it: [`flow_in`] give or take 2 (integers, so deviations are exact).
pub fn flow_out(ts: i64) -> f64 {
    flow_in(ts) + (ts * 13).rem_euclid(5) as f64 - 2.0
}

/// SeasonalDecomposition / SeasonalDecompositionEnsemble options for `metric`:
/// [`SEASON_PERIOD`] × 3 points at an `interval` of 1 s, with `error_params`.
pub fn seasonal_options(metric: &str, error_params: Value) -> Value {
    json!({ "metric": metric, "period_length": SEASON_PERIOD, "seasons": 3, "interval": 1,
            "error_params": error_params })
}

/// TukeysFilter options: quartile metrics `svc.q25` and `svc.q75`, instances
/// `demo.latency.web*` (fields `web01`, ...), `iqr_scaling` 1.5, `offset` 5 s,
/// `maximum_delay` 60 s.
pub fn tukeys_options() -> Value {
    json!({ "quantile_25": "svc.q25", "quantile_75": "svc.q75", "metrics": "demo.latency.web*",
            "iqr_scaling": 1.5, "offset": 5, "maximum_delay": 60 })
}

/// anna-molly's own SeasonalDecomposition service from its services.json: `period_length` 6
/// × `seasons` 2 (two periods, which STL cannot decompose).
pub fn anna_molly_stl_service() -> Value {
    json!({ "metric": "system.loadavg", "period_length": 6, "seasons": 2,
            "error_params": { "error_type": "norm", "error_handling": "quantile", "alpha": 0.01,
                              "minimal_upper_threshold": 0.1, "minimal_lower_threshold": -0.1 } })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_are_what_the_tests_assume() {
        let s = per_second(10, 12, seasonal_value);
        assert_eq!(s.iter().map(|p| p.0).collect::<Vec<_>>(), [10, 11, 12]);
        for ts in 0..100 {
            assert!((69.0..131.0).contains(&seasonal_value(ts)));
            assert_eq!(seasonal_value(ts), seasonal_value(ts + 13 * SEASON_PERIOD));
            let d = flow_out(ts) - flow_in(ts);
            assert!((-2.0..=2.0).contains(&d) && d.fract() == 0.0, "{d}");
        }
    }
}

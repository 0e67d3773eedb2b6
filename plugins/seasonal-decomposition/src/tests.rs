use super::*;
use am_plugin_api::testing::{TestHost, TestRunner, run_task};

const STEP: i64 = 60;
const OPTS: &str = r#"{"metric": "web.hits", "period_length": 24, "seasons": 3, "interval": 60,
  "error_params": {"error_type": "abs", "error_handling": "tukey", "iqr_scaling": 1.5}}"#;

fn season(i: i64) -> f64 {
    100.0
        + 30.0 * ((i % 24) as f64 / 24.0 * std::f64::consts::TAU).sin()
        + ((i * 7919) % 13) as f64 * 0.3
}

fn host_with(n: i64, t0: i64, spike_at: Option<i64>) -> TestHost {
    let mut h = TestHost::new();
    for i in 0..n {
        let v = if Some(i) == spike_at {
            1000.0
        } else {
            season(i)
        };
        h.add_point("web.hits", t0 + i * STEP, v);
    }
    h
}

fn flags(opts: &str, n: i64, spike_at: Option<i64>) -> Vec<f64> {
    let t0 = 1_700_000_000;
    let mut h = host_with(n, t0, spike_at);
    let mut r = TestRunner::new::<SeasonalDecomposition>(opts, "svc", &mut h).unwrap();
    let mut out = Vec::new();
    for i in 80..n {
        // Each tick sees only the points up to it (the newest is "still filling").
        let tick = t0 + i * STEP;
        r.run(&mut h, tick).unwrap();
        out.push(h.last_value("flag").unwrap());
    }
    out
}

#[test]
fn a_clean_seasonal_series_is_not_flagged() {
    let f = flags(OPTS, 200, None);
    assert!(f.iter().all(|x| *x == 0.0), "{f:?}");
}

#[test]
fn a_clear_spike_is_flagged() {
    // The spike at point 150 is the window's input at the tick after it.
    let f = flags(OPTS, 200, Some(150));
    assert_eq!(f[150 + 1 - 80], 1.0, "{f:?}");
    assert_eq!(f.iter().filter(|x| **x == 1.0).count(), 1, "{f:?}");
}

#[test]
fn stale_and_short_data_write_flag_minus_one_only() {
    let t0 = 1_700_000_000;
    let mut h = host_with(200, t0, None);
    run_task::<SeasonalDecomposition>(OPTS, "svc", &mut h, t0 + 200 * STEP + 3600).unwrap();
    assert_eq!(h.last_value("flag"), Some(-1.0));
    assert_eq!(h.last_value("model"), None);
    let mut h = host_with(30, t0, None);
    run_task::<SeasonalDecomposition>(OPTS, "svc", &mut h, t0 + 30 * STEP).unwrap();
    assert_eq!(h.last_value("flag"), Some(-1.0));
    assert_eq!(h.emitted().len(), 1);
}

#[test]
fn gaps_are_filled() {
    let t0 = 1_700_000_000;
    let mut h = host_with(200, t0, None);
    h.remove_series("web.hits");
    for i in (0..200).filter(|i| i % 10 != 3) {
        h.add_point("web.hits", t0 + i * STEP, season(i));
    }
    run_task::<SeasonalDecomposition>(OPTS, "svc", &mut h, t0 + 199 * STEP).unwrap();
    assert_eq!(h.last_value("flag"), Some(0.0));
    assert!(h.last_value("model").is_some());
}

#[test]
fn two_seasons_are_refused_with_the_reason() {
    let mut h = TestHost::new();
    let opts = r#"{"metric": "system.loadavg", "period_length": 6, "seasons": 2,
      "error_params": {"error_type": "norm", "error_handling": "quantile", "alpha": 0.01,
                       "minimal_upper_threshold": 0.1, "minimal_lower_threshold": -0.1}}"#;
    let e = format!(
        "{:?}",
        run_task::<SeasonalDecomposition>(opts, "svc", &mut h, 0).unwrap_err()
    );
    assert!(e.contains("more than two full periods"), "{e}");
    let bad = OPTS.replace("\"abs\"", "\"absolute\"");
    let e = format!(
        "{:?}",
        run_task::<SeasonalDecomposition>(&bad, "svc", &mut h, 0).unwrap_err()
    );
    assert!(e.contains("error_type"), "{e}");
}

#[test]
fn the_error_distribution_survives_in_state() {
    let t0 = 1_700_000_000;
    let mut h = host_with(200, t0, None);
    for i in 100..110 {
        run_task::<SeasonalDecomposition>(OPTS, "svc", &mut h, t0 + i * STEP).unwrap();
    }
    let bytes = h.state("SeasonalDecomposition", "svc", "errors").unwrap();
    let d = am_tdigest::TDigest::from_bytes(bytes).unwrap();
    assert_eq!(d.count(), 10.0);
}

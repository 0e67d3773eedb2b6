//! Unit tests: the plugin in `TestHost` (through the same `extern "C"` calls as the runner).
//! The models' own tests (the ensemble's judgement among them) are in `crates/nab-detectors`.

use am_plugin_kit::testing::{assert_defaults_are, assert_refused};

use super::*;

am_plugin_kit::one_metric_detector_tests!(
    EnsembleTask,
    r#"{"metric": "web.latency", "probation": 300}"#
);

#[test]
fn the_defaults_are_the_models() {
    assert_defaults_are(Options::params, Params::default());
}

#[test]
fn bad_options_are_refused() {
    assert_refused::<EnsembleTask>(&[
        (r#"{}"#, "`metric`"),
        (r#"{"metric": "x", "probation": 3}"#, "`probation`"),
        (
            r#"{"metric": "x", "thresholds": [0.2, 1.5, 0.7]}"#,
            "`thresholds`",
        ),
        (r#"{"metric": "x", "quiet": 1000000}"#, "`quiet`"),
        (
            r#"{"metric": "x", "max_categories": 1}"#,
            "`max_categories`",
        ),
        (r#"{"metric": "x", "max_contexts": 1}"#, "`max_contexts`"),
        (r#"{"metric": "x", "threshold": 0}"#, "`threshold`"),
        (r#"{"metric": "x", "unknown": 1}"#, "`unknown`"),
    ]);
}

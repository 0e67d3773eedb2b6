//! Unit tests: the plugin in `TestHost` (through the same `extern "C"` calls as the runner).
//! The models' own tests (the ensemble's judgement among them) are in `crates/nab-detectors`.

use super::*;

am_plugin_kit::held_detector_tests!(
    EnsembleTask,
    r#"{"metric": "web.latency", "probation": 300}"#,
    Options::params => Params::default(),
    [
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
    ]
);

//! Unit tests: the plugin in `TestHost` (through the same `extern "C"` calls as the runner).
//! The model's own tests are in `crates/nab-detectors`.

use super::*;

am_plugin_kit::held_detector_tests!(
    ArTime,
    r#"{"metric": "web.latency", "probation": 300}"#,
    Options::params => Params::default(),
    [(r#"{"metric": "x", "max_categories": 1}"#, "`max_categories`")]
);

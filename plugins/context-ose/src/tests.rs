//! Unit tests: the plugin in `TestHost` (through the same `extern "C"` calls as the runner).
//! The model's own tests (its scores pinned bit for bit among them) are in
//! `crates/nab-detectors`.

use super::*;

am_plugin_kit::held_detector_tests!(
    ContextOse,
    r#"{"metric": "web.latency", "probation": 300}"#,
    Options::setup => Setup::default(),
    [(r#"{"metric": "x", "max_contexts": 1}"#, "`max_contexts`")]
);

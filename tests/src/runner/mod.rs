//! Running the product under test, `am-runner`, as a daemon against a real redis-server and a
//! real carbon-cache, with plugins loaded from disk, and looking at what it did: the whisper
//! files its outputs became, its self-metrics (`GET /metrics`), its log, and what its one-shot
//! commands (`check`, `plugins`) print.
//!
//! - [`RunnerSetup`]: `analyzer.json`, the plugin folder (copies of the built `.so` files, never
//!   `target/release` itself), extra files and arguments.
//! - [`Runner`]: the daemon guard. It writes a setup to a fresh temporary directory, runs
//!   `am-runner --config TMP/analyzer.json` there with `RUST_LOG=info` (its log goes to
//!   `am-runner.stderr.log` there), waits for its metrics port and stops it by PID when
//!   dropped.
//! - [`write_series`]: metric series written into Redis with the store crate, for the plugins
//!   to read; [`plugin_state`] and [`state_digest`]: the state they keep there.
//! - [`WebhookServer`]: an HTTP endpoint for event outputs.
//! - [`wait_whisper`], [`missing_seconds`], [`steps`], [`tree`]: what reached carbon.
//! - [`algorithms`]: constructed series and options for anna-molly's four detectors.
//! - [`test_helpers`]: panicking shortcuts shared by the runner's test files.
//!
//! The binary is `target/release/am-runner` (`AM_TESTS_RUNNER` overrides it) and the plugins
//! `target/release/lib*.so` (`$CARGO_TARGET_DIR/release` when that is set), built by the test
//! command first (see [`BUILD_COMMAND`]); when one is missing the error says how to build it.

use std::time::Duration;

pub mod algorithms;
pub mod cli;
pub mod daemon;
pub mod series;
pub mod setup;
pub mod state;
pub mod store;
pub mod test_helpers;
pub mod webhook;

pub use cli::{BUILD_COMMAND, PluginLib, Problem, RunnerCheck, run_cli, runner_binary};
pub use daemon::Runner;
pub use series::{Points, missing_seconds, steps, tree, wait_whisper};
pub use setup::{ANALYZER_FILE, PLUGIN_DIR, RunnerSetup};
pub use state::{plugin_state, state_digest, state_key};
pub use store::{SERIES_MODEL, Series, write_series};
pub use webhook::{HttpRequest, WebhookServer};

/// Environment variable that overrides where the `am-runner` binary is found.
pub const RUNNER_ENV: &str = "AM_TESTS_RUNNER";

/// How long the runner may take from start to serving its metrics endpoint.
pub const RUNNER_STARTUP_TIMEOUT: Duration = Duration::from_secs(20);

/// How long one `am-runner check` or `plugins` may take.
pub const CLI_TIMEOUT: Duration = Duration::from_secs(30);

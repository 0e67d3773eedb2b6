//! # am-plugin-api: writing anna-molly detectors
//!
//! The one crate a plugin author depends on (with `serde` for its derives). A plugin is an
//! algorithm — a detector — built as a dynamic library (`cdylib`) that the runner (`am-runner`)
//! loads at start-up and runs on a schedule, once per configured service. Plugins are written
//! in safe Rust: implement [`BaseTask`], call [`export_plugin!`] once, and the crate takes care
//! of the C ABI, option parsing and panic safety.
//!
//! ## 1. Write
//!
//! A plugin that reads the metrics matching a pattern over a window, emits how many it saw, and
//! judges each one anomalous when its last value is above a threshold:
//!
//! ```
//! use am_plugin_api::{BaseTask, Context, Init, PluginError, Verdict};
//! use serde::Deserialize;
//!
//! /// The options of one service (its `worker_options` entry in analyzer.json).
//! #[derive(Deserialize)]
//! pub struct Options {
//!     /// Metrics to watch: a glob (`system.*.cpu`) or `re:` + a regex.
//!     metrics: String,
//!     /// How far back to read, in seconds.
//!     #[serde(default = "default_window")]
//!     window: i64,
//!     /// Above this, a metric is anomalous.
//!     threshold: f64,
//! }
//!
//! fn default_window() -> i64 {
//!     300
//! }
//!
//! pub struct Threshold {
//!     options: Options,
//! }
//!
//! impl BaseTask for Threshold {
//!     type Options = Options;
//!     const NAME: &'static str = "Threshold";
//!
//!     fn new(options: Options, init: &Init<'_>) -> Result<Self, PluginError> {
//!         if options.window <= 0 {
//!             return Err(PluginError::options("`window` must be positive"));
//!         }
//!         init.info(format!("watching {}", options.metrics));
//!         Ok(Threshold { options })
//!     }
//!
//!     fn run(&mut self, ctx: &mut Context<'_>) -> Result<(), PluginError> {
//!         let now = ctx.tick();
//!         let series = ctx.read_pattern(&self.options.metrics, now - self.options.window, now)?;
//!         ctx.emit("count", series.len() as f64)?;
//!         for s in &series {
//!             let Some(last) = s.points.last() else { continue };
//!             let verdict = if last.value > self.options.threshold {
//!                 Verdict::anomalous(&s.name).reason(format!("last value {} above {}", last.value, self.options.threshold))
//!             } else {
//!                 Verdict::ok(&s.name)
//!             };
//!             ctx.verdict(verdict.value("last", last.value))?;
//!         }
//!         Ok(())
//!     }
//! }
//!
//! am_plugin_api::export_plugin!(Threshold);
//! ```
//!
//! - [`BaseTask::new`] receives the parsed [`BaseTask::Options`] and an [`Init`] (the service's
//!   name, logging). Unknown option keys are refused — with or without
//!   `#[serde(deny_unknown_fields)]` — and errors name the option and what was expected.
//! - [`BaseTask::run`] receives a [`Context`]: [`tick`](Context::tick) (the scheduled time:
//!   the analysis' "now"), metric reads ([`read`](Context::read),
//!   [`read_pattern`](Context::read_pattern), [`find`](Context::find)), persistent
//!   [state](Context::state_get) (per plugin and service, kept across runs and restarts: keep
//!   anything that must survive there, not in fields — the runner may rebuild an instance at
//!   any time), outputs ([`emit`](Context::emit)) written to Graphite as
//!   `<prefix>.<NAME>.<service>.<field>`, [verdicts](Context::verdict), and logging
//!   ([`debug`](Context::debug), [`info`](Context::info), [`warn`](Context::warn),
//!   [`error`](Context::error)) into the runner's log.
//! - Errors are [`PluginError`]s; `?` converts any error type. A returned error or a panic is
//!   caught at the boundary and logged by the runner with the plugin's and service's names;
//!   after a panic the instance is dropped and a new one is built for the next tick.
//! - No `unsafe` anywhere in a plugin. [`export_plugin!`] opts its own generated items into
//!   `unsafe_code`, so `#![deny(unsafe_code)]` is fine, but `#![forbid(unsafe_code)]` is not.
//!
//! ### Verdicts become alarms
//!
//! A plugin judges; the runner remembers. Each [`Verdict`] (`ok`, `anomalous` or `unknown`, on
//! a *subject*: a metric, a node) goes to the runner's alarm layer, which keeps one alarm per
//! (algorithm, service, subject) in Redis — OK, PENDING, ALARM or UNDETERMINED — applies the
//! flap settings (`for`, `keep_firing_for`, `undetermined_after`) and notifies people of the
//! transitions only. So a plugin need not remember what it said before, and saying the same
//! thing every tick sends nothing new. [`BaseTask::REPORTING`] says what a subject a run does
//! not mention means ([`Reporting`]):
//!
//! - [`Reporting::EveryRun`] (the default): each run reports every subject it judged, `ok`
//!   ones included, as above. A subject a run does not mention was not judged; an alarm left
//!   unjudged for `undetermined_after` becomes UNDETERMINED.
//! - [`Reporting::Anomalies`]: each run reports only what it finds anomalous (or unknown);
//!   everything else in its service (and shard) is judged ok, so an alarm it stops reporting
//!   resolves. For detectors over many metrics, such as Skyline.
//! - [`Reporting::Changes`]: a verdict holds until the plugin reports another, so a plugin that
//!   tracks state itself reports transitions only.
//!
//! **Migrating a plugin that sent events**: `Event` is now [`Verdict`] (its `metric` is
//! `subject`) and `ctx.event` is [`Context::verdict`] (the old names still compile, deprecated).
//! A plugin that sent an event only when its judgement changed can keep doing so with
//! `const REPORTING: Reporting = Reporting::Changes;`, or drop its own bookkeeping and report
//! every tick. The runner no longer forwards each event: outputs receive the alarm's
//! transitions.
//!
//! ## 2. Build
//!
//! ```toml
//! [package]
//! name = "my-plugin"
//! version = "0.1.0"
//! edition = "2024"
//!
//! [lib]
//! crate-type = ["cdylib", "rlib"]   # cdylib for the runner, rlib for tests
//!
//! [dependencies]
//! am-plugin-api = "0.1"
//! serde = { version = "1", features = ["derive"] }
//! ```
//!
//! `cargo build --release` writes `target/release/libmy_plugin.so` (`.dylib` on macOS). Keep
//! the default `panic = "unwind"`: the runner refuses a plugin built with `panic = "abort"`,
//! since a panic in it would take the whole runner down.
//!
//! ## 3. Install
//!
//! Copy the library into the runner's `plugin_dir` (analyzer.json) and restart the runner. It
//! loads every library there once at start-up and never unloads it; a library it refuses (ABI
//! mismatch, `panic = "abort"`, missing symbols) is logged and skipped, and the others run.
//!
//! ## 4. Configure
//!
//! An entry of `services` in analyzer.json names the plugin (its [`BaseTask::NAME`]) and
//! gives, per service, the options [`BaseTask::new`] receives:
//!
//! ```json
//! "services": {
//!   "Threshold": {
//!     "scheduler_options": { "cron": "*/30 * * * * *", "plugin_args": { "name": "Threshold" } },
//!     "worker_options": {
//!       "web": { "metrics": "system.web-*.cpu", "threshold": 90 },
//!       "db":  { "metrics": "system.db-*.cpu", "window": 600, "threshold": 75 }
//!     }
//!   }
//! }
//! ```
//!
//! At every tick of the schedule, each service runs once; `web` writes
//! `<prefix>.Threshold.web.count`.
//!
//! ## 5. Test
//!
//! [`testing::TestHost`] is an in-memory runner: give it series and state, run the plugin
//! with [`testing::TestRunner`] (an instance kept across ticks) or [`testing::run_task`]
//! (one tick), and look at what it emitted, judged and logged. The calls go through the same
//! `extern "C"` functions as in the runner, so option parsing and panic catching are tested
//! for real:
//!
//! ```
//! # use am_plugin_api::{BaseTask, Context, Init, PluginError, Verdict};
//! # use serde::Deserialize;
//! # #[derive(Deserialize)]
//! # pub struct Options { metrics: String, threshold: f64 }
//! # pub struct Threshold { options: Options }
//! # impl BaseTask for Threshold {
//! #     type Options = Options;
//! #     const NAME: &'static str = "Threshold";
//! #     fn new(options: Options, _: &Init<'_>) -> Result<Self, PluginError> {
//! #         Ok(Threshold { options })
//! #     }
//! #     fn run(&mut self, ctx: &mut Context<'_>) -> Result<(), PluginError> {
//! #         let now = ctx.tick();
//! #         let series = ctx.read_pattern(&self.options.metrics, now - 300, now)?;
//! #         ctx.emit("count", series.len() as f64)?;
//! #         for s in &series {
//! #             let Some(last) = s.points.last() else { continue };
//! #             let v = if last.value > self.options.threshold { Verdict::anomalous(&s.name) } else { Verdict::ok(&s.name) };
//! #             ctx.verdict(v.value("last", last.value))?;
//! #         }
//! #         Ok(())
//! #     }
//! # }
//! use am_plugin_api::testing::{TestHost, TestRunner};
//!
//! let mut host = TestHost::new();
//! host.add_points("system.web-1.cpu", [(1000, 50.0), (1030, 95.0)]);
//! host.add_points("system.web-2.cpu", [(1000, 20.0), (1030, 30.0)]);
//!
//! let options = r#"{"metrics": "system.web-*.cpu", "threshold": 90}"#;
//! let mut runner = TestRunner::new::<Threshold>(options, "web", &mut host)?;
//! runner.run(&mut host, 1030)?;
//! assert_eq!(host.last_value("count"), Some(2.0));
//! let verdicts = host.verdicts();
//! assert_eq!(verdicts.len(), 2);
//! assert_eq!((verdicts[0].subject.as_str(), verdicts[0].state.as_str()), ("system.web-1.cpu", "anomalous"));
//! assert_eq!((verdicts[1].subject.as_str(), verdicts[1].state.as_str()), ("system.web-2.cpu", "ok"));
//!
//! // A misspelt option is refused, naming the key.
//! let bad = r#"{"metrics": "system.*", "treshold": 90}"#;
//! let failure = TestRunner::new::<Threshold>(bad, "web", &mut host).unwrap_err();
//! assert!(failure.message().starts_with("unknown option `treshold`"));
//! # Ok::<(), am_plugin_api::testing::Failure>(())
//! ```
//!
//! ## The ABI and its version
//!
//! Rust has no stable ABI, and the runner and a plugin may be built by different compilers,
//! each with its own std and allocator. Only the `#[repr(C)]` types and `extern "C"`
//! functions of [`abi`] cross between them; memory is freed on the side that allocated it.
//! A plugin exports two symbols: `am_plugin_abi_version`, which the runner calls first, and
//! `am_plugin_descriptor`. [`abi::ABI_VERSION`] changes whenever anything in [`abi`] changes
//! shape or meaning; the runner loads only plugins reporting exactly its own version and
//! refuses the others with an error naming both versions, for instance that the plugin speaks
//! ABI version 2 and the runner version 3. (Version 3 turned events into verdicts and added
//! [`Reporting`] to the descriptor.) The fix is to rebuild the plugin against the
//! am-plugin-api release matching the runner. Additions to [`BaseTask`], [`Context`] and the
//! other safe types that leave [`abi`] alone do not change the version.
//!
//! Only one crate calling [`export_plugin!`] can be linked into a binary, since the two
//! symbol names are fixed.

// `unsafe_code` is denied workspace-wide; it is allowed only in the modules that cross the
// boundary, each `unsafe` block there stating why it is sound: on the plugin side `ffi` (views),
// `export` (the shims a plugin exports) and `calls` (calling the host's functions); on the
// host side `hosting`'s one private module.
pub mod abi;
#[allow(unsafe_code)]
mod calls;
mod context;
mod error;
#[allow(unsafe_code)]
mod export;
#[allow(unsafe_code)]
mod ffi;
pub mod hosting;
mod options;
pub mod records;
mod task;
pub mod testing;
mod verdict;

pub use abi::{Level, Point};
pub use context::Context;
pub use error::{ErrorKind, PluginError};
pub use verdict::{Reporting, Severity, State, Verdict};

/// The name of [`Verdict`] before verdicts became alarms.
#[deprecated(note = "events are verdicts now: use `Verdict` (see the plugin guide's migration)")]
pub type Event = Verdict;
pub use records::Series;
pub use task::{BaseTask, Init, NoOptions};

/// Implementation details of [`export_plugin!`]; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use crate::export::{__create, __destroy, __run, StaticDescriptor};
}

#[cfg(test)]
#[allow(unsafe_code)]
mod tests;

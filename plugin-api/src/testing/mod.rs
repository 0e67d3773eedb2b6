//! Running a plugin without the runner: an in-memory host for unit tests (and offline tools).
//!
//! [`TestHost`] plays the runner's part: it holds metric series, the persistent state, and
//! records what plugins emit, send and log. [`TestRunner`] holds one plugin instance across
//! ticks, as a runner worker does, and [`run_task`] runs a single tick.
//!
//! Both go through the same `extern "C"` functions and the same [`abi::HostApi`](crate::abi::HostApi)
//! as a plugin loaded by the runner: option parsing (unknown keys refused), panic catching,
//! state scoping and every delivery callback are exercised for real.
//!
//! ```
//! use am_plugin_api::testing::{TestHost, TestRunner};
//! use am_plugin_api::{BaseTask, Context, Init, PluginError};
//! use serde::Deserialize;
//!
//! #[derive(Deserialize)]
//! struct Options { metric: String }
//!
//! struct Last { metric: String }
//!
//! impl BaseTask for Last {
//!     type Options = Options;
//!     const NAME: &'static str = "Last";
//!     fn new(options: Options, _init: &Init<'_>) -> Result<Self, PluginError> {
//!         Ok(Last { metric: options.metric })
//!     }
//!     fn run(&mut self, ctx: &mut Context<'_>) -> Result<(), PluginError> {
//!         let points = ctx.read(&self.metric, ctx.tick() - 60, ctx.tick())?;
//!         if let Some(last) = points.last() {
//!             ctx.emit("last", last.value)?;
//!         }
//!         Ok(())
//!     }
//! }
//!
//! let mut host = TestHost::new();
//! host.add_points("cpu.load", [(940, 1.5), (970, 2.5), (1000, 0.5)]);
//! let mut runner = TestRunner::new::<Last>(r#"{"metric": "cpu.load"}"#, "service1", &mut host)?;
//! runner.run(&mut host, 990)?;
//! assert_eq!(host.last_value("last"), Some(2.5));
//! assert_eq!(host.emitted()[0].ts, 990);
//!
//! // A misspelt option is refused, naming it.
//! let refused = TestRunner::new::<Last>(r#"{"metirc": "cpu.load"}"#, "service1", &mut host);
//! assert!(refused.unwrap_err().message().contains("metirc"));
//! # Ok::<(), am_plugin_api::testing::Failure>(())
//! ```

mod host;
mod pattern;
mod runner;

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;

use crate::abi::Point;
use crate::error::{ErrorKind, PluginError};

pub use crate::records::{Emitted, LogRecord, VerdictRecord};
pub use pattern::Pattern;
pub use runner::{Failure, TestRunner, run_task};

/// An in-memory stand-in for the runner and its store.
///
/// - **metrics**: named series of points, read by plugins with the ABI's semantics
///   (`from <= ts <= until`, oldest first, patterns as in [`Pattern`], names in order);
/// - **state**: persistent bytes per plugin, service and key, kept across instances and ticks
///   like the runner's Redis state;
/// - **recorders**: the points plugins [emitted](TestHost::emitted), the
///   [verdicts](TestHost::verdicts) they reported and the [lines](TestHost::logs) they logged.
///
/// Pass it to [`TestRunner`] or [`run_task`] to run a plugin.
#[derive(Debug, Default)]
pub struct TestHost {
    series: BTreeMap<String, Vec<Point>>,
    /// Answers reads of metrics that do not exist (see [`TestHost::add_any_point`]).
    pub(crate) any: Option<Vec<Point>>,
    state: BTreeMap<(String, String, String), Vec<u8>>,
    emitted: Vec<Emitted>,
    verdicts: Vec<VerdictRecord>,
    logs: Vec<LogRecord>,
    store_failing: bool,
    /// `(shard, shards)` passed to the next calls (see [`TestHost::set_shard`]).
    shard: Option<(u32, u32)>,
}

impl TestHost {
    /// An empty host.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a point to the *wildcard* series: once it exists, a read of a metric that does not
    /// exist returns the wildcard's points under the name asked for, and a pattern or a find
    /// that matches nothing returns it once under the name `csv`. The replay tool uses it to
    /// let one CSV stand for whatever series a plugin's options name. Points must be added in
    /// time order (a point at the last timestamp replaces it).
    pub fn add_any_point(&mut self, ts: i64, value: f64) -> &mut Self {
        let any = self.any.get_or_insert_with(Vec::new);
        match any.last_mut() {
            Some(last) if last.ts == ts => last.value = value,
            Some(last) if last.ts > ts => {
                let at = any.partition_point(|p| p.ts < ts);
                if any.get(at).is_some_and(|p| p.ts == ts) {
                    any[at].value = value;
                } else {
                    any.insert(at, Point { ts, value });
                }
            }
            _ => any.push(Point { ts, value }),
        }
        self
    }

    /// Makes the next tasks run as shard `shard` of `shards` of their service, as the runner
    /// does for a service with `"shards"` in its `scheduler_options`; `(0, 1)` (the default)
    /// is unsharded.
    pub fn set_shard(&mut self, shard: u32, shards: u32) -> &mut Self {
        self.shard = Some((shard, shards.max(1)));
        self
    }

    /// The `(shard, shards)` the next tasks see.
    pub fn shard(&self) -> (u32, u32) {
        self.shard.unwrap_or((0, 1))
    }

    /// Adds a point to the metric `name` (created if new). Points are kept in time order; a
    /// point at the timestamp of an existing one replaces it.
    pub fn add_point(&mut self, name: &str, ts: i64, value: f64) -> &mut Self {
        let points = self.series.entry(name.to_owned()).or_default();
        match points.binary_search_by_key(&ts, |p| p.ts) {
            Ok(at) => points[at].value = value,
            Err(at) => points.insert(at, Point { ts, value }),
        }
        self
    }

    /// Adds `(ts, value)` points to the metric `name`, as [`TestHost::add_point`] does.
    pub fn add_points(
        &mut self,
        name: &str,
        points: impl IntoIterator<Item = (i64, f64)>,
    ) -> &mut Self {
        for (ts, value) in points {
            self.add_point(name, ts, value);
        }
        self
    }

    /// Removes the metric `name` and its points.
    pub fn remove_series(&mut self, name: &str) -> &mut Self {
        self.series.remove(name);
        self
    }

    /// The points of the metric `name`, oldest first.
    pub fn series(&self, name: &str) -> Option<&[Point]> {
        self.series.get(name).map(Vec::as_slice)
    }

    /// The names of all metrics, in order.
    pub fn metric_names(&self) -> impl Iterator<Item = &str> {
        self.series.keys().map(String::as_str)
    }

    /// The state a plugin stored under `key` for `service`.
    pub fn state(&self, plugin: &str, service: &str, key: &str) -> Option<&[u8]> {
        self.state
            .get(&(plugin.to_owned(), service.to_owned(), key.to_owned()))
            .map(Vec::as_slice)
    }

    /// The state a plugin stored under `key` for `service`, parsed as JSON.
    pub fn state_json<T: DeserializeOwned>(
        &self,
        plugin: &str,
        service: &str,
        key: &str,
    ) -> Result<Option<T>, PluginError> {
        self.state(plugin, service, key)
            .map(|bytes| {
                serde_json::from_slice(bytes).map_err(|e| {
                    PluginError::with_kind(ErrorKind::Data, format!("state `{key}`: {e}"))
                })
            })
            .transpose()
    }

    /// Stores state for a plugin and service, as if a previous run had.
    pub fn set_state(
        &mut self,
        plugin: &str,
        service: &str,
        key: &str,
        value: impl Into<Vec<u8>>,
    ) -> &mut Self {
        self.state.insert(
            (plugin.to_owned(), service.to_owned(), key.to_owned()),
            value.into(),
        );
        self
    }

    /// Removes all state of a plugin and service.
    pub fn clear_state(&mut self, plugin: &str, service: &str) -> &mut Self {
        self.state
            .retain(|(p, s, _), _| !(p == plugin && s == service));
        self
    }

    /// The points emitted so far, in order.
    pub fn emitted(&self) -> &[Emitted] {
        &self.emitted
    }

    /// The value last emitted with the field `field` (by any plugin and service).
    pub fn last_value(&self, field: &str) -> Option<f64> {
        self.emitted
            .iter()
            .rev()
            .find(|e| e.field == field)
            .map(|e| e.value)
    }

    /// The verdicts reported so far, in order.
    pub fn verdicts(&self) -> &[VerdictRecord] {
        &self.verdicts
    }

    /// The name of [`TestHost::verdicts`] before verdicts became alarms.
    #[deprecated(note = "events are verdicts now: call `verdicts`")]
    pub fn events(&self) -> &[VerdictRecord] {
        &self.verdicts
    }

    /// The lines logged so far, in order.
    pub fn logs(&self) -> &[LogRecord] {
        &self.logs
    }

    /// Takes the emitted points out of the recorder.
    pub fn take_emitted(&mut self) -> Vec<Emitted> {
        std::mem::take(&mut self.emitted)
    }

    /// Takes the verdicts out of the recorder.
    pub fn take_verdicts(&mut self) -> Vec<VerdictRecord> {
        std::mem::take(&mut self.verdicts)
    }

    /// Empties the recorders: emitted points, verdicts and log lines.
    pub fn clear_outputs(&mut self) -> &mut Self {
        self.emitted.clear();
        self.verdicts.clear();
        self.logs.clear();
        self
    }

    /// Makes every store call (reads, `find`, state) fail as an unreachable store would, so
    /// tests can check how a plugin handles it.
    pub fn set_store_failing(&mut self, failing: bool) -> &mut Self {
        self.store_failing = failing;
        self
    }
}

//! [`Context`]: what a running task can do — read metrics, keep state, emit outputs and
//! verdicts, log.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::abi::Point;
use crate::calls::HostCalls;
use crate::error::{ErrorKind, PluginError};
use crate::records::Series;
use crate::verdict::Verdict;

/// Generates the logging methods shared by [`Context`] and [`crate::Init`].
macro_rules! log_methods {
    () => {
        /// Writes a log line at `level` to the runner's log, attributed to this plugin and
        /// service.
        pub fn log(&self, level: $crate::abi::Level, message: impl AsRef<str>) {
            self.host.log(level, message.as_ref());
        }

        /// Logs at debug level.
        pub fn debug(&self, message: impl AsRef<str>) {
            self.log($crate::abi::Level::Debug, message);
        }

        /// Logs at info level.
        pub fn info(&self, message: impl AsRef<str>) {
            self.log($crate::abi::Level::Info, message);
        }

        /// Logs at warn level.
        pub fn warn(&self, message: impl AsRef<str>) {
            self.log($crate::abi::Level::Warn, message);
        }

        /// Logs at error level. (Returning an `Err` from `run` already logs it: use this for
        /// failures the task carries on after.)
        pub fn error(&self, message: impl AsRef<str>) {
            self.log($crate::abi::Level::Error, message);
        }
    };
}
pub(crate) use log_methods;

/// What a running task can do: handed to [`BaseTask::run`](crate::BaseTask::run) for one
/// tick.
///
/// Every call goes to the runner (or to a [`TestHost`](crate::testing::TestHost) in tests).
/// A failed call returns a [`PluginError`] of kind [`ErrorKind::Host`]; the runner has logged
/// its details, so passing it on with `?` is usually right.
///
/// A `Context` lives only for the call to `run` and cannot leave its thread.
pub struct Context<'a> {
    host: HostCalls<'a>,
    service: &'a str,
}

impl<'a> Context<'a> {
    pub(crate) fn new(host: HostCalls<'a>, service: &'a str) -> Self {
        Self { host, service }
    }

    /// The scheduled time of this tick, in seconds since the Unix epoch: the analysis' "now"
    /// and the default timestamp of outputs and verdicts. Use it rather than the clock, so a
    /// late or replayed tick analyses the right window.
    pub fn tick(&self) -> i64 {
        self.host.tick()
    }

    /// The service this task runs for (the `worker_options` key in analyzer.json).
    pub fn service(&self) -> &str {
        self.service
    }

    /// Reads the points of the metric `name` with `from <= ts <= until`, oldest first. An
    /// unknown metric has no points.
    pub fn read(&self, name: &str, from: i64, until: i64) -> Result<Vec<Point>, PluginError> {
        self.host.read_series(name, from, until)
    }

    /// Reads every metric matching `pattern` over `from <= ts <= until`, in name order.
    ///
    /// `pattern` is a glob (`*` any run of characters, dots included; `?` one character;
    /// `[abc]`, `[!abc]` a class; `{cpu,mem}` alternatives) matching the whole name, or
    /// `re:` followed by a regular expression matching at the start of the name.
    pub fn read_pattern(
        &self,
        pattern: &str,
        from: i64,
        until: i64,
    ) -> Result<Vec<Series>, PluginError> {
        self.host.read_pattern(pattern, from, until)
    }

    /// Reads the metrics in `names` over `from <= ts <= until` in one batched round trip:
    /// one [`Series`] per name, in the given order (an unknown name has no points). Use it to
    /// read a chosen subset, such as this task's shard of [`Context::find`]'s names.
    pub fn read_many(
        &self,
        names: &[String],
        from: i64,
        until: i64,
    ) -> Result<Vec<Series>, PluginError> {
        self.host.read_many(names, from, until)
    }

    /// Which part of a sharded service this task is: `(shard, shards)` with
    /// `shard < shards`; `(0, 1)` when the service is not sharded. A service with
    /// `"shards": n` in its `scheduler_options` runs n tasks per tick, one per shard, possibly
    /// on different workers; each should take its own share of the work (for instance the
    /// metrics whose name hashes to `shard` modulo `shards`).
    pub fn shard(&self) -> (u32, u32) {
        self.host.shard()
    }

    /// Lists the names of the metrics matching `pattern` (as in [`Context::read_pattern`]),
    /// in order.
    pub fn find(&self, pattern: &str) -> Result<Vec<String>, PluginError> {
        self.host.find(pattern)
    }

    /// Reads the persistent state stored under `key` for this plugin and service.
    pub fn state_get(&self, key: &str) -> Result<Option<Vec<u8>>, PluginError> {
        self.host.state_get(key)
    }

    /// Stores `value` under `key` for this plugin and service; it survives runs, instances and
    /// runner restarts.
    pub fn state_set(&self, key: &str, value: &[u8]) -> Result<(), PluginError> {
        self.host.state_set(key, value)
    }

    /// Deletes the state under `key` (no error if there is none).
    pub fn state_delete(&self, key: &str) -> Result<(), PluginError> {
        self.host.state_delete(key)
    }

    /// Reads the state under `key` as JSON. State that does not parse as `T` (written by an
    /// older version of the plugin, say) is an error of kind [`ErrorKind::Data`] naming the
    /// key; delete or overwrite it to start afresh.
    pub fn state_get_json<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, PluginError> {
        match self.state_get(key)? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                PluginError::with_kind(ErrorKind::Data, format!("state `{key}` is invalid: {e}"))
            }),
        }
    }

    /// Stores `value` as JSON under `key`.
    pub fn state_set_json<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
    ) -> Result<(), PluginError> {
        let bytes = serde_json::to_vec(value)
            .map_err(|e| PluginError::new(format!("state `{key}` cannot be stored: {e}")))?;
        self.state_set(key, &bytes)
    }

    /// Emits the output point `<prefix>.<Plugin>.<service>.<field>` = `value`, stamped with
    /// the [tick](Context::tick) time.
    pub fn emit(&self, field: &str, value: f64) -> Result<(), PluginError> {
        self.host.emit(field, value, self.tick())
    }

    /// Emits an output point stamped with `ts` (seconds since the epoch).
    pub fn emit_at(&self, field: &str, value: f64, ts: i64) -> Result<(), PluginError> {
        self.host.emit(field, value, ts)
    }

    /// Reports a verdict on a subject; its time is the tick time unless [`Verdict::at`] set
    /// one. What a subject this run does not mention means depends on the plugin's
    /// [`BaseTask::REPORTING`](crate::BaseTask::REPORTING).
    pub fn verdict(&self, verdict: Verdict) -> Result<(), PluginError> {
        self.host.verdict(&verdict)
    }

    /// The name of [`Context::verdict`] before verdicts became alarms.
    #[deprecated(
        note = "events are verdicts now: call `verdict` (see the plugin guide's migration)"
    )]
    pub fn event(&self, verdict: Verdict) -> Result<(), PluginError> {
        self.verdict(verdict)
    }

    log_methods!();
}

impl std::fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("service", &self.service)
            .field("tick", &self.tick())
            .finish_non_exhaustive()
    }
}

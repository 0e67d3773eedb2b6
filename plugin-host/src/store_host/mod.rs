//! [`StoreHost`]: the [`Host`] a task runs against in production: reads from the metric store
//! in Redis, state in a Redis hash per plugin and service, outputs collected for delivery.
//!
//! Plugin code is synchronous; the store's calls are async. The host runs on a blocking thread
//! and drives each store call to completion on the runtime (`Handle::block_on`).

mod reads;

use am_plugin_api::Level;
use am_plugin_api::hosting::{DeliverSeries, Host, HostError, Read, StateOp};
use am_plugin_api::records::{Emitted, LogRecord, VerdictRecord};
use am_store::Reader;
use am_store::resp::Value;
use tokio::runtime::Handle;

use crate::tasks::TaskStats;
use reads::Known;
pub use reads::{by_name, preferred};

/// The Redis hash holding a plugin's persistent state for a service.
pub fn state_key(plugin: &str, service: &str) -> String {
    format!("am1:state:{plugin}:{service}")
}

/// Writes a plugin's log line to the runner's log, attributed to the plugin and service.
pub fn log_line(line: &LogRecord) {
    let (p, s, msg) = (line.plugin.as_str(), line.service.as_str(), &line.message);
    match line.level {
        Level::Trace => tracing::trace!(plugin = p, service = s, "{msg}"),
        Level::Debug => tracing::debug!(plugin = p, service = s, "{msg}"),
        Level::Info => tracing::info!(plugin = p, service = s, "{msg}"),
        Level::Warn => tracing::warn!(plugin = p, service = s, "{msg}"),
        Level::Error => tracing::error!(plugin = p, service = s, "{msg}"),
    }
}

/// The host of one task: one plugin, one service, one store connection.
pub struct StoreHost<'a> {
    rt: &'a Handle,
    reader: &'a mut Reader,
    plugin: &'a str,
    service: &'a str,
    /// What the task read, failed and logged.
    pub stats: TaskStats,
    /// The points it emitted.
    pub emitted: Vec<Emitted>,
    /// The verdicts it reported.
    pub verdicts: Vec<VerdictRecord>,
    /// The series behind each name `find` returned in this task, so `read_many` of those
    /// names needs no lookup.
    known: Known,
}

impl std::fmt::Debug for StoreHost<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreHost")
            .field("plugin", &self.plugin)
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

impl<'a> StoreHost<'a> {
    /// A host for a task of `plugin` for `service`, reading through `reader`.
    pub fn new(rt: &'a Handle, reader: &'a mut Reader, plugin: &'a str, service: &'a str) -> Self {
        StoreHost {
            rt,
            reader,
            plugin,
            service,
            stats: TaskStats::default(),
            emitted: Vec::new(),
            verdicts: Vec::new(),
            known: Known::default(),
        }
    }

    /// Runs a store call on the runtime; a failure is counted, logged and returned as the
    /// host error (an invalid pattern is the plugin's mistake, not the store's).
    fn store<T>(
        &mut self,
        what: &str,
        call: impl AsyncFnOnce(&mut Reader) -> Result<T, am_store::Error>,
    ) -> Result<T, HostError> {
        match self.rt.block_on(call(self.reader)) {
            Ok(v) => Ok(v),
            Err(am_store::Error::InvalidPattern(e)) => {
                tracing::warn!(plugin = self.plugin, service = self.service, error = %e, "{what}: invalid pattern");
                Err(HostError::refused(format!("{what}: invalid pattern {e}")))
            }
            Err(e) => Err(self.store_failed(what, e)),
        }
    }

    fn store_failed(&mut self, what: &str, e: impl std::fmt::Display) -> HostError {
        self.stats.store_errors += 1;
        tracing::warn!(plugin = self.plugin, service = self.service, error = %e, "{what} failed");
        HostError::store(format!("{what}: {e}"))
    }

    /// One command on this plugin's state hash: `CMD <hash> args...`; an error reply is a
    /// failure like any other.
    fn state_command(
        &mut self,
        what: &str,
        cmd: &[u8],
        args: &[&[u8]],
    ) -> Result<Value, HostError> {
        let hash = state_key(self.plugin, self.service);
        let mut full: Vec<&[u8]> = vec![cmd, hash.as_bytes()];
        full.extend_from_slice(args);
        let reply = self.store(what, async |r| r.raw(&full).await)?;
        match reply.as_error() {
            Some(e) => Err(self.store_failed(what, e.to_string())),
            None => Ok(reply),
        }
    }
}

impl Host for StoreHost<'_> {
    fn log(&mut self, line: LogRecord) {
        self.stats.log_lines += 1;
        log_line(&line);
    }

    fn read(
        &mut self,
        read: Read<'_>,
        from: i64,
        until: i64,
        deliver: &mut DeliverSeries<'_>,
    ) -> Result<(), HostError> {
        match read {
            Read::Series(name) => self.read_one(name, from, until, deliver),
            Read::Pattern(pattern) => self.read_matching(pattern, from, until, deliver),
            Read::Many(names) => self.read_names(names, from, until, deliver),
        }
    }

    fn find(&mut self, pattern: &str, deliver: &mut dyn FnMut(&str)) -> Result<(), HostError> {
        self.find_names(pattern, deliver)
    }

    fn state(
        &mut self,
        op: StateOp<'_>,
        deliver: &mut dyn FnMut(&[u8]),
    ) -> Result<bool, HostError> {
        let (what, cmd, args): (&str, &[u8], Vec<&[u8]>) = match op {
            StateOp::Get(key) => ("reading state", b"HGET", vec![key.as_bytes()]),
            StateOp::Set(key, value) => ("writing state", b"HSET", vec![key.as_bytes(), value]),
            StateOp::Delete(key) => ("deleting state", b"HDEL", vec![key.as_bytes()]),
        };
        let reply = self.state_command(what, cmd, &args)?;
        match (op, reply) {
            (StateOp::Get(_), Value::Bulk(Some(v))) => {
                deliver(&v);
                Ok(true)
            }
            (StateOp::Get(_), Value::Bulk(None)) => Ok(false),
            (StateOp::Get(_), other) => {
                Err(self.store_failed(what, format!("unexpected reply {other:?}")))
            }
            _ => Ok(true),
        }
    }

    fn emit(&mut self, point: Emitted) -> Result<(), HostError> {
        self.emitted.push(point);
        Ok(())
    }

    fn verdict(&mut self, verdict: VerdictRecord) -> Result<(), HostError> {
        self.verdicts.push(verdict);
        Ok(())
    }
}

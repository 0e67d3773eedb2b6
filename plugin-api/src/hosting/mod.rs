//! Running plugins: the host side of the ABI, for the runner and for
//! [`TestHost`](crate::testing::TestHost). Plugin authors never need this module.
//!
//! A host implements the safe [`Host`] trait: log lines, metric reads, persistent state,
//! emitted points and verdicts, in owned or borrowed Rust types. [`Instance`] creates a
//! plugin's instance for a service and runs it; behind it, one private module (`ffi`) turns a
//! `&mut dyn Host` into the [`abi::HostApi`](crate::abi::HostApi) table the plugin calls, and
//! is the only place on the host side where `unsafe` code lives: the `extern "C"` callbacks,
//! the panic guards around them, the lending of views into the plugin and the calls through a
//! plugin's function pointers.
//!
//! What every host gets from it, the same way:
//! - a callback never unwinds into the plugin: a panic in the host becomes a failed call;
//! - during `create` only `log` and `set_error` may be used; any other call is refused and
//!   logged;
//! - a failed store call ([`HostError::store`]) fails the task even if the plugin carries on,
//!   since its result rests on data it did not get; a refused request ([`HostError::refused`],
//!   such as an invalid pattern) is only an error the plugin may handle;
//! - a plugin that panicked is reported as [`Outcome::Panicked`]: its instance must be
//!   dropped ([`Instance`] is destroyed on drop, by the plugin's own function).

mod ffi;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::abi::Point;
use crate::records::{Emitted, LogRecord, VerdictRecord};

pub use ffi::Instance;

/// How a call into a plugin (creating an instance, or running a task) ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// It worked.
    Ok,
    /// The plugin (or the host, for it) failed it: the message.
    Failed(String),
    /// The plugin panicked: the panic message. The instance must be rebuilt.
    Panicked(String),
}

/// Why a host could not serve a plugin's call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostError {
    store: bool,
    message: String,
}

impl HostError {
    /// The store (or whatever backs the call) failed: the task fails even if the plugin
    /// carries on.
    pub fn store(message: impl Into<String>) -> Self {
        HostError {
            store: true,
            message: message.into(),
        }
    }

    /// The plugin asked for something invalid (a bad pattern, say): the call fails, and the
    /// plugin may handle that.
    pub fn refused(message: impl Into<String>) -> Self {
        HostError {
            store: false,
            message: message.into(),
        }
    }

    /// Whether the store failed (rather than the request being refused).
    pub fn is_store(&self) -> bool {
        self.store
    }

    /// What went wrong.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl std::fmt::Display for HostError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for HostError {}

/// Receives a series: its name and its points (oldest first), lent for the call.
pub type DeliverSeries<'a> = dyn FnMut(&str, &[Point]) + 'a;

/// Which series a plugin reads ([`Host::read`]).
#[derive(Debug, Clone, Copy)]
pub enum Read<'a> {
    /// One metric by name: delivered once, also when it is unknown (with no points).
    Series(&'a str),
    /// Every metric matching a pattern (a glob, or `re:` + a regex), in name order.
    Pattern(&'a str),
    /// The metrics named, once each and in that order (an unknown name gets no points).
    Many(&'a [String]),
}

/// What a plugin does to its persistent state ([`Host::state`]), scoped to its plugin and
/// service.
#[derive(Debug, Clone, Copy)]
pub enum StateOp<'a> {
    /// Reads the value under a key.
    Get(&'a str),
    /// Stores a value (bytes, UTF-8 not required) under a key.
    Set(&'a str, &'a [u8]),
    /// Deletes a key (none is fine).
    Delete(&'a str),
}

impl StateOp<'_> {
    /// The ABI call that asked for it (`state_get`, `state_set`, `state_delete`).
    pub fn call(&self) -> &'static str {
        match self {
            StateOp::Get(_) => "state_get",
            StateOp::Set(..) => "state_set",
            StateOp::Delete(_) => "state_delete",
        }
    }

    /// The key it is on.
    pub fn key(&self) -> &str {
        match *self {
            StateOp::Get(key) | StateOp::Set(key, _) | StateOp::Delete(key) => key,
        }
    }

    /// Does it on state a host keeps in memory (the test host, a backtest), under `key`: the
    /// op's key as the host scopes it. Answers as [`Host::state`] does.
    pub fn apply<K: Ord>(
        self,
        state: &mut BTreeMap<K, Vec<u8>>,
        key: K,
        deliver: &mut dyn FnMut(&[u8]),
    ) -> bool {
        match self {
            StateOp::Get(_) => state.get(&key).map(|v| deliver(v)).is_some(),
            StateOp::Set(_, value) => {
                state.insert(key, value.to_vec());
                true
            }
            StateOp::Delete(_) => {
                state.remove(&key);
                true
            }
        }
    }
}

/// What a host offers a running plugin, in safe Rust: the calls of
/// [`abi::HostApi`](crate::abi::HostApi). Reads hand each series to `deliver` as it is ready,
/// so a host can lend what it decoded without copying it. A host offers what it implements:
/// every call but `log` refuses by default.
pub trait Host {
    /// A line the plugin logged.
    fn log(&mut self, line: LogRecord);

    /// The points of the series `read` names with `from <= ts <= until`, oldest first.
    fn read(
        &mut self,
        _read: Read<'_>,
        _from: i64,
        _until: i64,
        _deliver: &mut DeliverSeries<'_>,
    ) -> Result<(), HostError> {
        Err(not_offered())
    }

    /// The names of the metrics matching `pattern`, in order.
    fn find(&mut self, _pattern: &str, _deliver: &mut dyn FnMut(&str)) -> Result<(), HostError> {
        Err(not_offered())
    }

    /// Reads, stores or deletes state. A read gives the value to `deliver` and answers
    /// `true`, or answers `false` when there is none; the others answer `true`.
    fn state(
        &mut self,
        _op: StateOp<'_>,
        _deliver: &mut dyn FnMut(&[u8]),
    ) -> Result<bool, HostError> {
        Err(not_offered())
    }

    /// An output point.
    fn emit(&mut self, _point: Emitted) -> Result<(), HostError> {
        Err(not_offered())
    }

    /// A verdict.
    fn verdict(&mut self, _verdict: VerdictRecord) -> Result<(), HostError> {
        Err(not_offered())
    }
}

fn not_offered() -> HostError {
    HostError::refused("this host does not offer that call")
}

/// Which tick a task runs for, and which part of its service it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Call {
    /// The tick's scheduled time (seconds since the epoch): the analysis' "now".
    pub tick: i64,
    /// Which shard of a sharded service (`0..shards`).
    pub shard: u32,
    /// How many tasks share the service's tick (1 when unsharded).
    pub shards: u32,
}

impl Call {
    /// An unsharded task at `tick`.
    pub fn at(tick: i64) -> Call {
        Call {
            tick,
            shard: 0,
            shards: 1,
        }
    }
}

/// A plugin's exported functions and names, checked: its ABI version is this crate's and it
/// unwinds on panic. Built from a loaded library by the runner's loader
/// ([`Plugin::from_exports`]) or from a [`BaseTask`](crate::BaseTask) linked in statically
/// ([`Plugin::of`]).
#[derive(Debug, Clone)]
pub struct Plugin {
    /// The plugin's name (`services` refer to it).
    pub name: String,
    /// The plugin crate's version.
    pub version: String,
    /// Its ABI version (equal to [`crate::abi::ABI_VERSION`]).
    pub abi_version: u32,
    /// How it reports its verdicts.
    pub reporting: crate::abi::Reporting,
    functions: ffi::Functions,
}

impl Plugin {
    /// A plugin linked into this binary (tests, offline tools).
    pub fn of<T: crate::BaseTask>() -> Plugin {
        ffi::of::<T>()
    }
}

//! The C ABI between the runner and a plugin: the only things that cross it.
//!
//! Rust has no stable ABI, and a plugin may be built by another compiler than the runner, with
//! its own std and allocator. So only `#[repr(C)]` data and `extern "C"` function pointers
//! cross, and memory is always freed by the side that allocated it:
//!
//! - **into the plugin**, the host lends *views* ([`Str`], point slices) valid only for the
//!   duration of the call that carries them; the plugin copies what it keeps;
//! - **out of the plugin**, the plugin calls *host callbacks* ([`HostApi`]) with views of its
//!   own memory; the host copies what it keeps;
//! - the plugin instance is created and destroyed by the plugin's own functions.
//!
//! A plugin exports two symbols. The runner reads [`ABI_VERSION_SYMBOL`] first and refuses the
//! plugin unless it returns [`ABI_VERSION`]; only then does it read [`DESCRIPTOR_SYMBOL`].
//! Every function the plugin exports catches panics (a panic must not cross `extern "C"`,
//! where it would abort the process), and a plugin built with `panic = "abort"` says so in its
//! descriptor and is refused, since it could not catch them.
//!
//! **Versioning.** [`ABI_VERSION`] changes whenever any type in this module changes shape or
//! meaning. Adding a method to [`crate::BaseTask`] or [`crate::Context`] that does not touch
//! this module does not change it.

use std::ffi::c_void;
use std::marker::PhantomData;

pub use crate::ffi::strs;

/// The ABI version this crate speaks. The runner loads only plugins reporting exactly this.
pub const ABI_VERSION: u32 = 3;

/// Symbol of `extern "C" fn() -> u32` returning the plugin's ABI version.
pub const ABI_VERSION_SYMBOL: &[u8] = b"am_plugin_abi_version";

/// Symbol of `extern "C" fn() -> *const PluginDescriptor`.
pub const DESCRIPTOR_SYMBOL: &[u8] = b"am_plugin_descriptor";

/// A borrowed UTF-8 string: valid for the duration of the call it is passed to (or, for the
/// descriptor's strings, for the life of the loaded library).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Str<'a> {
    /// First byte.
    pub ptr: *const u8,
    /// Length in bytes.
    pub len: usize,
    /// Ties the view to what it borrows when built from Rust.
    pub _life: PhantomData<&'a [u8]>,
}

/// One datapoint: seconds since the Unix epoch and a value.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Seconds since the Unix epoch.
    pub ts: i64,
    /// The value.
    pub value: f64,
}

/// Result of a call across the boundary.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// It worked.
    Ok = 0,
    /// It failed; the error text was passed to [`HostApi::set_error`] (by the plugin) or can be
    /// read from the host's logs (by the host).
    Error = 1,
    /// The plugin panicked; the panic message was passed to [`HostApi::set_error`].
    Panic = 2,
    /// A lookup found nothing (state key absent).
    NotFound = 3,
}

/// Log levels of [`HostApi::log`].
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Very detailed.
    Trace = 0,
    /// Detailed.
    Debug = 1,
    /// Normal.
    Info = 2,
    /// Something is off.
    Warn = 3,
    /// Something failed.
    Error = 4,
}

/// One named value behind a verdict.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct VerdictValue<'a> {
    /// Name of the value (e.g. `upper`, `input`).
    pub name: Str<'a>,
    /// The value.
    pub value: f64,
}

/// A plugin's verdict on one subject (a metric, a node): `ok`, `anomalous` or `unknown`. The
/// runner's alarm layer turns verdicts into alarm states and notifies their transitions.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Verdict<'a> {
    /// `ok`, `anomalous` or `unknown`.
    pub state: Str<'a>,
    /// `info`, `warning`, `critical`.
    pub severity: Str<'a>,
    /// What is judged: a metric's name, or another subject (a node, a pair of metrics).
    pub subject: Str<'a>,
    /// A sentence for a person.
    pub reason: Str<'a>,
    /// The values behind the verdict.
    pub values: *const VerdictValue<'a>,
    /// Number of `values`.
    pub values_len: usize,
    /// When (seconds since the epoch); the tick time unless the plugin says otherwise.
    pub ts: i64,
}

/// Opaque host context passed back to every callback.
pub type HostCtx = c_void;
/// Opaque plugin-side sink passed back to a delivery callback.
pub type Sink = c_void;

/// Receives series from the host: `name`, its points (oldest first).
pub type OnSeries =
    unsafe extern "C" fn(sink: *mut Sink, name: Str<'_>, points: *const Point, len: usize);
/// Receives one string from the host (a name, a state value).
pub type OnStr = unsafe extern "C" fn(sink: *mut Sink, value: Str<'_>);

/// The host's reader of what one text names (`read_series`: a metric's name; `read_pattern`:
/// a pattern), the points with `from <= ts <= until` handed to `on_series`.
pub type ReadOne = unsafe extern "C" fn(
    ctx: *mut HostCtx,
    text: Str<'_>,
    from: i64,
    until: i64,
    sink: *mut Sink,
    on_series: OnSeries,
) -> Status;

/// What the host offers a running plugin. Every function is safe to call with the `ctx` given
/// in the same struct, from the thread that received it, until the call that received it
/// returns. Callbacks deliver views valid only during the delivery call.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct HostApi {
    /// Host context, passed back to every function.
    pub ctx: *mut HostCtx,
    /// The scheduled time of this tick (seconds since the epoch): the default timestamp of
    /// outputs, and the "now" of the analysis.
    pub tick: i64,
    /// Which part of a sharded service this task is (`0..shards`); 0 when unsharded.
    pub shard: u32,
    /// How many tasks share this service's tick (1 when unsharded).
    pub shards: u32,
    /// Writes a log line to the runner's log, attributed to the plugin and service.
    pub log: unsafe extern "C" fn(ctx: *mut HostCtx, level: Level, message: Str<'_>),
    /// Records the error behind a non-`Ok` status the plugin is about to return.
    pub set_error: unsafe extern "C" fn(ctx: *mut HostCtx, message: Str<'_>),
    /// Reads one metric's points with `from <= ts <= until`; calls `on_series` once (also for
    /// an unknown metric, with no points). Returns `Error` if the store failed.
    pub read_series: ReadOne,
    /// Reads every metric matching `pattern` (a glob, or `re:` + regex); calls `on_series`
    /// once per metric, in name order.
    pub read_pattern: ReadOne,
    /// Reads the metrics named in `names[..count]` in one batched round trip; calls
    /// `on_series` once per name, in the given order (an unknown name gets no points).
    pub read_many: unsafe extern "C" fn(
        ctx: *mut HostCtx,
        names: *const Str<'_>,
        count: usize,
        from: i64,
        until: i64,
        sink: *mut Sink,
        on_series: OnSeries,
    ) -> Status,
    /// Lists metric names matching `pattern`; calls `on_name` once per name, in order.
    pub find: unsafe extern "C" fn(
        ctx: *mut HostCtx,
        pattern: Str<'_>,
        sink: *mut Sink,
        on_name: OnStr,
    ) -> Status,
    /// Reads the plugin's persistent state under `key` (scoped to plugin and service); calls
    /// `on_value` once and returns `Ok`, or returns `NotFound`.
    pub state_get: unsafe extern "C" fn(
        ctx: *mut HostCtx,
        key: Str<'_>,
        sink: *mut Sink,
        on_value: OnStr,
    ) -> Status,
    /// Stores persistent state under `key` (bytes, UTF-8 not required).
    pub state_set: unsafe extern "C" fn(ctx: *mut HostCtx, key: Str<'_>, value: Str<'_>) -> Status,
    /// Deletes persistent state under `key`.
    pub state_delete: unsafe extern "C" fn(ctx: *mut HostCtx, key: Str<'_>) -> Status,
    /// Emits an output point `<prefix>.<Plugin>.<service>.<field>`.
    pub emit:
        unsafe extern "C" fn(ctx: *mut HostCtx, field: Str<'_>, value: f64, ts: i64) -> Status,
    /// Reports a verdict.
    pub verdict: unsafe extern "C" fn(ctx: *mut HostCtx, verdict: *const Verdict<'_>) -> Status,
}

/// How a plugin reports its verdicts, so the alarm layer knows what a subject it did not
/// mention in a run means.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reporting {
    /// Each run reports a verdict for every subject it judged, `ok` ones included; a subject
    /// a run does not mention was not judged by it (and an alarm left unjudged for
    /// `undetermined_after` becomes UNDETERMINED).
    EveryRun = 0,
    /// Each run reports only the subjects it judges `anomalous` (or `unknown`); every other
    /// subject of the task's scope (service and shard) is judged `ok`. Prometheus' model, for
    /// detectors that judge many metrics and report the few anomalous ones.
    Anomalies = 1,
    /// A verdict holds until the plugin reports another: the plugin reports changes only.
    Changes = 2,
}

/// Describes a plugin; returned by the [`DESCRIPTOR_SYMBOL`] function, valid for the life of
/// the library.
#[repr(C)]
#[derive(Debug)]
pub struct PluginDescriptor {
    /// Equal to [`ABI_VERSION`] of the plugin-api the plugin was built with.
    pub abi_version: u32,
    /// Whether the plugin was built with `panic = "unwind"` (required).
    pub panic_unwind: bool,
    /// The plugin's name, as `services` in analyzer.json refer to it.
    pub name: Str<'static>,
    /// The plugin crate's version.
    pub version: Str<'static>,
    /// How it reports its verdicts.
    pub reporting: Reporting,
    /// Builds an instance from JSON options (the service's `worker_options` entry) for
    /// `service`. On `Ok`, writes the instance to `*instance`; otherwise reports through
    /// `host.set_error` (only `log` and `set_error` may be called during `create`).
    pub create: unsafe extern "C" fn(
        options_json: Str<'_>,
        service: Str<'_>,
        host: *const HostApi,
        instance: *mut *mut c_void,
    ) -> Status,
    /// Runs one task on an instance.
    pub run: unsafe extern "C" fn(instance: *mut c_void, host: *const HostApi) -> Status,
    /// Destroys an instance (exactly once).
    pub destroy: unsafe extern "C" fn(instance: *mut c_void),
}

// SAFETY: a descriptor is immutable static data (strings in the plugin's read-only data and
// function pointers); sharing references to it between threads is sound.
#[allow(unsafe_code)]
unsafe impl Sync for PluginDescriptor {}
// SAFETY: as above; it holds no thread-bound state.
#[allow(unsafe_code)]
unsafe impl Send for PluginDescriptor {}

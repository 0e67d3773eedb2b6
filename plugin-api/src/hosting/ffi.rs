//! The host side's only `unsafe` code: reading a plugin's exports, calling its functions, and
//! the `extern "C"` callbacks of [`HostApi`] over a `&mut dyn Host`.
//!
//! The rules it keeps (the ABI's contract, see [`crate::abi`]):
//! - every callback gets back the `ctx` of the table it came from, during the call that
//!   received the table, on that thread; `ctx` points at a [`Session`] that lives across the
//!   call and is reached only through that pointer while the plugin runs;
//! - views received from the plugin are read during the callback only, and copied when kept;
//! - views lent to the plugin (names, points, state values) live until the delivery callback
//!   returns;
//! - no panic crosses into the plugin: each callback body runs under `catch_unwind`;
//! - an instance pointer comes from the plugin's `create`, is used by one call at a time and
//!   destroyed exactly once, by the plugin's `destroy`.

#![allow(unsafe_code)]

use std::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind};

use super::{Call, Host, HostError, Outcome, Plugin, Read, StateOp};
use crate::abi::{
    self, ABI_VERSION, HostApi, Level, OnSeries, OnStr, PluginDescriptor, Sink, Status, Str,
};
use crate::records::{Emitted, LogRecord, VerdictRecord};
use crate::task::BaseTask;

type CreateFn = unsafe extern "C" fn(Str<'_>, Str<'_>, *const HostApi, *mut *mut c_void) -> Status;
type RunFn = unsafe extern "C" fn(*mut c_void, *const HostApi) -> Status;
type DestroyFn = unsafe extern "C" fn(*mut c_void);

/// A plugin's three instance functions.
#[derive(Debug, Clone, Copy)]
pub(super) struct Functions {
    create: CreateFn,
    run: RunFn,
    destroy: DestroyFn,
}

/// [`Plugin::of`]: the shims `export_plugin!` would export for `T`.
pub(super) fn of<T: BaseTask>() -> Plugin {
    Plugin {
        name: T::NAME.to_owned(),
        version: String::new(),
        abi_version: ABI_VERSION,
        reporting: T::REPORTING,
        functions: Functions {
            create: crate::export::__create::<T>,
            run: crate::export::__run::<T>,
            destroy: crate::export::__destroy::<T>,
        },
    }
}

/// Copies a descriptor string, naming what is wrong with it.
///
/// # Safety
///
/// `s` views the plugin's static data (valid while the library is loaded).
unsafe fn descriptor_text(s: Str<'_>, what: &str) -> Result<String, String> {
    if s.ptr.is_null() {
        return Err(format!("its descriptor has no {what}"));
    }
    // SAFETY: the caller's contract.
    let bytes = unsafe { s.as_bytes() };
    String::from_utf8(bytes.to_vec()).map_err(|_| format!("its {what} is not UTF-8"))
}

impl Plugin {
    /// Reads a plugin library's two exports: the ABI version first, and only when it is this
    /// crate's, the descriptor. The error says why the plugin is not usable (another ABI
    /// version, `panic = "abort"`, a broken descriptor).
    ///
    /// # Safety
    ///
    /// `version` and `descriptor` are the library's `am_plugin_abi_version` and
    /// `am_plugin_descriptor` symbols with these signatures, and the library stays loaded
    /// for the life of the process (its functions and strings are used for that long).
    pub unsafe fn from_exports(
        version: unsafe extern "C" fn() -> u32,
        descriptor: unsafe extern "C" fn() -> *const PluginDescriptor,
    ) -> Result<Plugin, String> {
        // SAFETY: the caller's contract; the function only returns a constant.
        let abi_version = unsafe { version() };
        if abi_version != ABI_VERSION {
            return Err(format!(
                "built for plugin ABI version {abi_version}, this runner speaks version {ABI_VERSION}"
            ));
        }
        // SAFETY: with the version checked, the symbol has this meaning; it returns a pointer
        // to the plugin's static descriptor (or null, refused).
        let d = unsafe { descriptor().as_ref() }.ok_or("its descriptor is null")?;
        // SAFETY: as above; both describe the version the descriptor itself states.
        unsafe { Plugin::from_descriptor(d) }
    }

    /// Checks a descriptor (its ABI version, `panic = "unwind"`) and copies what it says.
    ///
    /// # Safety
    ///
    /// `d` is a plugin's descriptor whose strings and functions stay valid for the life of
    /// the process.
    pub unsafe fn from_descriptor(d: &PluginDescriptor) -> Result<Plugin, String> {
        if d.abi_version != ABI_VERSION {
            return Err(format!(
                "built for plugin ABI version {}, this runner speaks version {ABI_VERSION}",
                d.abi_version
            ));
        }
        if !d.panic_unwind {
            return Err(
                "built with panic = \"abort\": a panic would take the runner down; build it with panic = \"unwind\" (the default)"
                    .into(),
            );
        }
        Ok(Plugin {
            // SAFETY: the caller's contract.
            name: unsafe { descriptor_text(d.name, "name") }?,
            // SAFETY: the caller's contract.
            version: unsafe { descriptor_text(d.version, "version") }?,
            abi_version: d.abi_version,
            reporting: d.reporting,
            functions: Functions {
                create: d.create,
                run: d.run,
                destroy: d.destroy,
            },
        })
    }
}

/// One instance of a plugin for one service. Destroyed on drop, by the plugin's own function.
#[derive(Debug)]
pub struct Instance {
    plugin: String,
    service: String,
    functions: Functions,
    ptr: *mut c_void,
}

// SAFETY: an instance is used by one thread at a time (`run` takes `&mut self`), and
// `BaseTask` requires `Send`, so moving it between threads is sound.
unsafe impl Send for Instance {}

impl Instance {
    /// Builds an instance of `plugin` for `service` from JSON options (the service's
    /// `worker_options` entry). During creation the plugin may only log and report errors.
    /// On failure the outcome says why (never [`Outcome::Ok`]).
    pub fn create(
        plugin: &Plugin,
        options_json: &str,
        service: &str,
        host: &mut dyn Host,
    ) -> Result<Instance, Outcome> {
        let mut ptr: *mut c_void = std::ptr::null_mut();
        let create = plugin.functions.create;
        let mut session = Session::new(host, &plugin.name, service, true);
        let api = session.api(Call::at(0));
        // SAFETY: `create` is the plugin's (checked at load); the views, the table and the
        // session it points at live across the call; `ptr` is writable.
        let status = unsafe { create(Str::new(options_json), Str::new(service), &api, &mut ptr) };
        match session.outcome(status) {
            Outcome::Ok if ptr.is_null() => {
                Err(Outcome::Failed("the plugin returned no instance".into()))
            }
            Outcome::Ok => Ok(Instance {
                plugin: plugin.name.clone(),
                service: service.to_owned(),
                functions: plugin.functions,
                ptr,
            }),
            failed => {
                if !ptr.is_null() {
                    // SAFETY: an instance the plugin made despite failing: destroyed once.
                    unsafe { (plugin.functions.destroy)(ptr) };
                }
                Err(failed)
            }
        }
    }

    /// Runs one task. After [`Outcome::Panicked`] the instance must not be trusted: drop it.
    pub fn run(&mut self, host: &mut dyn Host, call: Call) -> Outcome {
        let run = self.functions.run;
        let ptr = self.ptr;
        let mut session = Session::new(host, &self.plugin, &self.service, false);
        let api = session.api(call);
        // SAFETY: `ptr` came from this plugin's `create` and is used by this call alone
        // (`&mut self`); the table and the session live across the call.
        let status = unsafe { run(ptr, &api) };
        session.outcome(status)
    }

    /// The plugin's name.
    pub fn plugin(&self) -> &str {
        &self.plugin
    }

    /// The service it was created for.
    pub fn service(&self) -> &str {
        &self.service
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from this plugin's `create` and is destroyed exactly once, here.
        unsafe { (self.functions.destroy)(self.ptr) };
    }
}

/// The host context of one call into a plugin: what the callbacks reach through `ctx`.
struct Session<'a> {
    host: &'a mut dyn Host,
    plugin: &'a str,
    service: &'a str,
    /// During `create` only `log` and `set_error` may be called.
    creating: bool,
    /// The message the plugin passed to `set_error`.
    error: Option<String>,
    /// The first store failure of the call: the task fails even if the plugin carries on.
    store_failed: Option<String>,
}

impl<'a> Session<'a> {
    fn new(host: &'a mut dyn Host, plugin: &'a str, service: &'a str, creating: bool) -> Self {
        Session {
            host,
            plugin,
            service,
            creating,
            error: None,
            store_failed: None,
        }
    }

    /// The callback table pointing at this session; valid while `self` is borrowed.
    fn api(&mut self, call: Call) -> HostApi {
        HostApi {
            ctx: (self as *mut Session<'a>).cast::<c_void>(),
            tick: call.tick,
            shard: call.shard,
            shards: call.shards.max(1),
            log,
            set_error,
            read_series,
            read_pattern,
            read_many,
            find,
            state_get,
            state_set,
            state_delete,
            emit,
            verdict,
        }
    }

    /// How the call ended, from the status the plugin returned and what happened during it.
    fn outcome(&mut self, status: Status) -> Outcome {
        let message = |s: &mut Self| {
            s.error
                .take()
                .unwrap_or_else(|| format!("the plugin returned {status:?} without a message"))
        };
        match status {
            Status::Ok => match self.store_failed.take() {
                Some(e) => Outcome::Failed(e),
                None => Outcome::Ok,
            },
            Status::Panic => Outcome::Panicked(message(self)),
            Status::Error | Status::NotFound => Outcome::Failed(message(self)),
        }
    }

    fn log(&mut self, level: Level, message: String) {
        self.host.log(LogRecord {
            plugin: self.plugin.to_owned(),
            service: self.service.to_owned(),
            level,
            message,
        });
    }

    /// Refuses a call other than `log` and `set_error` during `create`.
    fn allowed(&mut self, what: &str) -> Result<(), Status> {
        if self.creating {
            self.log(
                Level::Error,
                format!("`{what}` called during create, where only `log` and `set_error` may be"),
            );
            return Err(Status::Error);
        }
        Ok(())
    }

    /// The status for a host call's result, remembering a store failure.
    fn status(&mut self, result: Result<(), HostError>) -> Status {
        match result {
            Ok(()) => Status::Ok,
            Err(e) => {
                if e.is_store() && self.store_failed.is_none() {
                    self.store_failed = Some(e.message().to_owned());
                }
                Status::Error
            }
        }
    }
}

/// Copies a view received from the plugin.
///
/// # Safety
///
/// The view is valid for the current call.
unsafe fn owned(s: Str<'_>) -> String {
    // SAFETY: the caller's contract.
    unsafe { s.to_string_lossy() }
}

/// Runs a callback body on the session behind `ctx`, turning a panic into `Status::Error`
/// (and a log line).
///
/// # Safety
///
/// `ctx` is the `ctx` of a table built by [`Session::api`] whose call has not returned.
unsafe fn with_session(ctx: *mut c_void, body: impl FnOnce(&mut Session<'_>) -> Status) -> Status {
    let session = ctx.cast::<Session<'_>>();
    if session.is_null() {
        return Status::Error;
    }
    // SAFETY: the caller's contract; the plugin calls one host function at a time, so this is
    // the only reference to the session while the callback runs.
    match catch_unwind(AssertUnwindSafe(|| body(unsafe { &mut *session }))) {
        Ok(status) => status,
        Err(_) => {
            // SAFETY: as above; the borrow taken by the panicked body has ended.
            let s = unsafe { &mut *session };
            let _ = catch_unwind(AssertUnwindSafe(|| {
                s.log(
                    Level::Error,
                    "a host callback panicked; the call fails".to_owned(),
                );
            }));
            Status::Error
        }
    }
}

/// [`with_session`] for a call other than `log` and `set_error`: refused during `create`.
///
/// # Safety
///
/// As for [`with_session`].
unsafe fn with_call(
    ctx: *mut c_void,
    what: &str,
    body: impl FnOnce(&mut Session<'_>) -> Status,
) -> Status {
    // SAFETY: the caller's contract.
    unsafe {
        with_session(ctx, |s| match s.allowed(what) {
            Ok(()) => body(s),
            Err(status) => status,
        })
    }
}

unsafe extern "C" fn log(ctx: *mut c_void, level: Level, message: Str<'_>) {
    // SAFETY: per the ABI contract: our `ctx`, and a view valid for this call.
    unsafe {
        let message = owned(message);
        with_session(ctx, |s| {
            s.log(level, message);
            Status::Ok
        });
    }
}

unsafe extern "C" fn set_error(ctx: *mut c_void, message: Str<'_>) {
    // SAFETY: per the ABI contract: our `ctx`, and a view valid for this call.
    unsafe {
        let message = owned(message);
        with_session(ctx, |s| {
            s.error = Some(message);
            Status::Ok
        });
    }
}

/// The body of the read callbacks: `read` for the plugin, each series lent to `on_series`.
///
/// # Safety
///
/// As for the callbacks: our `ctx`, and the plugin's sink and callback for this call.
unsafe fn serve_read(
    ctx: *mut c_void,
    what: &str,
    read: Read<'_>,
    (from, until): (i64, i64),
    sink: *mut Sink,
    on_series: OnSeries,
) -> Status {
    // SAFETY: the caller's contract; the views lent live until `on_series` returns.
    unsafe {
        with_call(ctx, what, |s| {
            let result = s.host.read(read, from, until, &mut |name, points| {
                on_series(sink, Str::new(name), points.as_ptr(), points.len());
            });
            s.status(result)
        })
    }
}

/// The host's `read_series` and `read_pattern` ([`abi::ReadOne`]): `$call` reads what one
/// text names as `$read`.
macro_rules! read_one {
    ($call:ident, $read:path) => {
        unsafe extern "C" fn $call(
            ctx: *mut c_void,
            text: Str<'_>,
            from: i64,
            until: i64,
            sink: *mut Sink,
            on_series: OnSeries,
        ) -> Status {
            // SAFETY: per the ABI contract: our `ctx`, the plugin's view, sink and callback.
            unsafe {
                let text = owned(text);
                let read = $read(&text);
                serve_read(ctx, stringify!($call), read, (from, until), sink, on_series)
            }
        }
    };
}

read_one!(read_series, Read::Series);
read_one!(read_pattern, Read::Pattern);

unsafe extern "C" fn read_many(
    ctx: *mut c_void,
    names: *const Str<'_>,
    count: usize,
    from: i64,
    until: i64,
    sink: *mut Sink,
    on_series: OnSeries,
) -> Status {
    // SAFETY: per the ABI contract: our `ctx`, `count` views at `names`, the plugin's sink
    // and callback, all valid for this call.
    unsafe {
        let names: Vec<String> = abi::strs(names, count).iter().map(|n| owned(*n)).collect();
        let read = Read::Many(&names);
        serve_read(ctx, "read_many", read, (from, until), sink, on_series)
    }
}

unsafe extern "C" fn find(
    ctx: *mut c_void,
    pattern: Str<'_>,
    sink: *mut Sink,
    on_name: OnStr,
) -> Status {
    // SAFETY: per the ABI contract: our `ctx`, the plugin's view, sink and callback; each
    // name lent lives until `on_name` returns.
    unsafe {
        let pattern = owned(pattern);
        with_call(ctx, "find", |s| {
            let result = s.host.find(&pattern, &mut |n| on_name(sink, Str::new(n)));
            s.status(result)
        })
    }
}

/// The body of the state callbacks: `op` for the plugin, a value read lent to `on_value`.
///
/// # Safety
///
/// As for the callbacks: our `ctx`, and (for a read) the plugin's sink and callback.
unsafe fn serve_state(
    ctx: *mut c_void,
    op: StateOp<'_>,
    deliver: Option<(*mut Sink, OnStr)>,
) -> Status {
    // SAFETY: the caller's contract; the value lent lives until `on_value` returns.
    unsafe {
        with_call(ctx, op.call(), |s| {
            let result = s.host.state(op, &mut |v| {
                if let Some((sink, on_value)) = deliver {
                    on_value(sink, Str::from_bytes(v));
                }
            });
            match result {
                Ok(true) => Status::Ok,
                Ok(false) => Status::NotFound,
                Err(e) => s.status(Err(e)),
            }
        })
    }
}

unsafe extern "C" fn state_get(
    ctx: *mut c_void,
    key: Str<'_>,
    sink: *mut Sink,
    on_value: OnStr,
) -> Status {
    // SAFETY: per the ABI contract: our `ctx`, the plugin's view, sink and callback.
    unsafe {
        let key = owned(key);
        serve_state(ctx, StateOp::Get(&key), Some((sink, on_value)))
    }
}

unsafe extern "C" fn state_set(ctx: *mut c_void, key: Str<'_>, value: Str<'_>) -> Status {
    // SAFETY: per the ABI contract: our `ctx` and views valid for this call.
    unsafe {
        let key = owned(key);
        serve_state(ctx, StateOp::Set(&key, value.as_bytes()), None)
    }
}

unsafe extern "C" fn state_delete(ctx: *mut c_void, key: Str<'_>) -> Status {
    // SAFETY: per the ABI contract: our `ctx` and a view valid for this call.
    unsafe {
        let key = owned(key);
        serve_state(ctx, StateOp::Delete(&key), None)
    }
}

unsafe extern "C" fn emit(ctx: *mut c_void, field: Str<'_>, value: f64, ts: i64) -> Status {
    // SAFETY: per the ABI contract: our `ctx` and a view valid for this call.
    unsafe {
        let field = owned(field);
        with_call(ctx, "emit", |s| {
            let point = Emitted::new(s.plugin, s.service, field, value, ts);
            let result = s.host.emit(point);
            s.status(result)
        })
    }
}

unsafe extern "C" fn verdict(ctx: *mut c_void, verdict: *const abi::Verdict<'_>) -> Status {
    // SAFETY: per the ABI contract: our `ctx`, and a verdict (or null, refused) whose views
    // and values are valid for this call.
    unsafe {
        let Some(v) = verdict.as_ref() else {
            return Status::Error;
        };
        let values: &[abi::VerdictValue<'_>] = if v.values.is_null() || v.values_len == 0 {
            &[]
        } else {
            std::slice::from_raw_parts(v.values, v.values_len)
        };
        let (state, severity, subject, reason) = (
            owned(v.state),
            owned(v.severity),
            owned(v.subject),
            owned(v.reason),
        );
        let values: Vec<(String, f64)> = values.iter().map(|v| (owned(v.name), v.value)).collect();
        let ts = v.ts;
        with_call(ctx, "verdict", |s| {
            if crate::State::parse(&state).is_none() {
                s.log(
                    Level::Error,
                    format!("verdict on {subject:?} refused: its state is {state:?}, not `ok`, `anomalous` or `unknown`"),
                );
                return Status::Error;
            }
            let record = VerdictRecord {
                plugin: s.plugin.to_owned(),
                service: s.service.to_owned(),
                state,
                severity,
                subject,
                reason,
                values,
                ts,
            };
            let result = s.host.verdict(record);
            s.status(result)
        })
    }
}

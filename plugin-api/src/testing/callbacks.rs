//! The host side of the ABI for [`TestHost`]: a [`HostApi`] whose functions work on it.

use std::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind};

use super::{Emitted, LogLine, Pattern, RecordedEvent, TestHost};
use crate::abi::{self, HostApi, Level, OnSeries, OnStr, Sink, Status, Str};

/// The host context of one call into a plugin.
struct Session<'h> {
    host: &'h mut TestHost,
    plugin: &'h str,
    service: &'h str,
    /// The message passed to `set_error`.
    error: Option<String>,
    /// During `create` only `log` and `set_error` may be called.
    creating: bool,
}

impl Session<'_> {
    fn log(&mut self, level: Level, message: String) {
        self.host.logs.push(LogLine {
            plugin: self.plugin.to_owned(),
            service: self.service.to_owned(),
            level,
            message,
        });
    }

    /// Refuses a store call during `create`, or while the store is set to fail.
    fn store_call(&mut self, what: &str) -> Result<(), Status> {
        if self.creating {
            self.log(
                Level::Error,
                format!("test host: `{what}` called during create, where only `log` and `set_error` may be"),
            );
            return Err(Status::Error);
        }
        if self.host.store_failing {
            self.log(
                Level::Error,
                format!("test host: `{what}` failed: store failing"),
            );
            return Err(Status::Error);
        }
        Ok(())
    }

    fn state_key(&self, key: String) -> (String, String, String) {
        (self.plugin.to_owned(), self.service.to_owned(), key)
    }
}

/// What one call into a plugin returned, with the message it passed to `set_error`.
pub(super) struct Outcome {
    pub(super) status: Status,
    pub(super) error: Option<String>,
}

/// Builds a [`HostApi`] over `host` for one call into `plugin` for `service`, and passes it
/// to `call`.
pub(super) fn with_api(
    host: &mut TestHost,
    plugin: &str,
    service: &str,
    tick: i64,
    creating: bool,
    call: impl FnOnce(&HostApi) -> Status,
) -> Outcome {
    let mut session = Session {
        host,
        plugin,
        service,
        error: None,
        creating,
    };
    let (shard, shards) = session.host.shard();
    let api = HostApi {
        ctx: (&raw mut session).cast::<c_void>(),
        tick,
        shard,
        shards,
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
        event,
    };
    let status = call(&api);
    // `api.ctx` is not used past this point.
    Outcome {
        status,
        error: session.error.take(),
    }
}

/// Runs a host function, turning a panic (a bug in the test host) into `Status::Error`.
fn guard(body: impl FnOnce() -> Status) -> Status {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(Status::Error)
}

/// The session behind `ctx`.
///
/// # Safety
///
/// `ctx` is the `ctx` of a `HostApi` built by [`with_api`] whose call has not returned, and
/// no other reference to the session is live.
unsafe fn session<'s>(ctx: *mut c_void) -> &'s mut Session<'s> {
    // SAFETY: the caller's contract; the plugin calls one host function at a time.
    unsafe { &mut *ctx.cast::<Session<'s>>() }
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

unsafe extern "C" fn log(ctx: *mut c_void, level: Level, message: Str<'_>) {
    // SAFETY: called by the plugin with the `ctx` of our `HostApi`, during the call.
    let s = unsafe { session(ctx) };
    // SAFETY: the plugin's view is valid for this call.
    let message = unsafe { owned(message) };
    let _ = guard(|| {
        s.log(level, message);
        Status::Ok
    });
}

unsafe extern "C" fn set_error(ctx: *mut c_void, message: Str<'_>) {
    // SAFETY: called by the plugin with the `ctx` of our `HostApi`, during the call.
    let s = unsafe { session(ctx) };
    // SAFETY: the plugin's view is valid for this call.
    s.error = Some(unsafe { owned(message) });
}

/// Delivers the points of the metric `name` in `[from, until]`.
///
/// # Safety
///
/// `sink` and `on_series` come from the plugin, for this call.
unsafe fn deliver(
    s: &Session<'_>,
    name: &str,
    from: i64,
    until: i64,
    sink: *mut Sink,
    on_series: OnSeries,
) {
    let points = s
        .host
        .series
        .get(name)
        .or(s.host.any.as_ref())
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let start = points.partition_point(|p| p.ts < from);
    let end = points.partition_point(|p| p.ts <= until).max(start);
    let window = &points[start..end];
    // SAFETY: the plugin's sink and callback, with views valid during the delivery.
    unsafe { on_series(sink, Str::new(name), window.as_ptr(), window.len()) };
}

unsafe extern "C" fn read_series(
    ctx: *mut c_void,
    name: Str<'_>,
    from: i64,
    until: i64,
    sink: *mut Sink,
    on_series: OnSeries,
) -> Status {
    // SAFETY: called by the plugin with the `ctx` of our `HostApi`, during the call.
    let s = unsafe { session(ctx) };
    // SAFETY: the plugin's view is valid for this call.
    let name = unsafe { owned(name) };
    guard(|| {
        if let Err(status) = s.store_call("read_series") {
            return status;
        }
        // SAFETY: the plugin's sink and callback for this call.
        unsafe { deliver(s, &name, from, until, sink, on_series) };
        Status::Ok
    })
}

/// Compiles a pattern received from the plugin, logging an invalid one.
fn pattern(s: &mut Session<'_>, pattern: &str) -> Result<Pattern, Status> {
    Pattern::new(pattern).map_err(|e| {
        s.log(Level::Error, format!("test host: {e}"));
        Status::Error
    })
}

unsafe extern "C" fn read_pattern(
    ctx: *mut c_void,
    pat: Str<'_>,
    from: i64,
    until: i64,
    sink: *mut Sink,
    on_series: OnSeries,
) -> Status {
    // SAFETY: called by the plugin with the `ctx` of our `HostApi`, during the call.
    let s = unsafe { session(ctx) };
    // SAFETY: the plugin's view is valid for this call.
    let pat = unsafe { owned(pat) };
    guard(|| {
        if let Err(status) = s.store_call("read_pattern") {
            return status;
        }
        let pattern = match pattern(s, &pat) {
            Ok(p) => p,
            Err(status) => return status,
        };
        let mut any_match = false;
        for name in s.host.series.keys().filter(|name| pattern.matches(name)) {
            any_match = true;
            // SAFETY: the plugin's sink and callback for this call.
            unsafe { deliver(s, name, from, until, sink, on_series) };
        }
        if !any_match && s.host.any.is_some() {
            // SAFETY: as above; "csv" names no real series, so the wildcard answers.
            unsafe { deliver(s, "csv", from, until, sink, on_series) };
        }
        Status::Ok
    })
}

unsafe extern "C" fn read_many(
    ctx: *mut c_void,
    names: *const Str<'_>,
    count: usize,
    from: i64,
    until: i64,
    sink: *mut Sink,
    on_series: OnSeries,
) -> Status {
    // SAFETY: called by the plugin with the `ctx` of our `HostApi`, during the call.
    let s = unsafe { session(ctx) };
    // SAFETY: the plugin lends `count` views at `names`, valid for this call.
    let names: Vec<String> = unsafe { crate::ffi::strs(names, count) }
        .iter()
        // SAFETY: as above.
        .map(|n| unsafe { owned(*n) })
        .collect();
    guard(|| {
        if let Err(status) = s.store_call("read_many") {
            return status;
        }
        for name in &names {
            // SAFETY: the plugin's sink and callback for this call.
            unsafe { deliver(s, name, from, until, sink, on_series) };
        }
        Status::Ok
    })
}

unsafe extern "C" fn find(
    ctx: *mut c_void,
    pat: Str<'_>,
    sink: *mut Sink,
    on_name: OnStr,
) -> Status {
    // SAFETY: called by the plugin with the `ctx` of our `HostApi`, during the call.
    let s = unsafe { session(ctx) };
    // SAFETY: the plugin's view is valid for this call.
    let pat = unsafe { owned(pat) };
    guard(|| {
        if let Err(status) = s.store_call("find") {
            return status;
        }
        let pattern = match pattern(s, &pat) {
            Ok(p) => p,
            Err(status) => return status,
        };
        let mut any_match = false;
        for name in s.host.series.keys().filter(|name| pattern.matches(name)) {
            any_match = true;
            // SAFETY: the plugin's sink and callback, with a view valid during the delivery.
            unsafe { on_name(sink, Str::new(name)) };
        }
        if !any_match && s.host.any.is_some() {
            // SAFETY: as above.
            unsafe { on_name(sink, Str::new("csv")) };
        }
        Status::Ok
    })
}

unsafe extern "C" fn state_get(
    ctx: *mut c_void,
    key: Str<'_>,
    sink: *mut Sink,
    on_value: OnStr,
) -> Status {
    // SAFETY: called by the plugin with the `ctx` of our `HostApi`, during the call.
    let s = unsafe { session(ctx) };
    // SAFETY: the plugin's view is valid for this call.
    let key = unsafe { owned(key) };
    guard(|| {
        if let Err(status) = s.store_call("state_get") {
            return status;
        }
        match s.host.state.get(&s.state_key(key)) {
            None => Status::NotFound,
            Some(value) => {
                // SAFETY: the plugin's sink and callback, with a view valid during the
                // delivery.
                unsafe { on_value(sink, Str::from_bytes(value)) };
                Status::Ok
            }
        }
    })
}

unsafe extern "C" fn state_set(ctx: *mut c_void, key: Str<'_>, value: Str<'_>) -> Status {
    // SAFETY: called by the plugin with the `ctx` of our `HostApi`, during the call.
    let s = unsafe { session(ctx) };
    // SAFETY: the plugin's views are valid for this call.
    let (key, value) = unsafe { (owned(key), value.as_bytes().to_vec()) };
    guard(|| {
        if let Err(status) = s.store_call("state_set") {
            return status;
        }
        let key = s.state_key(key);
        s.host.state.insert(key, value);
        Status::Ok
    })
}

unsafe extern "C" fn state_delete(ctx: *mut c_void, key: Str<'_>) -> Status {
    // SAFETY: called by the plugin with the `ctx` of our `HostApi`, during the call.
    let s = unsafe { session(ctx) };
    // SAFETY: the plugin's view is valid for this call.
    let key = unsafe { owned(key) };
    guard(|| {
        if let Err(status) = s.store_call("state_delete") {
            return status;
        }
        let key = s.state_key(key);
        s.host.state.remove(&key);
        Status::Ok
    })
}

unsafe extern "C" fn emit(ctx: *mut c_void, field: Str<'_>, value: f64, ts: i64) -> Status {
    // SAFETY: called by the plugin with the `ctx` of our `HostApi`, during the call.
    let s = unsafe { session(ctx) };
    // SAFETY: the plugin's view is valid for this call.
    let field = unsafe { owned(field) };
    guard(|| {
        if s.creating {
            return Status::Error;
        }
        s.host.emitted.push(Emitted {
            plugin: s.plugin.to_owned(),
            service: s.service.to_owned(),
            field,
            value,
            ts,
        });
        Status::Ok
    })
}

unsafe extern "C" fn event(ctx: *mut c_void, event: *const abi::Event<'_>) -> Status {
    // SAFETY: called by the plugin with the `ctx` of our `HostApi`, during the call.
    let s = unsafe { session(ctx) };
    // SAFETY: the plugin passes a valid event (or null, refused) for this call.
    let Some(e) = (unsafe { event.as_ref() }) else {
        return Status::Error;
    };
    // SAFETY: the event's views and values are valid for this call.
    let recorded = unsafe {
        let values = if e.values_len == 0 || e.values.is_null() {
            &[]
        } else {
            std::slice::from_raw_parts(e.values, e.values_len)
        };
        RecordedEvent {
            plugin: s.plugin.to_owned(),
            service: s.service.to_owned(),
            state: owned(e.state),
            severity: owned(e.severity),
            metric: owned(e.metric),
            reason: owned(e.reason),
            values: values.iter().map(|v| (owned(v.name), v.value)).collect(),
            ts: e.ts,
        }
    };
    guard(|| {
        if s.creating {
            return Status::Error;
        }
        s.host.events.push(recorded);
        Status::Ok
    })
}

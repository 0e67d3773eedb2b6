//! The host side of a plugin call: the callbacks behind [`HostApi`], working on a [`RunCtx`].
//!
//! Every callback catches panics (a panic must not unwind into the plugin's frames) and copies
//! what the plugin lends it before returning.

#![allow(unsafe_code)]

use std::collections::HashMap;
use std::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind};

use am_plugin_api::abi::{self, Event, HostApi, Level, OnSeries, OnStr, Point, Sink, Status, Str};
use am_store::{Model, Pattern, Reader, SeriesId};
use tokio::runtime::Handle;

use crate::metrics::RunnerMetrics;
use crate::output::events::EventRecord;

mod reads;

use reads::{Known, host_find, host_read_many, host_read_pattern, host_read_series};

/// Everything one plugin call may touch.
pub struct RunCtx<'a> {
    /// Runtime for the store's async calls (callbacks run on a blocking thread).
    pub rt: Handle,
    /// The metric store and state; `None` while an instance is being created.
    pub store: Option<&'a mut Reader>,
    /// Plugin name, for logs, state keys and outputs.
    pub plugin: &'a str,
    /// Service name.
    pub service: &'a str,
    /// The tick's scheduled time.
    pub tick: i64,
    /// Counters.
    pub metrics: &'a RunnerMetrics,
    /// Points emitted: (field, value, ts).
    pub outputs: Vec<(String, f64, i64)>,
    /// Events emitted.
    pub events: Vec<EventRecord>,
    /// The error the plugin reported with a failing status.
    pub error: Option<String>,
    /// Whether a store call failed (the task is then failed even if the plugin carries on).
    pub store_failed: Option<String>,
    /// `(shard, shards)` of a sharded service's task; `(0, 1)` otherwise.
    pub shard: (u32, u32),
    /// The series behind each name `find` returned in this call, so `read_many` of those
    /// names needs no lookup.
    known: Known,
}

impl std::fmt::Debug for RunCtx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunCtx")
            .field("plugin", &self.plugin)
            .field("service", &self.service)
            .field("tick", &self.tick)
            .finish_non_exhaustive()
    }
}

impl<'a> RunCtx<'a> {
    /// A context for a run (or, with `store` None, for creating an instance).
    pub fn new(
        rt: Handle,
        store: Option<&'a mut Reader>,
        plugin: &'a str,
        service: &'a str,
        tick: i64,
        metrics: &'a RunnerMetrics,
    ) -> RunCtx<'a> {
        RunCtx {
            rt,
            store,
            plugin,
            service,
            tick,
            metrics,
            outputs: Vec::new(),
            events: Vec::new(),
            error: None,
            store_failed: None,
            shard: (0, 1),
            known: Known::default(),
        }
    }

    /// The same context for shard `shard` of `shards` of a sharded service.
    pub fn with_shard(mut self, shard: u32, shards: u32) -> Self {
        self.shard = (shard, shards.max(1));
        self
    }

    /// The callback table pointing at this context; valid while `self` is borrowed.
    pub fn api(&mut self) -> HostApi {
        HostApi {
            ctx: (self as *mut RunCtx<'a>).cast::<c_void>(),
            tick: self.tick,
            shard: self.shard.0,
            shards: self.shard.1,
            log: host_log,
            set_error: host_set_error,
            read_series: host_read_series,
            read_pattern: host_read_pattern,
            read_many: host_read_many,
            find: host_find,
            state_get: host_state_get,
            state_set: host_state_set,
            state_delete: host_state_delete,
            emit: host_emit,
            event: host_event,
        }
    }

    /// The Redis hash holding this plugin's state for this service.
    pub fn state_key(&self) -> String {
        state_key(self.plugin, self.service)
    }

    /// Runs a store call on the runtime (callbacks run on a blocking thread); a failure is
    /// recorded, counted and logged, and becomes the status to return. Fails while an instance
    /// is being created, when there is no store.
    fn with_store<T>(
        &mut self,
        what: &str,
        call: impl AsyncFnOnce(&mut Reader) -> Result<T, am_store::Error>,
    ) -> Result<T, Status> {
        let rt = self.rt.clone();
        let Some(store) = self.store.as_deref_mut() else {
            return Err(Status::Error);
        };
        rt.block_on(call(store))
            .map_err(|e| self.store_error(what, e))
    }

    /// One command on this plugin's state hash: `CMD <hash> args...`; an error reply is a
    /// failure like any other.
    fn state_command(
        &mut self,
        what: &str,
        cmd: &[u8],
        args: &[&[u8]],
    ) -> Result<am_store::resp::Value, Status> {
        let hash = self.state_key();
        let mut full: Vec<&[u8]> = vec![cmd, hash.as_bytes()];
        full.extend_from_slice(args);
        let reply = self.with_store(what, async |store| store.raw(&full).await)?;
        match reply.as_error() {
            Some(e) => Err(self.store_error(what, e.to_string())),
            None => Ok(reply),
        }
    }

    fn store_error(&mut self, what: &str, e: impl std::fmt::Display) -> Status {
        self.metrics.store_errors.inc();
        tracing::warn!(plugin = self.plugin, service = self.service, error = %e, "{what} failed");
        self.store_failed = Some(format!("{what}: {e}"));
        Status::Error
    }
}

/// The Redis hash holding a plugin's persistent state for a service.
pub fn state_key(plugin: &str, service: &str) -> String {
    format!("am1:state:{plugin}:{service}")
}

/// Borrows a view as bytes.
///
/// # Safety
/// `s` must point at `s.len` readable bytes for the duration of the borrow.
unsafe fn bytes<'s>(s: Str<'s>) -> &'s [u8] {
    if s.ptr.is_null() || s.len == 0 {
        return &[];
    }
    // SAFETY: guaranteed by the caller (the plugin lends a live slice for the call).
    unsafe { std::slice::from_raw_parts(s.ptr, s.len) }
}

/// Borrows a view as text, replacing invalid UTF-8.
///
/// # Safety
/// As for [`bytes`].
unsafe fn text(s: Str<'_>) -> String {
    // SAFETY: forwarded from the caller.
    String::from_utf8_lossy(unsafe { bytes(s) }).into_owned()
}

fn lend(b: &[u8]) -> Str<'_> {
    Str {
        ptr: b.as_ptr(),
        len: b.len(),
        _life: std::marker::PhantomData,
    }
}

/// Runs a callback body on the context, turning a panic into `Status::Error`.
///
/// # Safety
/// `ctx` must be the pointer [`RunCtx::api`] put in the table, still borrowed.
unsafe fn with_ctx(ctx: *mut c_void, f: impl FnOnce(&mut RunCtx<'_>) -> Status) -> Status {
    // SAFETY: the plugin passes back the ctx of the HostApi it was given, during the call.
    let Some(rc) = (unsafe { ctx.cast::<RunCtx<'_>>().as_mut() }) else {
        return Status::Error;
    };
    match catch_unwind(AssertUnwindSafe(|| f(rc))) {
        Ok(s) => s,
        Err(_) => {
            tracing::error!("a host callback panicked; the call fails");
            Status::Error
        }
    }
}

unsafe extern "C" fn host_log(ctx: *mut c_void, level: Level, message: Str<'_>) {
    // SAFETY: ctx and message come from the plugin per the ABI contract.
    unsafe {
        with_ctx(ctx, |rc| {
            let msg = text(message);
            rc.metrics.plugin_log_lines.inc();
            let (p, s) = (rc.plugin, rc.service);
            match level {
                Level::Trace => tracing::trace!(plugin = p, service = s, "{msg}"),
                Level::Debug => tracing::debug!(plugin = p, service = s, "{msg}"),
                Level::Info => tracing::info!(plugin = p, service = s, "{msg}"),
                Level::Warn => tracing::warn!(plugin = p, service = s, "{msg}"),
                Level::Error => tracing::error!(plugin = p, service = s, "{msg}"),
            }
            Status::Ok
        });
    }
}

unsafe extern "C" fn host_set_error(ctx: *mut c_void, message: Str<'_>) {
    // SAFETY: as for host_log.
    unsafe {
        with_ctx(ctx, |rc| {
            rc.error = Some(text(message));
            Status::Ok
        });
    }
}

unsafe extern "C" fn host_state_get(
    ctx: *mut c_void,
    key: Str<'_>,
    sink: *mut Sink,
    on_value: OnStr,
) -> Status {
    // SAFETY: per the ABI contract.
    unsafe {
        with_ctx(ctx, |rc| {
            match rc.state_command("reading state", b"HGET", &[bytes(key)]) {
                Ok(am_store::resp::Value::Bulk(Some(v))) => {
                    on_value(sink, lend(&v));
                    Status::Ok
                }
                Ok(am_store::resp::Value::Bulk(None)) => Status::NotFound,
                Ok(other) => rc.store_error("reading state", format!("unexpected reply {other:?}")),
                Err(status) => status,
            }
        })
    }
}

unsafe extern "C" fn host_state_set(ctx: *mut c_void, key: Str<'_>, value: Str<'_>) -> Status {
    // SAFETY: per the ABI contract.
    unsafe {
        with_ctx(ctx, |rc| {
            rc.state_command("writing state", b"HSET", &[bytes(key), bytes(value)])
                .map_or_else(|status| status, |_| Status::Ok)
        })
    }
}

unsafe extern "C" fn host_state_delete(ctx: *mut c_void, key: Str<'_>) -> Status {
    // SAFETY: per the ABI contract.
    unsafe {
        with_ctx(ctx, |rc| {
            rc.state_command("deleting state", b"HDEL", &[bytes(key)])
                .map_or_else(|status| status, |_| Status::Ok)
        })
    }
}

unsafe extern "C" fn host_emit(ctx: *mut c_void, field: Str<'_>, value: f64, ts: i64) -> Status {
    // SAFETY: per the ABI contract.
    unsafe {
        with_ctx(ctx, |rc| {
            rc.outputs.push((text(field), value, ts));
            Status::Ok
        })
    }
}

unsafe extern "C" fn host_event(ctx: *mut c_void, event: *const Event<'_>) -> Status {
    // SAFETY: per the ABI contract: `event` points at an Event whose views live for the call.
    unsafe {
        with_ctx(ctx, |rc| {
            let Some(ev) = event.as_ref() else {
                return Status::Error;
            };
            let values: &[abi::EventValue<'_>] = if ev.values.is_null() || ev.values_len == 0 {
                &[]
            } else {
                std::slice::from_raw_parts(ev.values, ev.values_len)
            };
            rc.events.push(EventRecord {
                plugin: rc.plugin.to_string(),
                service: rc.service.to_string(),
                state: text(ev.state),
                severity: text(ev.severity),
                metric: text(ev.metric),
                reason: text(ev.reason),
                values: values.iter().map(|v| (text(v.name), v.value)).collect(),
                ts: ev.ts,
            });
            Status::Ok
        })
    }
}

//! The plugin side of every call into [`HostApi`]: the only place that calls the host's
//! function pointers, and the delivery callbacks that copy the host's views into owned values.
//! (The host side of the same calls is [`crate::hosting`].)

use std::ffi::c_void;

use crate::abi::{self, HostApi, Level, Point, Sink, Status, Str, VerdictValue};
use crate::error::{ErrorKind, PluginError};
use crate::ffi;
use crate::records::Series;
use crate::verdict::Verdict;

/// A `HostApi` received from the host, with safe methods for each call.
///
/// Not `Send`: `&HostApi` is not (it holds raw pointers), which keeps every call on the
/// thread that received the API, as the ABI requires.
#[derive(Clone, Copy)]
pub(crate) struct HostCalls<'a> {
    api: &'a HostApi,
}

/// Maps a status returned by the host to a result; the host logged its own details.
fn check(status: Status, what: impl FnOnce() -> String) -> Result<(), PluginError> {
    match status {
        Status::Ok => Ok(()),
        other => Err(PluginError::with_kind(
            ErrorKind::Host,
            format!(
                "{} failed in the runner ({other:?}; the runner logged why)",
                what()
            ),
        )),
    }
}

impl<'a> HostCalls<'a> {
    /// Wraps an API received from the host.
    ///
    /// # Safety
    ///
    /// `api` must be a `HostApi` the host passed to this call, honouring the ABI's contract:
    /// every function is callable with `api.ctx` for `'a`, on this thread.
    pub(crate) unsafe fn new(api: &'a HostApi) -> Self {
        Self { api }
    }

    pub(crate) fn tick(self) -> i64 {
        self.api.tick
    }

    pub(crate) fn shard(self) -> (u32, u32) {
        (self.api.shard, self.api.shards.max(1))
    }

    pub(crate) fn log(self, level: Level, message: &str) {
        // SAFETY: `HostCalls::new`'s contract; the view lives across the call.
        unsafe { (self.api.log)(self.api.ctx, level, Str::new(message)) }
    }

    pub(crate) fn set_error(self, message: &str) {
        // SAFETY: `HostCalls::new`'s contract; the view lives across the call.
        unsafe { (self.api.set_error)(self.api.ctx, Str::new(message)) }
    }

    pub(crate) fn read_series(
        self,
        name: &str,
        from: i64,
        until: i64,
    ) -> Result<Vec<Point>, PluginError> {
        let found = self.read_one(self.api.read_series, name, from, until)?;
        Ok(found
            .into_iter()
            .next()
            .map(|s| s.points)
            .unwrap_or_default())
    }

    pub(crate) fn read_pattern(
        self,
        pattern: &str,
        from: i64,
        until: i64,
    ) -> Result<Vec<Series>, PluginError> {
        self.read_one(self.api.read_pattern, pattern, from, until)
    }

    /// `read_series` or `read_pattern` (`call`, one of this API's): what `text` names.
    fn read_one(
        self,
        call: abi::ReadOne,
        text: &str,
        from: i64,
        until: i64,
    ) -> Result<Vec<Series>, PluginError> {
        let mut out: Vec<Series> = Vec::new();
        // SAFETY: `HostCalls::new`'s contract; `out` outlives the call and matches `on_series`.
        let status = unsafe {
            call(
                self.api.ctx,
                Str::new(text),
                from,
                until,
                sink(&mut out),
                on_series,
            )
        };
        check(status, || format!("reading `{text}`"))?;
        Ok(out)
    }

    pub(crate) fn read_many(
        self,
        names: &[String],
        from: i64,
        until: i64,
    ) -> Result<Vec<Series>, PluginError> {
        let views: Vec<Str<'_>> = names.iter().map(|n| Str::new(n)).collect();
        let mut out: Vec<Series> = Vec::with_capacity(names.len());
        // SAFETY: `HostCalls::new`'s contract; `views` (and the names they borrow) and `out`
        // outlive the call, and `out` matches `on_series`.
        let status = unsafe {
            (self.api.read_many)(
                self.api.ctx,
                views.as_ptr(),
                views.len(),
                from,
                until,
                sink(&mut out),
                on_series,
            )
        };
        check(status, || format!("reading {} metrics", names.len()))?;
        Ok(out)
    }

    pub(crate) fn find(self, pattern: &str) -> Result<Vec<String>, PluginError> {
        let mut out: Vec<Vec<u8>> = Vec::new();
        // SAFETY: `HostCalls::new`'s contract; `out` outlives the call and matches `on_bytes`.
        let status =
            unsafe { (self.api.find)(self.api.ctx, Str::new(pattern), sink(&mut out), on_bytes) };
        check(status, || format!("finding `{pattern}`"))?;
        Ok(out
            .into_iter()
            .map(|name| String::from_utf8_lossy(&name).into_owned())
            .collect())
    }

    pub(crate) fn state_get(self, key: &str) -> Result<Option<Vec<u8>>, PluginError> {
        let mut out: Vec<Vec<u8>> = Vec::new();
        // SAFETY: `HostCalls::new`'s contract; `out` outlives the call and matches `on_bytes`.
        let status =
            unsafe { (self.api.state_get)(self.api.ctx, Str::new(key), sink(&mut out), on_bytes) };
        match status {
            Status::NotFound => Ok(None),
            status => {
                check(status, || format!("reading state `{key}`"))?;
                Ok(Some(out.into_iter().next().unwrap_or_default()))
            }
        }
    }

    pub(crate) fn state_set(self, key: &str, value: &[u8]) -> Result<(), PluginError> {
        // SAFETY: `HostCalls::new`'s contract; the views live across the call.
        let status =
            unsafe { (self.api.state_set)(self.api.ctx, Str::new(key), Str::from_bytes(value)) };
        check(status, || format!("writing state `{key}`"))
    }

    pub(crate) fn state_delete(self, key: &str) -> Result<(), PluginError> {
        // SAFETY: `HostCalls::new`'s contract; the view lives across the call.
        let status = unsafe { (self.api.state_delete)(self.api.ctx, Str::new(key)) };
        check(status, || format!("deleting state `{key}`"))
    }

    pub(crate) fn emit(self, field: &str, value: f64, ts: i64) -> Result<(), PluginError> {
        // SAFETY: `HostCalls::new`'s contract; the view lives across the call.
        let status = unsafe { (self.api.emit)(self.api.ctx, Str::new(field), value, ts) };
        check(status, || format!("emitting `{field}`"))
    }

    pub(crate) fn verdict(self, verdict: &Verdict) -> Result<(), PluginError> {
        let values: Vec<VerdictValue<'_>> = verdict
            .values
            .iter()
            .map(|(name, value)| VerdictValue {
                name: Str::new(name),
                value: *value,
            })
            .collect();
        let view = abi::Verdict {
            state: Str::new(verdict.state.as_str()),
            severity: Str::new(verdict.severity.as_str()),
            subject: Str::new(&verdict.subject),
            reason: Str::new(&verdict.reason),
            values: values.as_ptr(),
            values_len: values.len(),
            ts: verdict.ts.unwrap_or(self.api.tick),
        };
        // SAFETY: `HostCalls::new`'s contract; `view` and everything it points to (`values`,
        // the verdict's strings) live across the call.
        let status = unsafe { (self.api.verdict)(self.api.ctx, &view) };
        check(status, || {
            format!("reporting the verdict on `{}`", verdict.subject)
        })
    }
}

/// A sink pointer for a delivery callback writing into `out`.
fn sink<T>(out: &mut Vec<T>) -> *mut Sink {
    (out as *mut Vec<T>).cast::<c_void>()
}

/// `OnSeries` delivering into a `Vec<Series>`: copies the borrowed name and points.
///
/// # Safety
///
/// `sink` comes from [`sink`] over a live `Vec<Series>`; the views are valid for the call.
unsafe extern "C" fn on_series(sink: *mut Sink, name: Str<'_>, points: *const Point, len: usize) {
    // SAFETY: `sink` is the `&mut Vec<Series>` passed with this callback, not otherwise
    // borrowed while the host runs the call that delivers to it.
    let out = unsafe { &mut *sink.cast::<Vec<Series>>() };
    out.push(Series {
        // SAFETY: the host's view is valid for this delivery call.
        name: unsafe { name.to_string_lossy() },
        // SAFETY: as above.
        points: unsafe { ffi::points(points, len) }.to_vec(),
    });
}

/// `OnStr` delivering into a `Vec<Vec<u8>>`: copies the borrowed bytes.
///
/// # Safety
///
/// `sink` comes from [`sink`] over a live `Vec<Vec<u8>>`; the view is valid for the call.
unsafe extern "C" fn on_bytes(sink: *mut Sink, value: Str<'_>) {
    // SAFETY: `sink` is the `&mut Vec<Vec<u8>>` passed with this callback, not otherwise
    // borrowed while the host runs the call that delivers to it.
    let out = unsafe { &mut *sink.cast::<Vec<Vec<u8>>>() };
    // SAFETY: the host's view is valid for this delivery call.
    out.push(unsafe { value.as_bytes() }.to_vec());
}

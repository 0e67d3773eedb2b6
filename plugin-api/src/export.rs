//! The plugin side of the boundary: the `extern "C"` shims over a [`BaseTask`], the static
//! descriptor, and [`export_plugin!`](crate::export_plugin).
//!
//! Everything here is `#[doc(hidden)]` API used by the macro's expansion and by
//! [`crate::testing`], which goes through the very same shims.

use std::any::Any;
use std::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::abi::{HostApi, PluginDescriptor, Status, Str};
use crate::calls::HostCalls;
use crate::context::Context;
use crate::options::parse_options;
use crate::task::{BaseTask, Init};

/// What `create` allocates: the task and the service it runs for.
struct Instance<T> {
    task: T,
    service: String,
}

/// The text of a panic payload.
fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "(a panic payload that is not a string)"
    }
}

/// Runs `body`, catching a panic: an `Err` is reported through `host.set_error` as `Error`,
/// a panic as `Panic`.
fn guarded(host: HostCalls<'_>, what: &str, body: impl FnOnce() -> Result<(), String>) -> Status {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => Status::Ok,
        Ok(Err(message)) => {
            host.set_error(&message);
            Status::Error
        }
        Err(payload) => {
            host.set_error(&format!("panic in `{what}`: {}", panic_message(&*payload)));
            Status::Panic
        }
    }
}

/// The `create` shim of [`PluginDescriptor`] for `T`.
///
/// # Safety
///
/// As the ABI specifies: `options_json` and `service` are valid views for the call, `host`
/// points to a valid [`HostApi`] for the call (only `log` and `set_error` are used), and
/// `instance` is valid for a write.
#[doc(hidden)]
pub unsafe extern "C" fn __create<T: BaseTask>(
    options_json: Str<'_>,
    service: Str<'_>,
    host: *const HostApi,
    instance: *mut *mut c_void,
) -> Status {
    // SAFETY: the caller passes a valid `HostApi` (or null, refused here).
    let Some(api) = (unsafe { host.as_ref() }) else {
        return Status::Error;
    };
    if instance.is_null() {
        return Status::Error;
    }
    // SAFETY: the caller's contract on `host`.
    let host = unsafe { HostCalls::new(api) };
    let what = format!("{}::new", T::NAME);
    guarded(host, &what, || {
        // SAFETY: the caller passes views valid for this call.
        let service = unsafe { service.to_str() }
            .map_err(|e| format!("the service name is not UTF-8: {e}"))?
            .to_owned();
        // SAFETY: as above.
        let json = unsafe { options_json.to_str() }
            .map_err(|e| format!("the options are not UTF-8: {e}"))?;
        let options = parse_options::<T::Options>(json).map_err(|e| e.message().to_owned())?;
        let task = T::new(options, &Init::new(host, &service)).map_err(|e| e.to_string())?;
        let boxed = Box::new(Instance { task, service });
        // SAFETY: `instance` is non-null and valid for a write (caller's contract).
        unsafe { instance.write(Box::into_raw(boxed).cast::<c_void>()) };
        Ok(())
    })
}

/// The `run` shim of [`PluginDescriptor`] for `T`.
///
/// # Safety
///
/// `instance` was made by [`__create::<T>`](__create), is not destroyed and not in use by
/// another call; `host` points to a valid [`HostApi`] for the call.
#[doc(hidden)]
pub unsafe extern "C" fn __run<T: BaseTask>(instance: *mut c_void, host: *const HostApi) -> Status {
    // SAFETY: the caller passes a valid `HostApi` (or null, refused here).
    let Some(api) = (unsafe { host.as_ref() }) else {
        return Status::Error;
    };
    // SAFETY: the caller's contract on `host`.
    let host = unsafe { HostCalls::new(api) };
    // SAFETY: made by `__create::<T>` from a `Box<Instance<T>>`, live, and exclusively ours
    // for this call (caller's contract); null is refused.
    let Some(instance) = (unsafe { instance.cast::<Instance<T>>().as_mut() }) else {
        host.set_error("no instance");
        return Status::Error;
    };
    let what = format!("{}::run", T::NAME);
    guarded(host, &what, || {
        let mut ctx = Context::new(host, &instance.service);
        instance.task.run(&mut ctx).map_err(|e| e.to_string())
    })
}

/// The `destroy` shim of [`PluginDescriptor`] for `T`: drops the instance (a panic while
/// dropping is caught and lost: `destroy` has no host to report to).
///
/// # Safety
///
/// `instance` was made by [`__create::<T>`](__create), is not in use, and is destroyed only
/// this once (null is ignored).
#[doc(hidden)]
pub unsafe extern "C" fn __destroy<T: BaseTask>(instance: *mut c_void) {
    if instance.is_null() {
        return;
    }
    // SAFETY: made by `Box::into_raw` in `__create::<T>`, destroyed only once.
    let boxed = unsafe { Box::from_raw(instance.cast::<Instance<T>>()) };
    let _ = catch_unwind(AssertUnwindSafe(move || drop(boxed)));
}

/// A [`PluginDescriptor`] that can live in a `static`.
#[doc(hidden)]
#[repr(transparent)]
pub struct StaticDescriptor(PluginDescriptor);

// SAFETY: the descriptor is immutable; its pointers are to `'static` string literals and its
// functions are plain code, all fine to share between threads.
unsafe impl Sync for StaticDescriptor {}

impl StaticDescriptor {
    /// The descriptor of `T`. `panic_unwind` and `version` must be evaluated in the plugin's
    /// crate (that is what [`export_plugin!`](crate::export_plugin) does).
    pub const fn new<T: BaseTask>(
        abi_version: u32,
        panic_unwind: bool,
        version: &'static str,
    ) -> Self {
        Self(PluginDescriptor {
            abi_version,
            panic_unwind,
            name: Str::new(T::NAME),
            version: Str::new(version),
            reporting: T::REPORTING,
            create: __create::<T>,
            run: __run::<T>,
            destroy: __destroy::<T>,
        })
    }

    /// The descriptor.
    pub const fn get(&self) -> &PluginDescriptor {
        &self.0
    }
}

/// Exports a [`BaseTask`] as the plugin of this crate: generates the two symbols the runner
/// looks for, `am_plugin_abi_version` and `am_plugin_descriptor`
/// ([`abi::ABI_VERSION_SYMBOL`](crate::abi::ABI_VERSION_SYMBOL),
/// [`abi::DESCRIPTOR_SYMBOL`](crate::abi::DESCRIPTOR_SYMBOL)).
///
/// ```
/// # use am_plugin_api::{BaseTask, Context, Init, NoOptions, PluginError};
/// # struct MyTask;
/// # impl BaseTask for MyTask {
/// #     type Options = NoOptions;
/// #     const NAME: &'static str = "MyTask";
/// #     fn new(_: NoOptions, _: &Init<'_>) -> Result<Self, PluginError> { Ok(MyTask) }
/// #     fn run(&mut self, _: &mut Context<'_>) -> Result<(), PluginError> { Ok(()) }
/// # }
/// am_plugin_api::export_plugin!(MyTask);
/// ```
///
/// Call it once per crate, at the crate's top level. The descriptor records whether the
/// crate is built with `panic = "unwind"` (the runner refuses `panic = "abort"` builds, whose
/// panics it could not survive) and the crate's version (`CARGO_PKG_VERSION`).
///
/// The generated items need `unsafe` attributes (`#[unsafe(no_mangle)]`) and carry
/// `#[allow(unsafe_code)]`, so they compile in a crate that says `#![deny(unsafe_code)]` (as
/// the workspace lints do). A crate that says `#![forbid(unsafe_code)]` cannot use the macro:
/// `forbid` cannot be allowed locally.
///
/// Only one crate calling `export_plugin!` can be linked into a binary (the symbol names are
/// fixed); tests link the plugin statically as an `rlib` through
/// [`testing`](crate::testing) without trouble, since each crate's tests are their own binary.
#[macro_export]
macro_rules! export_plugin {
    // Hidden variant for the runner's tests: `export_plugin!(@abi 999, MyTask)` reports another
    // ABI version. Not for plugins.
    (@abi $abi:expr, $task:ty) => {
        #[allow(unsafe_code)]
        const _: () = {
            static __AM_PLUGIN_DESCRIPTOR: $crate::__private::StaticDescriptor =
                $crate::__private::StaticDescriptor::new::<$task>(
                    $abi,
                    cfg!(panic = "unwind"),
                    env!("CARGO_PKG_VERSION"),
                );

            /// The plugin's ABI version, read by the runner before anything else.
            #[unsafe(no_mangle)]
            pub extern "C" fn am_plugin_abi_version() -> u32 {
                $abi
            }

            /// The plugin's descriptor, valid for the life of the library.
            #[unsafe(no_mangle)]
            pub extern "C" fn am_plugin_descriptor() -> *const $crate::abi::PluginDescriptor {
                __AM_PLUGIN_DESCRIPTOR.get()
            }
        };
    };
    ($task:ty) => {
        $crate::export_plugin!(@abi $crate::abi::ABI_VERSION, $task);
    };
}

//! [`TestRunner`]: one plugin instance across ticks, driven through the plugin's
//! `extern "C"` functions as the runner drives them.

use std::ffi::c_void;
use std::fmt;

use super::TestHost;
use super::callbacks::{Outcome, with_api};
use crate::abi::{ABI_VERSION, HostApi, PluginDescriptor, Status, Str};
use crate::export::StaticDescriptor;
use crate::task::BaseTask;

/// Why creating or running a plugin instance failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The plugin returned an error (or was refused); the message is what the runner would
    /// log.
    Error(String),
    /// The plugin panicked; the panic was caught at the boundary. The message reads
    /// ``panic in `Name::run`: <panic message>``.
    Panic(String),
}

impl Failure {
    /// The message.
    pub fn message(&self) -> &str {
        match self {
            Failure::Error(m) | Failure::Panic(m) => m,
        }
    }

    /// Whether the plugin panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self, Failure::Panic(_))
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for Failure {}

type CreateFn = unsafe extern "C" fn(Str<'_>, Str<'_>, *const HostApi, *mut *mut c_void) -> Status;
type RunFn = unsafe extern "C" fn(*mut c_void, *const HostApi) -> Status;
type DestroyFn = unsafe extern "C" fn(*mut c_void);

/// One plugin instance for one service, kept across ticks as a runner worker keeps it.
///
/// [`TestRunner::new`] creates the instance (parsing the options: an unknown key or a bad
/// value fails here), [`TestRunner::run`] runs a tick, dropping the runner destroys the
/// instance. As in the runner, an instance that panicked is destroyed, and the next `run`
/// creates a fresh one from the same options first; state kept in the [`TestHost`] survives.
///
/// Every call goes through the plugin's `extern "C"` functions (the very ones
/// [`export_plugin!`](crate::export_plugin) exports) with a real
/// [`HostApi`](crate::abi::HostApi) over the `TestHost`.
pub struct TestRunner {
    plugin: String,
    service: String,
    options_json: String,
    create: CreateFn,
    run: RunFn,
    destroy: DestroyFn,
    /// Null when there is no live instance (after a panic).
    instance: *mut c_void,
}

impl fmt::Debug for TestRunner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestRunner")
            .field("plugin", &self.plugin)
            .field("service", &self.service)
            .field("live", &!self.instance.is_null())
            .finish_non_exhaustive()
    }
}

/// Maps what a call into the plugin returned to a result.
fn outcome(outcome: Outcome) -> Result<(), Failure> {
    let message = || {
        outcome.error.clone().unwrap_or_else(|| {
            format!("the plugin returned {:?} without a message", outcome.status)
        })
    };
    match outcome.status {
        Status::Ok => Ok(()),
        Status::Panic => Err(Failure::Panic(message())),
        Status::Error | Status::NotFound => Err(Failure::Error(message())),
    }
}

impl TestRunner {
    /// Creates an instance of `T` for `service` from JSON options (the service's
    /// `worker_options` entry), through the same `create` function the plugin exports.
    pub fn new<T: BaseTask>(
        options_json: &str,
        service: &str,
        host: &mut TestHost,
    ) -> Result<Self, Failure> {
        // The version is unknown statically linked; it is not used here.
        let descriptor = StaticDescriptor::new::<T>(ABI_VERSION, cfg!(panic = "unwind"), "");
        let d = descriptor.get();
        Self::build(
            T::NAME.to_owned(),
            (d.create, d.run, d.destroy),
            options_json,
            service,
            host,
        )
    }

    /// Creates an instance through a plugin's descriptor, such as one read from a loaded
    /// library's [`DESCRIPTOR_SYMBOL`](crate::abi::DESCRIPTOR_SYMBOL). Refuses a descriptor
    /// of another ABI version or built with `panic = "abort"`, as the runner does.
    ///
    /// # Safety
    ///
    /// `descriptor` must be a valid plugin descriptor whose functions honour the ABI, and
    /// must stay valid (the library stay loaded) while the `TestRunner` lives. For a
    /// library, check its [`ABI_VERSION_SYMBOL`](crate::abi::ABI_VERSION_SYMBOL) before
    /// reading the descriptor at all.
    pub unsafe fn from_descriptor(
        descriptor: &PluginDescriptor,
        options_json: &str,
        service: &str,
        host: &mut TestHost,
    ) -> Result<Self, Failure> {
        // SAFETY: the descriptor's strings are valid for the life of the library.
        let name = unsafe { descriptor.name.to_string_lossy() };
        if descriptor.abi_version != ABI_VERSION {
            return Err(Failure::Error(format!(
                "plugin `{name}` speaks ABI version {}, this host speaks {ABI_VERSION}",
                descriptor.abi_version
            )));
        }
        if !descriptor.panic_unwind {
            return Err(Failure::Error(format!(
                "plugin `{name}` is built with panic = \"abort\"; it must unwind"
            )));
        }
        Self::build(
            name,
            (descriptor.create, descriptor.run, descriptor.destroy),
            options_json,
            service,
            host,
        )
    }

    fn build(
        plugin: String,
        (create, run, destroy): (CreateFn, RunFn, DestroyFn),
        options_json: &str,
        service: &str,
        host: &mut TestHost,
    ) -> Result<Self, Failure> {
        let mut runner = Self {
            plugin,
            service: service.to_owned(),
            options_json: options_json.to_owned(),
            create,
            run,
            destroy,
            instance: std::ptr::null_mut(),
        };
        runner.create(host, 0)?;
        Ok(runner)
    }

    fn create(&mut self, host: &mut TestHost, tick: i64) -> Result<(), Failure> {
        let mut instance: *mut c_void = std::ptr::null_mut();
        let create = self.create;
        let options = Str::new(&self.options_json);
        let service = Str::new(&self.service);
        let result = outcome(with_api(
            host,
            &self.plugin,
            &self.service,
            tick,
            true,
            |api| {
                // SAFETY: the views and `api` live across the call, `instance` is writable.
                unsafe { create(options, service, api, &mut instance) }
            },
        ));
        if result.is_ok() && instance.is_null() {
            return Err(Failure::Error(
                "create returned Ok without an instance".into(),
            ));
        }
        self.instance = instance;
        result
    }

    /// Runs one tick at `tick` (seconds since the epoch: the analysis' "now").
    ///
    /// After a panic the instance is destroyed; the next call creates a new one first (an
    /// error creating it is returned).
    pub fn run(&mut self, host: &mut TestHost, tick: i64) -> Result<(), Failure> {
        if self.instance.is_null() {
            self.create(host, tick)?;
        }
        let (run, instance) = (self.run, self.instance);
        let result = outcome(with_api(
            host,
            &self.plugin,
            &self.service,
            tick,
            false,
            |api| {
                // SAFETY: a live instance made by this plugin's `create`, used by one call at a
                // time; `api` lives across the call.
                unsafe { run(instance, api) }
            },
        ));
        if matches!(result, Err(Failure::Panic(_))) {
            self.destroy_instance();
        }
        result
    }

    /// The plugin's name.
    pub fn plugin(&self) -> &str {
        &self.plugin
    }

    /// The service.
    pub fn service(&self) -> &str {
        &self.service
    }

    fn destroy_instance(&mut self) {
        let instance = std::mem::replace(&mut self.instance, std::ptr::null_mut());
        if !instance.is_null() {
            // SAFETY: a live instance made by this plugin's `create`, destroyed once.
            unsafe { (self.destroy)(instance) };
        }
    }
}

impl Drop for TestRunner {
    fn drop(&mut self) {
        self.destroy_instance();
    }
}

/// Runs one tick of `T` for `service` with JSON options: creates an instance, runs it at
/// `tick`, destroys it. (Use a [`TestRunner`] to keep the instance across ticks.)
///
/// ```
/// # use am_plugin_api::{BaseTask, Context, Init, NoOptions, PluginError};
/// # struct Boom;
/// # impl BaseTask for Boom {
/// #     type Options = NoOptions;
/// #     const NAME: &'static str = "Boom";
/// #     fn new(_: NoOptions, _: &Init<'_>) -> Result<Self, PluginError> { Ok(Boom) }
/// #     fn run(&mut self, _: &mut Context<'_>) -> Result<(), PluginError> { panic!("boom") }
/// # }
/// use am_plugin_api::testing::{TestHost, run_task};
///
/// let mut host = TestHost::new();
/// let failure = run_task::<Boom>("{}", "service1", &mut host, 1_700_000_000).unwrap_err();
/// assert!(failure.is_panic());
/// assert_eq!(failure.message(), "panic in `Boom::run`: boom");
/// ```
pub fn run_task<T: BaseTask>(
    options_json: &str,
    service: &str,
    host: &mut TestHost,
    tick: i64,
) -> Result<(), Failure> {
    TestRunner::new::<T>(options_json, service, host)?.run(host, tick)
}

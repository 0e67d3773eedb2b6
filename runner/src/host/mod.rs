//! The plugin host: loading plugin files, creating instances, and running them with the
//! host-side callbacks of the ABI.

mod context;
mod loader;

use std::ffi::c_void;
use std::sync::Arc;

use am_plugin_api::abi::{Status, Str};

pub use context::{RunCtx, state_key};
pub use loader::{LoadedPlugin, Plugins, Skipped, from_descriptor, load_file};

/// How a plugin call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It worked.
    Ok,
    /// The plugin returned an error (its message).
    Failed(String),
    /// The plugin panicked (the panic message); the instance must be rebuilt.
    Panicked(String),
}

fn lend(s: &str) -> Str<'_> {
    Str {
        ptr: s.as_ptr(),
        len: s.len(),
        _life: std::marker::PhantomData,
    }
}

fn outcome(status: Status, ctx: &RunCtx<'_>) -> Outcome {
    let msg = || ctx.error.clone().unwrap_or_else(|| "no message".into());
    match status {
        Status::Ok => match &ctx.store_failed {
            // The plugin carried on after a store failure; its result is not trustworthy.
            Some(e) => Outcome::Failed(e.clone()),
            None => Outcome::Ok,
        },
        Status::Panic => Outcome::Panicked(msg()),
        Status::Error | Status::NotFound => Outcome::Failed(msg()),
    }
}

/// One plugin instance (a service's configured copy of a plugin). Destroyed on drop, by the
/// plugin's own function.
#[derive(Debug)]
pub struct Instance {
    plugin: Arc<LoadedPlugin>,
    ptr: *mut c_void,
}

// SAFETY: an instance is used by one thread at a time (the executor holds it behind a mutex),
// and BaseTask requires `Send`, so moving it between threads is sound.
#[allow(unsafe_code)]
unsafe impl Send for Instance {}

impl Instance {
    /// Builds an instance from the service's JSON options. During creation the plugin may only
    /// log and report errors (`ctx.store` is `None`).
    #[allow(unsafe_code)]
    pub fn create(
        plugin: Arc<LoadedPlugin>,
        options_json: &str,
        ctx: &mut RunCtx<'_>,
    ) -> Result<Instance, Outcome> {
        let api = ctx.api();
        let mut ptr: *mut c_void = std::ptr::null_mut();
        let service = ctx.service.to_string();
        // SAFETY: the descriptor was checked at load; the views and the table outlive the call.
        let status = unsafe {
            (plugin.descriptor.create)(lend(options_json), lend(&service), &api, &mut ptr)
        };
        match outcome(status, ctx) {
            Outcome::Ok if !ptr.is_null() => Ok(Instance { plugin, ptr }),
            Outcome::Ok => Err(Outcome::Failed("the plugin returned no instance".into())),
            other => Err(other),
        }
    }

    /// Runs one task.
    #[allow(unsafe_code)]
    pub fn run(&mut self, ctx: &mut RunCtx<'_>) -> Outcome {
        let api = ctx.api();
        // SAFETY: `ptr` came from this plugin's `create` and is used by one thread at a time;
        // the table points at `ctx`, which outlives the call.
        let status = unsafe { (self.plugin.descriptor.run)(self.ptr, &api) };
        outcome(status, ctx)
    }

    /// The plugin this is an instance of.
    pub fn plugin(&self) -> &Arc<LoadedPlugin> {
        &self.plugin
    }
}

impl Drop for Instance {
    #[allow(unsafe_code)]
    fn drop(&mut self) {
        // SAFETY: `ptr` came from this plugin's `create` and is destroyed exactly once, here.
        unsafe { (self.plugin.descriptor.destroy)(self.ptr) };
    }
}

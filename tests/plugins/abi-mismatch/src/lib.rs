//! `AbiMismatch`: a plugin that reports ABI version 999, for the runner's tests only.
//!
//! Otherwise it is a normal plugin (it emits `ok` = 1 when run), so the only reason for the
//! runner to refuse it is the version: the runner must log an error naming both versions
//! (999 and its own [`am_plugin_api::abi::ABI_VERSION`]) and carry on without it.

use am_plugin_api::{BaseTask, Context, Init, NoOptions, PluginError};

/// The ABI version this plugin claims.
pub const CLAIMED_ABI_VERSION: u32 = 999;

/// The `AbiMismatch` test plugin.
#[derive(Debug)]
pub struct AbiMismatch;

impl BaseTask for AbiMismatch {
    type Options = NoOptions;
    const NAME: &'static str = "AbiMismatch";

    fn new(_options: NoOptions, _init: &Init<'_>) -> Result<Self, PluginError> {
        Ok(AbiMismatch)
    }

    fn run(&mut self, ctx: &mut Context<'_>) -> Result<(), PluginError> {
        ctx.emit("ok", 1.0)
    }
}

am_plugin_api::export_plugin!(@abi 999, AbiMismatch);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_the_claimed_version() {
        assert_eq!(am_plugin_abi_version(), CLAIMED_ABI_VERSION);
        assert_ne!(CLAIMED_ABI_VERSION, am_plugin_api::abi::ABI_VERSION);
    }

    #[allow(unsafe_code)]
    unsafe extern "C" {
        safe fn am_plugin_abi_version() -> u32;
    }
}

//! [`BaseTask`], the trait a plugin implements, and [`Init`], what it gets when created.

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::calls::HostCalls;
use crate::context::{Context, log_methods};
use crate::error::PluginError;
use crate::verdict::Reporting;

/// An algorithm: the one trait a plugin implements.
///
/// The runner creates one instance per service (an entry of `worker_options` in
/// analyzer.json) with [`BaseTask::new`], then calls [`BaseTask::run`] on it at every tick of
/// the schedule. The instance is kept between ticks, but the runner may rebuild it at any
/// time (after a panic, on another worker, after a restart): keep what must survive in the
/// persistent state ([`Context::state_set`]), not in fields.
///
/// An error from `new` or `run` is logged by the runner with the plugin's and service's
/// names; so is a panic, which is caught at the boundary (the instance is then dropped and
/// rebuilt for the next tick).
///
/// ```
/// use am_plugin_api::{BaseTask, Context, Init, NoOptions, PluginError};
///
/// struct Heartbeat;
///
/// impl BaseTask for Heartbeat {
///     type Options = NoOptions;
///     const NAME: &'static str = "Heartbeat";
///
///     fn new(_options: NoOptions, _init: &Init<'_>) -> Result<Self, PluginError> {
///         Ok(Heartbeat)
///     }
///
///     fn run(&mut self, ctx: &mut Context<'_>) -> Result<(), PluginError> {
///         ctx.emit("alive", 1.0)
///     }
/// }
/// ```
pub trait BaseTask: Sized + Send + 'static {
    /// The service's options, deserialized from its `worker_options` entry.
    ///
    /// Unknown keys are refused, with or without `#[serde(deny_unknown_fields)]`, so a
    /// misspelt option is an error naming it rather than a silently ignored setting. Errors
    /// name the option's path and what was expected.
    type Options: DeserializeOwned;

    /// The plugin's name, as analyzer.json's `services` (and `plugin_args.name`) refer to it,
    /// and as it appears in output series `<prefix>.<NAME>.<service>.<field>`.
    const NAME: &'static str;

    /// How the plugin reports its verdicts ([`Context::verdict`]): by default every run
    /// reports a verdict for every subject it judged, `ok` ones included.
    const REPORTING: Reporting = Reporting::EveryRun;

    /// Builds an instance for one service. Check the options here: an error names the
    /// problem once, at creation, instead of at every tick.
    fn new(options: Self::Options, init: &Init<'_>) -> Result<Self, PluginError>;

    /// Runs one tick of the analysis.
    fn run(&mut self, ctx: &mut Context<'_>) -> Result<(), PluginError>;
}

/// What [`BaseTask::new`] gets besides its options: the service's name and a logger.
pub struct Init<'a> {
    host: HostCalls<'a>,
    service: &'a str,
}

impl<'a> Init<'a> {
    pub(crate) fn new(host: HostCalls<'a>, service: &'a str) -> Self {
        Self { host, service }
    }

    /// The service the instance is created for (the `worker_options` key in analyzer.json).
    pub fn service(&self) -> &str {
        self.service
    }

    log_methods!();
}

impl std::fmt::Debug for Init<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Init")
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

/// Options for a plugin that takes none: only `{}` is accepted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoOptions {}

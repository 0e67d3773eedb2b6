//! [`TestRunner`]: one plugin instance across ticks, driven through the plugin's
//! `extern "C"` functions as the runner drives them.

use std::fmt;

use super::TestHost;
use super::host::Scoped;
use crate::hosting::{Call, Instance, Outcome, Plugin};
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

/// Maps how a call into the plugin ended to a result.
fn result(outcome: Outcome) -> Result<(), Failure> {
    match outcome {
        Outcome::Ok => Ok(()),
        Outcome::Failed(m) => Err(Failure::Error(m)),
        Outcome::Panicked(m) => Err(Failure::Panic(m)),
    }
}

/// One plugin instance for one service, kept across ticks as a runner worker keeps it.
///
/// [`TestRunner::new`] creates the instance (parsing the options: an unknown key or a bad
/// value fails here), [`TestRunner::run`] runs a tick, dropping the runner destroys the
/// instance. As in the runner, an instance that panicked is destroyed, and the next `run`
/// creates a fresh one from the same options first; state kept in the [`TestHost`] survives.
///
/// Every call goes through the plugin's `extern "C"` functions (the very ones
/// [`export_plugin!`](crate::export_plugin) exports) with a real
/// [`HostApi`](crate::abi::HostApi) over the `TestHost`, built by the same
/// [`hosting`](crate::hosting) code the runner uses.
pub struct TestRunner {
    plugin: Plugin,
    service: String,
    options_json: String,
    /// `None` when there is no live instance (after a panic).
    instance: Option<Instance>,
}

impl fmt::Debug for TestRunner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestRunner")
            .field("plugin", &self.plugin.name)
            .field("service", &self.service)
            .field("live", &self.instance.is_some())
            .finish_non_exhaustive()
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
        Self::from_plugin(Plugin::of::<T>(), options_json, service, host)
    }

    /// Creates an instance of a plugin, such as one the runner's loader read from a library.
    pub fn from_plugin(
        plugin: Plugin,
        options_json: &str,
        service: &str,
        host: &mut TestHost,
    ) -> Result<Self, Failure> {
        let mut runner = Self {
            plugin,
            service: service.to_owned(),
            options_json: options_json.to_owned(),
            instance: None,
        };
        runner.create(host)?;
        Ok(runner)
    }

    fn create(&mut self, host: &mut TestHost) -> Result<(), Failure> {
        let mut scoped = Scoped {
            host,
            plugin: &self.plugin.name,
            service: &self.service,
        };
        let instance =
            Instance::create(&self.plugin, &self.options_json, &self.service, &mut scoped)
                .map_err(|outcome| {
                    result(outcome)
                        .err()
                        .unwrap_or(Failure::Error(String::new()))
                })?;
        self.instance = Some(instance);
        Ok(())
    }

    /// Runs one tick at `tick` (seconds since the epoch: the analysis' "now"), as the shard
    /// the host is set to ([`TestHost::set_shard`]).
    ///
    /// After a panic the instance is destroyed; the next call creates a new one first (an
    /// error creating it is returned).
    pub fn run(&mut self, host: &mut TestHost, tick: i64) -> Result<(), Failure> {
        if self.instance.is_none() {
            self.create(host)?;
        }
        let (shard, shards) = host.shard();
        let Some(instance) = self.instance.as_mut() else {
            return Err(Failure::Error("no instance".into()));
        };
        let mut scoped = Scoped {
            host,
            plugin: &self.plugin.name,
            service: &self.service,
        };
        let outcome = instance.run(
            &mut scoped,
            Call {
                tick,
                shard,
                shards,
            },
        );
        if matches!(outcome, Outcome::Panicked(_)) {
            self.instance = None;
        }
        result(outcome)
    }

    /// The plugin's name.
    pub fn plugin(&self) -> &str {
        &self.plugin.name
    }

    /// The service.
    pub fn service(&self) -> &str {
        &self.service
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

//! [`Runner`]: a running `am-runner` with a generated setup, stopped by PID when dropped, and
//! what it can be asked: its self-metrics, its log, `check` and `plugins` on its own config.

use std::path::PathBuf;

use anyhow::Result;

use super::RUNNER_STARTUP_TIMEOUT;
use super::cli::{RunnerCheck, runner_binary};
use super::setup::{PLUGIN_DIR, RunnerSetup, command_in};
use crate::guard::{Launch, Product, ProductDaemon};
use crate::ports::free_port;

/// What tells the runner's daemon from the collector's.
static RUNNER: Product = Product {
    name: "am-runner",
    whose: "runner",
    prefix: "am_runner_",
    noisy: "duration",
    startup_timeout: RUNNER_STARTUP_TIMEOUT,
};

/// A running `am-runner` (see [`Runner::start`]); stopped by PID when dropped. What it shares
/// with the collector (config, log, self-metrics, stopping, starting again) is
/// [`ProductDaemon`]'s; what only it keeps is its arguments after `--config FILE` (see
/// [`RunnerArgs`]).
pub type Runner = ProductDaemon<RunnerArgs>;

/// The arguments a [`Runner`] was started with after `--config FILE`, which its one-shot
/// commands (`check`, `plugins`) get too.
#[derive(Debug, Clone)]
pub struct RunnerArgs(Vec<String>);

impl Runner {
    /// Writes `setup` (see [`RunnerSetup`]) into a fresh temporary directory TMP, with
    /// `metrics.listen` on a free port, runs `am-runner --config TMP/analyzer.json ARGS` there
    /// with `RUST_LOG=info` (its log goes to `TMP/am-runner.stderr.log`), and waits until its
    /// metrics endpoint — bound after the plugins are loaded and the services prepared —
    /// accepts connections. Retries with a fresh port when the port was taken meanwhile.
    pub fn start(setup: &RunnerSetup) -> Result<Self> {
        let binary = runner_binary()?;
        ProductDaemon::launch(&RUNNER, &binary, |dir| {
            let metrics_port = free_port()?;
            let (config_path, config_text) = setup.write(dir, Some(metrics_port))?;
            let launch = Launch {
                metrics_port,
                config_path,
                config_text,
                args: setup.args().to_vec(),
                open_files: None,
            };
            Ok((launch, RunnerArgs(setup.args().to_vec())))
        })
    }

    /// Its plugin folder (`TMP/plugins`).
    pub fn plugin_dir(&self) -> PathBuf {
        self.dir().join(PLUGIN_DIR)
    }

    /// `am-runner check --config <its config> <its args>`, run in its directory.
    pub fn check(&self) -> Result<RunnerCheck> {
        command_in("check", self.config_path(), &self.own().0, self.dir())
    }

    /// `am-runner plugins --config <its config> <its args>`, run in its directory.
    pub fn plugins(&self) -> Result<RunnerCheck> {
        command_in("plugins", self.config_path(), &self.own().0, self.dir())
    }
}

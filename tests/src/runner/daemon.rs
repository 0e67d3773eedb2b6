//! [`Runner`]: a running `am-runner` with a generated setup, stopped by PID when dropped, and
//! what it can be asked: its self-metrics, its log, `check` and `plugins` on its own config.

use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::Duration;

use anyhow::{Context, Result};
use nix::sys::signal::Signal;
use tempfile::TempDir;

use super::RUNNER_STARTUP_TIMEOUT;
use super::cli::{RunnerCheck, runner_binary};
use super::setup::{PLUGIN_DIR, RunnerSetup, command_in};
use crate::guard;
use crate::ports::{free_port, retry_on_port_clash};
use crate::process::{DaemonProcess, DaemonSpec};
use crate::sys::temp_dir;

/// A running `am-runner` (see [`Runner::start`]); stopped by PID when dropped.
#[derive(Debug)]
pub struct Runner {
    // Dropped first: the process is stopped before its directory is removed.
    process: DaemonProcess,
    metrics_port: u16,
    config_path: PathBuf,
    config_text: String,
    args: Vec<String>,
    dir: TempDir,
}

impl Runner {
    /// Writes `setup` (see [`RunnerSetup`]) into a fresh temporary directory TMP, with
    /// `metrics.listen` on a free port, runs `am-runner --config TMP/analyzer.json ARGS` there
    /// with `RUST_LOG=info` (its log goes to `TMP/am-runner.stderr.log`), and waits until its
    /// metrics endpoint — bound after the plugins are loaded and the services prepared —
    /// accepts connections. Retries with a fresh port when the port was taken meanwhile.
    pub fn start(setup: &RunnerSetup) -> Result<Self> {
        let binary = runner_binary()?;
        retry_on_port_clash(|| {
            let metrics_port = free_port()?;
            let dir = temp_dir("am-tests-runner-")?;
            let (config_path, config_text) = setup.write(dir.path(), Some(metrics_port))?;
            let spec = DaemonSpec::new("am-runner", &binary, dir.path())
                .arg("--config")
                .arg(&config_path)
                .args(setup.args())
                .env("RUST_LOG", "info")
                .env_remove("RUST_BACKTRACE");
            let process = DaemonProcess::spawn(spec)?;
            let mut runner = Self {
                process,
                metrics_port,
                config_path,
                config_text,
                args: setup.args().to_vec(),
                dir,
            };
            runner
                .process
                .wait_for_port(metrics_port, RUNNER_STARTUP_TIMEOUT)
                .with_context(|| format!("config:\n{}", runner.config_text))?;
            Ok(runner)
        })
    }

    /// Its temporary directory (config, plugin folder, logs).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Its plugin folder (`TMP/plugins`).
    pub fn plugin_dir(&self) -> PathBuf {
        self.dir.path().join(PLUGIN_DIR)
    }

    /// Where its config is.
    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// The port of its metrics endpoint.
    pub fn metrics_port(&self) -> u16 {
        self.metrics_port
    }

    /// The process guard (signals, PID, exit status).
    pub fn process(&mut self) -> &mut DaemonProcess {
        &mut self.process
    }

    /// Its whole log (stderr) so far.
    pub fn log(&self) -> String {
        std::fs::read(self.process.stderr_log())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_else(|e| format!("(cannot read the log: {e})"))
    }

    /// The tail of its logs, its config and (while it runs) its metrics, for failure
    /// messages.
    pub fn logs(&self) -> String {
        guard::describe(
            &self.process,
            &self.config_path,
            &self.config_text,
            self.metrics(),
            "duration",
        )
    }

    /// Every sample of `GET /metrics` as `(name, value)`, in order.
    pub fn metrics(&self) -> Result<Vec<(String, f64)>> {
        guard::metrics(self.metrics_port)
    }

    /// One sample of `GET /metrics`; `name` with or without the `am_runner_` prefix.
    pub fn counter(&self, name: &str) -> Result<f64> {
        let full = guard::full_metric_name(PREFIX, name);
        guard::find_metric(&self.metrics()?, &full, "runner")
    }

    /// Polls [`counter`](Self::counter) until `ok(value)` and returns that value; fails after
    /// `timeout` (or at once if the runner exits) with the last value and the logs.
    pub fn wait_counter(
        &mut self,
        name: &str,
        timeout: Duration,
        ok: impl Fn(f64) -> bool,
    ) -> Result<f64> {
        let full = guard::full_metric_name(PREFIX, name);
        guard::wait_metric(&mut self.process, self.metrics_port, &full, timeout, ok)
    }

    /// Polls its log until it contains `needle`; fails after `timeout` (or at once if the
    /// runner exits) with the logs.
    pub fn wait_log(&mut self, needle: &str, timeout: Duration) -> Result<()> {
        let log = self.process.stderr_log();
        self.process
            .wait_ready(&format!("{needle:?} in the log"), timeout, || {
                let text = std::fs::read(&log).unwrap_or_default();
                Ok(String::from_utf8_lossy(&text)
                    .contains(needle)
                    .then_some(()))
            })
    }

    /// `am-runner check --config <its config> <its args>`, run in its directory.
    pub fn check(&self) -> Result<RunnerCheck> {
        command_in("check", &self.config_path, &self.args, self.dir.path())
    }

    /// `am-runner plugins --config <its config> <its args>`, run in its directory.
    pub fn plugins(&self) -> Result<RunnerCheck> {
        command_in("plugins", &self.config_path, &self.args, self.dir.path())
    }

    /// Starts the runner again after it exited (say after [`terminate`](Self::terminate)):
    /// the same binary, config file, arguments, directory and metrics port; its log is
    /// appended to. Waits until the metrics endpoint accepts connections. Does nothing but
    /// that wait while it still runs.
    pub fn start_again(&mut self) -> Result<()> {
        self.process.start().context("starting am-runner again")?;
        self.process
            .wait_for_port(self.metrics_port, RUNNER_STARTUP_TIMEOUT)
            .with_context(|| format!("config:\n{}", self.config_text))
    }

    /// Sends SIGTERM and waits up to `timeout` for the process to exit; returns its exit
    /// status. On timeout it is killed and the error carries its logs.
    pub fn terminate(&mut self, timeout: Duration) -> Result<ExitStatus> {
        self.process.signal(Signal::SIGTERM)?;
        let (config_path, config_text) = (&self.config_path, &self.config_text);
        let port = self.metrics_port;
        guard::wait_exit(&mut self.process, timeout, |process| {
            guard::describe(
                process,
                config_path,
                config_text,
                guard::metrics(port),
                "duration",
            )
        })
    }
}

/// The prefix of the runner's metric names.
const PREFIX: &str = "am_runner_";

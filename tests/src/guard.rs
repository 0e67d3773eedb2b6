//! [`ProductDaemon`]: what the guards of the products' daemons ([`Collector`](crate::Collector)
//! and [`Runner`](crate::Runner)) share — starting the binary on a generated config in a fresh
//! temporary directory, their self-metrics over HTTP, their log, their failure messages and
//! stopping them. Each guard is a `ProductDaemon` of what only its product keeps
//! ([`CollectorPorts`](crate::collector::CollectorPorts) for the collector, its arguments for the
//! runner), with its own methods beside these.

use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use nix::sys::signal::Signal;
use tempfile::TempDir;

use crate::collector::{http_get, parse_prometheus};
use crate::ports::retry_on_port_clash;
use crate::process::{DaemonProcess, DaemonSpec};
use crate::sys::temp_dir;

/// What tells one product's daemon from the other's.
#[derive(Debug)]
pub(crate) struct Product {
    /// The binary's name (`am-collector`), which names its process and log.
    pub(crate) name: &'static str,
    /// How failure messages call it (`collector`); also names its temporary directory.
    pub(crate) whose: &'static str,
    /// The prefix of its metric names (`am_collector_`).
    pub(crate) prefix: &'static str,
    /// Samples whose name contains this (its histograms) are left out of failure messages.
    pub(crate) noisy: &'static str,
    /// How long it may take from start to serving its metrics endpoint.
    pub(crate) startup_timeout: Duration,
}

/// What one start attempt wrote into the daemon's fresh directory, and how to run it there.
#[derive(Debug)]
pub(crate) struct Launch {
    /// The port of its metrics endpoint (bound last: once it accepts, the daemon is up).
    pub(crate) metrics_port: u16,
    /// The config file, passed as `--config`.
    pub(crate) config_path: PathBuf,
    /// The config's text, for failure messages.
    pub(crate) config_text: String,
    /// Arguments after `--config FILE`.
    pub(crate) args: Vec<String>,
    /// Soft and hard open-file limits to start it with, if any.
    pub(crate) open_files: Option<(u64, u64)>,
}

/// A running product daemon, with `X`, what only its product keeps; stopped by PID when
/// dropped.
#[derive(Debug)]
pub struct ProductDaemon<X> {
    // Dropped first: the process is stopped before its directory is removed.
    process: DaemonProcess,
    product: &'static Product,
    metrics_port: u16,
    config_path: PathBuf,
    config_text: String,
    own: X,
    dir: TempDir,
}

impl<X> ProductDaemon<X> {
    /// In a fresh temporary directory TMP, lets `prepare(TMP)` write the config (and pick the
    /// ports), runs `BINARY --config FILE ARGS` there with `RUST_LOG=info` (its log goes to
    /// `TMP/NAME.stderr.log`), and waits until its metrics endpoint accepts connections.
    /// Retries with a fresh directory (and ports) when a port was taken in the meantime.
    /// What `prepare` returns beside its [`Launch`] is what the daemon keeps as its own.
    pub(crate) fn launch(
        product: &'static Product,
        binary: &Path,
        mut prepare: impl FnMut(&Path) -> Result<(Launch, X)>,
    ) -> Result<Self> {
        retry_on_port_clash(|| {
            let dir = temp_dir(&format!("am-tests-{}-", product.whose))?;
            let (launch, own) = prepare(dir.path())?;
            let mut spec = DaemonSpec::new(product.name, binary, dir.path())
                .arg("--config")
                .arg(&launch.config_path)
                .args(&launch.args)
                .env("RUST_LOG", "info")
                .env_remove("RUST_BACKTRACE");
            if let Some((soft, hard)) = launch.open_files {
                spec = spec.open_files(soft, hard);
            }
            let mut daemon = Self {
                process: DaemonProcess::spawn(spec)?,
                product,
                metrics_port: launch.metrics_port,
                config_path: launch.config_path,
                config_text: launch.config_text,
                own,
                dir,
            };
            daemon.wait_up()?;
            Ok(daemon)
        })
    }

    /// Waits until the metrics endpoint accepts connections.
    fn wait_up(&mut self) -> Result<()> {
        self.process
            .wait_for_port(self.metrics_port, self.product.startup_timeout)
            .with_context(|| format!("config:\n{}", self.config_text))
    }

    /// Starts it again after it exited (say after [`terminate`](Self::terminate)): the same
    /// binary, config file, arguments, directory and metrics port; its log is appended to.
    /// Waits until the metrics endpoint accepts connections. Does nothing but that wait while
    /// it still runs.
    pub fn start_again(&mut self) -> Result<()> {
        self.process
            .start()
            .with_context(|| format!("starting {} again", self.product.name))?;
        self.wait_up()
    }

    /// Its temporary directory (config, logs, and whatever else its product keeps there).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Where its config is.
    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// Its config text.
    pub fn config_text(&self) -> &str {
        &self.config_text
    }

    /// What only its product keeps.
    pub(crate) fn own(&self) -> &X {
        &self.own
    }

    /// The port of its metrics endpoint.
    pub fn metrics_port(&self) -> u16 {
        self.metrics_port
    }

    /// The process guard (signals, PID, exit status).
    pub fn process(&mut self) -> &mut DaemonProcess {
        &mut self.process
    }

    /// Its PID while it runs.
    pub fn pid(&mut self) -> Result<u32> {
        self.process
            .pid()
            .ok_or_else(|| anyhow!("the {} is not running\n{}", self.product.whose, self.logs()))
    }

    /// Its resident set size in bytes (`VmRSS`).
    pub fn rss_bytes(&mut self) -> Result<u64> {
        crate::sys::rss_bytes(self.pid()?)
    }

    /// True while the process runs.
    pub fn is_running(&mut self) -> bool {
        self.process.is_running()
    }

    /// Its whole log (stderr) so far.
    pub fn log(&self) -> String {
        std::fs::read(self.process.stderr_log())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_else(|e| format!("(cannot read the log: {e})"))
    }

    /// Polls its log until it contains `needle`; fails after `timeout` (or at once if the
    /// process exits) with the logs.
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

    /// The tail of its logs, its config and (while it runs) its metrics, for failure
    /// messages.
    pub fn logs(&self) -> String {
        describe(
            &self.process,
            &self.config_path,
            &self.config_text,
            self.metrics(),
            self.product.noisy,
        )
    }

    /// `GET path` on its metrics endpoint: `(status code, body)`.
    pub fn http_get(&self, path: &str) -> Result<(u16, String)> {
        http_get(self.metrics_port, path)
    }

    /// The Prometheus text of `GET /metrics`; an error unless the status is 200.
    pub fn metrics_text(&self) -> Result<String> {
        metrics_text(self.metrics_port)
    }

    /// Every sample of `GET /metrics` as `(name, value)`, in order (labels stay part of the
    /// name, e.g. `am_collector_redis_write_latency_seconds_bucket{le="0.001"}`).
    pub fn metrics(&self) -> Result<Vec<(String, f64)>> {
        metrics(self.metrics_port)
    }

    /// One sample of `GET /metrics`; `name` with or without the product's prefix
    /// (`am_collector_`, `am_runner_`).
    pub fn counter(&self, name: &str) -> Result<f64> {
        let full = self.full_metric_name(name);
        let metrics = self.metrics()?;
        find_metric(&metrics, &full).ok_or_else(|| {
            anyhow!(
                "{full} is not among the {}'s metrics: {metrics:?}",
                self.product.whose
            )
        })
    }

    /// Polls [`counter`](Self::counter) until `ok(value)`, and returns that value; fails after
    /// `timeout` (or at once if the process exits) with the last value and the logs.
    pub fn wait_counter(
        &mut self,
        name: &str,
        timeout: Duration,
        ok: impl Fn(f64) -> bool,
    ) -> Result<f64> {
        let full = self.full_metric_name(name);
        let port = self.metrics_port;
        let mut last = None;
        let result = self.process.wait_ready(
            &format!("{full} to reach the expected value"),
            timeout,
            || {
                let value = find_metric(&metrics(port)?, &full)
                    .ok_or_else(|| anyhow!("no {full} in /metrics"))?;
                last = Some(value);
                Ok(ok(value).then_some(value))
            },
        );
        result.with_context(|| format!("last value of {full}: {last:?}"))
    }

    /// `name` with the product's prefix in front, unless it already starts with it.
    fn full_metric_name(&self, name: &str) -> String {
        if name.starts_with(self.product.prefix) {
            name.to_owned()
        } else {
            format!("{}{name}", self.product.prefix)
        }
    }

    /// Sends SIGTERM and waits up to `timeout` for the process to exit; returns its exit
    /// status. On timeout it is killed and the error carries its logs.
    pub fn terminate(&mut self, timeout: Duration) -> Result<ExitStatus> {
        self.process.signal(Signal::SIGTERM)?;
        self.wait_exit(timeout)
    }

    /// Waits up to `timeout` for the process to exit by itself; returns its exit status. On
    /// timeout it is killed and the error carries its logs.
    pub fn wait_exit(&mut self, timeout: Duration) -> Result<ExitStatus> {
        let name = self.process.name().to_owned();
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if !self.process.is_running() {
                return self
                    .process
                    .exit_status()
                    .ok_or_else(|| anyhow!("{name} exited with an unknown status"));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let logs = self.logs();
        let _ = self.process.kill_hard();
        bail!("{name} did not exit within {timeout:?}; killed it\n{logs}")
    }
}

/// The value of the sample `full` among `metrics`.
fn find_metric(metrics: &[(String, f64)], full: &str) -> Option<f64> {
    metrics.iter().find(|(n, _)| n == full).map(|(_, v)| *v)
}

/// The Prometheus text of `GET /metrics` on `127.0.0.1:port`; an error unless the status is
/// 200.
fn metrics_text(port: u16) -> Result<String> {
    let (status, body) = http_get(port, "/metrics")?;
    if status != 200 {
        bail!("GET /metrics answered {status}: {body}");
    }
    Ok(body)
}

/// Every sample of `GET /metrics` on `127.0.0.1:port` as `(name, value)`, in order.
fn metrics(port: u16) -> Result<Vec<(String, f64)>> {
    parse_prometheus(&metrics_text(port)?)
}

/// The tail of a daemon's logs, its config and (when available) its metrics but those whose
/// name contains `skip`, for failure messages.
fn describe(
    process: &DaemonProcess,
    config_path: &Path,
    config_text: &str,
    metrics: Result<Vec<(String, f64)>>,
    skip: &str,
) -> String {
    let counters = match metrics {
        Ok(samples) => samples
            .iter()
            .filter(|(name, _)| !name.contains(skip))
            .map(|(name, value)| format!("{name} {value}\n"))
            .collect::<String>(),
        Err(err) => format!("(unavailable: {err:#})\n"),
    };
    let newline = if config_text.ends_with('\n') {
        ""
    } else {
        "\n"
    };
    format!(
        "{}\n{}----- {} -----\n{config_text}{newline}----- GET /metrics -----\n{counters}",
        process.describe(),
        process.logs(),
        config_path.display(),
    )
}

//! [`Collector`]: a running `am-collector` with a generated config, stopped by PID when
//! dropped, and what it can be asked (counters, `inspect`) or sent (plaintext over TCP and UDP).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::{Shutdown, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use nix::sys::signal::Signal;
use tempfile::TempDir;

use super::COLLECTOR_STARTUP_TIMEOUT;
use super::cli::{collector_binary, inspect};
use super::metrics::{connect, http_get, parse_prometheus};
use super::options::{CollectorOptions, CollectorPorts};
use super::points::{StoredPoint, describe_diff, to_map};
use crate::guard;
use crate::ports::{LOOPBACK, retry_on_port_clash};
use crate::process::{DaemonProcess, DaemonSpec};
use crate::sys::temp_dir;
use crate::wait::wait_until;

/// A running `am-collector` (see [`Collector::start`]); stopped by PID when dropped.
#[derive(Debug)]
pub struct Collector {
    // Dropped first: the process is stopped before its directory is removed.
    process: DaemonProcess,
    ports: CollectorPorts,
    config_path: PathBuf,
    config_text: String,
    dir: TempDir,
}

impl Collector {
    /// Writes the config for `options`, with fresh ports and Redis at `127.0.0.1:redis_port`, to
    /// `TMP/collector.json` in a fresh temporary directory, runs `am-collector --config
    /// TMP/collector.json` there with `RUST_LOG=info`, and waits until its metrics endpoint
    /// (bound after every listener) accepts connections. Retries with fresh ports when one was
    /// taken in the meantime.
    pub fn start(redis_port: u16, options: &CollectorOptions) -> Result<Self> {
        let binary = collector_binary()?;
        retry_on_port_clash(|| {
            let ports = CollectorPorts::fresh()?;
            let dir = temp_dir("am-tests-collector-")?;
            let config_text = options.render(redis_port, &ports);
            let config_path = dir.path().join("collector.json");
            std::fs::write(&config_path, &config_text)
                .with_context(|| format!("writing {}", config_path.display()))?;
            let mut spec = DaemonSpec::new("am-collector", &binary, dir.path())
                .arg("--config")
                .arg(&config_path)
                .env("RUST_LOG", "info")
                .env_remove("RUST_BACKTRACE");
            if let Some((soft, hard)) = options.open_files_limits() {
                spec = spec.open_files(soft, hard);
            }
            let process = DaemonProcess::spawn(spec)?;
            let mut collector = Self {
                process,
                ports,
                config_path,
                config_text,
                dir,
            };
            collector
                .process
                .wait_for_port(ports.metrics, COLLECTOR_STARTUP_TIMEOUT)
                .with_context(|| format!("config:\n{}", collector.config_text))?;
            Ok(collector)
        })
    }

    /// Its ports.
    pub fn ports(&self) -> CollectorPorts {
        self.ports
    }

    /// Where its config is.
    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// Its config text.
    pub fn config_text(&self) -> &str {
        &self.config_text
    }

    /// Its temporary directory (config and logs).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The process guard (signals, PID, exit status).
    pub fn process(&mut self) -> &mut DaemonProcess {
        &mut self.process
    }

    /// Its PID while it runs.
    pub fn pid(&mut self) -> Result<u32> {
        self.process
            .pid()
            .ok_or_else(|| anyhow!("the collector is not running\n{}", self.logs()))
    }

    /// Its resident set size in bytes (`VmRSS`).
    pub fn rss_bytes(&mut self) -> Result<u64> {
        crate::sys::rss_bytes(self.pid()?)
    }

    /// The full text of its log (stderr) so far.
    pub fn log_text(&self) -> Result<String> {
        let path = self.process.stderr_log();
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
    }

    /// True while the collector process runs.
    pub fn is_running(&mut self) -> bool {
        self.process.is_running()
    }

    /// The tail of its logs, its config and (while it runs) its counters, for failure messages.
    pub fn logs(&self) -> String {
        guard::describe(
            &self.process,
            &self.config_path,
            &self.config_text,
            self.metrics(),
            "latency",
        )
    }

    /// `GET path` on its metrics endpoint: `(status code, body)`.
    pub fn http_get(&self, path: &str) -> Result<(u16, String)> {
        http_get(self.ports.metrics, path)
    }

    /// The Prometheus text of `GET /metrics`; an error unless the status is 200.
    pub fn metrics_text(&self) -> Result<String> {
        guard::metrics_text(self.ports.metrics)
    }

    /// Every sample of `GET /metrics` as `(name, value)`, in order (labels stay part of the
    /// name, e.g. `am_collector_redis_write_latency_seconds_bucket{le="0.001"}`).
    pub fn metrics(&self) -> Result<Vec<(String, f64)>> {
        parse_prometheus(&self.metrics_text()?)
    }

    /// One sample of `GET /metrics`; `name` with or without the `am_collector_` prefix.
    pub fn counter(&self, name: &str) -> Result<f64> {
        let full = guard::full_metric_name(PREFIX, name);
        guard::find_metric(&self.metrics()?, &full, "collector")
    }

    /// Polls [`counter`](Self::counter) until `ok(value)`, and returns that value; fails after
    /// `timeout` (or at once if the collector exits) with the last value and the logs.
    pub fn wait_counter(
        &mut self,
        name: &str,
        timeout: Duration,
        ok: impl Fn(f64) -> bool,
    ) -> Result<f64> {
        let full = guard::full_metric_name(PREFIX, name);
        guard::wait_metric(&mut self.process, self.ports.metrics, &full, timeout, ok)
    }

    /// `am-collector inspect --config <its config> PATTERN`, parsed.
    pub fn inspect(&self, pattern: &str) -> Result<Vec<StoredPoint>> {
        inspect(&self.config_path, pattern, None)
    }

    /// Like [`inspect`](Self::inspect) with `--since SECONDS`.
    pub fn inspect_since(&self, pattern: &str, since: u64) -> Result<Vec<StoredPoint>> {
        inspect(&self.config_path, pattern, Some(since))
    }

    /// Polls `inspect PATTERN` until it shows exactly `expected` (as a set of `(name, ts)` →
    /// value); fails after `timeout` with what is missing, unexpected or different, and the
    /// logs.
    pub fn wait_inspect(
        &mut self,
        pattern: &str,
        expected: &BTreeMap<(String, i64), f64>,
        timeout: Duration,
    ) -> Result<()> {
        let mut last: Option<BTreeMap<(String, i64), f64>> = None;
        let config = self.config_path.clone();
        let result = wait_until(
            &format!(
                "inspect {pattern:?} to show the {} expected points",
                expected.len()
            ),
            timeout,
            || {
                let got = to_map(&inspect(&config, pattern, None)?)?;
                let done = got == *expected;
                last = Some(got);
                Ok(done.then_some(()))
            },
        );
        result.map_err(|err| {
            let diff = last.map_or_else(
                || "inspect never answered".to_owned(),
                |got| describe_diff(expected, &got),
            );
            anyhow!("{err:#}\n{diff}\n{}", self.logs())
        })
    }

    /// Sends `data` as-is (no newline added) to its plaintext TCP port on a new connection, then
    /// closes it.
    pub fn send_tcp_raw(&self, data: &[u8]) -> Result<()> {
        let mut stream = connect(self.ports.line)?;
        stream.write_all(data).with_context(|| {
            format!(
                "sending {} bytes to 127.0.0.1:{}",
                data.len(),
                self.ports.line
            )
        })?;
        let _ = stream.shutdown(Shutdown::Write);
        Ok(())
    }

    /// Sends one datagram to its plaintext UDP port.
    pub fn send_udp(&self, payload: &[u8]) -> Result<()> {
        let socket = UdpSocket::bind((LOOPBACK, 0)).context("binding a UDP socket")?;
        socket
            .send_to(payload, (LOOPBACK, self.ports.udp))
            .with_context(|| format!("sending a datagram to 127.0.0.1:{}", self.ports.udp))?;
        Ok(())
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
        let (config_path, config_text) = (&self.config_path, &self.config_text);
        let port = self.ports.metrics;
        guard::wait_exit(&mut self.process, timeout, |process| {
            guard::describe(
                process,
                config_path,
                config_text,
                guard::metrics(port),
                "latency",
            )
        })
    }
}

/// The prefix of the collector's metric names.
const PREFIX: &str = "am_collector_";

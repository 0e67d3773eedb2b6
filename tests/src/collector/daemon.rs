//! [`Collector`]: a running `am-collector` with a generated config, stopped by PID when
//! dropped, and what it can be asked (counters, `inspect`) or sent (plaintext over TCP and UDP).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::{Shutdown, UdpSocket};
use std::time::Duration;

use anyhow::{Context, Result, anyhow};

use super::COLLECTOR_STARTUP_TIMEOUT;
use super::cli::{collector_binary, inspect};
use super::metrics::connect;
use super::options::{CollectorOptions, CollectorPorts};
use super::points::{StoredPoint, describe_diff, to_map};
use crate::guard::{Launch, Product, ProductDaemon};
use crate::ports::LOOPBACK;
use crate::wait::wait_until;

/// What tells the collector's daemon from the runner's.
static COLLECTOR: Product = Product {
    name: "am-collector",
    whose: "collector",
    prefix: "am_collector_",
    noisy: "latency",
    startup_timeout: COLLECTOR_STARTUP_TIMEOUT,
};

/// A running `am-collector` (see [`Collector::start`]); stopped by PID when dropped. What it
/// shares with the runner (config, log, self-metrics, stopping) is [`ProductDaemon`]'s; what
/// only it keeps is its ports.
pub type Collector = ProductDaemon<CollectorPorts>;

impl Collector {
    /// Writes the config for `options`, with fresh ports and Redis at `127.0.0.1:redis_port`, to
    /// `TMP/collector.json` in a fresh temporary directory, runs `am-collector --config
    /// TMP/collector.json` there with `RUST_LOG=info`, and waits until its metrics endpoint
    /// (bound after every listener) accepts connections. Retries with fresh ports when one was
    /// taken in the meantime.
    pub fn start(redis_port: u16, options: &CollectorOptions) -> Result<Self> {
        let binary = collector_binary()?;
        ProductDaemon::launch(&COLLECTOR, &binary, |dir| {
            let ports = CollectorPorts::fresh()?;
            let config_text = options.render(redis_port, &ports);
            let config_path = dir.join("collector.json");
            std::fs::write(&config_path, &config_text)
                .with_context(|| format!("writing {}", config_path.display()))?;
            let launch = Launch {
                metrics_port: ports.metrics,
                config_path,
                config_text,
                args: Vec::new(),
                open_files: options.open_files_limits(),
            };
            Ok((launch, ports))
        })
    }

    /// Its ports.
    pub fn ports(&self) -> CollectorPorts {
        *self.own()
    }

    /// `am-collector inspect --config <its config> PATTERN`, parsed.
    pub fn inspect(&self, pattern: &str) -> Result<Vec<StoredPoint>> {
        inspect(self.config_path(), pattern, None)
    }

    /// Like [`inspect`](Self::inspect) with `--since SECONDS`.
    pub fn inspect_since(&self, pattern: &str, since: u64) -> Result<Vec<StoredPoint>> {
        inspect(self.config_path(), pattern, Some(since))
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
        let config = self.config_path().to_owned();
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
        let mut stream = connect(self.ports().line)?;
        stream.write_all(data).with_context(|| {
            format!(
                "sending {} bytes to 127.0.0.1:{}",
                data.len(),
                self.ports().line
            )
        })?;
        let _ = stream.shutdown(Shutdown::Write);
        Ok(())
    }

    /// Sends one datagram to its plaintext UDP port.
    pub fn send_udp(&self, payload: &[u8]) -> Result<()> {
        let socket = UdpSocket::bind((LOOPBACK, 0)).context("binding a UDP socket")?;
        socket
            .send_to(payload, (LOOPBACK, self.ports().udp))
            .with_context(|| format!("sending a datagram to 127.0.0.1:{}", self.ports().udp))?;
        Ok(())
    }
}

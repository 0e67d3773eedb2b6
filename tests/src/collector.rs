//! Running the product under test, `am-collector`, as a daemon against a real redis-server, and
//! looking at what it did: its self-metrics (`GET /metrics`), what `am-collector inspect` reads
//! back, and the raw Redis layout (decoded here independently of the product's reader, from
//! the layout described in `store/src/lib.rs`).
//!
//! - [`Collector`]: the daemon guard. It writes a config (see [`CollectorOptions`]) to a fresh
//!   temporary directory, runs `am-collector --config FILE` with `RUST_LOG=info` (its logs go to
//!   `am-collector.stderr.log` there), waits for its ports and stops it by PID when dropped.
//! - [`run_cli`], [`check`]: the binary's one-shot commands, bounded in time.
//! - [`read_series`], [`last_write_wins`]: the layout and the expected reading of it.
//!
//! The binary is `target/release/am-collector` (built by `cargo build --release -p
//! am-collector`, which the test command runs first), else `target/debug/am-collector`;
//! `AM_E2E_COLLECTOR` overrides both.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::io::{Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use nix::sys::signal::Signal;
use tempfile::TempDir;

use crate::ports::{LOOPBACK, free_port, retry_on_port_clash};
use crate::process::{DaemonProcess, DaemonSpec};
use crate::redis::RedisServer;
use crate::resp::Resp;
use crate::sys::temp_dir;
use crate::wait::wait_until;

/// Environment variable that overrides where the `am-collector` binary is found.
pub const COLLECTOR_ENV: &str = "AM_E2E_COLLECTOR";

/// How long the collector may take from start to serving its ports.
pub const COLLECTOR_STARTUP_TIMEOUT: Duration = Duration::from_secs(20);

/// How long one `am-collector inspect` or `check` may take.
pub const CLI_TIMEOUT: Duration = Duration::from_secs(30);

/// Connect, read and write timeout of the HTTP and socket helpers here.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// The router most tests use: anna-molly's blacklist; everything under `test.` kept raw for a
/// day, and `test.cpu*` also in 300-second buckets. Model tags: `r86400` and `i300r86400`.
pub const DEFAULT_ROUTER: &str = r#"{
    "blacklist": ["MX", "osys.*"],
    "whitelist": {
      "test\\.": [ { "RedisTimeStamped": { "ttl": 86400 } } ],
      "test\\.cpu": [ { "RedisIntervalTimeStamped": { "ttl": 86400, "interval": 300 } } ]
    }
  }"#;

/// Tag of the raw model of [`DEFAULT_ROUTER`].
pub const RAW_TAG: &str = "r86400";

/// Tag of the interval model of [`DEFAULT_ROUTER`].
pub const INTERVAL_TAG: &str = "i300r86400";

/// One stored point as `inspect` prints it: `(name, timestamp, value)`.
pub type StoredPoint = (String, i64, f64);

/// The `am-collector` binary: `$AM_E2E_COLLECTOR`, else the release build, else the debug
/// build; an error saying how to build it when there is none.
pub fn collector_binary() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os(COLLECTOR_ENV) {
        let path = PathBuf::from(path);
        if path.is_file() {
            return Ok(path);
        }
        bail!(
            "${COLLECTOR_ENV} is set to {}, which is not a file",
            path.display()
        );
    }
    let release = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../target/release/am-collector"
    ));
    let debug = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../target/debug/am-collector"
    ));
    for candidate in [&release, &debug] {
        if candidate.is_file() {
            return Ok(candidate.clone());
        }
    }
    bail!(
        "the am-collector binary is missing: neither {} nor {} exists; run `cargo build \
         --release -p am-collector` (or `make test`, which does) before these tests",
        release.display(),
        debug.display()
    )
}

/// What the collector under test is configured with, besides its ports (always fresh ones on
/// 127.0.0.1) and Redis (the one given to [`Collector::start`]).
#[derive(Debug, Clone)]
pub struct CollectorOptions {
    router: String,
    sink: Vec<(String, String)>,
    pickle: bool,
    plaintext_tcp: bool,
    plaintext_udp: bool,
    max_line_bytes: Option<usize>,
    max_frame_bytes: Option<usize>,
    graphite: Option<(u16, u64)>,
}

impl Default for CollectorOptions {
    /// [`DEFAULT_ROUTER`], every listener type, default sink settings, no Graphite reporting.
    fn default() -> Self {
        Self {
            router: DEFAULT_ROUTER.to_owned(),
            sink: Vec::new(),
            pickle: true,
            plaintext_tcp: true,
            plaintext_udp: true,
            max_line_bytes: None,
            max_frame_bytes: None,
            graphite: None,
        }
    }
}

impl CollectorOptions {
    /// The `router` section, as JSON text.
    #[must_use]
    pub fn router(mut self, json: impl Into<String>) -> Self {
        self.router = json.into();
        self
    }

    /// Sets a field of `writer.RedisSink` to `json` (raw JSON text, e.g. `"1048576"`).
    #[must_use]
    pub fn sink(mut self, field: impl Into<String>, json: impl Into<String>) -> Self {
        self.sink.push((field.into(), json.into()));
        self
    }

    /// Which listeners to configure: pickle TCP, plaintext TCP, plaintext UDP.
    #[must_use]
    pub fn listeners(mut self, pickle: bool, plaintext_tcp: bool, plaintext_udp: bool) -> Self {
        self.pickle = pickle;
        self.plaintext_tcp = plaintext_tcp;
        self.plaintext_udp = plaintext_udp;
        self
    }

    /// `max_line_bytes` of both plaintext listeners.
    #[must_use]
    pub fn max_line_bytes(mut self, n: usize) -> Self {
        self.max_line_bytes = Some(n);
        self
    }

    /// `max_frame_bytes` of the pickle listener.
    #[must_use]
    pub fn max_frame_bytes(mut self, n: usize) -> Self {
        self.max_frame_bytes = Some(n);
        self
    }

    /// Sends self-metrics to carbon's plaintext port `port` on 127.0.0.1 every
    /// `interval_secs`, with prefix `am`.
    #[must_use]
    pub fn graphite(mut self, port: u16, interval_secs: u64) -> Self {
        self.graphite = Some((port, interval_secs));
        self
    }

    /// The whole `collector.json` text for these options.
    pub fn render(&self, redis_port: u16, ports: &CollectorPorts) -> String {
        let mut sink = format!(r#""host": "127.0.0.1", "port": {redis_port}, "db": 0"#);
        for (field, json) in &self.sink {
            let _ = write!(sink, r#", "{field}": {json}"#);
        }
        let line_limit = self
            .max_line_bytes
            .map(|n| format!(r#", "max_line_bytes": {n}"#))
            .unwrap_or_default();
        let frame_limit = self
            .max_frame_bytes
            .map(|n| format!(r#", "max_frame_bytes": {n}"#))
            .unwrap_or_default();
        let mut listeners = Vec::new();
        if self.pickle {
            listeners.push(format!(
                r#"{{ "CarbonAsyncTcpSpout": {{ "host": "127.0.0.1", "port": {}{frame_limit} }} }}"#,
                ports.pickle
            ));
        }
        if self.plaintext_tcp {
            listeners.push(format!(
                r#"{{ "CarbonPlaintextTcpSpout": {{ "host": "127.0.0.1", "port": {}{line_limit} }} }}"#,
                ports.line
            ));
        }
        if self.plaintext_udp {
            listeners.push(format!(
                r#"{{ "CarbonPlaintextUdpSpout": {{ "host": "127.0.0.1", "port": {}{line_limit} }} }}"#,
                ports.udp
            ));
        }
        let graphite = self
            .graphite
            .map(|(port, interval)| {
                format!(
                    r#", "graphite": {{ "host": "127.0.0.1", "port": {port}, "prefix": "am", "interval": {interval} }}"#
                )
            })
            .unwrap_or_default();
        format!(
            "{{\n  \"router\": {},\n  \"writer\": {{ \"RedisSink\": {{ {sink} }} }},\n  \
             \"listener\": [\n    {}\n  ],\n  \"metrics\": {{ \"listen\": \"127.0.0.1:{}\"{graphite} }}\n}}\n",
            self.router,
            listeners.join(",\n    "),
            ports.metrics
        )
    }
}

/// The ports of one collector, all on 127.0.0.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CollectorPorts {
    /// `CarbonAsyncTcpSpout` (pickle over TCP).
    pub pickle: u16,
    /// `CarbonPlaintextTcpSpout`.
    pub line: u16,
    /// `CarbonPlaintextUdpSpout`.
    pub udp: u16,
    /// `GET /metrics`.
    pub metrics: u16,
}

impl CollectorPorts {
    /// Four fresh ports.
    pub fn fresh() -> Result<Self> {
        Ok(Self {
            pickle: free_port()?,
            line: free_port()?,
            udp: free_port()?,
            metrics: free_port()?,
        })
    }
}

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
            let dir = temp_dir("am-e2e-collector-")?;
            let config_text = options.render(redis_port, &ports);
            let config_path = dir.path().join("collector.json");
            std::fs::write(&config_path, &config_text)
                .with_context(|| format!("writing {}", config_path.display()))?;
            let spec = DaemonSpec::new("am-collector", &binary, dir.path())
                .arg("--config")
                .arg(&config_path)
                .env("RUST_LOG", "info")
                .env_remove("RUST_BACKTRACE");
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

    /// True while the collector process runs.
    pub fn is_running(&mut self) -> bool {
        self.process.is_running()
    }

    /// The tail of its logs, its config and (while it runs) its counters, for failure messages.
    pub fn logs(&self) -> String {
        let counters = match self.metrics() {
            Ok(samples) => samples
                .iter()
                .filter(|(name, _)| !name.contains("latency"))
                .map(|(name, value)| format!("{name} {value}\n"))
                .collect::<String>(),
            Err(err) => format!("(unavailable: {err:#})\n"),
        };
        format!(
            "{}\n{}----- {} -----\n{}----- GET /metrics -----\n{counters}",
            self.process.describe(),
            self.process.logs(),
            self.config_path.display(),
            self.config_text
        )
    }

    /// `GET path` on its metrics endpoint: `(status code, body)`.
    pub fn http_get(&self, path: &str) -> Result<(u16, String)> {
        http_get(self.ports.metrics, path)
    }

    /// The Prometheus text of `GET /metrics`; an error unless the status is 200.
    pub fn metrics_text(&self) -> Result<String> {
        let (status, body) = self.http_get("/metrics")?;
        if status != 200 {
            bail!("GET /metrics answered {status}: {body}");
        }
        Ok(body)
    }

    /// Every sample of `GET /metrics` as `(name, value)`, in order (labels stay part of the
    /// name, e.g. `am_collector_redis_write_latency_seconds_bucket{le="0.001"}`).
    pub fn metrics(&self) -> Result<Vec<(String, f64)>> {
        parse_prometheus(&self.metrics_text()?)
    }

    /// One sample of `GET /metrics`; `name` with or without the `am_collector_` prefix.
    pub fn counter(&self, name: &str) -> Result<f64> {
        let full = full_metric_name(name);
        let metrics = self.metrics()?;
        metrics
            .iter()
            .find(|(n, _)| *n == full)
            .map(|(_, v)| *v)
            .ok_or_else(|| anyhow!("{full} is not among the collector's metrics: {metrics:?}"))
    }

    /// Polls [`counter`](Self::counter) until `ok(value)`, and returns that value; fails after
    /// `timeout` (or at once if the collector exits) with the last value and the logs.
    pub fn wait_counter(
        &mut self,
        name: &str,
        timeout: Duration,
        ok: impl Fn(f64) -> bool,
    ) -> Result<f64> {
        let mut last = None;
        let ports = self.ports;
        let full = full_metric_name(name);
        let result = self.process.wait_ready(
            &format!("{full} to reach the expected value"),
            timeout,
            || {
                let metrics = parse_prometheus(&http_get(ports.metrics, "/metrics")?.1)?;
                let value = metrics
                    .iter()
                    .find(|(n, _)| *n == full)
                    .map(|(_, v)| *v)
                    .ok_or_else(|| anyhow!("no {full} in /metrics"))?;
                last = Some(value);
                Ok(ok(value).then_some(value))
            },
        );
        result.with_context(|| format!("last value of {full}: {last:?}"))
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
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if !self.process.is_running() {
                return self
                    .process
                    .exit_status()
                    .ok_or_else(|| anyhow!("am-collector exited with an unknown status"));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        let logs = self.logs();
        let _ = self.process.kill_hard();
        bail!("am-collector did not exit within {timeout:?}; killed it\n{logs}")
    }
}

fn full_metric_name(name: &str) -> String {
    if name.starts_with("am_collector_") {
        name.to_owned()
    } else {
        format!("am_collector_{name}")
    }
}

fn connect(port: u16) -> Result<TcpStream> {
    let addr = SocketAddr::from((LOOPBACK, port));
    let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT)
        .with_context(|| format!("connecting to {addr}"))?;
    stream
        .set_read_timeout(Some(IO_TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(IO_TIMEOUT)))
        .with_context(|| format!("setting timeouts on a connection to {addr}"))?;
    Ok(stream)
}

/// `GET path` on `127.0.0.1:port` with HTTP/1.1 and `Connection: close`: `(status, body)`.
pub fn http_get(port: u16, path: &str) -> Result<(u16, String)> {
    let mut stream = connect(port)?;
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .with_context(|| format!("sending GET {path} to 127.0.0.1:{port}"))?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .with_context(|| format!("reading the answer to GET {path} from 127.0.0.1:{port}"))?;
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| anyhow!("no end of the HTTP head in {text:?}"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow!("no status code in {head:?}"))?;
    Ok((status, body.to_owned()))
}

/// Parses Prometheus text: every non-comment line `NAME VALUE` as `(NAME, VALUE)`.
pub fn parse_prometheus(text: &str) -> Result<Vec<(String, f64)>> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, value) = line
            .rsplit_once(' ')
            .ok_or_else(|| anyhow!("metrics line without a value: {line:?}"))?;
        let value: f64 = value
            .parse()
            .with_context(|| format!("metrics line with a bad value: {line:?}"))?;
        out.push((name.to_owned(), value));
    }
    Ok(out)
}

/// What a finished one-shot command left: exit status, stdout, stderr.
#[derive(Debug, Clone)]
pub struct CliOutput {
    /// How it exited.
    pub status: ExitStatus,
    /// Everything it printed on stdout.
    pub stdout: String,
    /// Everything it printed on stderr.
    pub stderr: String,
}

impl CliOutput {
    /// Its exit code (`None` if killed by a signal).
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }
}

/// Runs `am-collector ARGS` with `RUST_LOG=info`, waits for it (at most `timeout`, then kills
/// it and fails), and returns what it printed. Output goes through files, so a large output
/// cannot block it.
pub fn run_cli<S: AsRef<OsStr>>(args: &[S], timeout: Duration) -> Result<CliOutput> {
    let binary = collector_binary()?;
    let dir = temp_dir("am-e2e-collector-cli-")?;
    let out_path = dir.path().join("stdout");
    let err_path = dir.path().join("stderr");
    let out = std::fs::File::create(&out_path).context("creating a stdout file")?;
    let err = std::fs::File::create(&err_path).context("creating a stderr file")?;
    let shown: Vec<String> = args
        .iter()
        .map(|a| a.as_ref().to_string_lossy().into_owned())
        .collect();
    let mut child = Command::new(&binary)
        .args(args)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .with_context(|| format!("starting {} {}", binary.display(), shown.join(" ")))?;
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().context("waiting for am-collector")? {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
            bail!(
                "am-collector {} did not finish within {timeout:?}; killed it. stderr:\n{stderr}",
                shown.join(" ")
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let read = |path: &Path| {
        std::fs::read(path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .with_context(|| format!("reading {}", path.display()))
    };
    Ok(CliOutput {
        status,
        stdout: read(&out_path)?,
        stderr: read(&err_path)?,
    })
}

/// `am-collector inspect --config CONFIG PATTERN [--since SECONDS]`, parsed into points in the
/// order printed; an error (with its stderr) when it does not exit 0.
pub fn inspect(config: &Path, pattern: &str, since: Option<u64>) -> Result<Vec<StoredPoint>> {
    let mut args = vec![
        "inspect".as_ref(),
        "--config".as_ref(),
        config.as_os_str(),
        pattern.as_ref(),
    ];
    let since_text = since.map(|s| s.to_string());
    if let Some(s) = &since_text {
        args.push("--since".as_ref());
        args.push(s.as_ref());
    }
    let out = run_cli::<&OsStr>(&args, CLI_TIMEOUT)?;
    if !out.status.success() {
        bail!(
            "am-collector inspect {pattern:?} exited {}: {}",
            out.status,
            out.stderr
        );
    }
    parse_inspect(&out.stdout)
}

/// Parses `inspect` output: `name timestamp value` per line.
pub fn parse_inspect(text: &str) -> Result<Vec<StoredPoint>> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let mut fields = line.split_whitespace();
            let (Some(name), Some(ts), Some(value), None) =
                (fields.next(), fields.next(), fields.next(), fields.next())
            else {
                bail!("inspect printed {line:?}, not `name timestamp value`");
            };
            let ts = ts
                .parse()
                .with_context(|| format!("bad timestamp in {line:?}"))?;
            let value = value
                .parse()
                .with_context(|| format!("bad value in {line:?}"))?;
            Ok((name.to_owned(), ts, value))
        })
        .collect()
}

/// Points as a map `(name, ts) → value`; an error if a `(name, ts)` occurs twice (one series
/// never shows a timestamp twice, so a duplicate means two series were mixed).
pub fn to_map(points: &[StoredPoint]) -> Result<BTreeMap<(String, i64), f64>> {
    let mut map = BTreeMap::new();
    for (name, ts, value) in points {
        if let Some(old) = map.insert((name.clone(), *ts), *value) {
            bail!("{name} {ts} shown twice (values {old} and {value})");
        }
    }
    Ok(map)
}

/// What a reader should see after `sent` (in send order, `(name, timestamp, value)`) was
/// written to one series per name: timestamps floored to whole seconds (and to the bucket
/// start when `interval` is given), the last value sent per timestamp.
pub fn last_write_wins(
    sent: &[(String, f64, f64)],
    interval: Option<i64>,
) -> BTreeMap<(String, i64), f64> {
    let mut out = BTreeMap::new();
    for (name, ts, value) in sent {
        let mut at = ts.floor() as i64;
        if let Some(i) = interval {
            at -= at.rem_euclid(i);
        }
        out.insert((name.clone(), at), *value);
    }
    out
}

/// A short description of how `got` differs from `expected`, for failure messages.
pub fn describe_diff(
    expected: &BTreeMap<(String, i64), f64>,
    got: &BTreeMap<(String, i64), f64>,
) -> String {
    let missing: Vec<_> = expected.keys().filter(|k| !got.contains_key(*k)).collect();
    let extra: Vec<_> = got.keys().filter(|k| !expected.contains_key(*k)).collect();
    let differ: Vec<_> = expected
        .iter()
        .filter_map(|(k, v)| got.get(k).filter(|g| *g != v).map(|g| (k, *v, *g)))
        .collect();
    format!(
        "expected {} points, got {}: {} missing (first: {:?}), {} unexpected (first: {:?}), {} \
         with another value (first, as (key, expected, got): {:?})",
        expected.len(),
        got.len(),
        missing.len(),
        missing.iter().take(5).collect::<Vec<_>>(),
        extra.len(),
        extra.iter().take(5).collect::<Vec<_>>(),
        differ.len(),
        differ.iter().take(5).collect::<Vec<_>>()
    )
}

/// What `am-collector check` said about a config.
#[derive(Debug, Clone)]
pub struct CheckResult {
    /// The file the config was written to (errors start with this path).
    pub file: PathBuf,
    /// Exit code.
    pub code: Option<i32>,
    /// Its stdout.
    pub stdout: String,
    /// Its stderr.
    pub stderr: String,
}

/// Writes `config_text` to `collector.json` in a fresh temporary directory and runs
/// `am-collector check --config` on it.
pub fn check(config_text: &str) -> Result<CheckResult> {
    let dir = temp_dir("am-e2e-collector-check-")?;
    let file = dir.path().join("collector.json");
    std::fs::write(&file, config_text).with_context(|| format!("writing {}", file.display()))?;
    let out = run_cli(
        &["check".as_ref(), "--config".as_ref(), file.as_os_str()],
        CLI_TIMEOUT,
    )?;
    Ok(CheckResult {
        file,
        code: out.code(),
        stdout: out.stdout,
        stderr: out.stderr,
    })
}

/// One chunk key of the store layout, `am1:c:<tag>:<name>:<chunk_start>`, split up.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ChunkKey {
    /// The model tag (`r86400`, `i300r86400`).
    pub tag: String,
    /// The metric name.
    pub name: String,
    /// The chunk's first second.
    pub chunk_start: i64,
}

impl ChunkKey {
    /// Parses a chunk key; `None` for any other key.
    pub fn parse(key: &str) -> Option<Self> {
        let rest = key.strip_prefix("am1:c:")?;
        let (tag, rest) = rest.split_once(':')?;
        let (name, start) = rest.rsplit_once(':')?;
        Some(Self {
            tag: tag.to_owned(),
            name: name.to_owned(),
            chunk_start: start.parse().ok()?,
        })
    }
}

/// Escapes Redis glob characters in `text`.
fn glob_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Decodes one chunk string: 10-byte records, offset `u16` LE and value `f64` LE, in write
/// order. A trailing partial record is an error (the layout never writes one).
pub fn decode_records(chunk_start: i64, bytes: &[u8]) -> Result<Vec<(i64, f64)>> {
    if bytes.len() % 10 != 0 {
        bail!(
            "chunk of {} bytes is not a whole number of 10-byte records",
            bytes.len()
        );
    }
    Ok(bytes
        .chunks_exact(10)
        .map(|r| {
            let offset = u16::from_le_bytes([r[0], r[1]]);
            let mut value = [0u8; 8];
            value.copy_from_slice(&r[2..]);
            (chunk_start + i64::from(offset), f64::from_le_bytes(value))
        })
        .collect())
}

/// Reads one series straight from the layout: every chunk key of `tag` and `name` (found with
/// `KEYS`, fine in a test), records decoded, the last written per timestamp kept, oldest first.
pub fn read_series(redis: &RedisServer, tag: &str, name: &str) -> Result<Vec<(i64, f64)>> {
    let pattern = format!("am1:c:{}:{}:*", glob_escape(tag), glob_escape(name));
    let mut chunks: Vec<(i64, String)> = redis
        .keys(&pattern)?
        .into_iter()
        .filter_map(|k| {
            let parsed = ChunkKey::parse(&k)?;
            (parsed.tag == tag && parsed.name == name).then_some((parsed.chunk_start, k))
        })
        .collect();
    chunks.sort();
    let mut by_ts: BTreeMap<i64, f64> = BTreeMap::new();
    for (start, key) in chunks {
        let reply = redis.cmd(&["GET", &key])?;
        let Resp::Bulk(bytes) = reply else {
            if reply.is_nil() {
                continue; // expired or removed in the meantime
            }
            bail!("GET {key} answered {reply:?}, not a string");
        };
        for (ts, value) in decode_records(start, &bytes)? {
            by_ts.insert(ts, value);
        }
    }
    Ok(by_ts.into_iter().collect())
}

/// The members of a sorted set, `ZRANGE key 0 -1`.
pub fn zrange_all(redis: &RedisServer, key: &str) -> Result<Vec<String>> {
    let reply = redis.cmd(&["ZRANGE", key, "0", "-1"])?;
    let items = reply
        .as_array()
        .ok_or_else(|| anyhow!("ZRANGE {key} answered {reply:?}"))?;
    Ok(items.iter().filter_map(Resp::as_text).collect())
}

/// The members of a set, sorted.
pub fn smembers(redis: &RedisServer, key: &str) -> Result<Vec<String>> {
    let reply = redis.cmd(&["SMEMBERS", key])?;
    let items = reply
        .as_array()
        .ok_or_else(|| anyhow!("SMEMBERS {key} answered {reply:?}"))?;
    let mut out: Vec<String> = items.iter().filter_map(Resp::as_text).collect();
    out.sort();
    Ok(out)
}

/// This host's name as the collector puts it into Graphite names: `/proc/sys/kernel/hostname`
/// with every character but ASCII letters, digits, `-` and `_` replaced by `_`.
pub fn graphite_hostname() -> Result<String> {
    let raw = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .context("reading /proc/sys/kernel/hostname")?;
    Ok(raw
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect())
}

/// Plaintext lines `name value timestamp\n` for `points` `(name, timestamp, value)`.
pub fn lines(points: &[(String, f64, f64)]) -> String {
    let mut out = String::new();
    for (name, ts, value) in points {
        let _ = writeln!(out, "{name} {value} {ts}");
    }
    out
}

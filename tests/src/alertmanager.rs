//! A real Prometheus Alertmanager (Debian's `prometheus-alertmanager`) on a free port of
//! 127.0.0.1, in a fresh temporary directory, routing every alert to a webhook receiver the
//! test runs (a [`WebhookServer`](crate::runner::WebhookServer)), with short group timings.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::Value;
use tempfile::TempDir;

use crate::ports::{free_port, retry_on_port_clash};
use crate::process::{DaemonProcess, DaemonSpec};
use crate::sys::{find_binary, temp_dir};

/// How long Alertmanager may take to answer `/-/ready`.
pub const ALERTMANAGER_STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// Environment variable that overrides where `prometheus-alertmanager` is found.
pub const ALERTMANAGER_ENV: &str = "AM_TESTS_ALERTMANAGER";

/// A running Alertmanager; stopped by PID when dropped.
#[derive(Debug)]
pub struct Alertmanager {
    process: DaemonProcess,
    port: u16,
    dir: TempDir,
}

impl Alertmanager {
    /// Starts Alertmanager with one route to `receiver_url` (`send_resolved`, group wait and
    /// interval 1 s, repeat after an hour, clustering off) and waits until it is ready.
    pub fn start(receiver_url: &str) -> Result<Self> {
        let binary = find_binary("prometheus-alertmanager", ALERTMANAGER_ENV)?;
        retry_on_port_clash(|| {
            let port = free_port()?;
            let dir = temp_dir("am-tests-alertmanager-")?;
            let config = dir.path().join("alertmanager.yml");
            std::fs::write(
                &config,
                format!(
                    "route:\n  receiver: hook\n  group_by: ['alertname', 'service', 'metric']\n  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\nreceivers:\n  - name: hook\n    webhook_configs:\n      - url: '{receiver_url}'\n        send_resolved: true\n"
                ),
            )
            .context("writing alertmanager.yml")?;
            let spec = DaemonSpec::new("alertmanager", &binary, dir.path())
                .arg(format!("--config.file={}", config.display()))
                .arg(format!(
                    "--storage.path={}",
                    dir.path().join("data").display()
                ))
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .arg("--cluster.listen-address=");
            let process = DaemonProcess::spawn(spec)?;
            let mut am = Self { process, port, dir };
            am.wait_ready()?;
            Ok(am)
        })
    }

    fn wait_ready(&mut self) -> Result<()> {
        let ready = |port| Ok(http_get(port, "/-/ready")?.0 == 200);
        self.process
            .wait_probe(self.port, "be ready", ALERTMANAGER_STARTUP_TIMEOUT, ready)
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Its temporary directory.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// The alerts it holds (`GET /api/v2/alerts`): active ones by default.
    pub fn alerts(&self) -> Result<Vec<Value>> {
        let (status, body) = http_get(self.port, "/api/v2/alerts")?;
        if status != 200 {
            bail!("GET /api/v2/alerts answered {status}: {body}");
        }
        serde_json::from_str(&body).with_context(|| format!("alerts: {body}"))
    }

    /// Stops it (SIGTERM), keeping its directory and port for [`start_again`](Self::start_again).
    pub fn stop(&mut self) -> Result<()> {
        self.process.stop().context("stopping Alertmanager")?;
        Ok(())
    }

    /// Starts it again on the same port and directory after [`stop`](Self::stop).
    pub fn start_again(&mut self) -> Result<()> {
        self.process.start()?;
        self.wait_ready()
    }

    /// Its log, for failure messages.
    pub fn logs(&self) -> String {
        self.process.logs()
    }
}

/// `GET path` on 127.0.0.1:`port`: the status and the body.
pub fn http_get(port: u16, path: &str) -> Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).context("connecting")?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nAccept: application/json\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(raw.len(), |i| i + 4);
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = &raw[split..];
    let body = if head.contains("transfer-encoding: chunked") {
        dechunk(body)
    } else {
        body.to_vec()
    };
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// The payload of a chunked body.
fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
        let size = String::from_utf8_lossy(&rest[..eol]);
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        let start = eol + 2;
        if n == 0 || rest.len() < start + n {
            break;
        }
        out.extend_from_slice(&rest[start..start + n]);
        rest = &rest[(start + n + 2).min(rest.len())..];
    }
    out
}

//! What the guards of the products' daemons ([`Collector`](crate::Collector) and
//! [`Runner`](crate::Runner)) share: their self-metrics over HTTP, their failure messages and
//! waiting for them to exit.

use std::path::Path;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

use crate::collector::{http_get, parse_prometheus};
use crate::process::DaemonProcess;

/// `name` with `prefix` in front, unless it already starts with it.
pub(crate) fn full_metric_name(prefix: &str, name: &str) -> String {
    if name.starts_with(prefix) {
        name.to_owned()
    } else {
        format!("{prefix}{name}")
    }
}

/// The value of the sample `full` among `metrics`; an error naming `whose` metrics they are.
pub(crate) fn find_metric(metrics: &[(String, f64)], full: &str, whose: &str) -> Result<f64> {
    metrics
        .iter()
        .find(|(n, _)| n == full)
        .map(|(_, v)| *v)
        .ok_or_else(|| anyhow!("{full} is not among the {whose}'s metrics: {metrics:?}"))
}

/// The Prometheus text of `GET /metrics` on `127.0.0.1:port`; an error unless the status is
/// 200.
pub(crate) fn metrics_text(port: u16) -> Result<String> {
    let (status, body) = http_get(port, "/metrics")?;
    if status != 200 {
        bail!("GET /metrics answered {status}: {body}");
    }
    Ok(body)
}

/// Every sample of `GET /metrics` on `127.0.0.1:port` as `(name, value)`, in order.
pub(crate) fn metrics(port: u16) -> Result<Vec<(String, f64)>> {
    parse_prometheus(&metrics_text(port)?)
}

/// Polls the sample `full` of `GET /metrics` on `127.0.0.1:port` until `ok(value)`, and
/// returns that value; fails after `timeout` (or at once if `process` exits) with the last
/// value and the logs.
pub(crate) fn wait_metric(
    process: &mut DaemonProcess,
    port: u16,
    full: &str,
    timeout: Duration,
    ok: impl Fn(f64) -> bool,
) -> Result<f64> {
    let mut last = None;
    let result = process.wait_ready(
        &format!("{full} to reach the expected value"),
        timeout,
        || {
            let metrics = parse_prometheus(&http_get(port, "/metrics")?.1)?;
            let value = metrics
                .iter()
                .find(|(n, _)| n == full)
                .map(|(_, v)| *v)
                .ok_or_else(|| anyhow!("no {full} in /metrics"))?;
            last = Some(value);
            Ok(ok(value).then_some(value))
        },
    );
    result.with_context(|| format!("last value of {full}: {last:?}"))
}

/// The tail of a daemon's logs, its config and (when available) its metrics but those whose
/// name contains `skip`, for failure messages.
pub(crate) fn describe(
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

/// Waits up to `timeout` for `process` to exit; returns its exit status. On timeout it is
/// killed and the error carries `logs(process)`.
pub(crate) fn wait_exit(
    process: &mut DaemonProcess,
    timeout: Duration,
    logs: impl FnOnce(&DaemonProcess) -> String,
) -> Result<ExitStatus> {
    let name = process.name().to_owned();
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if !process.is_running() {
            return process
                .exit_status()
                .ok_or_else(|| anyhow!("{name} exited with an unknown status"));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let logs = logs(process);
    let _ = process.kill_hard();
    bail!("{name} did not exit within {timeout:?}; killed it\n{logs}")
}

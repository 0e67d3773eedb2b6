//! Sending the self-metrics to carbon in the plaintext protocol, as carbon's daemons report
//! their own (`<prefix>.<host>.<metric> value timestamp`).

use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use am_carbon::plaintext::{format_line, series_name};
use serde::Deserialize;

use super::Telemetry;

/// Sending self-metrics to carbon, as carbon's own daemons do.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GraphiteMetricsConfig {
    /// Carbon host.
    pub host: String,
    /// Carbon plaintext port.
    #[serde(default = "default_carbon_port")]
    pub port: u16,
    /// Name prefix; the host name is appended, as in `carbon.agents.<host>`. Each daemon has
    /// its own default (`anna-molly.collector`, `anna-molly.runner`).
    #[serde(default)]
    pub prefix: Option<String>,
    /// Seconds between sends.
    #[serde(default = "default_metrics_interval")]
    pub interval: u64,
}

fn default_carbon_port() -> u16 {
    2003
}
fn default_metrics_interval() -> u64 {
    60
}

/// Sends every counter to carbon every `interval` seconds, until the task is dropped.
pub async fn run_graphite_reporter(
    config: GraphiteMetricsConfig,
    default_prefix: &'static str,
    metrics: Arc<dyn Telemetry>,
) {
    let prefix = config
        .prefix
        .clone()
        .unwrap_or_else(|| default_prefix.to_string());
    // The host is one path element: its dots would otherwise split it.
    let host = crate::process::hostname().replace('.', "_");
    let mut tick = tokio::time::interval(Duration::from_secs(config.interval.max(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let now = i64::try_from(now).unwrap_or(i64::MAX);
        let mut text = String::new();
        let mut line = |name: &str, value: f64| {
            if let Some(l) = format_line(&series_name(&prefix, &[&host, name]), value, now) {
                text.push_str(&l);
            }
        };
        for (name, _, _, v) in metrics.samples() {
            line(name, v as f64);
        }
        for (name, _, h) in metrics.histograms() {
            line(&format!("{name}_mean"), h.mean_secs());
        }
        let sent = tokio::time::timeout(Duration::from_secs(5), async {
            let mut s = TcpStream::connect((config.host.as_str(), config.port)).await?;
            s.write_all(text.as_bytes()).await?;
            s.shutdown().await
        })
        .await;
        match sent {
            Ok(Ok(())) => {
                tracing::debug!(host = %config.host, port = config.port, "sent self-metrics")
            }
            Ok(Err(e)) => {
                tracing::warn!(host = %config.host, port = config.port, error = %e, "cannot send self-metrics to carbon")
            }
            Err(_) => {
                tracing::warn!(host = %config.host, port = config.port, "timed out sending self-metrics to carbon")
            }
        }
    }
}

//! Sending the self-metrics to carbon in the plaintext protocol, as carbon's daemons report
//! their own (`<prefix>.<host>.<metric> value timestamp`).

use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use serde::Deserialize;

use crate::Telemetry;

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
    let host = hostname();
    let mut tick = tokio::time::interval(Duration::from_secs(config.interval.max(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut text = String::new();
        for (name, _, _, v) in metrics.samples() {
            text.push_str(&format!("{}.{host}.{name} {v} {now}\n", prefix));
        }
        for (name, _, h) in metrics.histograms() {
            text.push_str(&format!(
                "{}.{host}.{name}_mean {} {now}\n",
                prefix,
                h.mean_secs()
            ));
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

/// This host's name with dots replaced, so it stays one path element in Graphite.
fn hostname() -> String {
    let raw = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "unknown".into());
    raw.trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

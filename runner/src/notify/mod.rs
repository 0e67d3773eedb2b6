//! Notifiers: alarm transitions, from the history stream in Redis, to people.
//!
//! Each output of `event_outputs` ([`OutputConfig`]) reads the transitions stream through a
//! consumer group of its own (`{<prefix>}:transitions`, group `out:<output id>`), so:
//!
//! - every transition reaches every output once, whichever runner recorded it, and however
//!   many runners share the outputs (each output's group hands each entry to one of them);
//! - an output that is down only falls behind: it retries each notification with backoff
//!   (0.5 s doubling to 60 s, `max_retries` times) before it gives it up, counted and logged;
//!   the stream holds what waits, bounded by `alarms.history_max_len`, and what is trimmed
//!   before delivery is counted and logged as dropped;
//! - a notification is acknowledged only once delivered (or given up); one held by a runner
//!   that died is taken over by another after a minute, so a crash delays it, not loses it.
//!
//! Alertmanager also gets every firing alarm again each `resend_interval` (one runner does it
//! per interval, by a lease), as Prometheus does, so it never times out a firing alert.

pub mod config;
mod email;
pub mod format;
mod http;
mod stream;

use std::sync::Arc;
use std::time::Duration;

use am_store::RedisAddr;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::{OutputConfig, validate_outputs};

use crate::alarm::{AlarmState, AlarmsConfig, Transition};
use crate::metrics::RunnerMetrics;
use crate::output::ConfigIssue;
use email::EmailSender;
use format::{Alert, GraphiteEvent};

/// Why a notification was not delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendError {
    /// Whether trying again may help (a timeout, a 5xx) or not (a 4xx, an untrusted
    /// certificate).
    pub retry: bool,
    /// What happened.
    pub message: String,
}

/// One output, ready to send.
#[derive(Debug)]
pub struct Sender {
    config: OutputConfig,
    http: reqwest::Client,
    email: Option<EmailSender>,
}

impl Sender {
    /// The sender of a (validated) output.
    pub fn new(config: &OutputConfig) -> Result<Sender, String> {
        let http = http::client(&config.delivery())?;
        let email = match config {
            OutputConfig::Email(c) => Some(EmailSender::new(c)?),
            _ => None,
        };
        Ok(Sender {
            config: config.clone(),
            http,
            email,
        })
    }

    /// The output's config.
    pub fn config(&self) -> &OutputConfig {
        &self.config
    }

    /// Delivers one transition (one attempt).
    pub async fn send(&self, t: &Transition) -> Result<(), SendError> {
        let json = |v: serde_json::Value| v.to_string().into_bytes();
        match (&self.config, &self.email) {
            (OutputConfig::Alertmanager(c), _) => {
                let ends_at = match t.state {
                    AlarmState::Ok => t.ts,
                    _ => now() + 4 * i64::try_from(c.resend_interval).unwrap_or(60),
                };
                self.alertmanager(&[Alert {
                    transition: t,
                    ends_at,
                }])
                .await
            }
            (OutputConfig::PagerDuty(c), _) => {
                self.post(&c.url, &json(format::pagerduty(t, c))).await
            }
            (OutputConfig::Slack(c), _) => self.post(&c.url, &json(format::slack(t, c))).await,
            (OutputConfig::Email(_), Some(sender)) => sender.send(t).await,
            (OutputConfig::Email(_), None) => Err(SendError {
                retry: false,
                message: "no SMTP transport".into(),
            }),
            (OutputConfig::Webhook(c), _) => {
                let body = format::webhook(t).map_err(|e| SendError {
                    retry: false,
                    message: e.to_string(),
                })?;
                self.post(&c.url, &body).await
            }
            (OutputConfig::GraphiteEvents(c), _) => {
                let body =
                    serde_json::to_vec(&GraphiteEvent::of(t, &c.tags)).map_err(|e| SendError {
                        retry: false,
                        message: e.to_string(),
                    })?;
                self.post(&c.url, &body).await
            }
        }
    }

    async fn post(&self, url: &str, body: &[u8]) -> Result<(), SendError> {
        http::post_json(&self.http, url, body).await
    }

    /// Posts alerts to every Alertmanager of the output: delivered when one of them took
    /// them (the others get them at the next re-send); the failures are returned together
    /// when none did.
    pub async fn alertmanager(&self, alerts: &[Alert<'_>]) -> Result<(), SendError> {
        let OutputConfig::Alertmanager(c) = &self.config else {
            return Ok(());
        };
        let body = format::alertmanager(alerts, c).to_string().into_bytes();
        let mut errors = Vec::new();
        for base in c.url.list() {
            let url = format!("{}/api/v2/alerts", base.trim_end_matches('/'));
            match http::post_json(&self.http, &url, &body).await {
                Ok(()) => {}
                Err(e) => errors.push(e),
            }
        }
        if errors.len() < c.url.list().len() {
            for e in &errors {
                tracing::warn!(error = %e.message, "an Alertmanager of the cluster missed the alerts; the next re-send brings them");
            }
            return Ok(());
        }
        Err(SendError {
            retry: errors.iter().any(|e| e.retry),
            message: errors
                .into_iter()
                .map(|e| e.message)
                .collect::<Vec<_>>()
                .join("; "),
        })
    }
}

/// Seconds since the epoch.
fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The running notifiers.
#[derive(Debug)]
pub struct Notifiers {
    tasks: Vec<JoinHandle<()>>,
    stop: watch::Sender<bool>,
}

impl Notifiers {
    /// Validates `outputs` and starts one delivery task per output (and a re-send task per
    /// Alertmanager output) on the current runtime. `consumer` names this process among the
    /// runners sharing the outputs.
    pub fn start(
        outputs: &[OutputConfig],
        redis: &RedisAddr,
        alarms: &AlarmsConfig,
        consumer: &str,
        metrics: Arc<RunnerMetrics>,
    ) -> Result<Notifiers, Vec<ConfigIssue>> {
        let issues = validate_outputs(outputs);
        if !issues.is_empty() {
            return Err(issues);
        }
        let (stop, stop_rx) = watch::channel(false);
        // The alarm store's prefix: in braces, one Redis Cluster slot for all alarm keys.
        let prefix = am_store::keys::tagged(&alarms.prefix);
        let mut tasks = Vec::new();
        for (i, config) in outputs.iter().enumerate() {
            let sender = Sender::new(config)
                .map_err(|e| vec![ConfigIssue::new(format!("event_outputs[{i}]"), e)])?;
            let sender = Arc::new(sender);
            let output = stream::Output {
                sender: sender.clone(),
                group: format!("out:{}", config.id()),
                consumer: format!("{consumer}:{i}"),
                stream: format!("{prefix}:transitions"),
            };
            tracing::info!(output = %config.id(), kind = config.delivery().kind, "notifying");
            tasks.push(tokio::spawn(stream::run(
                output,
                redis.clone(),
                metrics.clone(),
                stop_rx.clone(),
            )));
            if let OutputConfig::Alertmanager(c) = config {
                tasks.push(tokio::spawn(stream::resend(
                    sender,
                    redis.clone(),
                    alarms.clone(),
                    format!("{prefix}:resend:{}", config.id()),
                    Duration::from_secs(c.resend_interval.max(1)),
                    stop_rx.clone(),
                )));
            }
        }
        Ok(Notifiers { tasks, stop })
    }

    /// Stops reading and waits up to `grace` for the notifications in hand; what is left
    /// stays in the stream for the next runner.
    pub async fn shutdown(self, grace: Duration) -> bool {
        let _ = self.stop.send(true);
        let deadline = tokio::time::Instant::now() + grace;
        let mut clean = true;
        for t in self.tasks {
            let abort = t.abort_handle();
            if tokio::time::timeout_at(deadline, t).await.is_err() {
                abort.abort();
                clean = false;
            }
        }
        clean
    }
}

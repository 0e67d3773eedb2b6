//! One output's delivery: its consumer group on the transitions stream, retries, and (for
//! Alertmanager) the re-sends of firing alarms.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use am_store::resp::Value;
use am_store::{Client, RedisAddr};
use tokio::sync::watch;

use super::format::Alert;
use super::{Sender, now};
use crate::alarm::store::AlarmStore;
use crate::alarm::{AlarmState, AlarmsConfig, Transition};
use crate::metrics::RunnerMetrics;
use crate::queue::autoclaim;

/// Entries read at a time.
const BATCH: usize = 20;
/// A notification held this long by a consumer that stopped is taken over.
const CLAIM_IDLE: Duration = Duration::from_secs(60);
/// How often this consumer looks for such entries.
const CLAIM_EVERY: Duration = Duration::from_secs(10);
/// The first retry's delay; doubled each time up to [`RETRY_MAX`].
const RETRY_BASE: Duration = Duration::from_millis(500);
/// The longest delay between retries.
const RETRY_MAX: Duration = Duration::from_secs(60);

/// Where one output reads.
#[derive(Debug)]
pub struct Output {
    /// How it sends.
    pub sender: Arc<Sender>,
    /// Its consumer group.
    pub group: String,
    /// This process' consumer in it.
    pub consumer: String,
    /// The transitions stream.
    pub stream: String,
}

/// Delivers the output's notifications until `stop` turns true.
pub async fn run(
    out: Output,
    redis: RedisAddr,
    metrics: Arc<RunnerMetrics>,
    mut stop: watch::Receiver<bool>,
) {
    let mut client = Client::new(redis);
    let mut ready = false;
    let mut last_claim = tokio::time::Instant::now() - CLAIM_EVERY;
    let name = out.sender.config().id();
    while !*stop.borrow() {
        if !ready {
            match ensure_group(&mut client, &out).await {
                Ok(()) => ready = true,
                Err(e) => {
                    metrics.notifications_errors.inc();
                    tracing::warn!(output = %name, error = %e, "the transitions stream is unreachable; retrying");
                    pause(&mut stop, Duration::from_secs(1)).await;
                    continue;
                }
            }
        }
        let mut batch = Vec::new();
        if last_claim.elapsed() >= CLAIM_EVERY {
            last_claim = tokio::time::Instant::now();
            match claim(&mut client, &out).await {
                Ok((taken, gone)) => {
                    if gone > 0 {
                        metrics.notifications_dropped.add(gone);
                        tracing::error!(output = %name, notifications = gone, "notifications were trimmed from the history before this output delivered them (alarms.history_max_len)");
                    }
                    batch = taken;
                }
                Err(e) => {
                    metrics.notifications_errors.inc();
                    tracing::warn!(output = %name, error = %e, "taking over stale notifications failed");
                }
            }
        }
        if batch.is_empty() {
            let read = tokio::select! {
                r = read(&mut client, &out) => r,
                _ = stop.changed() => continue,
            };
            match read {
                Ok(entries) => batch = entries,
                Err(e) => {
                    metrics.notifications_errors.inc();
                    tracing::warn!(output = %name, error = %e, "reading the transitions stream failed; retrying");
                    ready = false;
                    pause(&mut stop, Duration::from_millis(500)).await;
                    continue;
                }
            }
        }
        for (id, fields) in batch {
            if !deliver(&out, &name, &fields, &metrics, &mut stop).await {
                // Stopping mid-retry: the entry stays pending for whoever runs next.
                return;
            }
            if let Err(e) = client
                .call(
                    &[
                        b"XACK",
                        out.stream.as_bytes(),
                        out.group.as_bytes(),
                        id.as_bytes(),
                    ],
                    Duration::ZERO,
                )
                .await
            {
                metrics.notifications_errors.inc();
                tracing::warn!(output = %name, error = %e, "acknowledging a notification failed; it may be sent twice");
            }
        }
    }
}

/// Delivers one entry (retrying); false when `stop` came first.
async fn deliver(
    out: &Output,
    name: &str,
    fields: &HashMap<String, String>,
    metrics: &RunnerMetrics,
    stop: &mut watch::Receiver<bool>,
) -> bool {
    if fields.get("n").map(String::as_str) != Some("1") {
        return true;
    }
    let Some(t) = fields
        .get("t")
        .and_then(|t| serde_json::from_str::<Transition>(t).ok())
    else {
        metrics.notifications_failed.inc();
        tracing::error!(output = %name, "an unreadable transition in the stream was skipped");
        return true;
    };
    let mut delay = RETRY_BASE;
    let max = out.sender.config().delivery().max_retries;
    for attempt in 0..=max {
        match out.sender.send(&t).await {
            Ok(()) => {
                metrics.notifications_sent.inc();
                tracing::info!(output = %name, algorithm = %t.algorithm, service = %t.service, subject = %t.subject, state = %t.state, attempts = attempt + 1, "notified");
                return true;
            }
            Err(e) if e.retry && attempt < max => {
                metrics.notifications_retried.inc();
                tracing::warn!(output = %name, subject = %t.subject, attempt = attempt + 1, error = %e.message, retry_in_ms = delay.as_millis() as u64, "notification failed; retrying");
                if !pause(stop, delay).await {
                    return false;
                }
                delay = (delay * 2).min(RETRY_MAX);
            }
            Err(e) => {
                metrics.notifications_failed.inc();
                tracing::error!(output = %name, algorithm = %t.algorithm, service = %t.service, subject = %t.subject, state = %t.state, attempts = attempt + 1, error = %e.message, "notification given up");
                return true;
            }
        }
    }
    true
}

/// Sleeps `d` unless `stop` turns true first (false then).
async fn pause(stop: &mut watch::Receiver<bool>, d: Duration) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => !*stop.borrow(),
        _ = stop.changed() => false,
    }
}

async fn ensure_group(client: &mut Client, out: &Output) -> Result<(), am_store::Error> {
    // New groups start at the end: a newly configured output is not sent the history.
    match client
        .call(
            &[
                b"XGROUP",
                b"CREATE",
                out.stream.as_bytes(),
                out.group.as_bytes(),
                b"$",
                b"MKSTREAM",
            ],
            Duration::ZERO,
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(am_store::Error::Server(e)) if e.contains("BUSYGROUP") => Ok(()),
        Err(e) => Err(e),
    }
}

type Entries = Vec<am_store::reply::Entry>;

async fn read(client: &mut Client, out: &Output) -> Result<Entries, am_store::Error> {
    let count = BATCH.to_string();
    let reply = client
        .call(
            &[
                b"XREADGROUP",
                b"GROUP",
                out.group.as_bytes(),
                out.consumer.as_bytes(),
                b"COUNT",
                count.as_bytes(),
                b"BLOCK",
                b"1000",
                b"STREAMS",
                out.stream.as_bytes(),
                b">",
            ],
            Duration::from_secs(1),
        )
        .await?;
    Ok(reply.into_read_entries())
}

/// Takes over entries idle past [`CLAIM_IDLE`] in other consumers; counts the ones trimmed
/// meanwhile.
async fn claim(client: &mut Client, out: &Output) -> Result<(Entries, u64), am_store::Error> {
    let (stream, group, consumer) = (&out.stream, &out.group, &out.consumer);
    let claimed = autoclaim(client, stream, group, consumer, CLAIM_IDLE, BATCH).await?;
    let (taken, gone) = claimed.map_or_else(|_| (Vec::new(), 0), |(e, ids)| (e, ids.len()));
    Ok((taken, gone as u64))
}

/// Re-sends every firing alarm to Alertmanager each `every`, from one runner at a time (the
/// holder of `lease` for the interval).
pub async fn resend(
    sender: Arc<Sender>,
    redis: RedisAddr,
    alarms: AlarmsConfig,
    lease: String,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut store = AlarmStore::new(redis, &alarms.prefix, alarms.history_max_len);
    let hold = (every.as_millis().saturating_sub(500)).max(500).to_string();
    let me = format!("{}:{}", am_daemon::hostname(), std::process::id());
    while pause(&mut stop, every).await {
        let taken = store
            .client()
            .call(
                &[
                    b"SET",
                    lease.as_bytes(),
                    me.as_bytes(),
                    b"NX",
                    b"PX",
                    hold.as_bytes(),
                ],
                Duration::ZERO,
            )
            .await;
        if !matches!(taken, Ok(Value::Simple(_))) {
            continue;
        }
        let active = match store.active().await {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "reading the firing alarms to re-send failed");
                continue;
            }
        };
        let ends_at = now() + 4 * i64::try_from(every.as_secs()).unwrap_or(60);
        let firing: Vec<Transition> = active
            .into_iter()
            .filter(|(_, _, r)| matches!(r.state, AlarmState::Alarm | AlarmState::Undetermined))
            .map(|(scope, subject, r)| {
                let detail = r.detail.unwrap_or_else(|| crate::alarm::machine::Detail {
                    severity: "warning".into(),
                    reason: String::new(),
                    values: Vec::new(),
                });
                Transition {
                    algorithm: scope.algorithm,
                    plugin: scope.plugin,
                    service: scope.service,
                    subject,
                    state: r.state,
                    previous_state: Some(r.state),
                    severity: detail.severity,
                    reason: detail.reason,
                    values: detail.values,
                    ts: r.judged.unwrap_or(r.since),
                    since: r.fired.unwrap_or(r.since),
                    labels: scope.labels,
                }
            })
            .collect();
        if firing.is_empty() {
            continue;
        }
        let alerts: Vec<Alert<'_>> = firing
            .iter()
            .map(|t| Alert {
                transition: t,
                ends_at,
            })
            .collect();
        for chunk in alerts.chunks(500) {
            if let Err(e) = sender.alertmanager(chunk).await {
                tracing::warn!(error = %e.message, alerts = chunk.len(), "re-sending firing alerts to Alertmanager failed; next interval tries again");
            }
        }
    }
}

//! The scheduler role's [`Dispatch`]: at each tick of each algorithm, enqueue its tasks once
//! across every scheduler (the tick's lease decides which one does it).

use std::sync::Arc;
use std::time::Duration;

use am_plugin_host::Task;

use super::{Enqueued, QueueClient};
use crate::config::{AlgorithmSpec, Schedule};
use crate::metrics::RunnerMetrics;
use crate::scheduler::Dispatch;

/// How one scheduler enqueues.
#[derive(Debug, Clone)]
pub struct EnqueueSettings {
    /// This scheduler's name, stored as the holder of the leases it takes.
    pub holder: String,
    /// Seconds a task may run.
    pub time_limit: u64,
    /// Attempts per task.
    pub max_attempts: u32,
    /// Stream length bound.
    pub max_len: u64,
}

impl EnqueueSettings {
    /// How long a busy marker lives without renewal: long enough for every attempt of a task
    /// to run to its time limit, so only a marker whose workers all vanished expires.
    pub fn busy_ms(&self) -> u64 {
        (self.time_limit * 1000 + 5_000) * u64::from(self.max_attempts + 1) + 60_000
    }
}

/// An algorithm's ticks, each enqueued once across every scheduler (the tick's lease decides
/// which one does it) for the workers to run.
#[derive(Debug)]
pub struct Enqueue {
    algorithm: String,
    plugin: String,
    schedule: Schedule,
    tasks: Vec<(Task, String)>,
    client: tokio::sync::Mutex<QueueClient>,
    settings: EnqueueSettings,
    metrics: Arc<RunnerMetrics>,
}

impl Enqueue {
    /// The dispatch of `alg`'s ticks through `client`. `None` when it has no service.
    pub fn new(
        alg: &AlgorithmSpec,
        client: QueueClient,
        settings: EnqueueSettings,
        metrics: Arc<RunnerMetrics>,
    ) -> Option<Enqueue> {
        let plugin = alg.services.first()?.plugin.clone();
        Some(Enqueue {
            algorithm: alg.name.clone(),
            plugin,
            schedule: alg.schedule.clone(),
            tasks: alg
                .tasks()
                .into_iter()
                .map(|t| {
                    let policy = serde_json::to_string(&alg.policy(&t.service)).unwrap_or_default();
                    (t, policy)
                })
                .collect(),
            client: tokio::sync::Mutex::new(client),
            settings,
            metrics,
        })
    }
}

impl Dispatch for Enqueue {
    async fn fire(&self, tick: i64) {
        let (name, metrics, settings) = (&self.algorithm, &self.metrics, &self.settings);
        // The lease outlives any scheduler that could still be about to fire this tick.
        let period = self
            .schedule
            .next_after(tick)
            .map_or(60, |n| (n - tick).max(1));
        let lease_ms = u64::try_from(period * 3 * 1000).unwrap_or(0).max(120_000);
        let mut client = self.client.lock().await;
        let mut last_err = None;
        // One retry: the first failure may be a stale connection.
        for _ in 0..2 {
            match client
                .enqueue(
                    name,
                    &self.plugin,
                    tick,
                    &settings.holder,
                    &self.tasks,
                    lease_ms,
                    settings.busy_ms(),
                    settings.max_len,
                )
                .await
            {
                Ok(Enqueued::LeaseTaken) => {
                    metrics.ticks_lease_lost.inc();
                    tracing::debug!(algorithm = %name, tick, "tick enqueued by another scheduler");
                    return;
                }
                Ok(Enqueued::Done {
                    queued,
                    skipped,
                    backlog,
                }) => {
                    metrics.tasks_enqueued.add(queued);
                    metrics.queue_backlog.set(backlog);
                    if skipped > 0 {
                        metrics.tasks_skipped_backlog.add(skipped);
                        tracing::warn!(algorithm = %name, tick, skipped, "tasks skipped: the service's previous task is still queued or running");
                    }
                    tracing::debug!(algorithm = %name, tick, queued, "tick enqueued");
                    return;
                }
                Err(e) => {
                    metrics.queue_errors.inc();
                    last_err = Some(e);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
        metrics.ticks_enqueue_failed.inc();
        if let Some(e) = last_err {
            tracing::error!(algorithm = %name, tick, error = %e, "tick not enqueued: the queue is unreachable");
        }
    }
}

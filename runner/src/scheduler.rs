//! The scheduler: one loop per algorithm, firing its poll task at every tick of its schedule,
//! stamped with the tick's scheduled time. What a tick does is the [`Dispatch`]'s: run the
//! algorithm's tasks here ([`crate::local::Executor`]), or enqueue them for the workers
//! ([`crate::queue::enqueue::Enqueue`]).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

use crate::config::Schedule;
use crate::metrics::RunnerMetrics;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// What one algorithm's tick does.
pub trait Dispatch: Send + Sync {
    /// Fires the tick whose scheduled time is `tick`.
    fn fire(&self, tick: i64) -> impl Future<Output = ()> + Send;
}

/// Fires `dispatch` at every tick of `schedule` until `stop` turns true.
pub async fn run_schedule(
    algorithm: &str,
    schedule: &Schedule,
    dispatch: impl Dispatch,
    metrics: &RunnerMetrics,
    stop: watch::Receiver<bool>,
) {
    run_ticks(algorithm, schedule, metrics, stop, |tick| {
        tracing::debug!(algorithm = %algorithm, tick, "tick");
        dispatch.fire(tick)
    })
    .await;
}

/// Calls `fire` at every tick of `schedule` (with the tick's scheduled time) until `stop`
/// turns true. After a stall it fires the latest due tick, not a burst.
async fn run_ticks<F: Future<Output = ()>>(
    algorithm: &str,
    schedule: &Schedule,
    metrics: &RunnerMetrics,
    mut stop: watch::Receiver<bool>,
    mut fire: impl FnMut(i64) -> F,
) {
    let mut last = now_ms() / 1000;
    loop {
        let Some(mut next) = schedule.next_after(last) else {
            tracing::warn!(algorithm = %algorithm, schedule = %schedule, "schedule has no next tick; stopping it");
            return;
        };
        // After a stall (suspended process, clock jump), fire the latest due tick, not a burst.
        let now = now_ms() / 1000;
        if next < now
            && let Some(n) = schedule.next_after(now - 1)
        {
            next = n;
        }
        let wait = Duration::from_millis(u64::try_from(next * 1000 - now_ms()).unwrap_or(0));
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
        metrics.ticks.inc();
        fire(next).await;
        last = next;
    }
}

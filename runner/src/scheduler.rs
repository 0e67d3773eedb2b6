//! The scheduler: one loop per algorithm, firing its poll task at every tick of its schedule.
//! A poll task dispatches one plugin task per service, stamped with the tick's scheduled time.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

use crate::config::Schedule;
use crate::exec::{Executor, Slot};
use crate::metrics::RunnerMetrics;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Fires `slots` on `schedule` until `stop` turns true.
pub async fn run_schedule(
    algorithm: String,
    schedule: Schedule,
    slots: Vec<Arc<Slot>>,
    exec: Arc<Executor>,
    metrics: Arc<RunnerMetrics>,
    stop: watch::Receiver<bool>,
) {
    let services = slots.len();
    let alg = algorithm.clone();
    run_ticks(&algorithm, &schedule, &metrics, stop, move |tick| {
        tracing::debug!(algorithm = %alg, tick, services, "tick");
        for slot in &slots {
            exec.dispatch(slot, tick);
        }
        std::future::ready(())
    })
    .await;
}

/// Calls `fire` at every tick of `schedule` (with the tick's scheduled time) until `stop`
/// turns true. After a stall it fires the latest due tick, not a burst.
pub async fn run_ticks<F: Future<Output = ()>>(
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

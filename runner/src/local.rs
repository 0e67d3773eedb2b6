//! The single-process runner's [`Dispatch`]: every task of a tick runs here, on the runtime's
//! blocking threads (plugin code is synchronous), one run per service and shard at a time —
//! a slot whose previous run is still going skips the tick, logged and counted.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use am_plugin_api::hosting::Outcome;
use am_plugin_host::{Task, TaskRunner};
use tokio::runtime::Handle;

use crate::alarm::Policy;
use crate::metrics::RunnerMetrics;
use crate::output::Outputs;
use crate::scheduler::Dispatch;

/// One service's shard of one algorithm: the task it runs at each tick, and whether it is
/// running now.
#[derive(Debug)]
pub struct Slot {
    /// The task, at tick 0; each run gets the tick's time.
    pub task: Task,
    /// Its service's alarm policy.
    pub policy: Policy,
    running: AtomicBool,
}

impl Slot {
    /// A slot running `task` under the alarm `policy`.
    pub fn new(task: Task, policy: Policy) -> Slot {
        Slot {
            task,
            policy,
            running: AtomicBool::new(false),
        }
    }
}

/// Runs tasks here and delivers their results.
#[derive(Debug)]
pub struct Executor {
    rt: Handle,
    tasks: Arc<TaskRunner>,
    outputs: Outputs,
    metrics: Arc<RunnerMetrics>,
    running: AtomicUsize,
}

impl Executor {
    /// An executor running `tasks` on `rt`'s blocking threads, delivering to `outputs`.
    pub fn new(
        rt: Handle,
        tasks: Arc<TaskRunner>,
        outputs: Outputs,
        metrics: Arc<RunnerMetrics>,
    ) -> Executor {
        Executor {
            rt,
            tasks,
            outputs,
            metrics,
            running: AtomicUsize::new(0),
        }
    }

    /// Tasks running now.
    pub fn running(&self) -> usize {
        self.running.load(Ordering::SeqCst)
    }

    /// Builds the slot's instance now (validating its options), saying why it failed.
    pub fn prepare(&self, slot: &Slot) -> Result<(), String> {
        self.tasks.prepare(&slot.task)
    }

    /// Starts the slot's task for `tick` unless its previous run is still going (then the tick
    /// is skipped and counted).
    pub fn dispatch(self: &Arc<Self>, slot: &Arc<Slot>, tick: i64) {
        if slot.running.swap(true, Ordering::SeqCst) {
            self.metrics.tasks_skipped.inc();
            tracing::warn!(algorithm = %slot.task.algorithm, service = %slot.task.service, tick, "previous run still going; tick skipped");
            return;
        }
        self.running.fetch_add(1, Ordering::SeqCst);
        let exec = self.clone();
        let slot = slot.clone();
        self.rt.spawn_blocking(move || {
            exec.run_task(&slot, tick);
            slot.running.store(false, Ordering::SeqCst);
            exec.running.fetch_sub(1, Ordering::SeqCst);
        });
    }

    /// Runs one task to completion on the calling (blocking) thread and delivers its result.
    pub fn run_task(&self, slot: &Slot, tick: i64) -> Outcome {
        let task = Task {
            tick,
            ..slot.task.clone()
        };
        let started = Instant::now();
        self.metrics.tasks_started.inc();
        let result = self.tasks.run(&task);
        self.metrics.task_duration.observe(started.elapsed());
        let outcome = result.outcome.clone();
        report(&self.metrics, &task, &outcome, started);
        if outcome == Outcome::Ok {
            self.metrics.tasks_ok.inc();
        }
        self.rt
            .block_on(self.outputs.deliver(&task, &slot.policy, result));
        outcome
    }
}

/// Logs how a task ended and counts a failure or a panic (success is the caller's to count:
/// a worker counts it once the task is acknowledged).
pub fn report(metrics: &RunnerMetrics, task: &Task, outcome: &Outcome, started: Instant) {
    let ms = started.elapsed().as_millis() as u64;
    let (plugin, service, tick, shard) = (&task.plugin, &task.service, task.tick, task.shard);
    match outcome {
        Outcome::Ok => {
            tracing::debug!(plugin = %plugin, service = %service, tick, shard, ms, "task done");
        }
        Outcome::Failed(e) => {
            metrics.tasks_failed.inc();
            tracing::error!(plugin = %plugin, service = %service, tick, shard, ms, error = %e, "task failed");
        }
        Outcome::Panicked(e) => {
            metrics.tasks_panicked.inc();
            tracing::error!(plugin = %plugin, service = %service, tick, shard, ms, panic = %e, "plugin panicked; the task failed and the instance will be rebuilt");
        }
    }
}

/// An algorithm's slots, fired here at each tick.
#[derive(Debug)]
pub struct RunHere {
    /// The algorithm's slots (each service × shard).
    pub slots: Vec<Arc<Slot>>,
    /// Where they run.
    pub exec: Arc<Executor>,
}

impl Dispatch for RunHere {
    async fn fire(&self, tick: i64) {
        for slot in &self.slots {
            self.exec.dispatch(slot, tick);
        }
    }
}

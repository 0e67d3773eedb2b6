//! Running plugin tasks: one slot per service, never two runs of a slot at once, a fresh
//! instance after a panic, outputs sent only for a task that succeeded.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use am_store::{Reader, RedisAddr};
use tokio::runtime::Handle;

use crate::config::ServiceSpec;
use crate::host::{Instance, LoadedPlugin, Outcome, RunCtx};
use crate::metrics::RunnerMetrics;
use crate::output::events::EventsHandle;
use crate::output::{GraphiteHandle, OutputPoint};

/// One service of one algorithm: its plugin, its instance, whether it is running.
#[derive(Debug)]
pub struct Slot {
    /// What runs.
    pub spec: ServiceSpec,
    /// The plugin.
    pub plugin: Arc<LoadedPlugin>,
    /// `(shard, shards)` of this slot's tasks.
    pub shard: (u32, u32),
    instance: Mutex<Option<Instance>>,
    running: AtomicBool,
}

impl Slot {
    /// The slot for shard `shard` of `shards` of a sharded service.
    pub fn with_shard(mut self, shard: u32, shards: u32) -> Slot {
        self.shard = (shard, shards.max(1));
        self
    }

    /// A slot whose instance is built on first use.
    pub fn new(spec: ServiceSpec, plugin: Arc<LoadedPlugin>) -> Slot {
        Slot {
            spec,
            plugin,
            shard: (0, 1),
            instance: Mutex::new(None),
            running: AtomicBool::new(false),
        }
    }
}

/// Runs tasks on blocking threads (plugin code is synchronous) and delivers their results.
#[derive(Debug)]
pub struct Executor {
    rt: Handle,
    redis: RedisAddr,
    readers: Mutex<Vec<Reader>>,
    graphite: GraphiteHandle,
    events: EventsHandle,
    metrics: Arc<RunnerMetrics>,
    running: AtomicUsize,
}

impl Executor {
    /// An executor reading from `redis` and writing to the given outputs.
    pub fn new(
        rt: Handle,
        redis: RedisAddr,
        graphite: GraphiteHandle,
        events: EventsHandle,
        metrics: Arc<RunnerMetrics>,
    ) -> Executor {
        Executor {
            rt,
            redis,
            readers: Mutex::new(Vec::new()),
            graphite,
            events,
            metrics,
            running: AtomicUsize::new(0),
        }
    }

    /// Tasks running now.
    pub fn running(&self) -> usize {
        self.running.load(Ordering::SeqCst)
    }

    /// Builds the slot's instance now (validating its options), reporting why it failed.
    pub fn prepare(&self, slot: &Slot) -> Result<(), String> {
        let mut guard = slot
            .instance
            .lock()
            .map_err(|_| "instance lock poisoned".to_string())?;
        if guard.is_none() {
            *guard = Some(self.create(slot, 0)?);
        }
        Ok(())
    }

    fn create(&self, slot: &Slot, tick: i64) -> Result<Instance, String> {
        let mut ctx = RunCtx::new(
            self.rt.clone(),
            None,
            &slot.plugin.name,
            &slot.spec.service,
            tick,
            &self.metrics,
        );
        Instance::create(slot.plugin.clone(), &slot.spec.options, &mut ctx).map_err(|o| match o {
            Outcome::Failed(m) => format!("the plugin refused its options: {m}"),
            Outcome::Panicked(m) => format!("the plugin panicked while starting: {m}"),
            Outcome::Ok => "the plugin failed to start".to_string(),
        })
    }

    /// Starts the slot's task for `tick` unless its previous run is still going (then the tick
    /// is skipped and counted).
    pub fn dispatch(self: &Arc<Self>, slot: &Arc<Slot>, tick: i64) {
        if slot.running.swap(true, Ordering::SeqCst) {
            self.metrics.tasks_skipped.inc();
            tracing::warn!(algorithm = %slot.spec.algorithm, service = %slot.spec.service, tick, "previous run still going; tick skipped");
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

    fn reader(&self) -> Result<Reader, String> {
        if let Some(r) = self.readers.lock().ok().and_then(|mut v| v.pop()) {
            return Ok(r);
        }
        self.rt
            .block_on(Reader::connect(&self.redis, Duration::from_secs(5)))
            .map_err(|e| e.to_string())
    }

    /// Runs one task to completion on the calling (blocking) thread.
    pub fn run_task(&self, slot: &Slot, tick: i64) -> Outcome {
        let started = Instant::now();
        self.metrics.tasks_started.inc();
        let (plugin, service) = (&slot.plugin.name, &slot.spec.service);
        let outcome = self.run_inner(slot, tick);
        self.metrics.task_duration.observe(started.elapsed());
        let ms = started.elapsed().as_millis() as u64;
        match &outcome {
            Outcome::Ok => {
                self.metrics.tasks_ok.inc();
                tracing::debug!(plugin = %plugin, service = %service, tick, ms, "task done");
            }
            Outcome::Failed(e) => {
                self.metrics.tasks_failed.inc();
                tracing::error!(plugin = %plugin, service = %service, tick, ms, error = %e, "task failed");
            }
            Outcome::Panicked(e) => {
                self.metrics.tasks_panicked.inc();
                tracing::error!(plugin = %plugin, service = %service, tick, ms, panic = %e, "plugin panicked; the task failed and the instance will be rebuilt");
            }
        }
        outcome
    }

    fn run_inner(&self, slot: &Slot, tick: i64) -> Outcome {
        let Ok(mut guard) = slot.instance.lock() else {
            return Outcome::Failed("instance lock poisoned".into());
        };
        if guard.is_none() {
            match self.create(slot, tick) {
                Ok(i) => *guard = Some(i),
                Err(e) => return Outcome::Failed(e),
            }
        }
        let Some(instance) = guard.as_mut() else {
            return Outcome::Failed("no instance".into());
        };
        let mut reader = match self.reader() {
            Ok(r) => r,
            Err(e) => return Outcome::Failed(format!("cannot reach the metric store: {e}")),
        };
        let mut ctx = RunCtx::new(
            self.rt.clone(),
            Some(&mut reader),
            &slot.plugin.name,
            &slot.spec.service,
            tick,
            &self.metrics,
        )
        .with_shard(slot.shard.0, slot.shard.1);
        let outcome = instance.run(&mut ctx);
        let store_ok = ctx.store_failed.is_none();
        let (outputs, events) = (
            std::mem::take(&mut ctx.outputs),
            std::mem::take(&mut ctx.events),
        );
        drop(ctx);
        if matches!(outcome, Outcome::Panicked(_)) {
            // Whatever state the instance was in when it panicked is not to be trusted.
            *guard = None;
        }
        drop(guard);
        if store_ok && let Ok(mut pool) = self.readers.lock() {
            pool.push(reader);
        }
        if outcome == Outcome::Ok {
            self.deliver(slot, outputs, events);
        } else if !outputs.is_empty() || !events.is_empty() {
            tracing::warn!(plugin = %slot.plugin.name, service = %slot.spec.service, points = outputs.len(), events = events.len(), "outputs of a failed task are discarded");
        }
        outcome
    }

    fn deliver(
        &self,
        slot: &Slot,
        outputs: Vec<(String, f64, i64)>,
        events: Vec<crate::output::events::EventRecord>,
    ) {
        self.metrics.points_emitted.add(outputs.len() as u64);
        let points: Vec<OutputPoint> = outputs
            .into_iter()
            .map(|(field, value, ts)| OutputPoint {
                name: self
                    .graphite
                    .name(&slot.plugin.name, &slot.spec.service, &field),
                value,
                ts,
            })
            .collect();
        if !points.is_empty() {
            self.graphite.send(points);
        }
        for ev in events {
            // The dispatcher logs every event it is given.
            self.metrics.events_emitted.inc();
            self.events.emit(ev);
        }
    }
}

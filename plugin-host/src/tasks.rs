//! The one task path: [`TaskRunner`] owns the loaded plugins, an instance per (plugin,
//! service, shard, options) and the store connections, and runs a [`Task`] to a
//! [`TaskResult`]. The single-process runner calls it on its blocking threads; a worker's
//! plugin process calls it for each task it is sent.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use am_plugin_api::Reporting;
use am_plugin_api::hosting::{Call, Instance, Outcome};
use am_plugin_api::records::{Emitted, VerdictRecord};
use am_store::{Reader, RedisAddr};
use serde::{Deserialize, Serialize};
use tokio::runtime::Handle;

use crate::loader::{LoadedPlugin, Plugins};
use crate::store_host::StoreHost;

/// Instances kept at most; past this the cache starts afresh (options changed a lot).
const MAX_INSTANCES: usize = 10_000;

/// How long connecting to the metric store may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// One run of a plugin for one service at one tick: everything a runner (or a worker's plugin
/// process) needs to run it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    /// The algorithm (its key in analyzer.json's `services`): with the service and a subject,
    /// what names an alarm.
    pub algorithm: String,
    /// The plugin's name.
    pub plugin: String,
    /// The service (its `worker_options` key).
    pub service: String,
    /// The service's options, as JSON text.
    pub options: String,
    /// The tick's scheduled time (seconds since the epoch).
    pub tick: i64,
    /// Which shard of the service (`0..shards`).
    pub shard: u32,
    /// How many shards the service has (1 when unsharded).
    pub shards: u32,
}

/// What a task read, failed and logged, for the runner's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskStats {
    /// Series read.
    pub series_read: u64,
    /// Store calls that failed.
    pub store_errors: u64,
    /// Lines the plugin logged.
    pub log_lines: u64,
}

/// How a task ended and what it left: the points and verdicts of a task that failed are not
/// kept (they rest on a run that did not finish).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskResult {
    /// How it ended.
    pub outcome: Outcome,
    /// Output points (empty unless it succeeded).
    pub emitted: Vec<Emitted>,
    /// Verdicts (empty unless it succeeded).
    pub verdicts: Vec<VerdictRecord>,
    /// How the plugin reports its verdicts (what a subject it did not mention means).
    pub reporting: Reporting,
    /// Its counts.
    pub stats: TaskStats,
}

impl TaskResult {
    /// A task that failed before its plugin ran.
    pub fn failed(message: impl Into<String>) -> Self {
        TaskResult {
            outcome: Outcome::Failed(message.into()),
            emitted: Vec::new(),
            verdicts: Vec::new(),
            reporting: Reporting::EveryRun,
            stats: TaskStats::default(),
        }
    }
}

/// Which instance a task runs on.
type InstanceKey = (String, String, u32, String);

/// One instance slot: `None` until built, and again after a panic.
type Slot = Arc<Mutex<Option<Instance>>>;

/// Runs tasks: the one place where a plugin instance meets the metric store.
#[derive(Debug)]
pub struct TaskRunner {
    rt: Handle,
    redis: RedisAddr,
    plugins: Plugins,
    readers: Mutex<Vec<Reader>>,
    instances: Mutex<HashMap<InstanceKey, Slot>>,
}

impl TaskRunner {
    /// A runner of `plugins`' tasks against the store at `redis`; store calls run on `rt`.
    pub fn new(rt: Handle, redis: RedisAddr, plugins: Plugins) -> TaskRunner {
        TaskRunner {
            rt,
            redis,
            plugins,
            readers: Mutex::new(Vec::new()),
            instances: Mutex::new(HashMap::new()),
        }
    }

    /// The plugins it runs.
    pub fn plugins(&self) -> &Plugins {
        &self.plugins
    }

    /// Builds the task's instance now (validating its options), saying why it failed.
    pub fn prepare(&self, task: &Task) -> Result<(), String> {
        let plugin = self.plugin(task)?;
        self.with_instance(task, &plugin, |_| Ok(()))
    }

    /// Runs `task` to completion on the calling thread, which must be allowed to block (a
    /// blocking thread of the runtime, or a thread of its own).
    pub fn run(&self, task: &Task) -> TaskResult {
        match self.try_run(task) {
            Ok(result) => result,
            Err(message) => TaskResult::failed(message),
        }
    }

    fn try_run(&self, task: &Task) -> Result<TaskResult, String> {
        let plugin = self.plugin(task)?;
        let (outcome, reader, stats, emitted, verdicts) =
            self.with_instance(task, &plugin, |slot| {
                let Some(instance) = slot.as_mut() else {
                    return Err("no instance".into());
                };
                let mut reader = self
                    .reader()
                    .map_err(|e| format!("cannot reach the metric store: {e}"))?;
                let mut host = StoreHost::new(&self.rt, &mut reader, plugin.name(), &task.service);
                let call = Call {
                    tick: task.tick,
                    shard: task.shard,
                    shards: task.shards,
                };
                let outcome = instance.run(&mut host, call);
                let StoreHost {
                    stats,
                    emitted,
                    verdicts,
                    ..
                } = host;
                if matches!(outcome, Outcome::Panicked(_)) {
                    // Whatever state the instance was in when it panicked is not to be trusted.
                    *slot = None;
                }
                Ok((outcome, reader, stats, emitted, verdicts))
            })?;
        if stats.store_errors == 0
            && let Ok(mut pool) = self.readers.lock()
        {
            // A connection that failed may be broken; the next task connects afresh.
            pool.push(reader);
        }
        if outcome != Outcome::Ok && (!emitted.is_empty() || !verdicts.is_empty()) {
            tracing::warn!(plugin = %task.plugin, service = %task.service, points = emitted.len(), verdicts = verdicts.len(), "outputs of a failed task are discarded");
        }
        let ok = outcome == Outcome::Ok;
        Ok(TaskResult {
            outcome,
            emitted: if ok { emitted } else { Vec::new() },
            verdicts: if ok { verdicts } else { Vec::new() },
            reporting: plugin.plugin.reporting,
            stats,
        })
    }

    /// Locks `task`'s instance slot, building the instance when there is none, and hands the
    /// slot to `f` (which may empty it); the lock is released when `f` returns.
    fn with_instance<T>(
        &self,
        task: &Task,
        plugin: &LoadedPlugin,
        f: impl FnOnce(&mut Option<Instance>) -> Result<T, String>,
    ) -> Result<T, String> {
        let slot = self.slot(task)?;
        let mut guard = slot
            .lock()
            .map_err(|_| "instance lock poisoned".to_string())?;
        if guard.is_none() {
            *guard = Some(create(plugin, task)?);
        }
        f(&mut guard)
    }

    fn plugin(&self, task: &Task) -> Result<Arc<LoadedPlugin>, String> {
        self.plugins.get(&task.plugin).ok_or_else(|| {
            format!(
                "no plugin `{}` in the plugin folder (loaded: {:?})",
                task.plugin,
                self.plugins.names()
            )
        })
    }

    /// The instance slot of `task`'s plugin, service, shard and options.
    fn slot(&self, task: &Task) -> Result<Slot, String> {
        let mut instances = self
            .instances
            .lock()
            .map_err(|_| "instance cache lock poisoned".to_string())?;
        let key: InstanceKey = (
            task.plugin.clone(),
            task.service.clone(),
            task.shard,
            task.options.clone(),
        );
        if !instances.contains_key(&key) && instances.len() >= MAX_INSTANCES {
            // Keep the slots in use; the others are rebuilt on demand.
            instances.retain(|_, slot| Arc::strong_count(slot) > 1);
        }
        Ok(instances.entry(key).or_default().clone())
    }

    fn reader(&self) -> Result<Reader, am_store::Error> {
        if let Some(r) = self.readers.lock().ok().and_then(|mut v| v.pop()) {
            return Ok(r);
        }
        self.rt
            .block_on(Reader::connect(&self.redis, CONNECT_TIMEOUT))
    }
}

/// Creates an instance of `plugin` for `service` from its JSON options, as a task would (its
/// log lines go to the runner's log); on failure, how it failed.
pub fn instantiate(
    plugin: &LoadedPlugin,
    options: &str,
    service: &str,
) -> Result<Instance, Outcome> {
    Instance::create(&plugin.plugin, options, service, &mut Unstarted)
}

/// Creates an instance for `task`; the error names why the plugin would not start.
fn create(plugin: &LoadedPlugin, task: &Task) -> Result<Instance, String> {
    instantiate(plugin, &task.options, &task.service).map_err(|o| match o {
        Outcome::Failed(m) => format!("the plugin refused its options: {m}"),
        Outcome::Panicked(m) => format!("the plugin panicked while starting: {m}"),
        Outcome::Ok => "the plugin failed to start".to_string(),
    })
}

/// The host while an instance is created: only logging works then (the hosting layer refuses
/// every other call before it gets here).
struct Unstarted;

impl am_plugin_api::hosting::Host for Unstarted {
    fn log(&mut self, line: am_plugin_api::records::LogRecord) {
        crate::store_host::log_line(&line);
    }
}

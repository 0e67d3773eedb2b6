//! The worker role: takes tasks from the queue, runs each in one of its plugin processes
//! (prefork, as Celery does), writes the outputs, then acknowledges the task.
//!
//! A plugin that aborts, crashes or loops forever takes down only its process: the supervisor
//! starts a new one and fails the task with the reason; `time_limit` is enforced by killing
//! the process. While a task runs (and while its outputs wait for carbon) the worker renews
//! its hold on it, so only the tasks of a worker that died go idle and are taken over.

pub mod child;
pub mod pool;
pub mod proto;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use am_plugin_api::hosting::Outcome;
use am_plugin_host::{Task, TaskResult};
use am_store::RedisAddr;
use tokio::sync::{Semaphore, watch};

use crate::local::report;
use crate::metrics::RunnerMetrics;
use crate::output::Outputs;
use crate::queue::{Failed, QueueClient, QueuedTask, TaskEntry};
use pool::{Death, Proc};
use proto::Setup;

/// How a worker runs.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// Its consumer name in the group (unique per worker: host and pid).
    pub consumer: String,
    /// Plugin processes.
    pub processes: usize,
    /// Seconds a task may run.
    pub time_limit: Duration,
    /// Attempts per task.
    pub max_attempts: u32,
    /// Stream length bound.
    pub max_len: u64,
    /// Dead letters kept.
    pub dead_max_len: u64,
    /// Busy marker lifetime (renewed while working).
    pub busy_ms: u64,
    /// The `am-runner` executable the plugin processes run.
    pub program: PathBuf,
    /// What each plugin process gets.
    pub setup: Setup,
    /// Where the queue is.
    pub redis: RedisAddr,
    /// The queue's key prefix.
    pub prefix: String,
}

/// Shared by the worker's tasks.
struct Shared {
    settings: WorkerSettings,
    idle: Mutex<Vec<Proc>>,
    clients: Mutex<Vec<QueueClient>>,
    /// Tasks held now: stream id → busy marker.
    held: Mutex<HashMap<String, String>>,
    outputs: Outputs,
    metrics: Arc<RunnerMetrics>,
}

impl Shared {
    fn client(&self) -> QueueClient {
        self.clients
            .lock()
            .ok()
            .and_then(|mut c| c.pop())
            .unwrap_or_else(|| QueueClient::new(self.settings.redis.clone(), &self.settings.prefix))
    }

    fn give_back(&self, client: QueueClient) {
        if let Ok(mut c) = self.clients.lock() {
            c.push(client);
        }
    }

    fn hold(&self, id: &str, busy: String) {
        if let Ok(mut h) = self.held.lock() {
            h.insert(id.to_string(), busy);
        }
    }

    fn release(&self, id: &str) {
        if let Ok(mut h) = self.held.lock() {
            h.remove(id);
        }
    }

    fn spawn_proc(&self) -> Option<Proc> {
        match Proc::spawn(&self.settings.program, &self.settings.setup) {
            Ok(p) => Some(p),
            Err(e) => {
                tracing::error!(program = %self.settings.program.display(), error = %e, "cannot start a plugin process");
                None
            }
        }
    }
}

/// Runs the worker until `stop` turns true, then finishes the tasks it holds (bounded by
/// `grace`) and stops its processes.
pub async fn run_worker(
    settings: WorkerSettings,
    outputs: Outputs,
    metrics: Arc<RunnerMetrics>,
    mut stop: watch::Receiver<bool>,
    grace: Duration,
) {
    let n = settings.processes.max(1);
    let shared = Arc::new(Shared {
        settings,
        idle: Mutex::new(Vec::new()),
        clients: Mutex::new(Vec::new()),
        held: Mutex::new(HashMap::new()),
        outputs,
        metrics: metrics.clone(),
    });
    for _ in 0..n {
        if let Some(p) = shared.spawn_proc()
            && let Ok(mut idle) = shared.idle.lock()
        {
            idle.push(p);
        }
    }
    metrics.worker_processes.set(n as u64);
    let permits = Arc::new(Semaphore::new(n));
    let beat = tokio::spawn(heartbeat(shared.clone(), n, stop.clone()));
    let mut reader = shared.client();
    let consumer = shared.settings.consumer.clone();
    let mut last_claim = Instant::now() - Duration::from_secs(60);
    let mut group_ready = false;
    tracing::info!(consumer = %consumer, processes = n, time_limit_s = shared.settings.time_limit.as_secs(), "worker taking tasks");
    loop {
        if *stop.borrow() {
            break;
        }
        if !group_ready {
            match reader.ensure_group().await {
                Ok(()) => group_ready = true,
                Err(e) => {
                    metrics.queue_errors.inc();
                    tracing::error!(error = %e, "the queue is unreachable; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        _ = stop.changed() => {}
                    }
                    continue;
                }
            }
        }
        let first = tokio::select! {
            p = permits.clone().acquire_owned() => p,
            _ = stop.changed() => continue,
        };
        let Ok(first) = first else { break };
        let mut held = vec![first];
        while let Ok(p) = permits.clone().try_acquire_owned() {
            held.push(p);
        }
        // Tasks of workers that died: fail their attempt, which puts them back on the queue.
        if last_claim.elapsed() >= Duration::from_secs(1) {
            last_claim = Instant::now();
            reclaim(&shared, &mut reader, held.len()).await;
        }
        let entries = tokio::select! {
            r = reader.read(&consumer, held.len(), Duration::from_millis(1000)) => r,
            _ = stop.changed() => continue,
        };
        match entries {
            Ok(entries) => {
                for entry in entries {
                    let Some(permit) = held.pop() else { break };
                    let shared = shared.clone();
                    tokio::spawn(async move {
                        handle(&shared, entry).await;
                        drop(permit);
                    });
                }
            }
            Err(e) => {
                metrics.queue_errors.inc();
                tracing::error!(error = %e, "reading the queue failed; retrying");
                group_ready = false;
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
    tracing::info!(consumer = %consumer, "worker stopping: finishing the tasks it holds");
    let all = u32::try_from(n).unwrap_or(u32::MAX);
    if tokio::time::timeout(grace, permits.acquire_many(all))
        .await
        .is_err()
    {
        tracing::error!(
            "tasks still running at shutdown; another worker will take them over after time_limit"
        );
    }
    beat.abort();
    let procs: Vec<Proc> = shared
        .idle
        .lock()
        .map(|mut v| std::mem::take(&mut *v))
        .unwrap_or_default();
    for p in procs {
        p.stop().await;
    }
    metrics.worker_processes.set(0);
    let nothing_held = shared.held.lock().map(|h| h.is_empty()).unwrap_or(false);
    if nothing_held && let Err(e) = reader.unregister(&consumer).await {
        tracing::warn!(error = %e, "could not unregister the worker");
    }
}

/// Takes over tasks idle past the time limit and fails their attempt (re-queueing them).
async fn reclaim(shared: &Shared, client: &mut QueueClient, count: usize) {
    let s = &shared.settings;
    // A live worker renews its tasks well within the time limit; two more seconds of slack.
    let min_idle = s.time_limit + Duration::from_secs(2);
    match client.autoclaim(&s.consumer, min_idle, count).await {
        Ok(claimed) => {
            if !claimed.deleted.is_empty() {
                shared.metrics.tasks_lost.add(claimed.deleted.len() as u64);
                tracing::error!(
                    tasks = claimed.deleted.len(),
                    "pending tasks were trimmed from the stream before anyone finished them"
                );
            }
            for entry in claimed.entries {
                shared.metrics.tasks_claimed.inc();
                let task = QueuedTask::from_fields(&entry.fields).ok();
                let error = format!(
                    "its worker stopped answering (no renewal for {} s)",
                    min_idle.as_secs()
                );
                tracing::warn!(id = %entry.id, algorithm = task.as_ref().map(|t| t.task.algorithm.as_str()), service = task.as_ref().map(|t| t.task.service.as_str()), "took over a task whose worker stopped answering");
                fail(shared, client, &entry.id, task.as_ref(), &error).await;
            }
        }
        Err(e) => {
            shared.metrics.queue_errors.inc();
            tracing::warn!(error = %e, "claiming idle tasks failed");
        }
    }
}

/// Runs one task from the queue to its acknowledgement (or failure).
async fn handle(shared: &Shared, entry: TaskEntry) {
    let mut client = shared.client();
    let queued = match QueuedTask::from_fields(&entry.fields) {
        Ok(t) => t,
        Err(e) => {
            let error = format!("unreadable task: {e}");
            tracing::error!(id = %entry.id, error = %error, "task moved to the dead letters");
            fail(shared, &mut client, &entry.id, None, &error).await;
            shared.give_back(client);
            return;
        }
    };
    shared.hold(&entry.id, queued.busy_key(&client.keys));
    let started = Instant::now();
    shared.metrics.tasks_started.inc();
    let result = run_in_process(shared, &queued.task).await;
    shared.metrics.task_duration.observe(started.elapsed());
    let task = &queued.task;
    let (alg, svc, tick, attempt) = (&task.algorithm, &task.service, task.tick, queued.attempt);
    let ms = started.elapsed().as_millis() as u64;
    match result {
        Ok(result) if result.outcome == Outcome::Ok => {
            report(&shared.metrics, task, &Outcome::Ok, started);
            deliver(shared, &queued, result).await;
            match client
                .finish(&shared.settings.consumer, &entry.id, &queued)
                .await
            {
                Ok(true) => {
                    shared.metrics.tasks_ok.inc();
                    tracing::debug!(algorithm = %alg, service = %svc, tick, shard = task.shard, attempt, ms, "task acknowledged");
                }
                Ok(false) => {
                    shared.metrics.tasks_ack_lost.inc();
                    tracing::warn!(algorithm = %alg, service = %svc, tick, ms, "task finished after another worker took it over; it may run twice");
                }
                Err(e) => {
                    shared.metrics.queue_errors.inc();
                    tracing::error!(algorithm = %alg, service = %svc, tick, error = %e, "could not acknowledge a finished task; another worker will run it again after time_limit");
                }
            }
        }
        Ok(result) => {
            let outcome = result.outcome.clone();
            report(&shared.metrics, task, &outcome, started);
            // Counts its reads and store errors, and runs its alarms' clocks; a failed task has
            // nothing to send.
            shared.outputs.deliver(task, &queued.policy, result).await;
            let error = match outcome {
                Outcome::Panicked(m) => format!("the plugin panicked: {m}"),
                Outcome::Failed(m) => m,
                Outcome::Ok => String::new(),
            };
            fail(shared, &mut client, &entry.id, Some(&queued), &error).await;
        }
        Err(error) => {
            report(
                &shared.metrics,
                task,
                &Outcome::Failed(error.clone()),
                started,
            );
            fail(shared, &mut client, &entry.id, Some(&queued), &error).await;
        }
    }
    shared.release(&entry.id);
    shared.give_back(client);
}

/// Runs a task on an idle process; a process that dies is replaced.
async fn run_in_process(shared: &Shared, task: &Task) -> Result<TaskResult, String> {
    let proc = shared.idle.lock().ok().and_then(|mut v| v.pop());
    let Some(mut proc) = proc.or_else(|| shared.spawn_proc()) else {
        return Err("no plugin process could be started".into());
    };
    let result = proc.run(task, shared.settings.time_limit).await;
    let keep = match &result {
        Ok(_) => Some(proc),
        Err(death) => {
            if matches!(death, Death::TimedOut(_)) {
                shared.metrics.tasks_timed_out.inc();
            }
            shared.metrics.worker_restarts.inc();
            tracing::warn!(pid = proc.pid, reason = %death.describe(shared.settings.setup.memory_limit_mb), "plugin process lost; starting another");
            proc.stop().await;
            shared.spawn_proc()
        }
    };
    if let Some(p) = keep
        && let Ok(mut idle) = shared.idle.lock()
    {
        idle.push(p);
    }
    result.map_err(|d| d.describe(shared.settings.setup.memory_limit_mb))
}

/// Delivers a task's result, and waits until carbon's socket took its points: the task is
/// acknowledged only then.
async fn deliver(shared: &Shared, queued: &QueuedTask, result: TaskResult) {
    let mark = shared
        .outputs
        .deliver(&queued.task, &queued.policy, result)
        .await;
    let mut waited = 0u64;
    while !shared
        .outputs
        .graphite()
        .written(mark, Duration::from_secs(10))
        .await
    {
        waited += 10;
        tracing::warn!(algorithm = %queued.task.algorithm, service = %queued.task.service, tick = queued.task.tick, waited_s = waited, "outputs not yet written to carbon; the task stays unacknowledged");
    }
}

/// Fails a task's attempt: re-queued, or dead after the last.
async fn fail(
    shared: &Shared,
    client: &mut QueueClient,
    id: &str,
    task: Option<&QueuedTask>,
    error: &str,
) {
    let s = &shared.settings;
    let result = client
        .fail(
            &s.consumer,
            id,
            task,
            error,
            s.max_attempts,
            s.max_len,
            s.dead_max_len,
            s.busy_ms,
        )
        .await;
    let (alg, svc) = task.map_or(("?", "?"), |t| {
        (t.task.algorithm.as_str(), t.task.service.as_str())
    });
    match result {
        Ok(Failed::Retried(k)) => {
            shared.metrics.tasks_retried.inc();
            tracing::info!(
                algorithm = alg,
                service = svc,
                attempt = k,
                "task queued again"
            );
        }
        Ok(Failed::Dead(k)) => {
            shared.metrics.tasks_dead.inc();
            tracing::error!(
                algorithm = alg,
                service = svc,
                attempts = k,
                error,
                "task moved to the dead letters after its last attempt"
            );
        }
        Ok(Failed::NotOurs) => {
            shared.metrics.tasks_ack_lost.inc();
            tracing::warn!(
                algorithm = alg,
                service = svc,
                "a failed task had been taken over by another worker"
            );
        }
        Ok(Failed::Gone) => {
            shared.metrics.tasks_lost.inc();
            tracing::error!(
                algorithm = alg,
                service = svc,
                "a failed task's entry was trimmed from the stream"
            );
        }
        Err(e) => {
            shared.metrics.queue_errors.inc();
            tracing::error!(algorithm = alg, service = svc, error = %e, "could not record a failed task; it will be taken over after time_limit");
        }
    }
}

/// Renews the held tasks and busy markers, and registers the worker as alive, several times
/// per time limit.
async fn heartbeat(shared: Arc<Shared>, processes: usize, mut stop: watch::Receiver<bool>) {
    let every =
        (shared.settings.time_limit / 4).clamp(Duration::from_millis(500), Duration::from_secs(5));
    let mut client = shared.client();
    let started = crate::queue::now_ms().to_string();
    let host = am_daemon::hostname();
    loop {
        let (ids, busy): (Vec<String>, Vec<String>) = shared
            .held
            .lock()
            .map(|h| h.iter().map(|(k, v)| (k.clone(), v.clone())).unzip())
            .unwrap_or_default();
        let m = &shared.metrics;
        let info = vec![
            ("host".to_string(), host.clone()),
            ("pid".to_string(), std::process::id().to_string()),
            ("processes".to_string(), processes.to_string()),
            ("started_ms".to_string(), started.clone()),
            ("seen_ms".to_string(), crate::queue::now_ms().to_string()),
            ("running".to_string(), ids.len().to_string()),
            ("tasks_ok".to_string(), m.tasks_ok.get().to_string()),
            ("tasks_failed".to_string(), m.tasks_failed.get().to_string()),
            ("restarts".to_string(), m.worker_restarts.get().to_string()),
        ];
        if let Err(e) = client
            .heartbeat(
                &shared.settings.consumer,
                &ids,
                &busy,
                shared.settings.busy_ms,
                &info,
            )
            .await
        {
            m.queue_errors.inc();
            tracing::warn!(error = %e, "worker heartbeat failed");
        } else if let Ok(n) = client.backlog().await {
            m.queue_backlog.set(n);
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => {}
        }
    }
}

//! `am-runner --role scheduler|worker|all`: the distributed runner, sharing tasks through the
//! queue in the metric store's Redis.

use std::sync::Arc;
use std::time::Duration;

use am_runner::config::{AlgorithmSpec, AnalyzerConfig};
use am_runner::metrics::RunnerMetrics;
use am_runner::queue::QueueClient;
use am_runner::queue::enqueue::{Enqueue, EnqueueSettings};
use am_runner::scheduler::run_schedule;
use am_runner::worker::proto::Setup;
use am_runner::worker::{WorkerSettings, run_worker};
use anyhow::Context;
use tokio::sync::watch;

use super::run::{
    SHUTDOWN_GRACE, drain_outputs, load_plugins, side_tasks, start_outputs, stop_on_signal,
};

/// Which parts this process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    /// Enqueue every tick of every service (several schedulers may run: each tick is
    /// enqueued once).
    Scheduler,
    /// Run tasks from the queue in supervised plugin processes.
    Worker,
    /// Both.
    All,
}

/// Runs the role until SIGTERM or SIGINT.
pub fn run(
    config: AnalyzerConfig,
    algorithms: Vec<AlgorithmSpec>,
    role: Role,
) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("am-runner")
        .build()
        .context("starting the runtime")?;
    rt.block_on(serve(config, algorithms, role))
}

async fn serve(
    config: AnalyzerConfig,
    algorithms: Vec<AlgorithmSpec>,
    role: Role,
) -> anyhow::Result<()> {
    let metrics = Arc::new(RunnerMetrics::default());
    let redis = config.metric_sink.redis();
    let q = &config.queue;
    let time_limit = config.time_limit_secs();
    let me = format!("{}:{}", am_daemon::hostname(), std::process::id());
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = Vec::new();
    let enqueue = EnqueueSettings {
        holder: me.clone(),
        time_limit,
        max_attempts: q.max_attempts,
        max_len: q.max_len,
    };
    if role != Role::Worker {
        let mut client = QueueClient::new(redis.clone(), &q.prefix);
        client.ensure_group().await.with_context(|| {
            format!("creating the task queue `{}` in Redis", client.keys.tasks())
        })?;
        let services: usize = algorithms
            .iter()
            .map(|a| a.services.len() * a.shards as usize)
            .sum();
        for alg in algorithms {
            tracing::info!(algorithm = %alg.name, schedule = %alg.schedule, services = alg.services.len(), shards = alg.shards, "scheduling");
            let client = QueueClient::new(redis.clone(), &q.prefix);
            let Some(dispatch) = Enqueue::new(&alg, client, enqueue.clone(), metrics.clone())
            else {
                continue;
            };
            let (metrics, stop) = (metrics.clone(), stop_rx.clone());
            tasks.push(tokio::spawn(async move {
                run_schedule(&alg.name, &alg.schedule, dispatch, &metrics, stop).await;
            }));
        }
        tracing::info!(scheduler = %me, tasks_per_round = services, queue = %client.keys.tasks(), "scheduler running");
    }
    let mut running = None;
    if role != Role::Scheduler {
        // Load once here so a broken plugin folder is reported at start, not per task.
        load_plugins(&config, &metrics)?;
        let started = start_outputs(&config, &metrics)?;
        let outputs = started.outputs.clone();
        let processes = q
            .processes
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
        let plugin_dir = std::path::absolute(&config.plugin_dir)
            .with_context(|| format!("resolving {}", config.plugin_dir.display()))?;
        let settings = WorkerSettings {
            consumer: me.clone(),
            processes,
            time_limit: Duration::from_secs(time_limit),
            max_attempts: q.max_attempts,
            max_len: q.max_len,
            dead_max_len: q.dead_letter_max_len,
            busy_ms: enqueue.busy_ms(),
            program: std::env::current_exe().context("finding the am-runner executable")?,
            setup: Setup {
                plugin_dir,
                redis: redis.clone(),
                memory_limit_mb: q.memory_limit_mb,
                parent_pid: std::process::id(),
            },
            redis: redis.clone(),
            prefix: q.prefix.clone(),
        };
        let worker = tokio::spawn(run_worker(
            settings,
            outputs.clone(),
            metrics.clone(),
            stop_rx.clone(),
            SHUTDOWN_GRACE,
        ));
        running = Some((started, worker));
    }
    let side = side_tasks(&config, &metrics).await?;
    stop_on_signal(&stop_tx, tasks, "stopping").await?;
    if let Some((started, worker)) = running {
        let _ = worker.await;
        drain_outputs(started, &metrics).await;
    }
    for t in side {
        t.abort();
    }
    Ok(())
}

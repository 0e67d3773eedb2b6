//! `am-runner --role scheduler|worker|all`: the distributed runner, sharing tasks through the
//! queue in the metric store's Redis.

use std::sync::Arc;
use std::time::Duration;

use am_runner::config::{AlgorithmSpec, AnalyzerConfig};
use am_runner::host::Plugins;
use am_runner::metrics::RunnerMetrics;
use am_runner::output::GraphiteSink;
use am_runner::output::events::EventDispatcher;
use am_runner::queue::QueueClient;
use am_runner::queue::scheduler::{EnqueueSettings, run_algorithm};
use am_runner::worker::proto::Setup;
use am_runner::worker::{WorkerSettings, run_worker};
use anyhow::Context;
use tokio::sync::watch;

use super::run::{SHUTDOWN_GRACE, drain_outputs, side_tasks};

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
            tasks.push(tokio::spawn(run_algorithm(
                alg,
                QueueClient::new(redis.clone(), &q.prefix),
                enqueue.clone(),
                metrics.clone(),
                stop_rx.clone(),
            )));
        }
        tracing::info!(scheduler = %me, tasks_per_round = services, queue = %client.keys.tasks(), "scheduler running");
    }
    let mut outputs = None;
    if role != Role::Scheduler {
        // Load once here so a broken plugin folder is reported at start, not per task.
        let plugins = Plugins::load_dir(&config.plugin_dir).with_context(|| {
            format!("reading the plugin folder {}", config.plugin_dir.display())
        })?;
        metrics.plugins_loaded.set(plugins.all().count() as u64);
        metrics.plugins_skipped.set(plugins.skipped.len() as u64);
        let (graphite, graphite_task) =
            GraphiteSink::start(config.output_sink.graphite().clone(), metrics.clone());
        let events = EventDispatcher::start(config.event_outputs.clone(), metrics.clone())
            .map_err(|issues| {
                let lines: Vec<String> = issues.iter().map(ToString::to_string).collect();
                anyhow::anyhow!("event outputs: {}", lines.join("; "))
            })?;
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
                redis_host: redis.host.clone(),
                redis_port: redis.port,
                redis_db: redis.db,
                redis_password: redis.password.clone(),
                memory_limit_mb: q.memory_limit_mb,
                parent_pid: std::process::id(),
            },
            redis: redis.clone(),
            prefix: q.prefix.clone(),
        };
        let worker = tokio::spawn(run_worker(
            settings,
            graphite.clone(),
            events.clone(),
            metrics.clone(),
            stop_rx.clone(),
            SHUTDOWN_GRACE,
        ));
        outputs = Some((graphite, graphite_task, events, worker));
    }
    let side = side_tasks(&config, &metrics).await?;
    am_daemon::shutdown_signal()
        .await
        .context("installing the signal handlers")?;
    tracing::info!("stopping");
    let _ = stop_tx.send(true);
    for t in tasks {
        let _ = t.await;
    }
    if let Some((graphite, graphite_task, events, worker)) = outputs {
        let _ = worker.await;
        drain_outputs(&graphite, graphite_task, &events, &metrics).await;
    }
    for t in side {
        t.abort();
    }
    Ok(())
}

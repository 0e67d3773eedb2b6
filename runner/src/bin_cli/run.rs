//! `am-runner --config FILE`: scheduler and workers in one process.

use std::sync::Arc;
use std::time::{Duration, Instant};

use am_plugin_host::{Plugins, TaskRunner};
use am_runner::alarm::Alarms;
use am_runner::config::{AlgorithmSpec, AnalyzerConfig};
use am_runner::local::{Executor, RunHere, Slot};
use am_runner::metrics::RunnerMetrics;
use am_runner::notify::Notifiers;
use am_runner::output::{GraphiteSink, Outputs};
use am_runner::scheduler::run_schedule;
use anyhow::Context;
use tokio::sync::watch;

/// How long shutdown waits for running tasks and for outputs to drain.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Starts the self-metrics endpoint and the Graphite reporter, as configured.
pub async fn side_tasks(
    config: &AnalyzerConfig,
    metrics: &Arc<RunnerMetrics>,
) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
    let listen = config.metrics.listen.as_deref().unwrap_or_default();
    config
        .metrics
        .start(metrics.clone(), "anna-molly.runner")
        .await
        .with_context(|| format!("binding the metrics endpoint on {listen} (set `metrics.listen` to another address, or null, when several runners share a host)"))
}

/// Runs until SIGTERM or SIGINT.
pub fn run(config: AnalyzerConfig, algorithms: Vec<AlgorithmSpec>) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("am-runner")
        .build()
        .context("starting the runtime")?;
    rt.block_on(serve(config, algorithms))
}

/// Loads the plugin folder, counting what loaded and what was skipped.
pub fn load_plugins(config: &AnalyzerConfig, metrics: &RunnerMetrics) -> anyhow::Result<Plugins> {
    let plugins = Plugins::load_dir(&config.plugin_dir)
        .with_context(|| format!("reading the plugin folder {}", config.plugin_dir.display()))?;
    metrics.plugins_loaded.set(plugins.all().count() as u64);
    metrics.plugins_skipped.set(plugins.skipped.len() as u64);
    Ok(plugins)
}

/// What delivers a runner's results: the Graphite writer, the alarm layer, the notifiers.
pub struct Running {
    /// Points and verdicts of each task go here.
    pub outputs: Outputs,
    graphite_task: tokio::task::JoinHandle<()>,
    notifiers: Notifiers,
}

/// Starts the Graphite writer, the alarm layer and the notifiers.
pub fn start_outputs(
    config: &AnalyzerConfig,
    metrics: &Arc<RunnerMetrics>,
) -> anyhow::Result<Running> {
    let (graphite, graphite_task) =
        GraphiteSink::start(config.output_sink.graphite().clone(), metrics.clone());
    let redis = config.metric_sink.redis();
    let alarms = Arc::new(Alarms::new(
        redis.clone(),
        config.alarms.clone(),
        metrics.clone(),
    ));
    let consumer = format!("{}:{}", am_daemon::hostname(), std::process::id());
    let notifiers = Notifiers::start(
        &config.event_outputs,
        &redis,
        &config.alarms,
        &consumer,
        metrics.clone(),
    )
    .map_err(|issues| {
        let lines: Vec<String> = issues.iter().map(ToString::to_string).collect();
        anyhow::anyhow!("event outputs: {}", lines.join("; "))
    })?;
    Ok(Running {
        outputs: Outputs::new(graphite, alarms, metrics.clone()),
        graphite_task,
        notifiers,
    })
}

async fn serve(config: AnalyzerConfig, algorithms: Vec<AlgorithmSpec>) -> anyhow::Result<()> {
    let metrics = Arc::new(RunnerMetrics::default());
    let plugins = load_plugins(&config, &metrics)?;
    let running = start_outputs(&config, &metrics)?;
    let outputs = running.outputs.clone();
    let rt = tokio::runtime::Handle::current();
    let tasks = Arc::new(TaskRunner::new(
        rt.clone(),
        config.metric_sink.redis(),
        plugins,
    ));
    let exec = Arc::new(Executor::new(
        rt,
        tasks.clone(),
        outputs.clone(),
        metrics.clone(),
    ));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut loops = Vec::new();
    let mut enabled = 0usize;
    for alg in algorithms {
        let mut slots = Vec::new();
        // A service whose first shard cannot start is disabled whole, and said once.
        let mut disabled = std::collections::HashSet::new();
        for task in alg.tasks() {
            if disabled.contains(&task.service) {
                continue;
            }
            if tasks.plugins().get(&task.plugin).is_none() {
                tracing::error!(algorithm = %alg.name, service = %task.service, plugin = %task.plugin, loaded = ?tasks.plugins().names(), "no such plugin; service disabled (see `am-runner plugins`)");
                disabled.insert(task.service);
                continue;
            }
            let policy = alg.policy(&task.service);
            let slot = Slot::new(task, policy);
            let exec2 = exec.clone();
            let (slot, result) = tokio::task::spawn_blocking(move || {
                let r = exec2.prepare(&slot);
                (slot, r)
            })
            .await
            .context("preparing a service")?;
            if let Err(e) = result {
                tracing::error!(algorithm = %alg.name, service = %slot.task.service, plugin = %slot.task.plugin, error = %e, "service disabled");
                disabled.insert(slot.task.service.clone());
                continue;
            }
            slots.push(Arc::new(slot));
        }
        if slots.is_empty() {
            continue;
        }
        enabled += slots.len();
        tracing::info!(algorithm = %alg.name, schedule = %alg.schedule, services = slots.len(), "scheduled");
        let (metrics, stop) = (metrics.clone(), stop_rx.clone());
        let dispatch = RunHere {
            slots,
            exec: exec.clone(),
        };
        loops.push(tokio::spawn(async move {
            run_schedule(&alg.name, &alg.schedule, dispatch, &metrics, stop).await;
        }));
    }
    if enabled == 0 {
        tracing::warn!(
            "no service can run; the runner idles (check the config with `am-runner check`)"
        );
    }
    let side = side_tasks(&config, &metrics).await?;
    tracing::info!(
        services = enabled,
        plugins = metrics.plugins_loaded.get(),
        "runner running"
    );

    let stopping = "stopping: no new ticks; waiting for running tasks and outputs";
    stop_on_signal(&stop_tx, loops, stopping).await?;
    let deadline = Instant::now() + SHUTDOWN_GRACE;
    while exec.running() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if exec.running() > 0 {
        tracing::error!(
            running = exec.running(),
            "tasks still running at shutdown; their outputs are lost"
        );
    }
    drain_outputs(running, &metrics).await;
    for t in side {
        t.abort();
    }
    Ok(())
}

/// Waits for SIGTERM or SIGINT, then logs `stopping`, tells every loop to stop and waits for
/// them.
pub async fn stop_on_signal<T>(
    stop_tx: &watch::Sender<bool>,
    loops: Vec<tokio::task::JoinHandle<T>>,
    stopping: &str,
) -> anyhow::Result<()> {
    am_daemon::shutdown_signal()
        .await
        .context("installing the signal handlers")?;
    tracing::info!("{stopping}");
    let _ = stop_tx.send(true);
    for l in loops {
        let _ = l.await;
    }
    Ok(())
}

/// At shutdown: waits (bounded) for carbon to take the buffered points and for the notifiers
/// to finish what they hold (what is left stays in the history for the next runner), logging
/// what was not, then stops the writer.
pub async fn drain_outputs(running: Running, metrics: &RunnerMetrics) {
    if !running.outputs.graphite().flush(SHUTDOWN_GRACE).await {
        tracing::error!(
            buffered = metrics.points_buffered.get(),
            "carbon did not take every output point before shutdown"
        );
    }
    if !running.notifiers.shutdown(Duration::from_secs(5)).await {
        tracing::warn!(
            "notifiers stopped mid-delivery; the notifications stay in the history for the next runner"
        );
    }
    running.graphite_task.abort();
}

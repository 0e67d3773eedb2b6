//! `am-collector --config FILE`: the daemon.

use std::sync::Arc;
use std::time::Duration;

use am_collector::config::CollectorConfig;
use am_collector::config::{Listener, TcpLimits};
use am_collector::listener::budget::PendingBudget;
use am_collector::listener::warn::Warnings;
use am_collector::listener::{self, Ingest};
use am_collector::metrics::Metrics;
use am_collector::router::Router;
use am_collector::writer::RedisWriter;
use anyhow::Context;
use tokio::sync::watch;

/// Runs until SIGTERM or SIGINT, then flushes what it holds (bounded by the shutdown timeout).
pub fn run(config: CollectorConfig) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("am-collector")
        .build()
        .context("starting the runtime")?;
    rt.block_on(serve(config))
}

/// Descriptors kept for everything but listener connections: Redis, `/metrics`, logs.
const RESERVED_FDS: u64 = 64;

async fn serve(config: CollectorConfig) -> anyhow::Result<()> {
    let metrics = Arc::new(Metrics::default());
    let open_files = am_daemon::raise_open_files_limit();
    metrics.open_files_limit.set(open_files.unwrap_or(0));
    let router = Arc::new(Router::new(&config.router).context("building the router")?);
    let redis = config.writer.redis().clone();
    let shutdown_timeout = Duration::from_secs(redis.shutdown_timeout_secs);
    let (writer, handle) =
        RedisWriter::new(redis.clone(), router.models().clone(), metrics.clone());
    // The sink gets a thread of its own: it is the one serial stage, and sharing a worker with
    // the connection tasks costs it wake-ups.
    let (writer_done_tx, writer_task) = tokio::sync::oneshot::channel::<()>();
    std::thread::Builder::new()
        .name("am-redis-writer".into())
        .spawn(move || {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt.block_on(writer.run()),
                Err(e) => tracing::error!(error = %e, "cannot start the writer's runtime"),
            }
            let _ = writer_done_tx.send(());
        })
        .context("starting the writer thread")?;
    let warnings = Arc::new(Warnings::new(metrics.clone()));
    let ingest = Arc::new(Ingest {
        router,
        writer: handle,
        metrics: metrics.clone(),
        budget: PendingBudget::new(
            config.max_pending_bytes(),
            metrics.clone(),
            warnings.clone(),
        ),
        warnings,
    });
    let (stop_tx, stop_rx) = watch::channel(false);

    let mut listeners = Vec::new();
    for l in &config.listener.0 {
        let bind = l.bind();
        let limits = fitted_limits(l, &config.listener.0, open_files);
        let task = listener::start(l, limits, ingest.clone(), stop_rx.clone())
            .await
            .with_context(|| format!("binding {} on {bind}", l.kind()))?;
        match limits {
            Some(t) => tracing::info!(
                listener = l.kind(),
                bind = %bind,
                max_connections = t.max_connections,
                idle_timeout_secs = t.idle_timeout_secs,
                "listening"
            ),
            None => tracing::info!(listener = l.kind(), bind = %bind, "listening"),
        }
        listeners.push(task);
    }
    let listen = config.metrics.listen.as_deref().unwrap_or_default();
    let side_tasks = config
        .metrics
        .start(metrics.clone(), "anna-molly.collector")
        .await
        .with_context(|| format!("binding the metrics endpoint on {listen}"))?;
    tracing::info!(
        redis = %redis.addr(),
        max_pending_bytes = config.max_pending_bytes(),
        "collector running"
    );

    am_daemon::shutdown_signal()
        .await
        .context("installing the signal handlers")?;
    tracing::info!(
        buffered_bytes = ingest.writer.buffer.used(),
        "stopping: closing listeners and flushing to Redis"
    );
    let _ = stop_tx.send(true);
    drop(ingest);
    for l in listeners {
        let _ = l.await;
    }
    // Connection tasks end at their next read; give them a moment, then the sink drains.
    let flushed = tokio::time::timeout(shutdown_timeout, writer_task).await;
    let m = &metrics;
    let unwritten = m
        .routed
        .get()
        .saturating_sub(m.stored.get() + m.dropped_redis_error.get() + m.dropped_buffer_full.get());
    match flushed {
        Ok(_) => tracing::info!(stored = m.stored.get(), "flushed; bye"),
        Err(_) => {
            m.dropped_shutdown.add(unwritten);
            tracing::error!(
                unwritten,
                timeout_s = shutdown_timeout.as_secs(),
                "Redis did not take everything before the shutdown timeout; datapoints lost"
            );
        }
    }
    for t in side_tasks {
        t.abort();
    }
    Ok(())
}

/// A TCP listener's limits, with `max_connections` lowered when every TCP listener full at
/// once would take more descriptors than the process may open: the connections to Redis and
/// the metrics endpoint must never find the descriptors gone.
fn fitted_limits(l: &Listener, all: &[Listener], open_files: Option<u64>) -> Option<TcpLimits> {
    let mut limits = l.tcp_limits()?;
    let tcp = all.iter().filter(|x| x.tcp_limits().is_some()).count() as u64;
    let wanted: u64 = all
        .iter()
        .filter_map(Listener::tcp_limits)
        .map(|x| x.max_connections as u64)
        .sum();
    if let Some(fds) = open_files
        && wanted + RESERVED_FDS > fds
    {
        let share = (fds.saturating_sub(RESERVED_FDS) / tcp.max(1)).max(1);
        let fitted = (limits.max_connections as u64).min(share);
        if fitted < limits.max_connections as u64 {
            tracing::warn!(
                listener = l.kind(),
                bind = %l.bind(),
                max_connections = limits.max_connections,
                fitted,
                open_files_limit = fds,
                "the open-file limit cannot hold max_connections on every listener; lowered"
            );
            limits.max_connections = usize::try_from(fitted).unwrap_or(usize::MAX);
        }
    }
    Some(limits)
}

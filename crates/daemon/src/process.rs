//! The process around a daemon: where its logs go, what this host is called, when to stop.

/// Logs to stderr; `RUST_LOG` picks the level, else `default` (for instance `info` for a daemon,
/// `warn` for a one-shot command whose answer is on stdout). Colours only on a terminal.
pub fn init_tracing(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

/// This machine's name as the kernel has it (`/proc/sys/kernel/hostname`), else `$HOSTNAME`,
/// else `localhost`: for worker registries, and (made one path element) for self-metric names.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// Resolves at the first SIGTERM or SIGINT, logging which: the daemons' cue to stop taking
/// work and flush what they hold.
pub async fn shutdown_signal() -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => tracing::info!(signal = "SIGTERM", "received"),
        _ = int.recv() => tracing::info!(signal = "SIGINT", "received"),
    }
    Ok(())
}

//! The binary's commands.

pub mod check;
pub mod plugins;
pub mod replay;
pub mod roles;
pub mod run;
pub mod status;

/// Logs to stderr; `RUST_LOG` picks the level (default `default`: `info` when running, `warn`
/// for the one-shot commands, whose answer is on stdout).
pub fn init_tracing(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

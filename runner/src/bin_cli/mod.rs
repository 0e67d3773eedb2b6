//! The binary's commands.

pub mod alarms;
pub mod backtest;
pub mod check;
pub mod plugins;
pub mod replay;
pub mod roles;
pub mod run;
pub mod status;

use std::process::ExitCode;

/// The runtime of a command that reads Redis once (`status`, `alarms`); when it cannot start,
/// says so as `am-runner <command>` and gives the exit code.
pub fn command_runtime(command: &str) -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("am-runner {command}: {e}");
            ExitCode::FAILURE
        })
}

//! The binary's commands.

pub mod alarms;
pub mod backtest;
pub mod check;
pub mod plugins;
pub mod replay;
pub mod roles;
pub mod run;
pub mod status;

//! am-runner as a library: the config, the scheduler and its two dispatches (run here, or
//! enqueue for workers), the queue and the workers, and the outputs, so tests can drive the
//! same pieces the binary runs. Plugins themselves are hosted by `am-plugin-host`.

pub mod alarm;
pub mod backtest;
pub mod config;
pub mod local;
pub mod metrics;
pub mod notify;
pub mod output;
pub mod queue;
pub mod scheduler;
pub mod worker;

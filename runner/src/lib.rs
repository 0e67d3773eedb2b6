//! am-runner as a library: the config, the plugin host, the executor and scheduler, and the
//! outputs, so tests can drive the same pieces the binary runs.

pub mod config;
pub mod exec;
pub mod host;
pub mod metrics;
pub mod nab;
pub mod output;
pub mod queue;
pub mod replay;
pub mod scheduler;
pub mod worker;

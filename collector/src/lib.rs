//! am-collector as a library: config, router, listeners, the Redis writer and self-metrics, so
//! tests and benchmarks can run the same pieces the binary runs.

pub mod config;
pub mod listener;
pub mod metrics;
pub mod router;
pub mod writer;

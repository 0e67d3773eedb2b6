//! am-collector as a library: config, router, listeners, sink and self-metrics, so tests and
//! benchmarks can run the same pieces the binary runs.

pub mod config;
pub mod metrics;
pub mod router;
pub mod sink;
pub mod spout;
pub mod text;

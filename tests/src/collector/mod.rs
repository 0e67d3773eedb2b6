//! Running the product under test, `am-collector`, as a daemon against a real redis-server, and
//! looking at what it did: its self-metrics (`GET /metrics`), what `am-collector inspect` reads
//! back, and the raw Redis layout (decoded here independently of the product's reader, from
//! the layout described in `store/src/lib.rs`).
//!
//! - [`Collector`]: the daemon guard. It writes a config (see [`CollectorOptions`]) to a fresh
//!   temporary directory, runs `am-collector --config FILE` with `RUST_LOG=info` (its logs go to
//!   `am-collector.stderr.log` there), waits for its ports and stops it by PID when dropped.
//! - [`run_cli`], [`check`]: the binary's one-shot commands, bounded in time.
//! - [`read_series`], [`last_write_wins`]: the layout and the expected reading of it.
//! - [`test_helpers`]: panicking shortcuts shared by the collector's test files.
//!
//! The binary is `target/release/am-collector` (built by `cargo build --release -p
//! am-collector`, which the test command runs first), else `target/debug/am-collector`;
//! `AM_TESTS_COLLECTOR` overrides both.
//!
//! The submodules, by job: [`options`] (the generated config), [`daemon`] (the running
//! [`Collector`]), [`metrics`] (its self-metrics over HTTP), [`cli`] (`check`, `inspect` and
//! other one-shot commands), [`layout`] (the Redis layout, decoded independently), [`points`]
//! (expected readings and plaintext lines). Everything they export is also here, as
//! `am_tests::collector::NAME`.

use std::time::Duration;

pub mod cli;
pub mod daemon;
pub mod layout;
pub mod metrics;
pub mod options;
pub mod points;
pub mod test_helpers;

#[cfg(test)]
mod tests;

pub use cli::{CheckResult, CliOutput, check, collector_binary, inspect, parse_inspect, run_cli};
pub use daemon::Collector;
pub use layout::{
    ChunkKey, decode_records, index_names, read_series, seen_names, smembers, zrange_all,
};
pub use metrics::{graphite_hostname, http_get, parse_prometheus};
pub use options::{CollectorOptions, CollectorPorts, DEFAULT_ROUTER, INTERVAL_TAG, RAW_TAG};
pub use points::{Sent, StoredPoint, describe_diff, last_write_wins, lines, to_map};

/// Environment variable that overrides where the `am-collector` binary is found.
pub const COLLECTOR_ENV: &str = "AM_TESTS_COLLECTOR";

/// How long the collector may take from start to serving its ports.
pub const COLLECTOR_STARTUP_TIMEOUT: Duration = Duration::from_secs(20);

/// How long one `am-collector inspect` or `check` may take.
pub const CLI_TIMEOUT: Duration = Duration::from_secs(30);

/// Connect, read and write timeout of the HTTP and socket helpers here.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);

//! # am-plugin-host: running anna-molly plugins
//!
//! What the runner does with a plugin, in one crate the daemon (`am-runner`) and its worker
//! processes share:
//!
//! - [`loader`]: every library in the plugin folder, its ABI version checked first
//!   ([`Plugins`], [`load_file`]);
//! - [`tasks`]: the one task path, [`TaskRunner`], running a [`Task`] (plugin, service,
//!   options, tick, shard) to a [`TaskResult`] against the metric store, with an instance per
//!   service kept across ticks and rebuilt after a panic;
//! - [`store_host`]: the [`Host`](am_plugin_api::hosting::Host) a task runs against: reads
//!   through the store's index, state in Redis, outputs collected for delivery;
//! - [`replay`] and [`nab`]: a plugin offline over recorded series (CSV files, a NAB corpus),
//!   through the same ABI calls, with an in-memory store.
//!
//! The host side of the C ABI itself (callbacks, panic guards, lending) is
//! [`am_plugin_api::hosting`], shared with the plugin API's test host.

pub mod loader;
pub mod nab;
pub mod replay;
pub mod store_host;
pub mod tasks;

pub use loader::{LoadedPlugin, Plugins, Skipped, load_file};
pub use tasks::{Task, TaskResult, TaskRunner, TaskStats, instantiate};

//! End-to-end test harness for anna-molly: runs the real daemons (redis-server, Debian's
//! carbon-cache and carbon-relay) on free ports of 127.0.0.1 in fresh temporary directories,
//! with bounded waits everywhere, and stops what it started by PID when the guards drop (also
//! when a test panics).
//!
//! - [`RedisServer`]: `redis-server`, with a tiny RESP client ([`RedisServer::cmd`]);
//!   [`RedisCluster`] (three or more cluster masters), [`SentinelSet`] (a master, a replica
//!   and three sentinels) and [`TlsRedis`] (TLS with a test CA, an ACL user).
//! - [`CarbonCache`]: carbon-cache writing whisper files, read back with [`whisper`].
//! - [`CarbonRelay`]: carbon-relay forwarding over the pickle protocol; [`FrameListener`] stands
//!   in for a destination.
//! - [`DaemonProcess`]: the process guard under all of them, for other daemons (such as the
//!   collector binary).
//! - [`Collector`]: the product under test, `am-collector`, run as a daemon with a generated
//!   config; helpers for its CLI, its self-metrics and the Redis layout it writes
//!   ([`collector`]).
//! - [`Runner`]: the other product, `am-runner`, with its plugins copied from the build into a
//!   fresh plugin folder; helpers for its config, CLI, self-metrics, the series it reads
//!   (written with the store crate) and the whisper files and events it produces ([`runner`]).
//!
//! When a daemon's binary is missing, the constructors fail with an error that says so (and that
//! `make test` installs it); they never skip.
//!
//! Set `AM_TESTS_KEEP=1` to keep the daemons' temporary directories (configs, logs, data) after a
//! run for inspection; their paths are in every failure message.

pub mod alertmanager;
pub mod carbon;
pub mod carbon_cache;
pub mod carbon_relay;
pub mod cli;
pub mod collector;
pub mod guard;
pub mod net;
pub mod ports;
pub mod process;
pub mod production;
pub mod pyserver;
pub mod redis;
pub mod redis_cluster;
pub mod redis_sentinel;
pub mod redis_tls;
pub mod resp;
pub mod runner;
pub mod sys;
pub mod tls;
pub mod wait;
pub mod whisper;

pub use alertmanager::Alertmanager;
pub use carbon_cache::{CarbonCache, CarbonCacheOptions};
pub use carbon_relay::{CarbonRelay, CarbonRelayOptions, RelayMethod};
pub use collector::{Collector, CollectorOptions};
pub use net::{FrameListener, line, now_unix, send_frame, send_lines};
pub use ports::{free_port, free_ports};
pub use process::{DaemonProcess, DaemonSpec};
pub use redis::{RedisServer, local_redis};
pub use redis_cluster::RedisCluster;
pub use redis_sentinel::SentinelSet;
pub use redis_tls::TlsRedis;
pub use resp::{Resp, RespClient};
pub use runner::{Runner, RunnerSetup};
pub use sys::{find_binary, process_exists};
pub use wait::{wait_for_tcp, wait_until};

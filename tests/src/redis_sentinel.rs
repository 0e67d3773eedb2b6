//! [`SentinelSet`]: a master, a replica and three sentinels watching them
//! (`redis-server <conf> --sentinel`, the same binary), on free ports of 127.0.0.1 in
//! temporary directories, stopped by PID when dropped; and the failover a test provokes by
//! killing the master.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use tempfile::TempDir;

use crate::ports::{free_port, retry_on_port_clash};
use crate::process::{DaemonProcess, DaemonSpec};
use crate::redis::{REDIS_SERVER_ENV, RedisServer};
use crate::resp::{Resp, RespClient, parse_info};
use crate::sys::{find_binary, temp_dir};
use crate::wait::wait_until;

/// The master's name in the sentinels' configuration.
pub const MASTER_NAME: &str = "am-master";

/// How long the sentinels may take to notice a dead master and promote the replica
/// (`down-after-milliseconds` is 1 s here; the election and promotion take a few more).
pub const FAILOVER_TIMEOUT: Duration = Duration::from_secs(60);

/// One sentinel process.
#[derive(Debug)]
struct Sentinel {
    process: DaemonProcess,
    port: u16,
    _dir: TempDir,
}

/// A master, its replica and three sentinels (quorum 2).
#[derive(Debug)]
pub struct SentinelSet {
    sentinels: Vec<Sentinel>,
    master: RedisServer,
    replica: RedisServer,
}

impl SentinelSet {
    /// Starts the master (with `extra` arguments), a replica of it (same arguments), waits
    /// for the replication link, then starts three sentinels and waits until each knows the
    /// replica and the other sentinels.
    pub fn start(extra: &[&str]) -> Result<SentinelSet> {
        let master = RedisServer::start_with_args(extra).context("starting the master")?;
        let master_port = master.port().to_string();
        let mut replica_args = extra.to_vec();
        replica_args.extend(["--replicaof", "127.0.0.1", master_port.as_str()]);
        let replica =
            RedisServer::start_with_args(&replica_args).context("starting the replica")?;
        wait_until(
            "the replica's link to the master",
            Duration::from_secs(30),
            || {
                let info = parse_info(
                    &replica
                        .cmd(&["INFO", "replication"])?
                        .as_text()
                        .unwrap_or_default(),
                );
                Ok(
                    (info.get("master_link_status").map(String::as_str) == Some("up"))
                        .then_some(()),
                )
            },
        )?;
        let binary = find_binary("redis-server", REDIS_SERVER_ENV)?;
        let mut sentinels = Vec::new();
        for i in 0..3 {
            let s = retry_on_port_clash(|| {
                let port = free_port()?;
                let dir = temp_dir("am-tests-sentinel-")?;
                let conf = dir.path().join("sentinel.conf");
                std::fs::write(
                    &conf,
                    format!(
                        "port {port}\nbind 127.0.0.1\ndir {dir}\n\
                         sentinel monitor {MASTER_NAME} 127.0.0.1 {master_port} 2\n\
                         sentinel down-after-milliseconds {MASTER_NAME} 1000\n\
                         sentinel failover-timeout {MASTER_NAME} 10000\n\
                         sentinel parallel-syncs {MASTER_NAME} 1\n",
                        dir = dir.path().display()
                    ),
                )
                .context("writing sentinel.conf")?;
                let log = dir.path().join("sentinel.log");
                let spec =
                    DaemonSpec::new(format!("redis-sentinel-{}", i + 1), &binary, dir.path())
                        .arg(&conf)
                        .arg("--sentinel")
                        .arg("--logfile")
                        .arg(&log)
                        .extra_log(&log);
                let mut process = DaemonProcess::spawn(spec)?;
                process.wait_ready(
                    &format!("sentinel on 127.0.0.1:{port} to answer PING"),
                    Duration::from_secs(20),
                    || {
                        let reply =
                            RespClient::connect(port, Duration::from_secs(1))?.cmd(&["PING"])?;
                        Ok(matches!(reply, Resp::Simple(ref p) if p == "PONG").then_some(()))
                    },
                )?;
                Ok(Sentinel {
                    process,
                    port,
                    _dir: dir,
                })
            })?;
            sentinels.push(s);
        }
        let set = SentinelSet {
            sentinels,
            master,
            replica,
        };
        wait_until(
            "every sentinel to know the replica and the other sentinels",
            Duration::from_secs(60),
            || {
                for s in &set.sentinels {
                    let mut c = RespClient::connect(s.port, Duration::from_secs(2))?;
                    let replicas = c.cmd(&["SENTINEL", "REPLICAS", MASTER_NAME])?;
                    let others = c.cmd(&["SENTINEL", "SENTINELS", MASTER_NAME])?;
                    if replicas.as_array().map_or(0, <[Resp]>::len) < 1
                        || others.as_array().map_or(0, <[Resp]>::len) < 2
                    {
                        return Ok(None);
                    }
                }
                Ok(Some(()))
            },
        )?;
        Ok(set)
    }

    /// The master as started.
    pub fn master(&mut self) -> &mut RedisServer {
        &mut self.master
    }

    /// The replica as started.
    pub fn replica(&mut self) -> &mut RedisServer {
        &mut self.replica
    }

    /// The sentinels' ports.
    pub fn sentinel_ports(&self) -> Vec<u16> {
        self.sentinels.iter().map(|s| s.port).collect()
    }

    /// `["redis://127.0.0.1:P", ...]`, as a config's `sentinel.urls` takes them.
    pub fn urls(&self) -> Vec<String> {
        self.sentinels
            .iter()
            .map(|s| format!("redis://127.0.0.1:{}", s.port))
            .collect()
    }

    /// The `sentinel` object of a config.
    pub fn sentinel_json(&self) -> String {
        let urls: Vec<String> = self.urls().iter().map(|u| format!("{u:?}")).collect();
        format!(
            r#"{{ "master_name": "{MASTER_NAME}", "urls": [{}] }}"#,
            urls.join(", ")
        )
    }

    /// The address for the store crate's clients.
    pub fn addr(&self) -> am_store::RedisAddr {
        let mut a = am_store::RedisAddr::new("127.0.0.1", 0);
        a.sentinel = Some(am_store::SentinelAddr {
            master_name: MASTER_NAME.into(),
            nodes: self
                .sentinels
                .iter()
                .map(|s| am_store::NodeAddr::new("127.0.0.1", s.port))
                .collect(),
        });
        a
    }

    /// The master's port as the first sentinel answers it.
    pub fn master_port(&self) -> Result<u16> {
        let s = self.sentinels.first().context("no sentinels")?;
        let reply = RespClient::connect(s.port, Duration::from_secs(2))?.cmd(&[
            "SENTINEL",
            "GET-MASTER-ADDR-BY-NAME",
            MASTER_NAME,
        ])?;
        let parts = reply
            .as_array()
            .with_context(|| format!("GET-MASTER-ADDR-BY-NAME answered {reply:?}"))?;
        let port = parts
            .get(1)
            .and_then(Resp::as_int)
            .with_context(|| format!("GET-MASTER-ADDR-BY-NAME answered {reply:?}"))?;
        u16::try_from(port).context("port out of range")
    }

    /// Kills the master (SIGKILL) and waits until the sentinels have promoted the replica
    /// and it accepts writes.
    pub fn kill_master_and_wait_failover(&mut self) -> Result<Duration> {
        let started = std::time::Instant::now();
        self.master.kill_hard()?;
        let replica_port = self.replica.port();
        wait_until(
            "the sentinels to promote the replica",
            FAILOVER_TIMEOUT,
            || Ok((self.master_port()? == replica_port).then_some(())),
        )?;
        wait_until(
            "the promoted replica to take writes",
            FAILOVER_TIMEOUT,
            || {
                let info = parse_info(
                    &self
                        .replica
                        .cmd(&["INFO", "replication"])?
                        .as_text()
                        .unwrap_or_default(),
                );
                Ok((info.get("role").map(String::as_str) == Some("master")).then_some(()))
            },
        )?;
        Ok(started.elapsed())
    }

    /// The tail of every process's logs, for failure messages.
    pub fn logs(&self) -> String {
        let mut out = vec![self.master.logs(), self.replica.logs()];
        out.extend(
            self.sentinels
                .iter()
                .map(|s| format!("{}\n{}", s.process.describe(), s.process.logs())),
        );
        out.join("\n")
    }
}

impl SentinelSet {
    /// Fails unless `port` is the current master's.
    pub fn expect_master(&self, port: u16) -> Result<()> {
        let now = self.master_port()?;
        if now != port {
            bail!("the sentinels name port {now} as the master, not {port}");
        }
        Ok(())
    }
}

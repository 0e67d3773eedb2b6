//! [`RedisCluster`]: a real Redis Cluster — `n` `redis-server --cluster-enabled yes` masters
//! on free ports of 127.0.0.1, each in its own temporary directory, joined by
//! `redis-cli --cluster create` — stopped by PID when dropped.

use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::redis::RedisServer;
use crate::resp::{Resp, parse_info};
use crate::sys::find_binary;
use crate::wait::wait_until;

/// How long the cluster may take to agree on its slots after `--cluster create` or a restart.
pub const CLUSTER_READY_TIMEOUT: Duration = Duration::from_secs(60);

/// A running Redis Cluster of masters (no replicas).
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts `n` (at least 3) masters and makes them a cluster with the 16384 slots split in
    /// equal ranges, as `redis-cli --cluster create` does; waits until every node says
    /// `cluster_state:ok`.
    pub fn start(n: usize) -> Result<Self> {
        Self::start_with_args(n, &[])
    }

    /// Like [`start`](Self::start), with `extra` arguments for every node (for example
    /// `["--appendonly", "yes"]`, so that a restarted node keeps its data).
    pub fn start_with_args(n: usize, extra: &[&str]) -> Result<Self> {
        if n < 3 {
            bail!("a Redis Cluster needs at least 3 masters, not {n}");
        }
        let mut args = vec![
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            "--cluster-node-timeout",
            "3000",
        ];
        args.extend_from_slice(extra);
        let nodes = (0..n)
            .map(|i| {
                RedisServer::start_with_args(&args)
                    .with_context(|| format!("starting cluster node {}", i + 1))
            })
            .collect::<Result<Vec<_>>>()?;
        let cli = find_binary("redis-cli", "AM_TESTS_REDIS_CLI")?;
        let mut create = std::process::Command::new(&cli);
        create.args(["--cluster", "create"]);
        for node in &nodes {
            create.arg(format!("127.0.0.1:{}", node.port()));
        }
        create.args(["--cluster-replicas", "0", "--cluster-yes"]);
        let out = create
            .output()
            .context("running redis-cli --cluster create")?;
        if !out.status.success() {
            bail!(
                "redis-cli --cluster create failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let cluster = RedisCluster { nodes };
        cluster.wait_ok(CLUSTER_READY_TIMEOUT)?;
        Ok(cluster)
    }

    /// Waits until every running node reports `cluster_state:ok` and knows all the nodes.
    pub fn wait_ok(&self, within: Duration) -> Result<()> {
        let n = self.nodes.len().to_string();
        wait_until(
            "the Redis Cluster to report cluster_state:ok",
            within,
            || {
                for node in &self.nodes {
                    let Ok(info) = node.cmd(&["CLUSTER", "INFO"]) else {
                        return Ok(None);
                    };
                    let info = parse_info(&info.as_text().unwrap_or_default());
                    if info.get("cluster_state").map(String::as_str) != Some("ok")
                        || info.get("cluster_known_nodes") != Some(&n)
                        || info.get("cluster_slots_ok").map(String::as_str) != Some("16384")
                    {
                        return Ok(None);
                    }
                }
                Ok(Some(()))
            },
        )
    }

    /// The cluster's address for the store crate: every node as a starting point.
    pub fn addr(&self) -> am_store::RedisAddr {
        am_store::RedisAddr::cluster_of(
            self.nodes
                .iter()
                .map(|n| ("127.0.0.1".to_string(), n.port())),
        )
    }

    /// `["redis://127.0.0.1:P1", ...]`, as a config's `cluster` field takes them.
    pub fn urls(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|n| format!("redis://127.0.0.1:{}", n.port()))
            .collect()
    }

    /// The nodes.
    pub fn nodes(&self) -> &[RedisServer] {
        &self.nodes
    }

    /// One node, to stop, restart or inspect it.
    pub fn node(&mut self, i: usize) -> Result<&mut RedisServer> {
        let n = self.nodes.len();
        self.nodes
            .get_mut(i)
            .with_context(|| format!("the cluster has {n} nodes, not {}", i + 1))
    }

    /// Every key matching `pattern` on any node (`KEYS` on each: fine for tests), sorted.
    pub fn keys(&self, pattern: &str) -> Result<Vec<String>> {
        let mut all = Vec::new();
        for node in &self.nodes {
            all.extend(node.keys(pattern)?);
        }
        all.sort();
        Ok(all)
    }

    /// Which node holds `key`'s slot (an index into [`nodes`](Self::nodes)), from
    /// `CLUSTER SLOTS`.
    pub fn owner_of(&self, key: &str) -> Result<usize> {
        let node = self.nodes.first().context("no nodes")?;
        let slot = node
            .cmd(&["CLUSTER", "KEYSLOT", key])?
            .as_int()
            .context("CLUSTER KEYSLOT answered no number")?;
        let slots = node.cmd(&["CLUSTER", "SLOTS"])?;
        for range in slots
            .as_array()
            .context("CLUSTER SLOTS answered no array")?
        {
            let Some(parts) = range.as_array() else {
                continue;
            };
            let (Some(lo), Some(hi), Some(Resp::Array(master))) =
                (parts[0].as_int(), parts[1].as_int(), parts.get(2))
            else {
                continue;
            };
            if (lo..=hi).contains(&slot)
                && let Some(port) = master.get(1).and_then(Resp::as_int)
            {
                return self
                    .nodes
                    .iter()
                    .position(|n| i64::from(n.port()) == port)
                    .with_context(|| format!("slot {slot} is held by unknown port {port}"));
            }
        }
        bail!("no node holds slot {slot} of {key:?}")
    }

    /// The tail of every node's logs, for failure messages.
    pub fn logs(&self) -> String {
        self.nodes
            .iter()
            .map(RedisServer::logs)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

//! Window reads on a Redis Cluster over the store's own connections ([`BulkPool`] per node):
//! the shards' `MGET` pipelines grouped by the node serving their slot, one pipeline per node,
//! all nodes at once, the replies read in place.
//!
//! The slot map is read with `CLUSTER SLOTS` (through the crate) when first needed. Any
//! surprise — a node that does not answer, a redirection (`MOVED`, `ASK`) during resharding, a
//! cluster that is down — drops the map and leaves that read to the crate, which follows the
//! cluster's changes itself; the next read asks for the map again.

use std::sync::{Arc, Mutex};

use futures_util::future::join_all;
use tokio_rustls::TlsConnector;

use super::bulk::BulkPool;
use super::dial::Dialer;
use super::open::Options;
use super::{Conn, Pipe};
use crate::Error;
use crate::addr::RedisAddr;
use crate::resp::Value;

/// Reads on the nodes of one cluster (see the module docs).
pub(crate) struct ClusterReads {
    addr: RedisAddr,
    opts: Options,
    tls: Option<TlsConnector>,
    map: Mutex<Option<Arc<SlotMap>>>,
}

impl std::fmt::Debug for ClusterReads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterReads")
            .field("addr", &self.addr.to_string())
            .finish()
    }
}

/// Which node serves which slots, and a pool of connections to each.
struct SlotMap {
    /// (first slot, last slot, node), sorted.
    ranges: Vec<(u16, u16, usize)>,
    nodes: Vec<BulkPool>,
}

impl SlotMap {
    fn node_of(&self, slot: u16) -> Option<usize> {
        let i = self.ranges.partition_point(|(_, last, _)| *last < slot);
        self.ranges
            .get(i)
            .filter(|(first, _, _)| *first <= slot)
            .map(|(_, _, node)| *node)
    }
}

/// The replies of several pipelines sent to several nodes.
#[derive(Debug)]
pub(crate) struct PipeReplies {
    /// Each node's replies.
    nodes: Vec<Replies>,
    /// Where each pipeline's first reply is: (node, reply).
    at: Vec<(usize, usize)>,
}

impl PipeReplies {
    /// The bytes of the `k`-th reply of pipeline `p`.
    pub(crate) fn get(&self, p: usize, k: usize) -> Option<&[u8]> {
        let (node, first) = *self.at.get(p)?;
        self.nodes.get(node)?.get(first + k)
    }
}

/// The replies of one pipeline, their bytes back to back.
#[derive(Debug, Default)]
struct Replies {
    bytes: Vec<u8>,
    /// Where each reply ends in `bytes`.
    ends: Vec<usize>,
}

impl Replies {
    /// The bytes of the `k`-th reply.
    fn get(&self, k: usize) -> Option<&[u8]> {
        let start = if k == 0 { 0 } else { *self.ends.get(k - 1)? };
        self.bytes.get(start..*self.ends.get(k)?)
    }
}

impl ClusterReads {
    /// Reads for the cluster `addr` names.
    pub(crate) fn new(addr: &RedisAddr, opts: Options) -> Result<ClusterReads, Error> {
        Ok(ClusterReads {
            addr: addr.clone(),
            opts,
            tls: Dialer::tls_of(addr)?,
            map: Mutex::new(None),
        })
    }

    /// Sends each of `pipes` to the node serving its slot and returns their replies; `None`
    /// when the cluster surprised us (see the module docs).
    pub(crate) async fn read(&self, conn: &Conn, pipes: &[&Pipe]) -> Option<PipeReplies> {
        let map = self.map(conn).await?;
        // Per node: which pipes, and their commands back to back.
        let mut per_node: Vec<(Vec<usize>, Vec<u8>, usize)> =
            (0..map.nodes.len()).map(|_| Default::default()).collect();
        for (i, pipe) in pipes.iter().enumerate() {
            let node = pipe.slot.and_then(|s| map.node_of(s));
            let Some((which, bytes, n)) = node.and_then(|n| per_node.get_mut(n)) else {
                return self.forget("a slot no node serves");
            };
            which.push(i);
            bytes.extend_from_slice(&pipe.pipeline.get_packed_pipeline());
            *n += pipe.len();
        }
        let sends = per_node
            .iter()
            .zip(&map.nodes)
            .filter(|((which, _, _), _)| !which.is_empty())
            .map(|((which, bytes, n), pool)| async move {
                let mut out = Replies::default();
                let mut refused = false;
                pool.pipeline(bytes, *n, |_, reply| {
                    refused |= reply.first() == Some(&b'-');
                    out.bytes.extend_from_slice(reply);
                    out.ends.push(out.bytes.len());
                    Ok(())
                })
                .await
                .ok()
                .filter(|()| !refused)
                .map(|()| (which, out))
            });
        let mut out = PipeReplies {
            nodes: Vec::new(),
            at: vec![(0, 0); pipes.len()],
        };
        for done in join_all(sends).await {
            let Some((which, replies)) = done else {
                return self.forget("a node refused or failed");
            };
            // Where each of the node's pipes starts in its replies.
            let mut first = 0usize;
            for i in which {
                if let Some(at) = out.at.get_mut(*i) {
                    *at = (out.nodes.len(), first);
                }
                first += pipes.get(*i).map_or(0, |p| p.len());
            }
            out.nodes.push(replies);
        }
        Some(out)
    }

    fn forget<T>(&self, why: &str) -> Option<T> {
        tracing::debug!(redis = %self.addr, why, "cluster read left to the crate; slot map dropped");
        if let Ok(mut m) = self.map.lock() {
            *m = None;
        }
        None
    }

    async fn map(&self, conn: &Conn) -> Option<Arc<SlotMap>> {
        if let Some(m) = self.map.lock().ok()?.as_ref() {
            return Some(m.clone());
        }
        let reply = conn.clone().cmd(&[b"CLUSTER", b"SLOTS"]).await.ok()?;
        let map = Arc::new(self.parse_slots(reply)?);
        *self.map.lock().ok()? = Some(map.clone());
        Some(map)
    }

    /// `CLUSTER SLOTS`: `[[first, last, [host, port, id, ...], replicas...], ...]`.
    fn parse_slots(&self, reply: Value) -> Option<SlotMap> {
        let Value::Array(Some(entries)) = reply else {
            return None;
        };
        let mut nodes: Vec<(String, u16)> = Vec::new();
        let mut ranges = Vec::new();
        for entry in entries {
            let Value::Array(Some(parts)) = entry else {
                return None;
            };
            let (Some(Value::Int(first)), Some(Value::Int(last)), Some(Value::Array(Some(m)))) =
                (parts.first(), parts.get(1), parts.get(2))
            else {
                return None;
            };
            let (Some(Value::Bulk(Some(host))), Some(Value::Int(port))) = (m.first(), m.get(1))
            else {
                return None;
            };
            let node = (
                String::from_utf8_lossy(host).into_owned(),
                u16::try_from(*port).ok()?,
            );
            let i = match nodes.iter().position(|n| *n == node) {
                Some(i) => i,
                None => {
                    nodes.push(node);
                    nodes.len() - 1
                }
            };
            ranges.push((u16::try_from(*first).ok()?, u16::try_from(*last).ok()?, i));
        }
        ranges.sort_unstable();
        let nodes = nodes
            .into_iter()
            .map(|(host, port)| {
                BulkPool::new(Dialer::for_node(
                    &self.addr,
                    &host,
                    port,
                    self.opts,
                    self.tls.clone(),
                ))
            })
            .collect();
        Some(SlotMap { ranges, nodes })
    }
}

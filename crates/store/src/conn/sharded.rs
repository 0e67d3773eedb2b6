//! [`Sharded`]: commands on series of many shards, sent as one pipeline to one server, or as
//! one pipeline per shard, all at once, to a cluster.

use futures_util::future::try_join_all;

use super::wire::{self, BulkItems};
use super::{Conn, Pipe, Reads};
use crate::Error;
use crate::resp::Value;

/// Commands grouped for sending; replies come back in the order the commands were added.
#[derive(Debug)]
pub struct Sharded {
    cluster: bool,
    /// (shard, its pipeline); one entry when not on a cluster.
    pipes: Vec<(u16, Pipe)>,
    /// Where each shard's pipeline is in `pipes`.
    slot_of: Vec<u32>,
    /// (pipeline, position in it) of each command, in the order added.
    order: Vec<(u32, u32)>,
}

impl Sharded {
    /// Groups for `conn` (by shard on a cluster, not at all otherwise).
    pub fn new(conn: &Conn) -> Sharded {
        Sharded {
            cluster: conn.is_cluster(),
            pipes: Vec::new(),
            slot_of: vec![u32::MAX; usize::from(crate::keys::SHARDS)],
            order: Vec::new(),
        }
    }

    /// Adds a command whose keys are in `shard`.
    pub fn add(&mut self, shard: u16, cmd: redis::Cmd) {
        let group = if self.cluster { shard } else { 0 };
        let at = &mut self.slot_of[usize::from(group % crate::keys::SHARDS)];
        if *at == u32::MAX {
            *at = self.pipes.len() as u32;
            let pipe = if self.cluster {
                Pipe::for_shard(group)
            } else {
                Pipe::new()
            };
            self.pipes.push((group, pipe));
        }
        let (_, pipe) = &mut self.pipes[*at as usize];
        self.order.push((*at, pipe.len() as u32));
        pipe.add(cmd);
    }

    /// Commands added.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether none was added.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Sends every pipeline (at once, to each shard's node) and returns the replies in the
    /// order the commands were added.
    pub async fn send(self, conn: &Conn) -> Result<Vec<Value>, Error> {
        let sends = self.pipes.iter().map(|(_, pipe)| {
            let mut conn = conn.clone();
            async move { conn.send(pipe).await }
        });
        let mut replies: Vec<std::vec::IntoIter<Value>> = try_join_all(sends)
            .await?
            .into_iter()
            .map(Vec::into_iter)
            .collect();
        // Each pipeline's replies are taken in order, so following `order` needs no index.
        let mut out = Vec::with_capacity(self.order.len());
        for (p, _) in &self.order {
            let v = replies
                .get_mut(*p as usize)
                .and_then(Iterator::next)
                .ok_or_else(|| Error::Protocol("a pipeline's reply is missing".into()))?;
            out.push(v);
        }
        Ok(out)
    }

    /// Sends every pipeline, like [`send`](Self::send), for commands whose replies are arrays
    /// of bulk strings (`MGET`): `each(k, items)` gets the elements of the `k`-th command's
    /// reply, in the order added. They are read in place on the store's own connections (see
    /// `conn/bulk.rs`, `conn/slots.rs`), else (under Sentinel, or when a cluster is changing)
    /// from the crate's replies. The first error of
    /// `each` or of a reply (a refused command is [`Error::Server`]) is returned.
    pub async fn send_each(
        self,
        conn: &Conn,
        mut each: impl FnMut(usize, Items<'_>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        match (&conn.reads, self.pipes.as_slice()) {
            (Some(Reads::Single(pool)), [(_, pipe)]) => {
                let packed = pipe.pipeline.get_packed_pipeline();
                return pool
                    .pipeline(&packed, pipe.len(), |k, reply| {
                        each(k, Items::Wire(wire::bulk_items(reply)?))
                    })
                    .await;
            }
            (Some(Reads::Cluster(nodes)), pipes) => {
                let pipes: Vec<&Pipe> = pipes.iter().map(|(_, p)| p).collect();
                if let Some(replies) = nodes.read(conn, &pipes).await {
                    for (k, (p, pos)) in self.order.iter().enumerate() {
                        let reply = replies
                            .get(*p as usize, *pos as usize)
                            .ok_or_else(|| Error::Protocol("a reply is missing".into()))?;
                        each(k, Items::Wire(wire::bulk_items(reply)?))?;
                    }
                    return Ok(());
                }
            }
            _ => {}
        }
        for (k, reply) in self.send(conn).await?.iter().enumerate() {
            let items = match reply {
                Value::Array(Some(items)) => Items::Values(items.iter()),
                Value::Array(None) => Items::Values([].iter()),
                Value::Error(e) => return Err(Error::Server(e.clone())),
                other => {
                    return Err(Error::Protocol(format!(
                        "expected an array of bulk strings, got {other:?}"
                    )));
                }
            };
            each(k, items)?;
        }
        Ok(())
    }
}

/// The elements of an array-of-bulk-strings reply (see [`Sharded::send_each`]): each `None`
/// for a null bulk string, or an error for an element of another kind.
#[derive(Debug)]
pub enum Items<'a> {
    /// Read in place from the reply's bytes.
    Wire(BulkItems<'a>),
    /// From the crate's reply.
    Values(std::slice::Iter<'a, Value>),
}

impl<'a> Iterator for Items<'a> {
    type Item = Result<Option<&'a [u8]>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Items::Wire(w) => w.next(),
            Items::Values(v) => v.next().map(|item| match item {
                Value::Bulk(b) => Ok(b.as_deref()),
                other => Err(Error::Protocol(format!(
                    "expected a bulk string, got {other:?}"
                ))),
            }),
        }
    }
}

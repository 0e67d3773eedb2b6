//! [`Conn`]: a connection to Redis over the `redis` crate — one server, the master Sentinel
//! names, or a cluster — and [`Pipe`], a pipeline of commands bound for one shard.
//!
//! The crate does the connection handling (TLS, `AUTH` with an ACL user, `SELECT`, Sentinel's
//! master, the cluster's slot map, its redirections and reconnections); this module gives the
//! store's users one shape for all of them. A `Conn` is cheap to clone: clones share the
//! connection (the crate multiplexes them), so many pipelines can be in flight at once.

mod bulk;
mod dial;
mod open;
mod sharded;
mod slots;
mod wire;

pub use open::Options;
pub use sharded::{Items, Sharded};
pub use wire::BulkItems;

use std::sync::Arc;
use std::time::Duration;

use redis::cluster_routing::{Route, SingleNodeRoutingInfo, SlotAddr};

use crate::Error;
use crate::addr::RedisAddr;
use crate::keys;
use crate::resp::{Value, error_text};

/// The connection itself.
#[derive(Clone)]
enum Inner {
    /// One server, or the master Sentinel named at connection time.
    Single(redis::aio::MultiplexedConnection),
    /// A Redis Cluster.
    Cluster(redis::cluster_async::ClusterConnection),
}

/// A connection to Redis (see the module docs).
#[derive(Clone)]
pub struct Conn {
    inner: Inner,
    addr: RedisAddr,
    /// The store's own connections for window reads (see [`bulk`]): to the one server, or to
    /// each node of a cluster ([`slots`]); `None` under Sentinel.
    reads: Option<Reads>,
}

/// Where a [`Conn`]'s window reads go.
#[derive(Debug, Clone)]
enum Reads {
    /// To the one server.
    Single(Arc<bulk::BulkPool>),
    /// To the cluster's nodes.
    Cluster(Arc<slots::ClusterReads>),
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("addr", &self.addr.to_string())
            .field("cluster", &self.is_cluster())
            .finish()
    }
}

/// A pipeline of commands for one shard of the layout (see [`keys`]): on a cluster it goes
/// to the node holding the shard's slot in one round trip; on one server, shards do not
/// matter and any pipeline goes as it is.
#[derive(Debug, Clone, Default)]
pub struct Pipe {
    pipeline: redis::Pipeline,
    slot: Option<u16>,
}

impl Pipe {
    /// A pipeline whose commands' keys all lie in `shard`.
    pub fn for_shard(shard: u16) -> Pipe {
        Pipe {
            pipeline: redis::Pipeline::new(),
            slot: Some(keys::slot(keys::shard_tag(shard).as_bytes())),
        }
    }

    /// A pipeline whose commands' keys all lie in the slot of `key`.
    pub fn for_key(key: &[u8]) -> Pipe {
        Pipe {
            pipeline: redis::Pipeline::new(),
            slot: Some(keys::slot(key)),
        }
    }

    /// A pipeline routed by its first key (on a cluster every key must share its slot).
    pub fn new() -> Pipe {
        Pipe::default()
    }

    /// Adds a command.
    pub fn add(&mut self, cmd: redis::Cmd) -> &mut Pipe {
        self.pipeline.add_command(cmd);
        self
    }

    /// Adds a command of `args`.
    pub fn args(&mut self, args: &[&[u8]]) -> &mut Pipe {
        self.add(command(args))
    }

    /// Commands in it.
    pub fn len(&self) -> usize {
        self.pipeline.len()
    }

    /// Whether it holds no command.
    pub fn is_empty(&self) -> bool {
        self.pipeline.is_empty()
    }

    /// Its commands, in order.
    pub fn commands(&self) -> impl Iterator<Item = &redis::Cmd> {
        self.pipeline.cmd_iter()
    }
}

/// A command of `args` (name first).
pub fn command(args: &[&[u8]]) -> redis::Cmd {
    let len = args.iter().map(|a| a.len()).sum();
    let mut cmd = redis::Cmd::with_capacity(args.len(), len);
    for a in args {
        cmd.arg(*a);
    }
    cmd
}

/// The `redis` crate's error as the store's: a refusal by the server keeps its code and
/// message, a timeout is a timeout, the rest is a connection failure.
pub(crate) fn from_redis(e: redis::RedisError) -> Error {
    if e.is_timeout() {
        return Error::Timeout(e.to_string());
    }
    if let Some(code) = e.code()
        && !e.is_io_error()
    {
        return Error::Server(error_text(code, e.detail()));
    }
    match e.kind() {
        redis::ErrorKind::InvalidClientConfig => Error::Config(e.to_string()),
        redis::ErrorKind::Parse | redis::ErrorKind::UnexpectedReturnType => {
            Error::Protocol(e.to_string())
        }
        _ => Error::Connection(e.to_string()),
    }
}

impl Conn {
    /// Connects within `timeout` (replies unbounded: the caller bounds its calls).
    pub async fn connect(addr: &RedisAddr, timeout: Duration) -> Result<Conn, Error> {
        Conn::connect_with(
            addr,
            Options {
                connect_timeout: timeout,
                response_timeout: None,
            },
        )
        .await
    }

    /// Connects with `opts`.
    pub async fn connect_with(addr: &RedisAddr, opts: Options) -> Result<Conn, Error> {
        let inner = tokio::time::timeout(opts.connect_timeout, open::open(addr, &opts))
            .await
            .map_err(|_| {
                Error::Timeout(format!(
                    "connecting to {addr} (more than {} s)",
                    opts.connect_timeout.as_secs_f64()
                ))
            })?
            .map_err(|e| e.context(&format!("connecting to {addr}")))?;
        let reads = match &inner {
            Inner::Single(_) => dial::Dialer::for_addr(addr, opts)?
                .map(|d| Reads::Single(Arc::new(bulk::BulkPool::new(d)))),
            Inner::Cluster(_) => Some(Reads::Cluster(Arc::new(slots::ClusterReads::new(
                addr, opts,
            )?))),
        };
        Ok(Conn {
            inner,
            addr: addr.clone(),
            reads,
        })
    }

    /// The address this connection was made to.
    pub fn addr(&self) -> &RedisAddr {
        &self.addr
    }

    /// Whether it is a cluster connection (pipelines must then stay within one slot).
    pub fn is_cluster(&self) -> bool {
        matches!(self.inner, Inner::Cluster(_))
    }

    /// Sends one command and returns its reply; an error reply is returned as
    /// [`Value::Error`], not raised. On a cluster it goes to the node of its first key,
    /// following redirections.
    pub async fn cmd(&mut self, args: &[&[u8]]) -> Result<Value, Error> {
        self.query(&command(args)).await
    }

    /// [`cmd`](Self::cmd) of a built command.
    pub async fn query(&mut self, cmd: &redis::Cmd) -> Result<Value, Error> {
        let reply = match &mut self.inner {
            Inner::Single(c) => c.send_packed_command(cmd).await,
            Inner::Cluster(c) => redis::aio::ConnectionLike::req_packed_command(c, cmd).await,
        };
        match reply {
            Ok(v) => Ok(Value::from(v)),
            Err(e) => match from_redis(e) {
                Error::Server(msg) => Ok(Value::Error(msg)),
                other => Err(other),
            },
        }
    }

    /// Sends one command and fails if the server answers with an error.
    pub async fn cmd_ok(&mut self, args: &[&[u8]]) -> Result<Value, Error> {
        let v = self.cmd(args).await?;
        if let Some(e) = v.as_error() {
            let name = String::from_utf8_lossy(args.first().copied().unwrap_or_default());
            return Err(Error::Server(format!("{name}: {e}")));
        }
        Ok(v)
    }

    /// Sends a pipeline and returns one reply per command, in order; a command the server
    /// refused has a [`Value::Error`] reply, and the others still count.
    pub async fn send(&mut self, pipe: &Pipe) -> Result<Vec<Value>, Error> {
        let n = pipe.len();
        if n == 0 {
            return Ok(Vec::new());
        }
        let replies = match &mut self.inner {
            Inner::Single(c) => c.send_packed_commands(&pipe.pipeline, 0, n).await,
            Inner::Cluster(c) => match pipe.slot {
                Some(slot) => {
                    c.route_pipeline(
                        pipe.pipeline.clone(),
                        0,
                        n,
                        SingleNodeRoutingInfo::SpecificNode(Route::new(slot, SlotAddr::Master)),
                    )
                    .await
                }
                None => {
                    redis::aio::ConnectionLike::req_packed_commands(c, &pipe.pipeline, 0, n).await
                }
            },
        }
        .map_err(from_redis)?;
        if replies.len() != n {
            return Err(Error::Protocol(format!(
                "{} replies to a pipeline of {n} commands",
                replies.len()
            )));
        }
        Ok(replies.into_iter().map(Value::from).collect())
    }
}

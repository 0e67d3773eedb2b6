//! Bulk reads on connections of the store's own: the runner's window reads (pipelines of
//! `MGET`s whose replies are most of the product's Redis traffic) read in place by [`wire`],
//! on one server or one cluster node ([`super::slots`]), plain or TLS, with its ACL user and
//! database.
//!
//! Everything else — every other command, and every read under Sentinel — goes through the
//! `redis` crate (see [`super`]). This path exists because a benchmark shows it pays (see [`wire`]);
//! it speaks only what a read needs: `AUTH`, `SELECT` and the pipeline it is given.
//!
//! Connections are pooled: a read takes an idle one or opens one, and gives it back when the
//! whole pipeline has been read, so reads of parallel tasks run on parallel connections. A
//! connection that fails is dropped; a read that failed before any reply arrived (an idle
//! connection the server has since closed) is tried once more on a new connection.

use std::sync::Mutex;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::dial::{Dialer, Stream};
use super::wire;
use crate::Error;

/// Idle connections kept per pool (one per task a runner runs at once is plenty).
const MAX_IDLE: usize = 16;
/// Read buffer: grown to the largest reply a pipeline has, reserved in steps of this.
const READ_STEP: usize = 64 * 1024;
/// An idle read buffer larger than this is shrunk back when its connection is returned.
const KEEP_BUFFER: usize = 4 * 1024 * 1024;

/// One connection: its stream and the reply bytes read but not yet consumed.
struct BulkConn {
    stream: Box<dyn Stream>,
    rbuf: BytesMut,
}

/// The pool of bulk-read connections to one server (see the module docs).
pub(crate) struct BulkPool {
    dialer: Dialer,
    idle: Mutex<Vec<BulkConn>>,
}

impl std::fmt::Debug for BulkPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BulkPool")
            .field("addr", &self.dialer.addr().to_string())
            .finish()
    }
}

/// A failure while a pipeline was on a connection: whether any reply had been handed out
/// (after which it cannot be tried again).
struct Broken {
    error: Error,
    delivered: bool,
}

impl BulkPool {
    /// A pool of connections `dialer` opens.
    pub(super) fn new(dialer: Dialer) -> BulkPool {
        BulkPool {
            dialer,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Sends `cmds` (`n` encoded commands) and hands each complete reply's bytes to
    /// `each(k, reply)`, in order, as they arrive. An error `each` returns is returned after
    /// every reply has been read (the connection stays usable).
    pub(crate) async fn pipeline(
        &self,
        cmds: &[u8],
        n: usize,
        mut each: impl FnMut(usize, &[u8]) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let mut retried = false;
        loop {
            let (mut conn, reused) = match self.take() {
                Some(c) => (c, true),
                None => (self.open().await?, false),
            };
            let run = conn.pipeline(cmds, n, &mut each);
            let outcome = match self.dialer.options().response_timeout {
                Some(t) => tokio::time::timeout(t, run).await.unwrap_or_else(|_| {
                    Err(Broken {
                        error: Error::Timeout(format!("reading from {}", self.dialer.addr())),
                        delivered: true,
                    })
                }),
                None => run.await,
            };
            match outcome {
                Ok(result) => {
                    self.give_back(conn);
                    return result;
                }
                // A server that closed an idle connection: once more on a new one.
                Err(b) if reused && !b.delivered && !retried => retried = true,
                Err(b) => return Err(b.error),
            }
        }
    }

    fn take(&self) -> Option<BulkConn> {
        self.idle.lock().ok()?.pop()
    }

    fn give_back(&self, mut conn: BulkConn) {
        if conn.rbuf.capacity() > KEEP_BUFFER {
            conn.rbuf = BytesMut::with_capacity(READ_STEP);
        }
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < MAX_IDLE
        {
            idle.push(conn);
        }
    }

    async fn open(&self) -> Result<BulkConn, Error> {
        Ok(BulkConn {
            stream: self.dialer.dial().await?,
            rbuf: BytesMut::with_capacity(READ_STEP),
        })
    }
}

impl BulkConn {
    /// Writes `cmds` and reads `n` replies, handing each to `each` (see
    /// [`BulkPool::pipeline`]). The outer error is a broken connection; the inner one is the
    /// first error `each` returned.
    async fn pipeline(
        &mut self,
        cmds: &[u8],
        n: usize,
        mut each: impl FnMut(usize, &[u8]) -> Result<(), Error>,
    ) -> Result<Result<(), Error>, Broken> {
        let broken = |error: Error, delivered: bool| Broken { error, delivered };
        self.stream
            .write_all(cmds)
            .await
            .map_err(|e| broken(Error::Connection(format!("writing: {e}")), false))?;
        let mut done = 0usize;
        let mut failed: Option<Error> = None;
        while done < n {
            // Every complete reply buffered, then consume them at once.
            let mut pos = 0usize;
            while done < n {
                let len = wire::reply_len(&self.rbuf, pos).map_err(|e| broken(e, done > 0))?;
                let Some(len) = len else { break };
                let reply = self.rbuf.get(pos..pos + len).unwrap_or_default();
                if failed.is_none()
                    && let Err(e) = each(done, reply)
                {
                    failed = Some(e);
                }
                pos += len;
                done += 1;
            }
            self.rbuf.advance(pos);
            if done == n {
                break;
            }
            self.rbuf.reserve(READ_STEP);
            let read = self
                .stream
                .read_buf(&mut self.rbuf)
                .await
                .map_err(|e| broken(Error::Connection(format!("reading: {e}")), done > 0))?;
            if read == 0 {
                return Err(broken(
                    Error::Connection("reading: the server closed the connection".into()),
                    done > 0,
                ));
            }
        }
        Ok(failed.map_or(Ok(()), Err))
    }
}

//! [`Client`]: one Redis connection for request and reply, made on first use and made again
//! after any failure, each call bounded in time. What the runner's queue, alarms and status
//! commands talk to Redis through.

use std::time::Duration;

use crate::Error;
use crate::conn::Conn;
use crate::resp::{RedisAddr, Value};

/// How long connecting, and one call, may take by default.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// A reconnecting Redis connection.
#[derive(Debug)]
pub struct Client {
    addr: RedisAddr,
    conn: Option<Conn>,
    timeout: Duration,
}

impl Client {
    /// A client of `addr`; it connects on first use.
    pub fn new(addr: RedisAddr) -> Client {
        Client {
            addr,
            conn: None,
            timeout: CALL_TIMEOUT,
        }
    }

    /// The server.
    pub fn addr(&self) -> &RedisAddr {
        &self.addr
    }

    /// Runs `args`, connecting first if needed, within the call timeout plus `extra` (the
    /// block time of a blocking read). An error reply is [`Error::Server`]; any other failure
    /// drops the connection, so the next call starts afresh (and, under Sentinel, asks the
    /// sentinels for the master again).
    pub async fn call(&mut self, args: &[&[u8]], extra: Duration) -> Result<Value, Error> {
        let name = String::from_utf8_lossy(args.first().copied().unwrap_or_default()).to_string();
        let conn = match self.conn.as_mut() {
            Some(conn) => conn,
            None => self
                .conn
                .insert(Conn::connect(&self.addr, self.timeout).await?),
        };
        match tokio::time::timeout(self.timeout + extra, conn.cmd(args)).await {
            Ok(Ok(v)) => match v.as_error() {
                Some(e) => {
                    // A master demoted by a failover refuses writes; the next call must find
                    // the new one.
                    if e.starts_with("READONLY") || e.starts_with("MASTERDOWN") {
                        self.conn = None;
                    }
                    Err(Error::Server(format!("{name}: {e}")))
                }
                None => Ok(v),
            },
            Ok(Err(e)) => {
                self.conn = None;
                Err(e)
            }
            Err(_) => {
                self.conn = None;
                Err(Error::Timeout(format!(
                    "waiting for {name} on {}",
                    self.addr
                )))
            }
        }
    }

    /// Runs a Lua script (`EVAL`) with `keys` and `args`. On a cluster every key must share
    /// one slot (the runner's key families carry one hash tag each).
    pub async fn eval(
        &mut self,
        script: &str,
        keys: &[&str],
        args: &[&[u8]],
    ) -> Result<Value, Error> {
        let n = keys.len().to_string();
        let mut all: Vec<&[u8]> = vec![b"EVAL", script.as_bytes(), n.as_bytes()];
        all.extend(keys.iter().map(|k| k.as_bytes()));
        all.extend_from_slice(args);
        self.call(&all, Duration::ZERO).await
    }
}

//! The sink's connection to Redis: made and proven alive within the timeout, with replies
//! bounded by the same timeout.
//!
//! What the sink promises about a peer that stops answering, whatever carries the bytes (the
//! e2e tests in `tests/tests/collector_hardening.rs` hold it to this):
//! - a connection on which a sent pipeline stays unanswered for `timeout_secs` (Redis frozen,
//!   or not taking the bytes) is dropped, counted (`redis_timeouts_total`) and logged;
//! - a new connection counts only once Redis has answered on it (`PING`), within the same
//!   timeout (under Sentinel, the master is asked of the sentinels each time, so a failover
//!   is followed; on a cluster, the map is read again);
//! - everything unanswered on the dropped connection is sent again, first, on the next one
//!   (`redis_retries_total`), so nothing accepted is lost.
//!
//! The socket carries TCP keepalive and `TCP_USER_TIMEOUT` of about `timeout_secs` (set by
//! `am_store::conn`), so the kernel too gives up on a path that silently drops packets.

use std::time::Duration;

use am_store::conn::Options;
use am_store::resp::Value;
use am_store::{Conn, RedisAddr};

/// Connects (TLS, `AUTH`, `SELECT`, Sentinel's master or the cluster's map) and waits for a
/// `PING` reply, all within `timeout`.
pub(super) async fn connect(addr: &RedisAddr, timeout: Duration) -> Result<Conn, String> {
    let attempt = async {
        let mut conn = Conn::connect_with(
            addr,
            Options {
                connect_timeout: timeout,
                response_timeout: Some(timeout),
            },
        )
        .await
        .map_err(|e| e.to_string())?;
        match conn.cmd(&[b"PING"]).await.map_err(|e| e.to_string())? {
            Value::Error(e) => Err(format!("PING refused: {e}")),
            _ => Ok(conn),
        }
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .map_err(|_| format!("no answer within {} s", timeout.as_secs()))?
}

//! The sink's connection to Redis: made and proven alive within the timeout, and set up so
//! that the kernel, too, gives up on a peer that stops acknowledging.
//!
//! What the sink promises about a peer that stops answering, whatever client carries the
//! bytes (the e2e tests in `tests/tests/collector_hardening.rs` hold it to this):
//! - a connection on which sent commands stay unanswered, or written bytes stay untaken, for
//!   `timeout_secs` is dropped, counted (`redis_timeouts_total`) and logged, also while a
//!   write is blocked;
//! - a new connection counts only once Redis has answered on it (`PING`), within the same
//!   timeout;
//! - everything unanswered on the dropped connection is sent again, first, on the next one
//!   (`redis_retries_total`), so nothing accepted is lost.

use std::time::Duration;

use am_store::resp::Value;
use am_store::{Conn, RedisAddr};
use bytes::BytesMut;
use socket2::{SockRef, TcpKeepalive};
use tokio::net::TcpStream;

/// Connects, authenticates, selects the database and waits for a `PING` reply, all within
/// `timeout`; then sets the socket's keepalive and user timeout (see [`harden`]). Returns the
/// socket and any reply bytes already read.
pub(super) async fn connect(
    addr: &RedisAddr,
    timeout: Duration,
) -> Result<(TcpStream, BytesMut), String> {
    let attempt = async {
        let mut conn = Conn::connect(addr, timeout)
            .await
            .map_err(|e| e.to_string())?;
        match conn.cmd(&[b"PING"]).await.map_err(|e| e.to_string())? {
            Value::Error(e) => Err(format!("PING refused: {e}")),
            _ => Ok(conn),
        }
    };
    let conn = tokio::time::timeout(timeout, attempt)
        .await
        .map_err(|_| format!("no answer within {} s", timeout.as_secs()))??;
    let (stream, rbuf) = conn.into_parts();
    if let Err(e) = harden(&stream, timeout) {
        tracing::warn!(error = %e, "cannot set TCP keepalive and user timeout on the Redis connection");
    }
    Ok((stream, rbuf))
}

/// TCP keepalive (probes after `timeout / 2` idle, every `timeout / 6`, three of them) and
/// `TCP_USER_TIMEOUT` = `timeout`: on a path that silently drops packets the kernel fails
/// the socket within about `timeout` instead of retransmitting for a quarter of an hour.
pub fn harden(stream: &TcpStream, timeout: Duration) -> std::io::Result<()> {
    let sock = SockRef::from(stream);
    let second = Duration::from_secs(1);
    let keepalive = TcpKeepalive::new()
        .with_time((timeout / 2).max(second))
        .with_interval((timeout / 6).max(second))
        .with_retries(3);
    sock.set_tcp_keepalive(&keepalive)?;
    sock.set_tcp_user_timeout(Some(timeout))
}

/// Drops a connection presumed dead with a reset rather than a close: queued bytes are
/// discarded instead of reaching a Redis that wakes up later, and no FIN is waited for.
pub(super) fn abort(stream: &TcpStream) {
    let _ = SockRef::from(stream).set_linger(Some(Duration::ZERO));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hardened_sockets_carry_keepalive_and_user_timeout() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (client, _server) = tokio::join!(TcpStream::connect(addr), listener.accept());
        let client = client.unwrap();
        harden(&client, Duration::from_secs(30)).unwrap();
        let sock = SockRef::from(&client);
        assert!(sock.keepalive().unwrap());
        assert_eq!(sock.tcp_keepalive_time().unwrap(), Duration::from_secs(15));
        assert_eq!(
            sock.tcp_keepalive_interval().unwrap(),
            Duration::from_secs(5)
        );
        assert_eq!(sock.tcp_keepalive_retries().unwrap(), 3);
        assert_eq!(
            sock.tcp_user_timeout().unwrap(),
            Some(Duration::from_secs(30))
        );
    }
}

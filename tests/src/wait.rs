//! Polling with a deadline: nothing in the harness waits without one.

use std::fmt::Write as _;
use std::net::{SocketAddr, TcpStream};
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::ports::LOOPBACK;

/// How often the polling helpers look again.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_millis(25);

/// Calls `check` every few milliseconds until it returns `Ok(Some(value))`, and returns that
/// value; fails when `timeout` has passed, naming `what` and the last error `check` returned.
///
/// An `Err` from `check` counts as "not yet" (a daemon still starting up refuses connections, a
/// file is still half written); the last one is kept for the timeout message.
pub fn wait_until<T>(
    what: &str,
    timeout: Duration,
    mut check: impl FnMut() -> Result<Option<T>>,
) -> Result<T> {
    let deadline = Instant::now() + timeout;
    let mut last_error = None;
    loop {
        match check() {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => {}
            Err(err) => last_error = Some(err),
        }
        if Instant::now() >= deadline {
            let mut msg = format!("timed out after {timeout:?} waiting for {what}");
            if let Some(err) = last_error {
                let _ = write!(msg, "; last error: {err:#}");
            }
            bail!(msg);
        }
        sleep(POLL_INTERVAL);
    }
}

/// Waits until something accepts TCP connections on `127.0.0.1:port`, for at most `timeout`.
pub fn wait_for_tcp(port: u16, timeout: Duration) -> Result<()> {
    wait_until(&format!("a listener on 127.0.0.1:{port}"), timeout, || {
        try_connect(port).map(|_| Some(()))
    })
}

pub(crate) fn try_connect(port: u16) -> Result<TcpStream> {
    let addr = SocketAddr::from((LOOPBACK, port));
    TcpStream::connect_timeout(&addr, Duration::from_millis(250))
        .with_context(|| format!("connecting to {addr}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_until_times_out_with_last_error() {
        let err = wait_until(
            "nothing",
            Duration::from_millis(100),
            || -> Result<Option<()>> { bail!("still broken") },
        )
        .unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("timed out"), "{msg}");
        assert!(msg.contains("still broken"), "{msg}");
    }

    #[test]
    fn wait_for_tcp_sees_a_listener_and_times_out_without_one() {
        let listener = std::net::TcpListener::bind((LOOPBACK, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        wait_for_tcp(port, Duration::from_secs(2)).unwrap();
        drop(listener);
        let started = Instant::now();
        let err = wait_for_tcp(port, Duration::from_millis(300)).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(3));
        assert!(format!("{err:#}").contains(&port.to_string()));
    }
}

//! Free TCP ports on 127.0.0.1 for the daemons a test starts.
//!
//! A port is found by binding `127.0.0.1:0`, reading the port the kernel chose and closing the
//! listener again. Between that close and the daemon's own bind another process could take the
//! port, so the daemon guards in this crate retry their start with fresh ports when a bind fails.
//!
//! Within one test process no port is ever handed out twice, so daemons started by tests that
//! run in parallel threads never get the same port from this module.

use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::{Mutex, OnceLock};

use anyhow::{Context, Result, bail};

/// The only address the harness binds daemons to and connects to.
pub const LOOPBACK: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// How many times [`free_port`] asks the kernel before giving up on finding an unused port.
const MAX_TRIES: usize = 64;

/// Ports handed out by this process so far: never handed out again.
fn handed_out() -> &'static Mutex<HashSet<u16>> {
    static PORTS: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    PORTS.get_or_init(|| Mutex::new(HashSet::new()))
}

/// A listener on a port of 127.0.0.1 the kernel chose, and that port; `what` names the
/// listener in errors.
pub fn bind_any(what: &str) -> Result<(TcpListener, u16)> {
    let listener = TcpListener::bind(SocketAddr::from((LOOPBACK, 0)))
        .with_context(|| format!("binding {what} on 127.0.0.1:0"))?;
    let port = listener
        .local_addr()
        .with_context(|| format!("reading the address of {what}"))?
        .port();
    Ok((listener, port))
}

/// Returns a TCP port on 127.0.0.1 that was free a moment ago and that this process has not
/// handed out before.
pub fn free_port() -> Result<u16> {
    for _ in 0..MAX_TRIES {
        let (listener, port) = bind_any("a listener to find a free TCP port")?;
        drop(listener);
        // A poisoned lock only means another test panicked while holding it; the set is
        // still usable.
        let mut seen = handed_out()
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if seen.insert(port) {
            return Ok(port);
        }
    }
    bail!("no unused TCP port on 127.0.0.1 after {MAX_TRIES} tries of binding port 0")
}

/// Returns `n` distinct free TCP ports on 127.0.0.1 (see [`free_port`]).
pub fn free_ports(n: usize) -> Result<Vec<u16>> {
    (0..n)
        .map(|i| free_port().with_context(|| format!("finding free port {} of {n}", i + 1)))
        .collect()
}

/// Returns true when `host` names the loopback interface (`127.0.0.0/8`, `::1` or
/// `localhost`): the only hosts the harness lets a daemon talk to.
pub fn is_loopback_host(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

/// The text the daemons this harness runs log (or print) when their listening port is taken.
const PORT_TAKEN: &str = "Address already in use";

/// How many times [`retry_on_port_clash`] tries.
const PORT_TRIES: usize = 3;

/// Runs `start` (which picks fresh ports each time) up to three times while it fails because a
/// port it picked was taken in the meantime (its error mentions "Address already in use");
/// returns the first success, or the first error that is not such a clash, or the last error.
pub fn retry_on_port_clash<T>(mut start: impl FnMut() -> Result<T>) -> Result<T> {
    let mut attempt = 1;
    loop {
        match start() {
            Ok(value) => return Ok(value),
            Err(err) if attempt < PORT_TRIES && format!("{err:#}").contains(PORT_TAKEN) => {
                attempt += 1;
            }
            Err(err) => return Err(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_distinct_and_bindable() {
        let ports = free_ports(20).unwrap();
        let unique: HashSet<u16> = ports.iter().copied().collect();
        assert_eq!(unique.len(), ports.len(), "duplicate ports in {ports:?}");
        for port in ports {
            assert_ne!(port, 0);
            // Free a moment ago: binding it again works (barring a race with another process).
            TcpListener::bind((LOOPBACK, port)).unwrap();
        }
    }

    #[test]
    fn retries_only_port_clashes() {
        let mut calls = 0;
        let value = retry_on_port_clash(|| {
            calls += 1;
            if calls < 3 {
                bail!("bind: Address already in use")
            }
            Ok(calls)
        })
        .unwrap();
        assert_eq!(value, 3);

        let mut calls = 0;
        let err = retry_on_port_clash(|| -> Result<()> {
            calls += 1;
            bail!("something else")
        })
        .unwrap_err();
        assert_eq!(calls, 1);
        assert_eq!(err.to_string(), "something else");
    }

    #[test]
    fn loopback_hosts() {
        for host in [
            "127.0.0.1",
            "127.1.2.3",
            "localhost",
            "LOCALHOST",
            "::1",
            "[::1]",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in ["10.0.0.1", "192.168.1.1", "example.invalid", "0.0.0.0", ""] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }
}

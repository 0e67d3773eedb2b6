//! Listener configuration: anna-molly's single `{"CarbonAsyncTcpSpout": {...}}`, several types
//! in one object, or an array of such objects (for two listeners of one type).

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

/// The listener types, as their config keys spell them.
pub const LISTENER_TYPES: &[&str] = &[
    "CarbonAsyncTcpSpout",
    "CarbonPlaintextTcpSpout",
    "CarbonPlaintextUdpSpout",
];

/// One configured listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listener {
    /// Carbon's pickle protocol over TCP (what carbon-relay sends), as anna-molly's spout.
    CarbonAsyncTcpSpout(PickleSpoutConfig),
    /// Carbon's plaintext protocol over TCP (what carbon-c-relay sends).
    CarbonPlaintextTcpSpout(LineSpoutConfig),
    /// Carbon's plaintext protocol over UDP, one or more lines per datagram.
    CarbonPlaintextUdpSpout(UdpSpoutConfig),
}

impl Listener {
    /// The config key of this listener's type.
    pub fn kind(&self) -> &'static str {
        match self {
            Listener::CarbonAsyncTcpSpout(_) => "CarbonAsyncTcpSpout",
            Listener::CarbonPlaintextTcpSpout(_) => "CarbonPlaintextTcpSpout",
            Listener::CarbonPlaintextUdpSpout(_) => "CarbonPlaintextUdpSpout",
        }
    }

    /// `host:port` it binds.
    pub fn bind(&self) -> String {
        let (host, port) = match self {
            Listener::CarbonAsyncTcpSpout(c) => (&c.host, c.port),
            Listener::CarbonPlaintextTcpSpout(c) => (&c.host, c.port),
            Listener::CarbonPlaintextUdpSpout(c) => (&c.host, c.port),
        };
        if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        }
    }
}

/// Settings of the pickle listener.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PickleSpoutConfig {
    /// Address to bind.
    #[serde(default = "any_host")]
    pub host: String,
    /// Port to bind (carbon-relay's pickle destinations usually use 2004 or 2014).
    pub port: u16,
    /// Largest frame accepted; a bigger one closes the connection before it is read. Carbon's
    /// own receiver allows 1 MiB.
    #[serde(default = "default_max_frame")]
    pub max_frame_bytes: usize,
    /// Most connections open at once; past it a new connection is closed as soon as it is
    /// accepted (counted), and the established ones keep working.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Seconds a connection may go without delivering a complete frame before it is closed
    /// (counted): a silent or trickling peer cannot hold a connection for ever.
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout_secs: u64,
}

/// Settings of the plaintext TCP listener.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LineSpoutConfig {
    /// Address to bind.
    #[serde(default = "any_host")]
    pub host: String,
    /// Port to bind (carbon's plaintext port is 2003).
    pub port: u16,
    /// Longest line accepted; longer lines are skipped and counted.
    #[serde(default = "default_max_line")]
    pub max_line_bytes: usize,
    /// Most connections open at once; past it a new connection is closed as soon as it is
    /// accepted (counted), and the established ones keep working.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Seconds a connection may go without delivering a complete line before it is closed
    /// (counted): a silent or trickling peer cannot hold a connection for ever.
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout_secs: u64,
}

/// Settings of the plaintext UDP listener (datagrams have no connection to bound or time out).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct UdpSpoutConfig {
    /// Address to bind.
    #[serde(default = "any_host")]
    pub host: String,
    /// Port to bind (carbon's plaintext port is 2003).
    pub port: u16,
    /// Longest line accepted; longer lines are skipped and counted.
    #[serde(default = "default_max_line")]
    pub max_line_bytes: usize,
}

fn any_host() -> String {
    "0.0.0.0".into()
}
fn default_max_frame() -> usize {
    1 << 20
}
fn default_max_line() -> usize {
    64 * 1024
}
/// Far more than carbon-relays open (one per destination each), few enough that a flood cannot
/// take every descriptor from the metrics endpoint and Redis.
fn default_max_connections() -> usize {
    4096
}
/// carbon-c-relay drops an idle incoming connection after 10 minutes; senders that report
/// every minute (or every five) never come near it.
fn default_idle_timeout() -> u64 {
    600
}

/// What a TCP listener's connections are held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpLimits {
    /// `max_connections`.
    pub max_connections: usize,
    /// `idle_timeout_secs`.
    pub idle_timeout_secs: u64,
}

impl Listener {
    /// The connection limits of a TCP listener; `None` for UDP.
    pub fn tcp_limits(&self) -> Option<TcpLimits> {
        match self {
            Listener::CarbonAsyncTcpSpout(c) => Some(TcpLimits {
                max_connections: c.max_connections,
                idle_timeout_secs: c.idle_timeout_secs,
            }),
            Listener::CarbonPlaintextTcpSpout(c) => Some(TcpLimits {
                max_connections: c.max_connections,
                idle_timeout_secs: c.idle_timeout_secs,
            }),
            Listener::CarbonPlaintextUdpSpout(_) => None,
        }
    }

    /// The most bytes one unfinished frame or line of this listener can hold.
    pub fn max_unit_bytes(&self) -> usize {
        match self {
            Listener::CarbonAsyncTcpSpout(c) => c.max_frame_bytes,
            Listener::CarbonPlaintextTcpSpout(c) => c.max_line_bytes,
            Listener::CarbonPlaintextUdpSpout(c) => c.max_line_bytes,
        }
    }
}

/// Every configured listener, in the order given.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Listeners(pub Vec<Listener>);

struct ListenersVisitor;

fn typed<'de, A: MapAccess<'de>>(map: &mut A, key: &str) -> Result<Listener, A::Error> {
    Ok(match key {
        "CarbonAsyncTcpSpout" => Listener::CarbonAsyncTcpSpout(map.next_value()?),
        "CarbonPlaintextTcpSpout" => Listener::CarbonPlaintextTcpSpout(map.next_value()?),
        "CarbonPlaintextUdpSpout" => Listener::CarbonPlaintextUdpSpout(map.next_value()?),
        other => return Err(de::Error::unknown_variant(other, LISTENER_TYPES)),
    })
}

impl<'de> Visitor<'de> for ListenersVisitor {
    type Value = Listeners;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of listener type → settings, or an array of such objects")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Listeners, A::Error> {
        let mut out = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            out.push(typed(&mut map, &key)?);
        }
        Ok(Listeners(out))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Listeners, A::Error> {
        let mut out = Vec::new();
        while let Some(Listeners(mut more)) = seq.next_element::<Listeners>()? {
            out.append(&mut more);
        }
        Ok(Listeners(out))
    }
}

impl<'de> Deserialize<'de> for Listeners {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Listeners, D::Error> {
        d.deserialize_any(ListenersVisitor)
    }
}

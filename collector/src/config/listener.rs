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
    CarbonPlaintextUdpSpout(LineSpoutConfig),
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
            Listener::CarbonPlaintextTcpSpout(c) | Listener::CarbonPlaintextUdpSpout(c) => {
                (&c.host, c.port)
            }
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
}

/// Settings of a plaintext listener.
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

//! [`RedisAddr`]: where Redis is — one server, a master watched by Sentinel, or a cluster —
//! and how to log in (ACL user, password, TLS). Config files hold it in a flat shape beside
//! other settings: see [`redis_config!`](crate::redis_config) and [`crate::config`].

use std::path::PathBuf;

/// Where Redis is and how to reach it. Built from a config by
/// [`redis_config!`](crate::redis_config)'s `addr()`; every connection of the product
/// ([`Conn`](crate::Conn), [`Client`](crate::Client), [`Reader`](crate::Reader), the
/// collector's sink) takes one.
///
/// With `sentinel` set, `host` and `port` are unused: the master is asked of the sentinels at
/// every (re)connection, so a failover is followed. With `cluster` set, `host`, `port` and
/// `db` are unused: the nodes listed are where the cluster's map is first read.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisAddr {
    /// Host name or address of the one server.
    pub host: String,
    /// Its TCP port.
    pub port: u16,
    /// Database number (`SELECT`); always 0 on a cluster.
    pub db: u32,
    /// ACL user name (`AUTH user password`); `None` is the `default` user.
    pub username: Option<String>,
    /// Password (`AUTH`), if the server requires one.
    pub password: Option<String>,
    /// TLS, when on: the files it uses (each optional: without a CA file the system's
    /// authorities are trusted; without a certificate no client certificate is sent).
    pub tls: Option<TlsFiles>,
    /// A master watched by Redis Sentinel, instead of `host` and `port`.
    pub sentinel: Option<SentinelAddr>,
    /// The nodes of a Redis Cluster to start from, instead of `host` and `port`; empty for
    /// a single server.
    #[serde(default)]
    pub cluster: Vec<NodeAddr>,
}

/// The files of a TLS connection, all PEM.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// The authorities that sign the servers' certificates (instead of the system's).
    pub ca_file: Option<PathBuf>,
    /// A client certificate, for servers that ask for one (`tls-auth-clients`).
    pub cert_file: Option<PathBuf>,
    /// The client certificate's private key.
    pub key_file: Option<PathBuf>,
}

/// A master known to Redis Sentinel.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SentinelAddr {
    /// The master's name in the sentinels' configuration (`sentinel monitor <name> ...`).
    pub master_name: String,
    /// The sentinels, asked in turn.
    pub nodes: Vec<NodeAddr>,
}

/// One node given by URL (a sentinel, or a cluster node to start from).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeAddr {
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Whether the URL was `rediss://`.
    #[serde(default)]
    pub tls: bool,
    /// The URL's user, if any.
    pub username: Option<String>,
    /// The URL's password, if any.
    pub password: Option<String>,
}

impl RedisAddr {
    /// The host when a config names none.
    pub const DEFAULT_HOST: &'static str = "127.0.0.1";
    /// The port when a config names none.
    pub const DEFAULT_PORT: u16 = 6379;

    /// One server at `host:port`, database 0, no password, no TLS.
    pub fn new(host: impl Into<String>, port: u16) -> RedisAddr {
        RedisAddr {
            host: host.into(),
            port,
            db: 0,
            username: None,
            password: None,
            tls: None,
            sentinel: None,
            cluster: Vec::new(),
        }
    }

    /// A cluster reached through `nodes` (`host:port` each), no password, no TLS.
    pub fn cluster_of(nodes: impl IntoIterator<Item = (String, u16)>) -> RedisAddr {
        let mut addr = RedisAddr::new(RedisAddr::DEFAULT_HOST, RedisAddr::DEFAULT_PORT);
        addr.cluster = nodes
            .into_iter()
            .map(|(host, port)| NodeAddr::new(host, port))
            .collect();
        addr
    }

    /// Whether this is a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        !self.cluster.is_empty()
    }
}

impl NodeAddr {
    /// A node without TLS or credentials of its own.
    pub fn new(host: impl Into<String>, port: u16) -> NodeAddr {
        NodeAddr {
            host: host.into(),
            port,
            tls: false,
            username: None,
            password: None,
        }
    }
}

/// `host:port`, with brackets around an IPv6 address.
fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

impl std::fmt::Display for RedisAddr {
    /// What logs show: never a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = if self.tls.is_some() {
            "rediss"
        } else {
            "redis"
        };
        let user = self
            .username
            .as_deref()
            .map(|u| format!("{u}@"))
            .unwrap_or_default();
        let nodes = |nodes: &[NodeAddr]| {
            nodes
                .iter()
                .map(|n| host_port(&n.host, n.port))
                .collect::<Vec<_>>()
                .join(",")
        };
        if let Some(s) = &self.sentinel {
            write!(
                f,
                "{scheme}://{user}<master {:?} of sentinels {}>/{}",
                s.master_name,
                nodes(&s.nodes),
                self.db
            )
        } else if self.is_cluster() {
            write!(f, "{scheme}://{user}<cluster {}>", nodes(&self.cluster))
        } else {
            write!(
                f,
                "{scheme}://{user}{}/{}",
                host_port(&self.host, self.port),
                self.db
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_never_shows_a_password() {
        let mut a = RedisAddr::new("::1", 7000);
        a.password = Some("secret".into());
        a.username = Some("am".into());
        assert_eq!(a.to_string(), "redis://am@[::1]:7000/0");
        a.tls = Some(TlsFiles::default());
        a.cluster = vec![NodeAddr::new("h1", 1), NodeAddr::new("h2", 2)];
        assert_eq!(a.to_string(), "rediss://am@<cluster h1:1,h2:2>");
        a.cluster.clear();
        a.sentinel = Some(SentinelAddr {
            master_name: "mymaster".into(),
            nodes: vec![NodeAddr::new("s1", 26379)],
        });
        assert_eq!(
            a.to_string(),
            "rediss://am@<master \"mymaster\" of sentinels s1:26379>/0"
        );
        assert!(!format!("{a:?}").is_empty());
    }
}

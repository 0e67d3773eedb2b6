//! Opening a connection with the `redis` crate: one server, the master Sentinel names, or a
//! cluster; TLS with the configured files; the ACL user; socket settings.

use std::sync::Once;
use std::time::Duration;

use redis::io::tcp::{TcpSettings, socket2::TcpKeepalive};
use redis::sentinel::{SentinelClientBuilder, SentinelServerType};
use redis::{
    AsyncConnectionConfig, ClientTlsConfig, ConnectionAddr, ConnectionInfo, IntoConnectionInfo,
    RedisConnectionInfo, TlsCertificates, TlsMode,
};

use super::{Inner, from_redis};
use crate::Error;
use crate::addr::{NodeAddr, RedisAddr, TlsFiles};

/// How a connection behaves.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Bound on connecting (TCP, TLS, `AUTH`, `SELECT`; for Sentinel, asking the sentinels
    /// too). Also sets the socket's keepalive and `TCP_USER_TIMEOUT`, so the kernel gives up
    /// on a path that silently drops packets within about this long.
    pub connect_timeout: Duration,
    /// Bound on each reply; `None` leaves bounding calls to the caller (blocking reads).
    pub response_timeout: Option<Duration>,
}

/// rustls needs one process-wide crypto provider; ours is `ring`, as the runner's HTTP
/// clients use.
pub(super) fn crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Another part of the process may have installed one already: that one is used.
        // (`ring`'s provider is deprecated in favour of post-quantum key exchange, which
        // needs aws-lc-rs; the project builds with `ring` only.)
        #[allow(deprecated)]
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

fn read(what: &str, path: &std::path::Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path)
        .map_err(|e| Error::Config(format!("reading {what} {}: {e}", path.display())))
}

/// The certificates of a TLS connection, from the configured files (PEM bytes).
pub(super) fn certificates(files: &TlsFiles) -> Result<TlsCertificates, Error> {
    let client_tls = match (&files.cert_file, &files.key_file) {
        (Some(cert), Some(key)) => Some(ClientTlsConfig {
            client_cert: read("tls.cert_file", cert)?,
            client_key: read("tls.key_file", key)?,
        }),
        (None, None) => None,
        _ => {
            return Err(Error::Config(
                "tls.cert_file and tls.key_file go together".into(),
            ));
        }
    };
    let root_cert = files
        .ca_file
        .as_deref()
        .map(|ca| read("tls.ca_file", ca))
        .transpose()?;
    Ok(TlsCertificates {
        client_tls,
        root_cert,
    })
}

/// Keepalive probes after half the timeout idle, three of them a sixth apart, and
/// `TCP_USER_TIMEOUT` = the timeout (at least a second each), for every connection: the
/// crate's and the store's own (`dial.rs`).
pub(super) fn keepalive(timeout: Duration) -> (TcpKeepalive, Duration) {
    let second = Duration::from_secs(1);
    let keepalive = TcpKeepalive::new()
        .with_time((timeout / 2).max(second))
        .with_interval((timeout / 6).max(second))
        .with_retries(3);
    (keepalive, timeout.max(second))
}

fn tcp_settings(timeout: Duration) -> TcpSettings {
    let (keepalive, user_timeout) = keepalive(timeout);
    TcpSettings::default()
        .set_nodelay(true)
        .set_keepalive(keepalive)
        .set_user_timeout(user_timeout)
}

fn connection_addr(host: &str, port: u16, tls: bool) -> ConnectionAddr {
    if tls {
        ConnectionAddr::TcpTls {
            host: host.to_string(),
            port,
            insecure: false,
            tls_params: None,
        }
    } else {
        ConnectionAddr::Tcp(host.to_string(), port)
    }
}

fn redis_settings(db: u32, username: Option<&str>, password: Option<&str>) -> RedisConnectionInfo {
    let mut info = RedisConnectionInfo::default()
        .set_db(i64::from(db))
        .set_skip_set_lib_name();
    if let Some(u) = username {
        info = info.set_username(u);
    }
    if let Some(p) = password {
        info = info.set_password(p);
    }
    info
}

fn node_info(
    node: &NodeAddr,
    tls: bool,
    settings: RedisConnectionInfo,
    tcp: &TcpSettings,
) -> Result<ConnectionInfo, Error> {
    Ok(connection_addr(&node.host, node.port, tls)
        .into_connection_info()
        .map_err(from_redis)?
        .set_redis_settings(settings)
        .set_tcp_settings(tcp.clone()))
}

fn async_config(opts: &Options) -> AsyncConnectionConfig {
    AsyncConnectionConfig::new()
        .set_connection_timeout(Some(opts.connect_timeout))
        .set_response_timeout(opts.response_timeout)
        // Pipelines of a thousand commands go out in few writes.
        .set_write_backpressure_boundary(1 << 20)
        .set_pipeline_buffer_size(1024)
}

/// Connects to what `addr` names.
pub(super) async fn open(addr: &RedisAddr, opts: &Options) -> Result<Inner, Error> {
    let tls = addr.tls.is_some();
    if tls {
        crypto_provider();
    }
    let certs = addr.tls.as_ref().map(certificates).transpose()?;
    let tcp = tcp_settings(opts.connect_timeout);
    let user = addr.username.as_deref();
    let pass = addr.password.as_deref();
    if addr.is_cluster() {
        let nodes = addr
            .cluster
            .iter()
            .map(|n| node_info(n, tls, redis_settings(0, user, pass), &tcp))
            .collect::<Result<Vec<_>, _>>()?;
        let mut b = redis::cluster::ClusterClientBuilder::new(nodes)
            .connection_timeout(opts.connect_timeout)
            .tcp_settings(tcp.clone())
            .write_backpressure_boundary(1 << 20)
            .retries(3)
            .min_retry_wait(50)
            .max_retry_wait(1000);
        if let Some(rt) = opts.response_timeout {
            b = b.response_timeout(rt);
        }
        if let Some(u) = user {
            b = b.username(u);
        }
        if let Some(p) = pass {
            b = b.password(p);
        }
        if let Some(c) = certs {
            b = b.tls(TlsMode::Secure).certs(c);
        }
        let client = b.build().map_err(from_redis)?;
        let conn = client.get_async_connection().await.map_err(from_redis)?;
        return Ok(Inner::Cluster(conn));
    }
    if let Some(s) = &addr.sentinel {
        let sentinels: Vec<ConnectionAddr> = s
            .nodes
            .iter()
            .map(|n| connection_addr(&n.host, n.port, tls))
            .collect();
        let mut b =
            SentinelClientBuilder::new(sentinels, &s.master_name, SentinelServerType::Master)
                .map_err(from_redis)?
                .set_client_to_redis_db(i64::from(addr.db))
                .set_client_to_redis_tcp_settings(tcp.clone())
                .set_client_to_sentinel_tcp_settings(tcp.clone());
        if let Some(u) = user {
            b = b.set_client_to_redis_username(u);
        }
        if let Some(p) = pass {
            b = b.set_client_to_redis_password(p);
        }
        // The sentinels' own credentials: the first sentinel URL that carries some.
        if let Some(n) = s.nodes.iter().find(|n| n.password.is_some()) {
            if let Some(u) = &n.username {
                b = b.set_client_to_sentinel_username(u);
            }
            if let Some(p) = &n.password {
                b = b.set_client_to_sentinel_password(p);
            }
        }
        if let Some(c) = certs {
            b = b
                .set_client_to_redis_tls_mode(TlsMode::Secure)
                .set_client_to_redis_certificates(c.clone())
                .set_client_to_sentinel_tls_mode(TlsMode::Secure)
                .set_client_to_sentinel_certificates(c);
        }
        let mut sentinel = b.build().map_err(from_redis)?;
        let client = sentinel.async_get_client().await.map_err(from_redis)?;
        let conn = client
            .get_multiplexed_async_connection_with_config(&async_config(opts))
            .await
            .map_err(from_redis)?;
        return Ok(Inner::Single(conn));
    }
    let info = connection_addr(&addr.host, addr.port, tls)
        .into_connection_info()
        .map_err(from_redis)?
        .set_redis_settings(redis_settings(addr.db, user, pass))
        .set_tcp_settings(tcp);
    let client = match certs {
        Some(c) => redis::Client::build_with_tls(info, c),
        None => redis::Client::open(info),
    }
    .map_err(from_redis)?;
    let conn = client
        .get_multiplexed_async_connection_with_config(&async_config(opts))
        .await
        .map_err(from_redis)?;
    Ok(Inner::Single(conn))
}

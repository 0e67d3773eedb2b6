//! Opening the store's own connections to one server ([`super::bulk`], [`super::lane`]):
//! TCP with the crate's socket settings, TLS with the configured files, `AUTH` with the ACL
//! user, `SELECT`.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use redis::io::tcp::socket2::SockRef;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use super::open::{self, Options, crypto_provider};
use super::{command, wire};
use crate::Error;
use crate::addr::{RedisAddr, TlsFiles};

/// The name of these connections in `CLIENT LIST`.
pub const CLIENT_NAME: &str = "am-window-reads";

/// A byte stream to Redis, plain or TLS.
pub(super) trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// Opens connections to one server.
#[derive(Clone)]
pub(super) struct Dialer {
    addr: RedisAddr,
    opts: Options,
    tls: Option<TlsConnector>,
}

impl Dialer {
    /// A dialer for `addr` if it is one server (Sentinel and Cluster stay with the crate).
    pub(super) fn for_addr(addr: &RedisAddr, opts: Options) -> Result<Option<Dialer>, Error> {
        if addr.sentinel.is_some() || addr.is_cluster() {
            return Ok(None);
        }
        Ok(Some(Dialer {
            addr: addr.clone(),
            opts,
            tls: Dialer::tls_of(addr)?,
        }))
    }

    /// A dialer for one node of the cluster `addr` names (its TLS files and user; database 0).
    pub(super) fn for_node(
        addr: &RedisAddr,
        host: &str,
        port: u16,
        opts: Options,
        tls: Option<TlsConnector>,
    ) -> Dialer {
        let mut node = addr.clone();
        node.host = host.to_string();
        node.port = port;
        node.db = 0;
        node.cluster.clear();
        Dialer {
            addr: node,
            opts,
            tls,
        }
    }

    /// The TLS client of `addr`, if it uses TLS.
    pub(super) fn tls_of(addr: &RedisAddr) -> Result<Option<TlsConnector>, Error> {
        addr.tls.as_ref().map(tls_connector).transpose()
    }

    /// Where it connects.
    pub(super) fn addr(&self) -> &RedisAddr {
        &self.addr
    }

    /// The options it was made with.
    pub(super) fn options(&self) -> Options {
        self.opts
    }

    /// Connects, within the connect timeout: TCP, TLS, `AUTH`, `SELECT`.
    pub(super) async fn dial(&self) -> Result<Box<dyn Stream>, Error> {
        let t = self.opts.connect_timeout;
        tokio::time::timeout(t, self.dial_unbounded())
            .await
            .map_err(|_| {
                Error::Timeout(format!(
                    "connecting to {} (more than {} s)",
                    self.addr,
                    t.as_secs_f64()
                ))
            })?
            .map_err(|e| e.context(&format!("connecting to {}", self.addr)))
    }

    async fn dial_unbounded(&self) -> Result<Box<dyn Stream>, Error> {
        let a = &self.addr;
        let tcp = TcpStream::connect((a.host.as_str(), a.port))
            .await
            .map_err(|e| Error::Connection(e.to_string()))?;
        tcp.set_nodelay(true)
            .map_err(|e| Error::Connection(e.to_string()))?;
        keepalive(&tcp, self.opts.connect_timeout);
        let mut stream: Box<dyn Stream> = match &self.tls {
            None => Box::new(tcp),
            Some(tls) => {
                let name = ServerName::try_from(a.host.clone())
                    .map_err(|e| Error::Config(format!("TLS server name {}: {e}", a.host)))?;
                Box::new(
                    tls.connect(name, tcp)
                        .await
                        .map_err(|e| Error::Connection(format!("TLS: {e}")))?,
                )
            }
        };
        let mut hello = redis::Pipeline::new();
        if let Some(pass) = &a.password {
            hello.add_command(match &a.username {
                Some(user) => command(&[b"AUTH", user.as_bytes(), pass.as_bytes()]),
                None => command(&[b"AUTH", pass.as_bytes()]),
            });
        }
        if a.db != 0 {
            hello.add_command(command(&[b"SELECT", a.db.to_string().as_bytes()]));
        }
        // So `CLIENT LIST` tells these from the crate's connections.
        hello.add_command(command(&[b"CLIENT", b"SETNAME", CLIENT_NAME.as_bytes()]));
        handshake(&mut stream, &hello).await?;
        Ok(stream)
    }
}

/// Sends `hello` and fails on the first error reply.
async fn handshake(stream: &mut Box<dyn Stream>, hello: &redis::Pipeline) -> Result<(), Error> {
    let io = |e: std::io::Error| Error::Connection(e.to_string());
    stream
        .write_all(&hello.get_packed_pipeline())
        .await
        .map_err(io)?;
    let mut buf = BytesMut::with_capacity(256);
    for _ in 0..hello.len() {
        loop {
            if let Some(len) = wire::reply_len(&buf, 0)? {
                let reply = buf.split_to(len);
                wire::status(&reply)?;
                break;
            }
            if stream.read_buf(&mut buf).await.map_err(io)? == 0 {
                return Err(Error::Connection("the server closed the connection".into()));
            }
        }
    }
    if buf.has_remaining() {
        return Err(Error::Protocol("more replies than commands sent".into()));
    }
    Ok(())
}

/// The crate's keepalive and `TCP_USER_TIMEOUT` (`open::keepalive`), so a path that silently
/// drops packets is given up on in about `timeout`.
fn keepalive(tcp: &TcpStream, timeout: Duration) {
    let (ka, user_timeout) = open::keepalive(timeout);
    let sock = SockRef::from(tcp);
    // Best effort: a socket without them still works, as the crate's do.
    let _ = sock.set_tcp_keepalive(&ka);
    let _ = sock.set_tcp_user_timeout(Some(user_timeout));
}

/// A file that was read but is not the PEM it should be.
fn pem_error(what: &str, path: Option<&std::path::Path>, e: impl std::fmt::Display) -> Error {
    let path = path.map(|p| p.display().to_string()).unwrap_or_default();
    Error::Config(format!("{what} {path}: {e}"))
}

/// The TLS client of `files`: their authorities (the system's without a CA file) and client
/// certificate, read as the crate's connections read them (`open::certificates`).
fn tls_connector(files: &TlsFiles) -> Result<TlsConnector, Error> {
    crypto_provider();
    let certs = open::certificates(files)?;
    let mut roots = rustls::RootCertStore::empty();
    match &certs.root_cert {
        Some(pem) => {
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert =
                    cert.map_err(|e| pem_error("tls.ca_file", files.ca_file.as_deref(), e))?;
                roots
                    .add(cert)
                    .map_err(|e| pem_error("tls.ca_file", files.ca_file.as_deref(), e))?;
            }
        }
        None => {
            for cert in rustls_native_certs::load_native_certs().certs {
                // A system certificate rustls cannot use is skipped, as the crate does.
                let _ = roots.add(cert);
            }
        }
    }
    let builder = rustls::ClientConfig::builder().with_root_certificates(roots);
    let config = match &certs.client_tls {
        Some(client) => {
            let chain = CertificateDer::pem_slice_iter(&client.client_cert)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| pem_error("tls.cert_file", files.cert_file.as_deref(), e))?;
            let key = PrivateKeyDer::from_pem_slice(&client.client_key)
                .map_err(|e| pem_error("tls.key_file", files.key_file.as_deref(), e))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| Error::Config(format!("tls client certificate: {e}")))?
        }
        None => builder.with_no_client_auth(),
    };
    Ok(TlsConnector::from(Arc::new(config)))
}

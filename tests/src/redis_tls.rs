//! [`TlsRedis`]: a `redis-server` that speaks TLS on one port (certificates from a [`TestCa`],
//! client certificates required) and knows an ACL user, beside the plain port the harness
//! itself inspects it through.

use anyhow::{Context, Result};

use crate::ports::free_port;
use crate::redis::RedisServer;
use crate::tls::TestCa;

/// The ACL user the product logs in as.
pub const ACL_USER: &str = "am-writer";
/// Its password (with characters a URL must escape: `@`, `:` and `/`).
pub const ACL_PASSWORD: &str = "s3cr@t:/pw";

/// A TLS Redis with an ACL user (see the module docs).
#[derive(Debug)]
pub struct TlsRedis {
    // Dropped first: the server stops before the CA's files go.
    server: RedisServer,
    ca: TestCa,
    tls_port: u16,
}

impl TlsRedis {
    /// Makes a test CA, starts `redis-server` with `--tls-port` (the CA's certificate for
    /// `localhost`/`127.0.0.1`, `--tls-auth-clients yes`) and creates [`ACL_USER`], allowed
    /// every command on the product's keys only (what the README advises).
    pub fn start() -> Result<TlsRedis> {
        let ca = TestCa::new().context("making a test CA")?;
        let tls_port = free_port()?;
        let port = tls_port.to_string();
        let (cert, key, ca_pem) = (ca.cert_pem(), ca.key_pem(), ca.ca_pem());
        let server = RedisServer::start_with_args(&[
            "--tls-port",
            &port,
            "--tls-cert-file",
            &cert.to_string_lossy(),
            "--tls-key-file",
            &key.to_string_lossy(),
            "--tls-ca-cert-file",
            &ca_pem.to_string_lossy(),
            "--tls-auth-clients",
            "yes",
        ])?;
        let secret = format!(">{ACL_PASSWORD}");
        server.cmd(&[
            "ACL",
            "SETUSER",
            ACL_USER,
            "on",
            &secret,
            "~am2:*",
            "~am1:state:*",
            "~{am1:q}:*",
            "~{am1:alarm}:*",
            "&*",
            "+@all",
        ])?;
        Ok(TlsRedis {
            server,
            ca,
            tls_port,
        })
    }

    /// The server (its plain port is the harness's).
    pub fn server(&self) -> &RedisServer {
        &self.server
    }

    /// The TLS port.
    pub fn tls_port(&self) -> u16 {
        self.tls_port
    }

    /// The test CA (its certificate also serves as the client certificate).
    pub fn ca(&self) -> &TestCa {
        &self.ca
    }

    /// The `url` a config gives: `rediss://` with the ACL user and its password escaped.
    pub fn url(&self) -> String {
        format!(
            "rediss://{ACL_USER}:{}@127.0.0.1:{}/0",
            ACL_PASSWORD
                .replace('%', "%25")
                .replace('@', "%40")
                .replace(':', "%3A")
                .replace('/', "%2F"),
            self.tls_port
        )
    }

    /// The `tls` object a config gives: the CA, and the certificate and key as the client's.
    pub fn tls_json(&self) -> String {
        format!(
            r#"{{ "ca_file": "{}", "cert_file": "{}", "key_file": "{}" }}"#,
            self.ca.ca_pem().display(),
            self.ca.cert_pem().display(),
            self.ca.key_pem().display()
        )
    }

    /// The address for the store crate's clients: TLS port, ACL user, CA and client
    /// certificate.
    pub fn addr(&self) -> am_store::RedisAddr {
        let mut a = am_store::RedisAddr::new("127.0.0.1", self.tls_port);
        a.username = Some(ACL_USER.into());
        a.password = Some(ACL_PASSWORD.into());
        a.tls = Some(am_store::TlsFiles {
            ca_file: Some(self.ca.ca_pem()),
            cert_file: Some(self.ca.cert_pem()),
            key_file: Some(self.ca.key_pem()),
        });
        a
    }

    /// Connections on the TLS port, as (user, command last run) from `CLIENT LIST`.
    pub fn tls_clients(&self) -> Result<Vec<(String, String)>> {
        let list = self.server.cmd(&["CLIENT", "LIST"])?;
        let text = list.as_text().unwrap_or_default();
        let laddr = format!("laddr=127.0.0.1:{}", self.tls_port);
        Ok(text
            .lines()
            .filter(|l| l.split(' ').any(|f| f == laddr))
            .map(|l| {
                let field = |name: &str| {
                    l.split(' ')
                        .find_map(|f| f.strip_prefix(name))
                        .unwrap_or_default()
                        .to_string()
                };
                (field("user="), field("cmd="))
            })
            .collect())
    }
}

//! [`TestCa`]: a certificate authority made for one test (with Debian's `openssl`), and a
//! certificate it signed for `localhost` and `127.0.0.1`, as PEM files in a temporary
//! directory: for servers a test runs over TLS (an HTTPS webhook, SMTP with STARTTLS, Redis
//! with TLS) and the clients that must trust them.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use tempfile::TempDir;

use crate::sys::{find_binary, temp_dir};

/// A test CA and a server certificate it signed.
#[derive(Debug)]
pub struct TestCa {
    dir: TempDir,
}

impl TestCa {
    /// Makes a CA and a certificate (with its key) for `localhost` and `127.0.0.1`, valid
    /// for two days, also usable by a client.
    pub fn new() -> Result<TestCa> {
        let openssl = find_binary("openssl", "AM_TESTS_OPENSSL")?;
        let dir = temp_dir("am-tests-ca-")?;
        let d = dir.path();
        std::fs::write(
            d.join("ext.cnf"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n",
        )
        .context("writing the certificate extensions")?;
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        let steps: Vec<Vec<&str>> = vec![
            [
                &["req", "-x509"][..],
                &ec,
                &[
                    "-keyout",
                    "ca.key",
                    "-out",
                    "ca.pem",
                    "-days",
                    "2",
                    "-subj",
                    "/CN=anna-molly test CA",
                ],
            ]
            .concat(),
            [
                &["req"][..],
                &ec,
                &[
                    "-keyout",
                    "server.key",
                    "-out",
                    "server.csr",
                    "-subj",
                    "/CN=localhost",
                ],
            ]
            .concat(),
            vec![
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "server.pem",
                "-days",
                "2",
                "-extfile",
                "ext.cnf",
            ],
        ];
        for args in steps {
            let out = Command::new(&openssl)
                .args(&args)
                .current_dir(d)
                .output()
                .with_context(|| format!("running openssl {}", args.join(" ")))?;
            if !out.status.success() {
                bail!(
                    "openssl {} failed: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
        Ok(TestCa { dir })
    }

    /// The CA's certificate (what a client trusts).
    pub fn ca_pem(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// The signed certificate.
    pub fn cert_pem(&self) -> PathBuf {
        self.dir.path().join("server.pem")
    }

    /// Its private key.
    pub fn key_pem(&self) -> PathBuf {
        self.dir.path().join("server.key")
    }

    /// The directory holding them.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

//! Servers the tests run from Python scripts in `tests/support/` (an HTTPS webhook with the
//! standard library, an SMTP server with STARTTLS with aiosmtpd), on free ports of 127.0.0.1
//! in fresh temporary directories, stopped by PID when dropped.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tempfile::TempDir;

use crate::ports::{free_port, retry_on_port_clash};
use crate::process::{DaemonProcess, DaemonSpec};
use crate::sys::{find_binary, temp_dir};
use crate::tls::TestCa;

/// How long a support server may take to say it is ready.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// The script in `tests/support/`.
fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("support")
        .join(name)
}

/// The Python of the test virtualenv (`scripts/ensure-deps smtp` makes it, `make test` runs
/// that): `$AM_TESTS_VENV_PYTHON`, else `target/test-venv/bin/python`.
fn venv_python() -> Result<PathBuf> {
    if let Ok(p) = std::env::var("AM_TESTS_VENV_PYTHON") {
        return Ok(PathBuf::from(p));
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-venv/bin/python");
    if !p.exists() {
        bail!(
            "{} is missing: the SMTP test server needs the test virtualenv with aiosmtpd; run `scripts/ensure-deps smtp` (make test does)",
            p.display()
        );
    }
    Ok(p)
}

/// A running support server.
#[derive(Debug)]
pub struct PyServer {
    process: DaemonProcess,
    port: u16,
    dir: TempDir,
}

impl PyServer {
    fn start(name: &str, python: &Path, script_name: &str, ca: &TestCa) -> Result<PyServer> {
        retry_on_port_clash(|| {
            let port = free_port()?;
            let dir = temp_dir(&format!("am-tests-{name}-"))?;
            let spec = DaemonSpec::new(name, python, dir.path())
                .arg(script(script_name))
                .arg(port.to_string())
                .arg(ca.cert_pem())
                .arg(ca.key_pem())
                .arg(dir.path().join("out"));
            let process = DaemonProcess::spawn(spec)?;
            let mut server = PyServer { process, port, dir };
            server.process.wait_for_port(port, READY_TIMEOUT)?;
            Ok(server)
        })
    }

    /// An HTTPS endpoint with a certificate of `ca`, recording each request.
    pub fn https_hook(ca: &TestCa) -> Result<PyServer> {
        let python = find_binary("python3", "AM_TESTS_PYTHON")?;
        Self::start("https-hook", &python, "https_hook.py", ca)
    }

    /// An SMTP server requiring STARTTLS with a certificate of `ca`, keeping each message.
    pub fn smtp(ca: &TestCa) -> Result<PyServer> {
        let python = venv_python()?;
        let server = Self::start("smtp", &python, "smtp_server.py", ca)?;
        std::fs::create_dir_all(server.dir.path().join("out")).context("the mail folder")?;
        Ok(server)
    }

    /// Its port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `https://localhost:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.port)
    }

    /// The requests an HTTPS hook recorded: the JSON lines of its `out` file.
    pub fn requests(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.dir.path().join("out"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The messages an SMTP server kept, in order.
    pub fn mails(&self) -> Vec<String> {
        let out = self.dir.path().join("out");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&out)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.sort_by_key(|p| {
            p.file_stem()
                .and_then(|s| s.to_str())
                .and_then(|s| s.trim_start_matches("mail-").parse::<u32>().ok())
                .unwrap_or(0)
        });
        files
            .iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .collect()
    }

    /// Its logs, for failure messages.
    pub fn logs(&self) -> String {
        self.process.logs()
    }
}

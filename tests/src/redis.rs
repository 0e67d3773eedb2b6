//! A real `redis-server` on a free port of 127.0.0.1, in a fresh temporary directory.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use tempfile::TempDir;

use crate::ports::{free_port, retry_on_port_clash};
use crate::process::{DaemonProcess, DaemonSpec};
use crate::resp::{Resp, RespClient, parse_info};
use crate::sys::{find_binary, temp_dir};

/// How long a redis-server may take to answer PING after it was started.
pub const REDIS_STARTUP_TIMEOUT: Duration = Duration::from_secs(20);

/// Connect, read and write timeout of [`RedisServer::cmd`] and [`RedisServer::client`].
pub const REDIS_CLIENT_TIMEOUT: Duration = Duration::from_secs(5);

/// Environment variable that overrides where `redis-server` is found.
pub const REDIS_SERVER_ENV: &str = "AM_TESTS_REDIS_SERVER";

/// The redis-server on `127.0.0.1:port`, database 0, no password, as the store crate's
/// clients (`am_store::Conn`, `am_store::Reader`) take it.
pub fn local_redis(port: u16) -> am_store::RedisAddr {
    am_store::RedisAddr::new("127.0.0.1", port)
}

/// True when the redis-server on `127.0.0.1:port` answers PING with PONG.
fn ping(port: u16) -> Result<bool> {
    match RespClient::connect(port, Duration::from_secs(1))?.cmd(&["PING"])? {
        Resp::Simple(pong) if pong == "PONG" => Ok(true),
        other => bail!("PING answered {other:?}"),
    }
}

/// A running `redis-server` (see [`RedisServer::start`]); stopped by PID when dropped.
#[derive(Debug)]
pub struct RedisServer {
    // Dropped first: the process is stopped before its directory is removed.
    process: DaemonProcess,
    port: u16,
    dir: TempDir,
}

impl RedisServer {
    /// Starts `redis-server --port P --bind 127.0.0.1 --dir TMP --save "" --appendonly no
    /// --daemonize no --logfile TMP/redis.log` on a free port P in a fresh temporary directory
    /// TMP, and waits until it answers PING.
    pub fn start() -> Result<Self> {
        Self::start_with_args(&[])
    }

    /// Like [`start`](Self::start), with `extra` arguments appended to the command line (for
    /// example `["--maxmemory", "10mb"]`); later arguments override earlier ones.
    pub fn start_with_args(extra: &[&str]) -> Result<Self> {
        let binary = find_binary("redis-server", REDIS_SERVER_ENV)?;
        retry_on_port_clash(|| {
            let port = free_port()?;
            let dir = temp_dir("am-tests-redis-")?;
            let log = dir.path().join("redis.log");
            let port_arg = port.to_string();
            let spec = DaemonSpec::new("redis-server", &binary, dir.path())
                .args(["--port", port_arg.as_str(), "--bind", "127.0.0.1"])
                .arg("--dir")
                .arg(dir.path())
                .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
                .args(["--enable-debug-command", "local"])
                .arg("--logfile")
                .arg(&log)
                .args(extra)
                .extra_log(&log);
            let process = DaemonProcess::spawn(spec)?;
            let mut server = Self { process, port, dir };
            server.wait_ready()?;
            Ok(server)
        })
    }

    fn wait_ready(&mut self) -> Result<()> {
        self.process
            .wait_probe(self.port, "answer PING", REDIS_STARTUP_TIMEOUT, ping)
    }

    /// Its address for the store crate's clients ([`local_redis`] of its port).
    pub fn addr(&self) -> am_store::RedisAddr {
        local_redis(self.port)
    }

    /// The TCP port it listens on (on 127.0.0.1); the same after [`start_again`](Self::start_again).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Its temporary directory (working directory, `--dir`, logs).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The PID of the running redis-server, `None` while stopped.
    pub fn pid(&mut self) -> Option<u32> {
        self.process.pid()
    }

    /// True while the redis-server process runs.
    pub fn is_running(&mut self) -> bool {
        self.process.is_running()
    }

    /// Stops it gracefully (SIGTERM, SIGKILL after 5 s), keeping its directory and port number
    /// for [`start_again`](Self::start_again).
    pub fn stop(&mut self) -> Result<()> {
        self.process
            .stop()
            .with_context(|| format!("stopping redis-server on port {}", self.port))?;
        Ok(())
    }

    /// Kills it with SIGKILL, like a crash.
    pub fn kill_hard(&mut self) -> Result<()> {
        self.process
            .kill_hard()
            .with_context(|| format!("killing redis-server on port {}", self.port))?;
        Ok(())
    }

    /// Suspends it with SIGSTOP: connections stay open but nothing is answered.
    pub fn suspend(&mut self) -> Result<()> {
        self.process.suspend()
    }

    /// Resumes it after [`suspend`](Self::suspend).
    pub fn resume(&mut self) -> Result<()> {
        self.process.resume()
    }

    /// Starts it again after [`stop`](Self::stop) or [`kill_hard`](Self::kill_hard): same port,
    /// directory and arguments; waits until it answers PING. Does nothing to a running server
    /// but check that it answers.
    pub fn start_again(&mut self) -> Result<()> {
        self.process
            .start()
            .with_context(|| format!("restarting redis-server on port {}", self.port))?;
        self.wait_ready()
    }

    /// Stops it gracefully and starts it again on the same port ([`stop`](Self::stop) then
    /// [`start_again`](Self::start_again)).
    pub fn restart(&mut self) -> Result<()> {
        self.stop()?;
        self.start_again()
    }

    /// A new connection to it, with [`REDIS_CLIENT_TIMEOUT`] on connect, reads and writes.
    pub fn client(&self) -> Result<RespClient> {
        RespClient::connect(self.port, REDIS_CLIENT_TIMEOUT)
    }

    /// Runs one command on a new connection and returns the reply; an error reply becomes an
    /// `Err`. Example: `redis.cmd(&["GET", "key"])`.
    pub fn cmd(&self, args: &[&str]) -> Result<Resp> {
        self.client()?
            .cmd(args)?
            .into_result()
            .with_context(|| format!("redis command {args:?} on port {}", self.port))
    }

    /// `INFO <section>` parsed into `field -> value`.
    pub fn info(&self, section: &str) -> Result<BTreeMap<String, String>> {
        let reply = self.cmd(&["INFO", section])?;
        let text = reply
            .as_text()
            .ok_or_else(|| anyhow!("INFO {section} answered {reply:?}, not text"))?;
        Ok(parse_info(&text))
    }

    /// Runs a command that answers an array (`KEYS`, `SMEMBERS`, `ZRANGE`...) and returns
    /// its text items, in the order Redis gave them.
    pub fn texts(&self, args: &[&str]) -> Result<Vec<String>> {
        let reply = self.cmd(args)?;
        let items = reply
            .as_array()
            .ok_or_else(|| anyhow!("{args:?} answered {reply:?}, not an array"))?;
        Ok(items.iter().filter_map(Resp::as_text).collect())
    }

    /// All keys matching `pattern` (via `KEYS`, fine for tests), sorted.
    pub fn keys(&self, pattern: &str) -> Result<Vec<String>> {
        let mut keys = self.texts(&["KEYS", pattern])?;
        keys.sort();
        Ok(keys)
    }

    /// The tail of its logs (stdout, stderr, redis.log), for test failure messages.
    pub fn logs(&self) -> String {
        format!("{}\n{}", self.process.describe(), self.process.logs())
    }

    /// The process guard, for anything not wrapped here (signals, exit status).
    pub fn process(&mut self) -> &mut DaemonProcess {
        &mut self.process
    }
}

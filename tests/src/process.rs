//! A guard around one daemon child process: started with its output going to log files, stopped
//! by PID (SIGTERM, then SIGKILL after a grace period) and reaped when the guard is dropped, even
//! when the test that owns it panics.
//!
//! Also: readiness polling that fails early when the daemon exits, and a tail of the daemon's
//! logs for failure messages.

use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::sys::read_tail;
use crate::wait::{POLL_INTERVAL, try_connect, wait_until};

/// How long [`DaemonProcess::stop`] waits after SIGTERM before it sends SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(5);

/// How long to wait for a process to be reaped after SIGKILL before reporting an error.
const KILL_WAIT: Duration = Duration::from_secs(5);

/// How many bytes of each log file [`DaemonProcess::logs`] shows.
const LOG_TAIL_BYTES: u64 = 12 * 1024;

/// What to run as a daemon: the program, its arguments and environment, and the directory that
/// is its working directory and holds its log files.
#[derive(Debug, Clone)]
pub struct DaemonSpec {
    name: String,
    program: PathBuf,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    env_remove: Vec<OsString>,
    dir: PathBuf,
    extra_logs: Vec<PathBuf>,
    open_files: Option<(u64, u64)>,
}

impl DaemonSpec {
    /// A daemon called `name` (used in messages and log file names) running `program` in `dir`.
    pub fn new(
        name: impl Into<String>,
        program: impl Into<PathBuf>,
        dir: impl Into<PathBuf>,
    ) -> Self {
        Self {
            name: name.into(),
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            env_remove: Vec::new(),
            dir: dir.into(),
            extra_logs: Vec::new(),
            open_files: None,
        }
    }

    /// Starts the daemon with this soft and hard open-file limit (`RLIMIT_NOFILE`), through
    /// util-linux's `prlimit`, which sets them and then execs the daemon (same PID).
    #[must_use]
    pub fn open_files(mut self, soft: u64, hard: u64) -> Self {
        self.open_files = Some((soft, hard));
        self
    }

    /// Adds one argument.
    #[must_use]
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Adds several arguments.
    #[must_use]
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|arg| arg.as_ref().to_owned()));
        self
    }

    /// Sets an environment variable for the daemon.
    #[must_use]
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// Removes an inherited environment variable from the daemon's environment.
    #[must_use]
    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Self {
        self.env_remove.push(key.as_ref().to_owned());
        self
    }

    /// Names a log file the daemon writes itself (besides its stdout and stderr, which always
    /// go to files): [`DaemonProcess::logs`] shows it too.
    #[must_use]
    pub fn extra_log(mut self, path: impl Into<PathBuf>) -> Self {
        self.extra_logs.push(path.into());
        self
    }

    /// The command line, for messages.
    pub fn command_line(&self) -> String {
        std::iter::once(self.program.as_os_str())
            .chain(self.args.iter().map(OsString::as_os_str))
            .map(|part| part.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// A running (or stopped) daemon child process; see the module documentation.
///
/// Dropping the guard stops the process: SIGTERM, up to [`STOP_GRACE`] for it to exit, then
/// SIGKILL, and the child is always reaped.
#[derive(Debug)]
pub struct DaemonProcess {
    spec: DaemonSpec,
    child: Option<Child>,
    last_exit: Option<ExitStatus>,
    starts: u32,
}

impl DaemonProcess {
    /// Starts the daemon described by `spec`, with stdin from /dev/null and stdout/stderr
    /// appended to `DIR/NAME.stdout.log` and `DIR/NAME.stderr.log`.
    pub fn spawn(spec: DaemonSpec) -> Result<Self> {
        let mut process = Self {
            spec,
            child: None,
            last_exit: None,
            starts: 0,
        };
        process.start()?;
        Ok(process)
    }

    /// Starts the process again with the same command line, unless it is running already.
    pub fn start(&mut self) -> Result<()> {
        if self.is_running() {
            return Ok(());
        }
        self.starts += 1;
        let stdout = self.open_log(&self.stdout_log())?;
        let stderr = self.open_log(&self.stderr_log())?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let mut header = &stdout;
        writeln!(
            header,
            "=== am-tests: start #{} at unix time {now}: {}",
            self.starts,
            self.spec.command_line()
        )
        .with_context(|| format!("writing to {}", self.stdout_log().display()))?;

        let mut command = match self.spec.open_files {
            Some((soft, hard)) => {
                let mut c = Command::new("prlimit");
                c.arg(format!("--nofile={soft}:{hard}"))
                    .arg("--")
                    .arg(&self.spec.program);
                c
            }
            None => Command::new(&self.spec.program),
        };
        command
            .args(&self.spec.args)
            .current_dir(&self.spec.dir)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr);
        for key in &self.spec.env_remove {
            command.env_remove(key);
        }
        for (key, value) in &self.spec.env {
            command.env(key, value);
        }
        let child = command.spawn().with_context(|| {
            format!(
                "starting {} in {}: {}",
                self.spec.name,
                self.spec.dir.display(),
                self.spec.command_line()
            )
        })?;
        self.child = Some(child);
        self.last_exit = None;
        Ok(())
    }

    fn open_log(&self, path: &Path) -> Result<File> {
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("opening log file {} for {}", path.display(), self.spec.name))
    }

    /// The daemon's name, as given to [`DaemonSpec::new`].
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// The directory the daemon runs in and logs to.
    pub fn dir(&self) -> &Path {
        &self.spec.dir
    }

    /// Where the daemon's stdout goes.
    pub fn stdout_log(&self) -> PathBuf {
        self.spec.dir.join(format!("{}.stdout.log", self.spec.name))
    }

    /// Where the daemon's stderr goes.
    pub fn stderr_log(&self) -> PathBuf {
        self.spec.dir.join(format!("{}.stderr.log", self.spec.name))
    }

    /// The PID of the current process, or `None` when it is not running (stopped, or exited and
    /// reaped).
    pub fn pid(&mut self) -> Option<u32> {
        if self.is_running() {
            self.child.as_ref().map(Child::id)
        } else {
            None
        }
    }

    /// True while the process runs; reaps it (and remembers its exit status) once it has exited.
    pub fn is_running(&mut self) -> bool {
        let Some(child) = self.child.as_mut() else {
            return false;
        };
        match child.try_wait() {
            Ok(None) => true,
            Ok(Some(status)) => {
                self.last_exit = Some(status);
                self.child = None;
                false
            }
            // Cannot tell: treat as running, so that stop() still signals and waits.
            Err(_) => true,
        }
    }

    /// How the last run of the process ended, once it has ended and been reaped.
    pub fn exit_status(&mut self) -> Option<ExitStatus> {
        self.is_running();
        self.last_exit
    }

    /// Stops the process gracefully: SIGTERM (and SIGCONT, in case it is suspended), up to
    /// [`STOP_GRACE`] for it to exit, then SIGKILL. Returns its exit status (`None` if it was
    /// not started). Files in its directory are kept.
    pub fn stop(&mut self) -> Result<Option<ExitStatus>> {
        if !self.is_running() {
            return Ok(self.last_exit);
        }
        if let Some(pid) = self.raw_pid() {
            // ESRCH: exited in the meantime; the wait below reaps it.
            let _ = kill(pid, Signal::SIGTERM);
            let _ = kill(pid, Signal::SIGCONT);
        }
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            if !self.is_running() {
                return Ok(self.last_exit);
            }
            sleep(POLL_INTERVAL);
        }
        self.kill_hard()
    }

    /// Kills the process at once with SIGKILL (like a crash or an OOM kill) and reaps it.
    pub fn kill_hard(&mut self) -> Result<Option<ExitStatus>> {
        let Some(child) = self.child.as_mut() else {
            return Ok(self.last_exit);
        };
        // Fails only when the process was already reaped, which `child` rules out.
        let _ = child.kill();
        let deadline = Instant::now() + KILL_WAIT;
        while Instant::now() < deadline {
            if !self.is_running() {
                return Ok(self.last_exit);
            }
            sleep(POLL_INTERVAL);
        }
        bail!(
            "{} (pid {:?}) still not reaped {KILL_WAIT:?} after SIGKILL",
            self.spec.name,
            self.child.as_ref().map(Child::id)
        )
    }

    /// Suspends the process with SIGSTOP (it keeps its sockets but answers nothing).
    pub fn suspend(&mut self) -> Result<()> {
        self.signal(Signal::SIGSTOP)
    }

    /// Resumes a process suspended by [`suspend`](Self::suspend) with SIGCONT.
    pub fn resume(&mut self) -> Result<()> {
        self.signal(Signal::SIGCONT)
    }

    /// Sends `signal` to the process.
    pub fn signal(&mut self, signal: Signal) -> Result<()> {
        let pid = self
            .raw_pid()
            .ok_or_else(|| anyhow!("{} is not running: cannot send {signal}", self.spec.name))?;
        kill(pid, signal)
            .with_context(|| format!("sending {signal} to {} (pid {pid})", self.spec.name))
    }

    fn raw_pid(&mut self) -> Option<Pid> {
        self.pid()
            .and_then(|pid| i32::try_from(pid).ok())
            .map(Pid::from_raw)
    }

    /// Stops the process (see [`stop`](Self::stop)) and starts it again with the same command
    /// line, directory and log files.
    pub fn restart(&mut self) -> Result<()> {
        self.stop()
            .with_context(|| format!("stopping {} to restart it", self.spec.name))?;
        self.start()
    }

    /// Waits until the process accepts TCP connections on `127.0.0.1:port`; fails early, with
    /// its logs, if it exits first, and after `timeout` otherwise.
    pub fn wait_for_port(&mut self, port: u16, timeout: Duration) -> Result<()> {
        self.wait_probe(port, "accept connections", timeout, |port| {
            try_connect(port).map(|_| true)
        })
    }

    /// Like [`wait_ready`](Self::wait_ready) for a daemon serving `127.0.0.1:port`: waits
    /// until `probe(port)` says it is ready; errors call the wait "NAME on 127.0.0.1:PORT to
    /// `what`".
    pub fn wait_probe(
        &mut self,
        port: u16,
        what: &str,
        timeout: Duration,
        probe: impl Fn(u16) -> Result<bool>,
    ) -> Result<()> {
        let what = format!("{} on 127.0.0.1:{port} to {what}", self.spec.name);
        self.wait_ready(&what, timeout, || Ok(probe(port)?.then_some(())))
    }

    /// Like [`wait_until`], but fails at once (with the daemon's logs) when the process exits,
    /// and appends the logs to a timeout error too.
    pub fn wait_ready<T>(
        &mut self,
        what: &str,
        timeout: Duration,
        mut check: impl FnMut() -> Result<Option<T>>,
    ) -> Result<T> {
        let mut exited = None;
        let result = wait_until(what, timeout, || {
            if !self.is_running() {
                exited = self.last_exit;
                return Ok(Some(None));
            }
            check().map(|ready| ready.map(Some))
        });
        match result {
            Ok(Some(value)) => Ok(value),
            Ok(None) => Err(self.error_with_logs(format!(
                "{} exited ({}) before {what} was ready",
                self.spec.name,
                exited.map_or_else(|| "status unknown".to_owned(), |s| s.to_string())
            ))),
            Err(err) => Err(self.error_with_logs(format!("{}: {err:#}", self.spec.name))),
        }
    }

    /// An error with `msg`, the command line and the tail of the daemon's logs.
    pub fn error_with_logs(&self, msg: impl std::fmt::Display) -> anyhow::Error {
        anyhow!(
            "{msg}\ncommand: {}\n{}",
            self.spec.command_line(),
            self.logs()
        )
    }

    /// The tail of each of the daemon's log files (stdout, stderr and the ones it writes itself),
    /// each under a header naming the file: for test failure messages.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        let files = [self.stdout_log(), self.stderr_log()];
        for path in files.iter().chain(self.spec.extra_logs.iter()) {
            let _ = writeln!(out, "----- {} -----", path.display());
            match read_tail(path, LOG_TAIL_BYTES) {
                Ok(text) if text.trim().is_empty() => out.push_str("(empty)\n"),
                Ok(text) => {
                    out.push_str(&text);
                    if !text.ends_with('\n') {
                        out.push('\n');
                    }
                }
                Err(err) => {
                    let _ = writeln!(out, "(cannot read: {err:#})");
                }
            }
        }
        out
    }

    /// One line naming the daemon, its directory, how often it was started and its command
    /// line: for failure messages.
    pub fn describe(&self) -> String {
        format!(
            "{} in {} (started {} time(s)): {}",
            self.spec.name,
            self.spec.dir.display(),
            self.starts,
            self.spec.command_line()
        )
    }
}

impl Drop for DaemonProcess {
    fn drop(&mut self) {
        if self.stop().is_err() {
            // Last resort; nothing else can be done in drop.
            if let Some(child) = self.child.as_mut() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::process_exists;

    fn sh(dir: &Path, script: &str) -> DaemonSpec {
        DaemonSpec::new("sh", "/bin/sh", dir).arg("-c").arg(script)
    }

    #[test]
    fn stop_terminates_and_reaps() {
        let dir = tempfile::tempdir().unwrap();
        let mut proc =
            DaemonProcess::spawn(sh(dir.path(), "printf 'hel%s\\n' lo; exec sleep 60")).unwrap();
        let pid = proc.pid().unwrap();
        assert!(process_exists(pid));
        wait_until("hello in the log", Duration::from_secs(5), || {
            Ok(proc.logs().contains("hello").then_some(()))
        })
        .unwrap();
        let status = proc.stop().unwrap().unwrap();
        assert!(!status.success());
        assert!(!process_exists(pid), "pid {pid} still exists after stop");
        assert_eq!(proc.pid(), None);
        // Start again: appends to the same log.
        proc.start().unwrap();
        let pid2 = proc.pid().unwrap();
        wait_until("a second hello", Duration::from_secs(5), || {
            Ok((proc.logs().matches("hello").count() == 2).then_some(()))
        })
        .unwrap();
        drop(proc);
        assert!(!process_exists(pid2));
        let log = std::fs::read_to_string(dir.path().join("sh.stdout.log")).unwrap();
        assert_eq!(log.matches("hello").count(), 2, "{log}");
        assert!(log.contains("start #2"), "{log}");
    }

    #[test]
    fn sigterm_ignored_means_sigkill() {
        let dir = tempfile::tempdir().unwrap();
        let mut proc = DaemonProcess::spawn(sh(
            dir.path(),
            "trap '' TERM; printf 'rea%s\\n' dy; exec sleep 60",
        ))
        .unwrap();
        wait_until("ready", Duration::from_secs(5), || {
            Ok(proc.logs().contains("ready").then_some(()))
        })
        .unwrap();
        let started = Instant::now();
        proc.stop().unwrap();
        assert!(started.elapsed() >= STOP_GRACE - Duration::from_millis(100));
        assert!(started.elapsed() < STOP_GRACE + Duration::from_secs(3));
    }

    #[test]
    fn wait_ready_fails_fast_when_the_process_exits() {
        let dir = tempfile::tempdir().unwrap();
        let mut proc =
            DaemonProcess::spawn(sh(dir.path(), "printf 'bo%s' om >&2; exit 3")).unwrap();
        let started = Instant::now();
        let err = proc
            .wait_ready("never", Duration::from_secs(30), || Ok(None::<()>))
            .unwrap_err();
        let msg = format!("{err:#}");
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(msg.contains("exited"), "{msg}");
        assert!(msg.contains("boom"), "{msg}");
    }
}

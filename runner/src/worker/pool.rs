//! The supervisor's side of its plugin processes: start one, send it a task, and tell how it
//! died when it does.

use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use am_plugin_host::{Task, TaskResult};

use super::proto::{SETUP_ENV, Setup};

/// The longest response line accepted (outputs of a huge task); past it the process is
/// treated as broken.
const MAX_LINE: usize = 512 << 20;

/// One plugin process.
#[derive(Debug)]
pub struct Proc {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    /// Its pid.
    pub pid: u32,
}

/// Why a task got no response.
#[derive(Debug)]
pub enum Death {
    /// It ran past the time limit; the process was killed.
    TimedOut(Duration),
    /// The process ended (or broke the protocol): how.
    Died(String),
}

impl Death {
    /// A sentence for the task's error.
    pub fn describe(&self, memory_limit_mb: Option<u64>) -> String {
        match self {
            Death::TimedOut(d) => format!(
                "time limit of {} s exceeded; the plugin process was killed",
                d.as_secs()
            ),
            Death::Died(how) => match memory_limit_mb {
                Some(mb) if how.contains("SIGABRT") || how.contains("SIGKILL") => format!(
                    "the plugin process {how} (with memory_limit_mb = {mb}, an allocation past the limit ends this way)"
                ),
                _ => format!("the plugin process {how}"),
            },
        }
    }
}

impl Proc {
    /// Starts a plugin process running `program plugin-process`.
    pub fn spawn(program: &std::path::Path, setup: &Setup) -> std::io::Result<Proc> {
        let setup_json = serde_json::to_string(setup).map_err(std::io::Error::other)?;
        let mut child = Command::new(program)
            .arg("plugin-process")
            .env(SETUP_ENV, setup_json)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()?;
        let pid = child.id().unwrap_or(0);
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(std::io::Error::other("the plugin process has no pipes"));
        };
        Ok(Proc {
            child,
            stdin,
            stdout: BufReader::with_capacity(1 << 16, stdout),
            pid,
        })
    }

    /// Runs one task, within `limit`.
    pub async fn run(&mut self, task: &Task, limit: Duration) -> Result<TaskResult, Death> {
        let mut line = serde_json::to_vec(task).map_err(|e| Death::Died(e.to_string()))?;
        line.push(b'\n');
        let exchange = async {
            self.stdin.write_all(&line).await?;
            self.stdin.flush().await?;
            let mut buf = Vec::new();
            let n = (&mut self.stdout)
                .take(MAX_LINE as u64)
                .read_until(b'\n', &mut buf)
                .await?;
            Ok::<_, std::io::Error>((n, buf))
        };
        let result = tokio::time::timeout(limit, exchange).await;
        match result {
            Err(_) => {
                self.kill().await;
                Err(Death::TimedOut(limit))
            }
            Ok(Ok((n, buf))) if n > 0 && buf.last() == Some(&b'\n') => {
                serde_json::from_slice::<TaskResult>(&buf)
                    .map_err(|e| Death::Died(format!("answered something unreadable ({e})")))
            }
            Ok(_) => Err(Death::Died(self.exit_reason().await)),
        }
    }

    async fn kill(&mut self) {
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
    }

    /// How the process ended (waiting briefly for it to finish dying).
    async fn exit_reason(&mut self) -> String {
        match tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await {
            Ok(Ok(status)) => describe_exit(status),
            Ok(Err(e)) => format!("could not be waited for ({e})"),
            Err(_) => {
                self.kill().await;
                "stopped answering and was killed".into()
            }
        }
    }

    /// Stops the process: closes its stdin, then kills it if it does not exit promptly.
    pub async fn stop(mut self) {
        drop(self.stdin);
        if tokio::time::timeout(Duration::from_secs(2), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.start_kill();
            let _ = self.child.wait().await;
        }
    }
}

/// "exited with status 3", "was killed by SIGSEGV (segmentation fault)", ...
pub fn describe_exit(status: ExitStatus) -> String {
    if let Some(sig) = status.signal() {
        let name = match sig {
            libc::SIGABRT => "SIGABRT (aborted)",
            libc::SIGSEGV => "SIGSEGV (segmentation fault)",
            libc::SIGBUS => "SIGBUS (bus error)",
            libc::SIGILL => "SIGILL (illegal instruction)",
            libc::SIGFPE => "SIGFPE (arithmetic fault)",
            libc::SIGKILL => "SIGKILL (killed)",
            libc::SIGTERM => "SIGTERM (terminated)",
            _ => return format!("was killed by signal {sig}"),
        };
        return format!("was killed by {name}");
    }
    match status.code() {
        Some(c) => format!("exited with status {c}"),
        None => "ended".into(),
    }
}

//! Running a command for its output, within `timeout` and `max_bytes`.
//!
//! The command runs without a shell, in a process group of its own, with stdin closed. Its stdout is read on a thread up to `max_bytes` + 1; stderr is drained on
//! another, keeping its start for the error message. On timeout, on too much output, and
//! after the command exits (to end anything it left running in the background), the whole
//! group is killed with SIGKILL, so no descendant outlives the fetch holding its pipes. The
//! readers are then given a short grace to finish; one that does not (a descendant that
//! left the group) is abandoned, and the fetch fails rather than waits.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use super::FetchLimits;
use crate::error::SourceError;

/// How often the command is polled for having exited.
const POLL: Duration = Duration::from_millis(5);
/// How long the output readers may take after the command's group is gone.
const GRACE: Duration = Duration::from_secs(1);
/// How much of stderr is kept for the error message.
const STDERR_KEPT: usize = 4096;

/// The command's stdout.
pub(super) fn run(argv: &[String], limits: FetchLimits) -> Result<Vec<u8>, SourceError> {
    let shown = argv.join(" ");
    let Some((program, args)) = argv.split_first() else {
        return Err(SourceError::Missing("an empty command".into()));
    };
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|source| SourceError::Spawn {
            command: shown.clone(),
            source,
        })?;
    let stdout = read_on_thread(
        child.stdout.take(),
        limits.max_bytes.saturating_add(1),
        false,
    );
    let stderr = read_on_thread(child.stderr.take(), STDERR_KEPT as u64, true);

    let deadline = Instant::now() + limits.timeout;
    let mut output: Option<std::io::Result<Vec<u8>>> = None;
    let status = loop {
        if output.is_none() {
            output = stdout.try_recv().ok();
        }
        if let Some(Ok(bytes)) = &output
            && bytes.len() as u64 > limits.max_bytes
        {
            kill(&mut child);
            return Err(SourceError::TooLarge {
                what: format!("the output of `{shown}`"),
                limit: limits.max_bytes,
                size: None,
            });
        }
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(source) => {
                kill(&mut child);
                return Err(SourceError::Spawn {
                    command: shown,
                    source,
                });
            }
        }
        if Instant::now() >= deadline {
            kill(&mut child);
            return Err(SourceError::Timeout {
                command: shown,
                secs: limits.timeout.as_secs_f64(),
            });
        }
        thread::sleep(POLL);
    };
    // The command is done; whatever it started in its group goes too.
    kill(&mut child);
    let output = match output {
        Some(output) => Ok(output),
        None => stdout.recv_timeout(GRACE),
    };
    let stderr = stderr.recv_timeout(GRACE).ok().and_then(Result::ok);
    let bytes = match output {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(source)) => {
            return Err(SourceError::Spawn {
                command: shown,
                source,
            });
        }
        Err(_) => {
            return Err(SourceError::Failed {
                command: shown,
                status: status.to_string(),
                stderr: "its output was still open after it exited (a process outside its \
                         group holds it)"
                    .into(),
            });
        }
    };
    if bytes.len() as u64 > limits.max_bytes {
        return Err(SourceError::TooLarge {
            what: format!("the output of `{shown}`"),
            limit: limits.max_bytes,
            size: None,
        });
    }
    if !status.success() {
        let stderr = stderr.map(|b| first_line(&b)).unwrap_or_default();
        return Err(SourceError::Failed {
            command: shown,
            status: status.to_string(),
            stderr,
        });
    }
    Ok(bytes)
}

/// Kills the command's process group (the command is its leader: the group's id is its pid)
/// and reaps the command. An error means the group is gone already.
fn kill(child: &mut Child) {
    match i32::try_from(child.id()) {
        Ok(pid) => {
            let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
        }
        Err(_) => {
            let _ = child.kill();
        }
    }
    let _ = child.wait();
}

/// Reads `pipe` on a thread: up to `keep` bytes, then (when `drain`) discards the rest until
/// it closes, or (otherwise) stops, so the caller sees `keep` bytes and knows it overflowed.
fn read_on_thread<R: Read + Send + 'static>(
    pipe: Option<R>,
    keep: u64,
    drain: bool,
) -> Receiver<std::io::Result<Vec<u8>>> {
    let (tx, rx) = mpsc::channel();
    let spawned = thread::Builder::new()
        .name("config-drift-pipe".into())
        .spawn(move || {
            let Some(pipe) = pipe else {
                let _ = tx.send(Ok(Vec::new()));
                return;
            };
            let mut kept = Vec::new();
            let mut limited = pipe.take(keep);
            let result = limited.read_to_end(&mut kept).and_then(|_| {
                if drain {
                    std::io::copy(&mut limited.into_inner(), &mut std::io::sink())?;
                }
                Ok(())
            });
            let _ = tx.send(result.map(|()| kept));
        });
    if let Err(e) = spawned {
        // No thread: the receiver reports the failure.
        let (tx, rx) = mpsc::channel();
        let _ = tx.send(Err(e));
        return rx;
    }
    rx
}

/// The first non-empty line of stderr, at most 200 characters.
fn first_line(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let line = text.lines().map(str::trim).find(|l| !l.is_empty());
    line.unwrap_or_default().chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_bytes: u64, secs: f64) -> FetchLimits {
        FetchLimits {
            max_bytes,
            timeout: Duration::from_secs_f64(secs),
        }
    }

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| (*w).to_owned()).collect()
    }

    /// The error of running `words` within `max_bytes` and `secs`.
    fn failure(words: &[&str], max_bytes: u64, secs: f64) -> String {
        run(&argv(words), limits(max_bytes, secs))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn output_status_and_stderr() {
        let out = run(&argv(&["printf", "a=1;b=2"]), limits(100, 5.0)).unwrap();
        assert_eq!(out, b"a=1;b=2");
        assert_eq!(
            failure(&["sh", "-c", "echo nope >&2; exit 3"], 100, 5.0),
            "`sh -c echo nope >&2; exit 3` failed (exit status: 3): nope"
        );
        let err = failure(&["/no/such/program"], 100, 5.0);
        assert!(err.starts_with("starting `/no/such/program`: "), "{err}");
    }

    #[test]
    fn a_slow_command_is_killed_with_its_group() {
        // The background `sleep` holds stdout open: without killing the group, reading would
        // wait for it.
        let started = Instant::now();
        assert_eq!(
            failure(&["sh", "-c", "sleep 30 & sleep 30"], 100, 0.3),
            "`sh -c sleep 30 & sleep 30` did not finish within 0.3 s (`timeout`); killed"
        );
        // Not a timing assertion on the code under test: a guard that the test itself
        // did not wait for the sleeps.
        assert!(started.elapsed() < Duration::from_secs(20));
        let err = run(
            &argv(&["sh", "-c", "sleep 30 & echo done"]),
            limits(100, 5.0),
        );
        assert_eq!(err.unwrap(), b"done\n");
    }

    #[test]
    fn endless_output_is_cut_at_the_limit() {
        assert_eq!(
            failure(&["yes"], 1000, 5.0),
            "the output of `yes` is larger than the limit of 1000 bytes (`max_bytes`)"
        );
    }
}

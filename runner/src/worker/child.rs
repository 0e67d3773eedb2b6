//! A plugin process (`am-runner plugin-process`, started by a worker, never by hand): loads
//! the plugins, then runs one task per request line from its supervisor. A plugin that
//! aborts, crashes or spins takes down only this process; the supervisor restarts it.

use std::io::{BufRead, Write};

use am_plugin_host::{Plugins, Task, TaskResult, TaskRunner};

use super::proto::{SETUP_ENV, Setup};

/// Why a plugin process could not start.
#[derive(Debug, thiserror::Error)]
pub enum ChildError {
    /// The setup variable is missing or malformed.
    #[error("{SETUP_ENV}: {0} (this command is started by `am-runner --role worker`)")]
    Setup(String),
    /// The supervisor is gone already.
    #[error("the supervising worker (pid {0}) is gone")]
    Orphan(u32),
    /// The OS refused a setting.
    #[error("{what}: {source}")]
    Os {
        /// What was being set up.
        what: &'static str,
        /// Why.
        source: std::io::Error,
    },
}

/// Runs the plugin process until its supervisor closes stdin.
pub fn main() -> Result<(), ChildError> {
    let setup: Setup = std::env::var(SETUP_ENV)
        .map_err(|e| ChildError::Setup(e.to_string()))
        .and_then(|t| serde_json::from_str(&t).map_err(|e| ChildError::Setup(e.to_string())))?;
    let mut proto = os::prepare(&setup)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|source| ChildError::Os {
            what: "starting the runtime",
            source,
        })?;
    let plugins = Plugins::load_dir(&setup.plugin_dir).map_err(|source| ChildError::Os {
        what: "reading the plugin folder",
        source,
    })?;
    let tasks = TaskRunner::new(rt.handle().clone(), setup.redis.clone(), plugins);
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        let result = match serde_json::from_str::<Task>(&line) {
            Ok(task) => tasks.run(&task),
            Err(e) => TaskResult::failed(format!("unreadable request: {e}")),
        };
        let sent = serde_json::to_writer(&mut proto, &result)
            .map_err(std::io::Error::from)
            .and_then(|()| proto.write_all(b"\n"))
            .and_then(|()| proto.flush());
        if sent.is_err() {
            break;
        }
    }
    Ok(())
}

/// The process-level settings, the only unsafe code of the worker.
#[allow(unsafe_code)]
mod os {
    use std::fs::File;
    use std::io::BufWriter;
    use std::os::fd::FromRawFd;

    use super::{ChildError, Setup};

    /// Dies with the supervisor, applies the memory limit, and moves the protocol off fd 1
    /// (which then points at stderr, so a plugin's `println!` cannot corrupt it). Returns the
    /// protocol's writer.
    pub(super) fn prepare(setup: &Setup) -> Result<BufWriter<File>, ChildError> {
        let os_err = |what| ChildError::Os {
            what,
            source: std::io::Error::last_os_error(),
        };
        // SAFETY: plain system calls with valid constant arguments.
        if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) } != 0 {
            return Err(os_err("asking to die with the supervisor"));
        }
        // SAFETY: getppid cannot fail.
        let parent = unsafe { libc::getppid() };
        if u32::try_from(parent).ok() != Some(setup.parent_pid) {
            return Err(ChildError::Orphan(setup.parent_pid));
        }
        if let Some(mb) = setup.memory_limit_mb {
            let bytes = mb.saturating_mul(1 << 20);
            let limit = libc::rlimit {
                rlim_cur: bytes,
                rlim_max: bytes,
            };
            // SAFETY: `limit` is a valid rlimit for the call.
            if unsafe { libc::setrlimit(libc::RLIMIT_DATA, &limit) } != 0 {
                return Err(os_err("setting the memory limit (RLIMIT_DATA)"));
            }
        }
        // Ctrl-C and SIGTERM reach the whole process group: the supervisor decides when its
        // processes stop (it closes their stdin, or kills them), so a task in progress is not
        // cut short by a signal meant for the worker.
        for sig in [libc::SIGINT, libc::SIGTERM] {
            // SAFETY: ignoring a signal installs no handler code.
            unsafe { libc::signal(sig, libc::SIG_IGN) };
        }
        // SAFETY: duplicating and replacing standard descriptors this process owns.
        let proto = unsafe { libc::dup(1) };
        if proto < 0 {
            return Err(os_err("duplicating stdout"));
        }
        // SAFETY: as above.
        if unsafe { libc::dup2(2, 1) } < 0 {
            return Err(os_err("pointing stdout at stderr"));
        }
        // SAFETY: `proto` is a fresh descriptor owned by nothing else.
        let file = unsafe { File::from_raw_fd(proto) };
        Ok(BufWriter::with_capacity(1 << 16, file))
    }
}

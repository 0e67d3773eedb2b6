//! The products' binaries: where they are ([`product_binary`], [`build_dir`]) and their
//! one-shot commands, bounded in time ([`run_bounded`] and what it returns, [`CliOutput`]).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::sys::temp_dir;

/// Where the test command builds `profile` (`release`, `debug`): `$CARGO_TARGET_DIR/PROFILE`
/// when that is set (relative to the workspace root), else the workspace's `target/PROFILE`.
pub fn build_dir(profile: &str) -> PathBuf {
    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => root.join(dir).join(profile),
        _ => root.join("target").join(profile),
    }
}

/// The product binary `name`: `$ENV_VAR` when set (an error unless it is a file), else the
/// first of `profiles` (see [`build_dir`]) that holds it; an error saying to run `build` when
/// none does.
pub fn product_binary(
    name: &str,
    env_var: &str,
    profiles: &[&str],
    build: &str,
) -> Result<PathBuf> {
    if let Some(path) = std::env::var_os(env_var) {
        let path = PathBuf::from(path);
        if path.is_file() {
            return Ok(path);
        }
        bail!(
            "${env_var} is set to {}, which is not a file",
            path.display()
        );
    }
    let candidates: Vec<PathBuf> = profiles.iter().map(|p| build_dir(p).join(name)).collect();
    if let Some(found) = candidates.iter().find(|c| c.is_file()) {
        return Ok(found.clone());
    }
    let tried: Vec<String> = candidates.iter().map(|c| c.display().to_string()).collect();
    bail!(
        "the {name} binary is missing: {} does not exist; run `{build}` (or `make test`, which \
         does) before these tests",
        tried.join(" and ")
    )
}

/// What a finished one-shot command left: exit status, stdout, stderr.
#[derive(Debug, Clone)]
pub struct CliOutput {
    /// How it exited.
    pub status: ExitStatus,
    /// Everything it printed on stdout.
    pub stdout: String,
    /// Everything it printed on stderr.
    pub stderr: String,
}

impl CliOutput {
    /// Its exit code (`None` if killed by a signal).
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }
}

/// Runs `binary ARGS` (set up further by `configure`: environment, working directory) with
/// stdin closed, waits for it (at most `timeout`, then kills it and fails, naming it `name`),
/// and returns what it printed. Output goes through files, so a large output cannot block it.
pub fn run_bounded<S: AsRef<OsStr>>(
    name: &str,
    binary: &Path,
    args: &[S],
    timeout: Duration,
    configure: impl FnOnce(&mut Command),
) -> Result<CliOutput> {
    let dir = temp_dir("am-tests-cli-")?;
    let out_path = dir.path().join("stdout");
    let err_path = dir.path().join("stderr");
    let out = std::fs::File::create(&out_path).context("creating a stdout file")?;
    let err = std::fs::File::create(&err_path).context("creating a stderr file")?;
    let shown: Vec<String> = args
        .iter()
        .map(|a| a.as_ref().to_string_lossy().into_owned())
        .collect();
    let mut command = Command::new(binary);
    command.args(args);
    configure(&mut command);
    let mut child = command
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .with_context(|| format!("starting {} {}", binary.display(), shown.join(" ")))?;
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child
            .try_wait()
            .with_context(|| format!("waiting for {name}"))?
        {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
            bail!(
                "{name} {} did not finish within {timeout:?}; killed it. stderr:\n{stderr}",
                shown.join(" ")
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let read = |path: &Path| {
        std::fs::read(path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .with_context(|| format!("reading {}", path.display()))
    };
    Ok(CliOutput {
        status,
        stdout: read(&out_path)?,
        stderr: read(&err_path)?,
    })
}

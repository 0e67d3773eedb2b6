//! The binary's one-shot commands (`check`, `inspect`, anything else through [`run_cli`]),
//! each bounded in time, and where the binary is.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::points::StoredPoint;
use super::{CLI_TIMEOUT, COLLECTOR_ENV};
pub use crate::cli::CliOutput;
use crate::cli::{product_binary, run_bounded};
use crate::sys::temp_dir;

/// The `am-collector` binary: `$AM_TESTS_COLLECTOR`, else the release build, else the debug
/// build; an error saying how to build it when there is none.
pub fn collector_binary() -> Result<PathBuf> {
    product_binary(
        "am-collector",
        COLLECTOR_ENV,
        &["release", "debug"],
        "cargo build --release -p am-collector",
    )
}

/// Runs `am-collector ARGS` with `RUST_LOG=info`, waits for it (at most `timeout`, then kills
/// it and fails), and returns what it printed. Output goes through files, so a large output
/// cannot block it.
pub fn run_cli<S: AsRef<OsStr>>(args: &[S], timeout: Duration) -> Result<CliOutput> {
    run_bounded(
        "am-collector",
        &collector_binary()?,
        args,
        timeout,
        |command| {
            command.env("RUST_LOG", "info");
        },
    )
}

/// `am-collector inspect --config CONFIG PATTERN [--since SECONDS]`, parsed into points in the
/// order printed; an error (with its stderr) when it does not exit 0.
pub fn inspect(config: &Path, pattern: &str, since: Option<u64>) -> Result<Vec<StoredPoint>> {
    let mut args = vec![
        "inspect".as_ref(),
        "--config".as_ref(),
        config.as_os_str(),
        pattern.as_ref(),
    ];
    let since_text = since.map(|s| s.to_string());
    if let Some(s) = &since_text {
        args.push("--since".as_ref());
        args.push(s.as_ref());
    }
    let out = run_cli::<&OsStr>(&args, CLI_TIMEOUT)?;
    if !out.status.success() {
        bail!(
            "am-collector inspect {pattern:?} exited {}: {}",
            out.status,
            out.stderr
        );
    }
    parse_inspect(&out.stdout)
}

/// Parses `inspect` output: `name timestamp value` per line.
pub fn parse_inspect(text: &str) -> Result<Vec<StoredPoint>> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let mut fields = line.split_whitespace();
            let (Some(name), Some(ts), Some(value), None) =
                (fields.next(), fields.next(), fields.next(), fields.next())
            else {
                bail!("inspect printed {line:?}, not `name timestamp value`");
            };
            let ts = ts
                .parse()
                .with_context(|| format!("bad timestamp in {line:?}"))?;
            let value = value
                .parse()
                .with_context(|| format!("bad value in {line:?}"))?;
            Ok((name.to_owned(), ts, value))
        })
        .collect()
}

/// What `am-collector check` said about a config.
#[derive(Debug, Clone)]
pub struct CheckResult {
    /// The file the config was written to (errors start with this path).
    pub file: PathBuf,
    /// Exit code.
    pub code: Option<i32>,
    /// Its stdout.
    pub stdout: String,
    /// Its stderr.
    pub stderr: String,
}

/// Writes `config_text` to `collector.json` in a fresh temporary directory and runs
/// `am-collector check --config` on it.
pub fn check(config_text: &str) -> Result<CheckResult> {
    let dir = temp_dir("am-tests-collector-check-")?;
    let file = dir.path().join("collector.json");
    std::fs::write(&file, config_text).with_context(|| format!("writing {}", file.display()))?;
    let out = run_cli(
        &["check".as_ref(), "--config".as_ref(), file.as_os_str()],
        CLI_TIMEOUT,
    )?;
    Ok(CheckResult {
        file,
        code: out.code(),
        stdout: out.stdout,
        stderr: out.stderr,
    })
}

//! Small system helpers: finding a daemon's binary, checking a PID, reading a log's tail.

use std::fs::File;
use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use nix::errno::Errno;
use nix::sys::signal::kill;
use nix::unistd::Pid;

/// Finds the executable `name`: `$env_override` if that variable is set, else the first match on
/// `PATH`, else `/usr/sbin/NAME` or `/usr/bin/NAME`.
///
/// Never skips: when the binary is missing, the error says so and that `make test` installs it.
pub fn find_binary(name: &str, env_override: &str) -> Result<PathBuf> {
    if let Some(path) = std::env::var_os(env_override) {
        let path = PathBuf::from(path);
        if is_executable(&path) {
            return Ok(path);
        }
        bail!(
            "{name} not found: ${env_override} is set to {} which is not an executable file",
            path.display()
        );
    }
    let on_path = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default();
    let fallbacks = [PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")];
    on_path
        .iter()
        .chain(fallbacks.iter())
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
        .ok_or_else(|| {
            anyhow!(
                "{name} not found on PATH, in /usr/sbin or in /usr/bin (or set ${env_override}): \
                 run `make test`, which installs it"
            )
        })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    path.metadata()
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

/// Returns true while a process with this PID exists (a zombie counts as existing).
pub fn process_exists(pid: u32) -> bool {
    let Ok(raw) = i32::try_from(pid) else {
        return false;
    };
    // Signal "None" (0) only checks that the PID exists and may be signalled.
    !matches!(kill(Pid::from_raw(raw), None), Err(Errno::ESRCH))
}

/// A process's resident set size in bytes (`VmRSS` of `/proc/PID/status`).
pub fn rss_bytes(pid: u32) -> Result<u64> {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let kib = text
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .ok_or_else(|| anyhow!("no VmRSS in {path}"))?;
    Ok(kib * 1024)
}

/// A process's soft and hard open-file limits (`Max open files` of `/proc/PID/limits`).
pub fn open_files_limits(pid: u32) -> Result<(u64, u64)> {
    let path = format!("/proc/{pid}/limits");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let line = text
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .ok_or_else(|| anyhow!("no `Max open files` in {path}"))?;
    let mut numbers = line
        .trim_start_matches("Max open files")
        .split_whitespace()
        .map(str::parse::<u64>);
    match (numbers.next(), numbers.next()) {
        (Some(Ok(soft)), Some(Ok(hard))) => Ok((soft, hard)),
        _ => bail!("cannot read the limits in {line:?}"),
    }
}

/// The last `max_bytes` of a file, as lossy UTF-8 (starting at a line boundary when cut).
pub fn read_tail(path: &Path, max_bytes: u64) -> Result<String> {
    let mut file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let len = file
        .metadata()
        .with_context(|| format!("reading metadata of {}", path.display()))?
        .len();
    let start = len.saturating_sub(max_bytes);
    file.seek(SeekFrom::Start(start))
        .with_context(|| format!("seeking in {}", path.display()))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .with_context(|| format!("reading {}", path.display()))?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    if start > 0 {
        let cut = text.find('\n').map_or(0, |i| i + 1);
        return Ok(format!(
            "[... {start} earlier bytes cut ...]\n{}",
            &text[cut..]
        ));
    }
    Ok(text)
}

/// True when `AM_TESTS_KEEP` is set (to anything but empty or `0`): temporary directories of the
/// daemons are then left in place after the test, for inspection.
pub fn keep_temp_dirs() -> bool {
    std::env::var_os("AM_TESTS_KEEP").is_some_and(|v| !v.is_empty() && v != "0")
}

/// A fresh temporary directory named `PREFIX...` under the system's temp dir; removed when
/// dropped unless [`keep_temp_dirs`].
pub fn temp_dir(prefix: &str) -> Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix(prefix)
        .disable_cleanup(keep_temp_dirs())
        .tempdir()
        .with_context(|| {
            format!(
                "creating a temporary directory {prefix}* in {}",
                std::env::temp_dir().display()
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_binary_error_is_clear() {
        let err = find_binary("am-tests-no-such-daemon", "AM_TESTS_NO_SUCH_DAEMON").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("am-tests-no-such-daemon not found"), "{msg}");
        assert!(msg.contains("make test"), "{msg}");
    }

    #[test]
    fn finds_sh_and_this_process() {
        assert!(find_binary("sh", "AM_TESTS_NO_SUCH_OVERRIDE").is_ok());
        assert!(process_exists(std::process::id()));
    }

    #[test]
    fn tail_cuts_at_a_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let text: String = (0..100).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&path, &text).unwrap();
        let tail = read_tail(&path, 20).unwrap();
        assert!(tail.ends_with("line 99\n"), "{tail}");
        assert!(tail.contains("earlier bytes cut"), "{tail}");
        assert_eq!(read_tail(&path, 10_000).unwrap(), text);
    }
}

//! What carbon-cache and carbon-relay (Debian's `graphite-carbon`, carbon 1.1) have in common:
//! writing their config files and running them in the foreground.
//!
//! Both are run as `/usr/bin/carbon-X --config=DIR/carbon.conf --pidfile=DIR/carbon-X.pid
//! --logdir=DIR/log --nodaemon start`: `--nodaemon` keeps twistd from forking (so the PID we
//! spawned is the daemon) and sends its log to stdout, which goes to a file in DIR. Carbon reads
//! `storage-schemas.conf` (and `relay-rules.conf`) from the directory of `--config`; both
//! programs refuse to start without `storage-schemas.conf`, even the relay.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tempfile::TempDir;

use crate::net::send_lines;
use crate::process::{DaemonProcess, DaemonSpec};
use crate::sys::temp_dir;

/// How long carbon may take from start to accepting connections (python and twisted start
/// slowly on a busy 2-core machine).
pub const CARBON_STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// Environment variable that overrides where `carbon-cache` is found.
pub const CARBON_CACHE_ENV: &str = "AM_TESTS_CARBON_CACHE";

/// Environment variable that overrides where `carbon-relay` is found.
pub const CARBON_RELAY_ENV: &str = "AM_TESTS_CARBON_RELAY";

/// The settings of one section of a `carbon.conf`, in order; setting a key again replaces it
/// (carbon's config parser rejects duplicate keys).
#[derive(Debug, Clone, Default)]
pub struct CarbonConf {
    settings: Vec<(String, String)>,
}

impl CarbonConf {
    /// Sets `key = value`, replacing an earlier value of the same key (case-insensitive, as
    /// carbon's parser treats keys).
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<String>) -> &mut Self {
        let key = key.into();
        let value = value.into();
        match self
            .settings
            .iter_mut()
            .find(|(k, _)| k.eq_ignore_ascii_case(&key))
        {
            Some(slot) => slot.1 = value,
            None => self.settings.push((key, value)),
        }
        self
    }

    /// The settings in order, as `(key, value)`.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.settings.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.settings
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    /// The file text with these settings under `[section]`.
    pub fn render(&self, section: &str) -> String {
        let mut out = format!("# Written by the am-tests test harness.\n[{section}]\n");
        for (key, value) in &self.settings {
            let _ = writeln!(out, "{key} = {value}");
        }
        out
    }
}

/// Settings both daemons get, with everything under `dir` and every listener on 127.0.0.1.
pub(crate) fn base_conf(dir: &Path, line_port: u16, pickle_port: u16) -> CarbonConf {
    let path = |sub: &str| dir.join(sub).display().to_string();
    let mut conf = CarbonConf::default();
    conf.set("STORAGE_DIR", path("storage"))
        .set("LOCAL_DATA_DIR", path("storage/whisper"))
        .set("WHITELISTS_DIR", path("storage/lists"))
        .set("CONF_DIR", dir.display().to_string())
        .set("LOG_DIR", path("log"))
        .set("PID_DIR", dir.display().to_string())
        // Empty: do not switch user (Debian's default config says `_graphite`).
        .set("USER", "")
        .set("ENABLE_TAGS", "False")
        .set("ENABLE_LOGROTATION", "False")
        .set("LINE_RECEIVER_INTERFACE", "127.0.0.1")
        .set("LINE_RECEIVER_PORT", line_port.to_string())
        .set("PICKLE_RECEIVER_INTERFACE", "127.0.0.1")
        .set("PICKLE_RECEIVER_PORT", pickle_port.to_string())
        .set("ENABLE_UDP_LISTENER", "False")
        .set("UDP_RECEIVER_INTERFACE", "127.0.0.1")
        .set("ENABLE_MANHOLE", "False")
        .set("MANHOLE_INTERFACE", "127.0.0.1")
        // 0 turns off carbon's self-metrics (`carbon.agents.*`, `carbon.relays.*`).
        .set("CARBON_METRIC_INTERVAL", "0");
    conf
}

/// Writes `contents` to `dir/name`.
pub(crate) fn write_file(dir: &Path, name: &str, contents: &str) -> Result<PathBuf> {
    let path = dir.join(name);
    std::fs::write(&path, contents).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// A `storage-schemas.conf` with one catch-all rule: `pattern = .*`, `retentions = RETENTIONS`.
pub(crate) fn storage_schemas(retentions: &str) -> String {
    format!(
        "# Written by the am-tests test harness.\n[catch_all]\npattern = .*\nretentions = {retentions}\n"
    )
}

/// Starts `program` (carbon-cache or carbon-relay) in the foreground with the config in
/// `dir/carbon.conf`.
pub(crate) fn spawn_carbon(name: &str, binary: &Path, dir: &Path) -> Result<DaemonProcess> {
    let config = dir.join("carbon.conf");
    let pidfile = dir.join(format!("{name}.pid"));
    let logdir = dir.join("log");
    std::fs::create_dir_all(&logdir).with_context(|| format!("creating {}", logdir.display()))?;
    let mut config_arg = std::ffi::OsString::from("--config=");
    config_arg.push(&config);
    let mut pidfile_arg = std::ffi::OsString::from("--pidfile=");
    pidfile_arg.push(&pidfile);
    let mut logdir_arg = std::ffi::OsString::from("--logdir=");
    logdir_arg.push(&logdir);
    let spec = DaemonSpec::new(name, binary, dir)
        .arg(config_arg)
        .arg(pidfile_arg)
        .arg(logdir_arg)
        .args(["--nodaemon", "start"])
        // Keep the environment from redirecting carbon's python or its directories.
        .env_remove("PYTHONPATH")
        .env_remove("PYTHONHOME")
        .env_remove("PYTHONSTARTUP")
        .env_remove("GRAPHITE_ROOT")
        .env_remove("GRAPHITE_CONF_DIR")
        .env_remove("GRAPHITE_STORAGE_DIR")
        .env("PYTHONUNBUFFERED", "1")
        // Hides twisted's CryptographyDeprecationWarning noise in the logs.
        .env("PYTHONWARNINGS", "ignore");
    DaemonProcess::spawn(spec)
}

/// Waits until a started carbon daemon listens on all of `ports`.
pub(crate) fn wait_listening(process: &mut DaemonProcess, ports: &[u16]) -> Result<()> {
    for &port in ports {
        process.wait_for_port(port, CARBON_STARTUP_TIMEOUT)?;
    }
    Ok(())
}

/// The path of `metric`'s whisper file under `whisper_dir`: dots become directories
/// (`a.b.c` → `whisper_dir/a/b/c.wsp`), as carbon does with tags disabled.
pub fn whisper_path(whisper_dir: &Path, metric: &str) -> Result<PathBuf> {
    let parts: Vec<&str> = metric.split('.').collect();
    if parts
        .iter()
        .any(|p| p.is_empty() || *p == ".." || p.contains('/') || p.contains('\0'))
    {
        bail!("metric name {metric:?} does not map to a whisper path (empty part, '/' or '..')");
    }
    let mut path = whisper_dir.to_path_buf();
    if let Some((last, dirs)) = parts.split_last() {
        path.extend(dirs);
        path.push(format!("{last}.wsp"));
    }
    Ok(path)
}

/// `[destinations]` entries as carbon writes them: `HOST:PORT:INSTANCE`, with instances `a`,
/// `b`, ... (consistent hashing needs distinct instances per host).
pub(crate) fn destination_strings(destinations: &[(&str, u16)]) -> Result<Vec<String>> {
    const INSTANCES: &str = "abcdefghijklmnopqrstuvwxyz";
    if destinations.is_empty() {
        bail!("carbon-relay needs at least one destination");
    }
    if destinations.len() > INSTANCES.len() {
        bail!(
            "{} destinations: at most {} are supported",
            destinations.len(),
            INSTANCES.len()
        );
    }
    destinations
        .iter()
        .zip(INSTANCES.chars())
        .map(|(&(host, port), instance)| {
            if !crate::ports::is_loopback_host(host) {
                bail!(
                    "destination {host}:{port} is not on the loopback interface: the harness \
                     sends traffic only to 127.0.0.1"
                );
            }
            if host.contains(':') && !host.starts_with('[') {
                return Ok(format!("[{host}]:{port}:{instance}"));
            }
            Ok(format!("{host}:{port}:{instance}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conf_replaces_keys_case_insensitively() {
        let mut conf = CarbonConf::default();
        conf.set("MAX_QUEUE_SIZE", "1")
            .set("other", "x")
            .set("max_queue_size", "2");
        assert_eq!(conf.get("MAX_QUEUE_SIZE"), Some("2"));
        assert_eq!(
            conf.render("relay"),
            "# Written by the am-tests test harness.\n[relay]\nMAX_QUEUE_SIZE = 2\nother = x\n"
        );
    }

    #[test]
    fn whisper_paths() {
        let dir = Path::new("/w");
        assert_eq!(
            whisper_path(dir, "a.b.c").unwrap(),
            Path::new("/w/a/b/c.wsp")
        );
        assert_eq!(
            whisper_path(dir, "single").unwrap(),
            Path::new("/w/single.wsp")
        );
        assert_eq!(
            whisper_path(dir, "x.y-z_1").unwrap(),
            Path::new("/w/x/y-z_1.wsp")
        );
        for bad in ["", "a..b", ".a", "a.", "a/b", "a.../b"] {
            assert!(whisper_path(dir, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn destinations() {
        assert_eq!(
            destination_strings(&[("127.0.0.1", 1), ("localhost", 2)]).unwrap(),
            vec!["127.0.0.1:1:a", "localhost:2:b"]
        );
        assert_eq!(
            destination_strings(&[("::1", 3)]).unwrap(),
            vec!["[::1]:3:a"]
        );
        assert!(destination_strings(&[]).is_err());
        assert!(destination_strings(&[("10.1.1.1", 2003)]).is_err());
    }
}

/// Options of a carbon daemon's start: what only that daemon takes (`K`: the retentions of
/// carbon-cache, the [`RelayMethod`](crate::RelayMethod) of carbon-relay) and settings of its
/// carbon.conf section.
#[derive(Debug, Clone, Default)]
pub struct CarbonOptions<K> {
    /// What only this daemon takes.
    pub(crate) own: K,
    /// Settings overriding the harness' values.
    pub(crate) settings: CarbonConf,
}

impl<K> CarbonOptions<K> {
    /// Any setting of the daemon's carbon.conf section (`[cache]`, `[relay]`), overriding the
    /// harness' value: for example `CARBON_METRIC_INTERVAL` to turn its self-metrics back on,
    /// or `MAX_QUEUE_SIZE` (ports and directories too, at your own risk).
    #[must_use]
    pub fn setting(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.settings.set(key, value);
        self
    }
}

/// Dereferences a carbon daemon's guard (a struct with a `daemon: CarbonDaemon` field) to
/// that [`CarbonDaemon`]: what carbon-cache and carbon-relay share (ports, `send_lines`,
/// `stop`, `logs`, ...) is written once, there.
macro_rules! deref_to_daemon {
    ($guard:ty) => {
        impl std::ops::Deref for $guard {
            type Target = $crate::carbon::CarbonDaemon;

            fn deref(&self) -> &$crate::carbon::CarbonDaemon {
                &self.daemon
            }
        }

        impl std::ops::DerefMut for $guard {
            fn deref_mut(&mut self) -> &mut $crate::carbon::CarbonDaemon {
                &mut self.daemon
            }
        }
    };
}
pub(crate) use deref_to_daemon;

/// What a running carbon-cache and carbon-relay have in common: the process guard, the line
/// and pickle ports and the temporary directory. [`CarbonCache`](crate::CarbonCache) and
/// [`CarbonRelay`](crate::CarbonRelay) dereference to it.
#[derive(Debug)]
pub struct CarbonDaemon {
    // Dropped first: the process is stopped before its directory is removed.
    process: DaemonProcess,
    line_port: u16,
    pickle_port: u16,
    dir: TempDir,
}

impl CarbonDaemon {
    /// Writes `carbon.conf` — [`base_conf`], then `configure`, then the caller's `settings` —
    /// under `[section]` and the other `files` (`(name, contents)`) into a fresh temporary
    /// directory, starts `name` (`binary`) there in the foreground and waits until its line
    /// and pickle ports accept connections.
    pub(crate) fn launch(
        name: &str,
        binary: &Path,
        (line_port, pickle_port): (u16, u16),
        section: &str,
        configure: impl FnOnce(&mut CarbonConf),
        settings: &CarbonConf,
        files: &[(&str, String)],
    ) -> Result<Self> {
        let dir = temp_dir(&format!("am-tests-{name}-"))?;
        let mut conf = base_conf(dir.path(), line_port, pickle_port);
        configure(&mut conf);
        for (key, value) in settings.iter() {
            conf.set(key, value);
        }
        write_file(dir.path(), "carbon.conf", &conf.render(section))?;
        for (file, contents) in files {
            write_file(dir.path(), file, contents)?;
        }
        let process = spawn_carbon(name, binary, dir.path())?;
        let mut daemon = Self {
            process,
            line_port,
            pickle_port,
            dir,
        };
        wait_listening(&mut daemon.process, &[line_port, pickle_port])?;
        Ok(daemon)
    }

    /// The plaintext (line) receiver's port on 127.0.0.1.
    pub fn line_port(&self) -> u16 {
        self.line_port
    }

    /// The pickle receiver's port on 127.0.0.1.
    pub fn pickle_port(&self) -> u16 {
        self.pickle_port
    }

    /// Its temporary directory (carbon.conf, storage-schemas.conf, relay-rules.conf for the
    /// relay, logs, storage/).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Sends carbon plaintext lines (`metric value timestamp`, one per line) to its line port.
    pub fn send_lines(&self, text: &str) -> Result<()> {
        send_lines(self.line_port, text)
            .with_context(|| format!("sending lines to {}", self.process.name()))
    }

    /// The PID of the running daemon, `None` while stopped.
    pub fn pid(&mut self) -> Option<u32> {
        self.process.pid()
    }

    /// Stops it gracefully (carbon-cache flushes its cache to disk on SIGTERM), keeping its
    /// directory.
    pub fn stop(&mut self) -> Result<()> {
        let name = self.process.name().to_owned();
        self.process
            .stop()
            .with_context(|| format!("stopping {name}"))?;
        Ok(())
    }

    /// Starts it again after [`stop`](Self::stop): same ports, settings and directory; waits
    /// until it listens.
    pub fn start_again(&mut self) -> Result<()> {
        let name = self.process.name().to_owned();
        self.process
            .start()
            .with_context(|| format!("restarting {name}"))?;
        wait_listening(&mut self.process, &[self.line_port, self.pickle_port])
    }

    /// The tail of its log, for test failure messages.
    pub fn logs(&self) -> String {
        format!("{}\n{}", self.process.describe(), self.process.logs())
    }

    /// The process guard, for anything not wrapped here.
    pub fn process(&mut self) -> &mut DaemonProcess {
        &mut self.process
    }
}

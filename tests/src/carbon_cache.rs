//! A real carbon-cache writing whisper files in a fresh temporary directory, and reading them
//! back.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::carbon::{
    CARBON_CACHE_ENV, CarbonConf, CarbonDaemon, CarbonOptions, deref_to_daemon, storage_schemas,
    whisper_path,
};
use crate::ports::{free_ports, retry_on_port_clash};
use crate::sys::find_binary;
use crate::whisper::read_points;

/// Options of [`CarbonCache::start_with`].
pub type CarbonCacheOptions = CarbonOptions<Retentions>;

/// The retentions of carbon-cache's catch-all storage schema (`pattern = .*`).
#[derive(Debug, Clone)]
pub struct Retentions(String);

impl Default for Retentions {
    fn default() -> Self {
        Self("1s:1d".to_owned())
    }
}

impl CarbonCacheOptions {
    /// The retentions of the catch-all storage schema (`pattern = .*`); default `1s:1d`.
    #[must_use]
    pub fn retentions(mut self, retentions: impl Into<String>) -> Self {
        self.own = Retentions(retentions.into());
        self
    }
}

/// A running carbon-cache (see [`CarbonCache::start`]); stopped by PID when dropped. What it
/// shares with carbon-relay (ports, `send_lines`, `stop`, `logs`, ...) is on the
/// [`CarbonDaemon`] it dereferences to.
#[derive(Debug)]
pub struct CarbonCache {
    daemon: CarbonDaemon,
    query_port: u16,
}

deref_to_daemon!(CarbonCache);

impl CarbonCache {
    /// Starts Debian's carbon-cache with every retention `1s:1d` (see
    /// [`start_with`](Self::start_with)).
    pub fn start() -> Result<Self> {
        Self::start_with(CarbonCacheOptions::default())
    }

    /// Starts Debian's carbon-cache in the foreground in a fresh temporary directory TMP, with
    /// its line, pickle and cache-query receivers on free ports of 127.0.0.1, whisper files
    /// under `TMP/storage/whisper`, UDP, tags and self-metrics off, no creation or update rate
    /// limits; waits until its line and pickle ports accept connections.
    pub fn start_with(options: CarbonCacheOptions) -> Result<Self> {
        let binary = find_binary("carbon-cache", CARBON_CACHE_ENV)?;
        retry_on_port_clash(|| {
            let ports = free_ports(3)?;
            let (line_port, pickle_port, query_port) = (ports[0], ports[1], ports[2]);
            let configure = |conf: &mut CarbonConf| {
                conf.set("CACHE_QUERY_INTERFACE", "127.0.0.1")
                    .set("CACHE_QUERY_PORT", query_port.to_string())
                    .set("DATABASE", "whisper")
                    .set("MAX_CACHE_SIZE", "inf")
                    .set("MAX_CREATES_PER_MINUTE", "inf")
                    .set("MAX_UPDATES_PER_SECOND", "1000000")
                    // Sparse files: a 1s:1d archive is 1 MiB, no need to write its zeros.
                    .set("WHISPER_SPARSE_CREATE", "True")
                    .set("WHISPER_AUTOFLUSH", "False")
                    .set("CACHE_WRITE_STRATEGY", "sorted")
                    .set("LOG_UPDATES", "False")
                    .set("LOG_CACHE_HITS", "False")
                    .set("LOG_CACHE_QUEUE_SORTS", "False")
                    .set("LOG_CREATES", "True");
            };
            let daemon = CarbonDaemon::launch(
                "carbon-cache",
                &binary,
                (line_port, pickle_port),
                "cache",
                configure,
                &options.settings,
                &[("storage-schemas.conf", storage_schemas(&options.own.0))],
            )?;
            Ok(Self { daemon, query_port })
        })
    }

    /// The cache-query port on 127.0.0.1.
    pub fn cache_query_port(&self) -> u16 {
        self.query_port
    }

    /// Where it writes whisper files (`TMP/storage/whisper`).
    pub fn whisper_dir(&self) -> PathBuf {
        self.dir().join("storage").join("whisper")
    }

    /// The whisper file of `metric`: `TMP/storage/whisper/<metric with . replaced by />.wsp`.
    pub fn whisper_file(&self, metric: &str) -> Result<PathBuf> {
        whisper_path(&self.whisper_dir(), metric)
    }

    /// The points carbon has written for `metric` so far, from the highest-resolution archive
    /// of its whisper file, oldest first. Fails if the file does not exist (yet).
    pub fn read_whisper(&self, metric: &str) -> Result<Vec<(i64, f64)>> {
        let path = self.whisper_file(metric)?;
        if !path.exists() {
            anyhow::bail!(
                "no whisper file for {metric} at {} (carbon-cache has not created it yet?)",
                path.display()
            );
        }
        read_points(&path)
    }

    /// Polls [`read_whisper`](Self::read_whisper) until the file holds at least `n` points
    /// (carbon-cache writes asynchronously, usually within a second or two) and returns them;
    /// fails after `timeout`, or at once if carbon-cache exits, with its logs.
    pub fn wait_for_points(
        &mut self,
        metric: &str,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<(i64, f64)>> {
        let path = self.whisper_file(metric)?;
        let mut seen = 0;
        self.process()
            .wait_ready(
                &format!("{n} point(s) of {metric} in {}", path.display()),
                timeout,
                || {
                    if !path.exists() {
                        return Ok(None);
                    }
                    let points = read_points(&path)?;
                    seen = points.len();
                    Ok((points.len() >= n).then_some(points))
                },
            )
            .with_context(|| format!("only {seen} point(s) of {metric} were written"))
    }
}

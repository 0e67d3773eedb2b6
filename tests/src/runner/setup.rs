//! [`RunnerSetup`]: the files a runner under test is given (`analyzer.json`, its plugin folder
//! with copies of the built plugins, extra files such as a `services.json`) and its extra
//! command-line arguments.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::{Map, Value, json};

use super::CLI_TIMEOUT;
use super::cli::{PluginLib, RunnerCheck, run_cli};
use crate::sys::temp_dir;

/// The name of the config file the harness writes.
pub const ANALYZER_FILE: &str = "analyzer.json";

/// The name of the plugin folder the harness fills, inside the runner's directory.
pub const PLUGIN_DIR: &str = "plugins";

/// What a runner under test is given. Built with [`RunnerSetup::new`] (the sinks of a test's
/// redis-server and carbon-cache) or [`RunnerSetup::from_json`] (a whole `analyzer.json`), then
/// written by [`Runner::start`](super::Runner::start) or [`check`](Self::check) into a fresh
/// temporary directory TMP:
///
/// - `TMP/plugins/`: copies of the [`plugin`](Self::plugin) libraries and any
///   [`plugin_file`](Self::plugin_file); never `target/release` itself;
/// - `TMP/analyzer.json`: the config, with `plugin_dir` set to the absolute path of
///   `TMP/plugins` unless it names one itself or [`no_plugin_dir`](Self::no_plugin_dir) was
///   called;
/// - the [`file`](Self::file)s, relative to TMP (the runner's working directory).
#[derive(Debug, Clone)]
pub struct RunnerSetup {
    analyzer: Map<String, Value>,
    plugins: Vec<PluginLib>,
    plugin_files: Vec<(String, Vec<u8>)>,
    files: Vec<(String, String)>,
    args: Vec<String>,
    auto_plugin_dir: bool,
}

impl RunnerSetup {
    /// An `analyzer.json` reading from redis-server on `127.0.0.1:redis_port` (db 0) and writing
    /// to carbon's plaintext port `127.0.0.1:carbon_port` with prefix `AnnaMolly`, without
    /// services yet.
    pub fn new(redis_port: u16, carbon_port: u16) -> Self {
        Self::from_json(json!({
            "metric_sink": { "RedisSink": { "host": "127.0.0.1", "port": redis_port, "db": 0 } },
            "output_sink": { "GraphiteSink": {
                "host": "127.0.0.1", "port": carbon_port, "prefix": "AnnaMolly" } },
            "services": {}
        }))
    }

    /// A setup whose `analyzer.json` is `analyzer` (an object; anything else becomes `{}`).
    pub fn from_json(analyzer: Value) -> Self {
        let analyzer = match analyzer {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        Self {
            analyzer,
            plugins: Vec::new(),
            plugin_files: Vec::new(),
            files: Vec::new(),
            args: Vec::new(),
            auto_plugin_dir: true,
        }
    }

    /// Adds (or replaces) the algorithm `name` under `services` (creating `services` if it is
    /// missing or not an object): `config` is its `scheduler_options` and `worker_options`.
    #[must_use]
    pub fn service(mut self, name: &str, config: Value) -> Self {
        let services = self
            .analyzer
            .entry("services")
            .or_insert_with(|| Value::Object(Map::new()));
        if !services.is_object() {
            *services = Value::Object(Map::new());
        }
        if let Value::Object(map) = services {
            map.insert(name.to_owned(), config);
        }
        self
    }

    /// Sets the top-level key `key` of `analyzer.json`.
    #[must_use]
    pub fn set(mut self, key: &str, value: Value) -> Self {
        self.analyzer.insert(key.to_owned(), value);
        self
    }

    /// Removes the top-level key `key` of `analyzer.json`.
    #[must_use]
    pub fn remove(mut self, key: &str) -> Self {
        self.analyzer.remove(key);
        self
    }

    /// Sets the `prefix` of the `GraphiteSink` (when the config has one).
    #[must_use]
    pub fn prefix(mut self, prefix: &str) -> Self {
        if let Some(sink) = self
            .analyzer
            .get_mut("output_sink")
            .and_then(|s| s.get_mut("GraphiteSink"))
            .and_then(Value::as_object_mut)
        {
            sink.insert("prefix".to_owned(), Value::String(prefix.to_owned()));
        }
        self
    }

    /// Copies the built library `lib` into the plugin folder.
    #[must_use]
    pub fn plugin(mut self, lib: PluginLib) -> Self {
        self.plugins.push(lib);
        self
    }

    /// Copies the built library `lib` into the plugin folder and adds its algorithm
    /// `algorithm` firing every second for the services of `worker_options` (see
    /// [`every_second`](super::test_helpers::every_second)).
    #[must_use]
    pub fn every_second(self, lib: PluginLib, algorithm: &str, worker_options: Value) -> Self {
        self.plugin(lib)
            .service(algorithm, super::test_helpers::every_second(worker_options))
    }

    /// Writes `bytes` as `name` into the plugin folder (a file that is not a plugin, say).
    #[must_use]
    pub fn plugin_file(mut self, name: &str, bytes: Vec<u8>) -> Self {
        self.plugin_files.push((name.to_owned(), bytes));
        self
    }

    /// Writes `text` as `name` (relative to the runner's directory), e.g. a `services.json`.
    #[must_use]
    pub fn file(mut self, name: &str, text: &str) -> Self {
        self.files.push((name.to_owned(), text.to_owned()));
        self
    }

    /// Adds a command-line argument after `--config FILE` (run in the runner's directory, so
    /// relative paths such as `plugins` or `services.json` work).
    #[must_use]
    pub fn arg(mut self, arg: &str) -> Self {
        self.args.push(arg.to_owned());
        self
    }

    /// Leaves `plugin_dir` out of `analyzer.json` (the folder is still filled: pass
    /// `--plugin-dir plugins` with [`arg`](Self::arg)).
    #[must_use]
    pub fn no_plugin_dir(mut self) -> Self {
        self.auto_plugin_dir = false;
        self
    }

    /// The extra command-line arguments.
    pub fn args(&self) -> &[String] {
        &self.args
    }

    /// Writes everything into `dir`; with `metrics_port`, `metrics.listen` is set to
    /// `127.0.0.1:PORT`. Returns the config's path and text.
    pub fn write(&self, dir: &Path, metrics_port: Option<u16>) -> Result<(PathBuf, String)> {
        let plugin_dir = dir.join(PLUGIN_DIR);
        std::fs::create_dir_all(&plugin_dir)
            .with_context(|| format!("creating {}", plugin_dir.display()))?;
        for lib in &self.plugins {
            let from = lib.built_path()?;
            let to = plugin_dir.join(lib.file_name());
            std::fs::copy(&from, &to)
                .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
        }
        for (name, bytes) in &self.plugin_files {
            let to = plugin_dir.join(name);
            std::fs::write(&to, bytes).with_context(|| format!("writing {}", to.display()))?;
        }
        for (name, text) in &self.files {
            let to = dir.join(name);
            std::fs::write(&to, text).with_context(|| format!("writing {}", to.display()))?;
        }
        let mut analyzer = self.analyzer.clone();
        if self.auto_plugin_dir && !analyzer.contains_key("plugin_dir") {
            analyzer.insert(
                "plugin_dir".to_owned(),
                Value::String(plugin_dir.display().to_string()),
            );
        }
        if let Some(port) = metrics_port {
            analyzer.insert(
                "metrics".to_owned(),
                json!({ "listen": format!("127.0.0.1:{port}") }),
            );
        }
        let text = serde_json::to_string_pretty(&Value::Object(analyzer))
            .context("rendering analyzer.json")?;
        let path = dir.join(ANALYZER_FILE);
        std::fs::write(&path, &text).with_context(|| format!("writing {}", path.display()))?;
        Ok((path, text))
    }

    /// Writes the setup into a fresh temporary directory and runs `am-runner check --config
    /// FILE ARGS` there.
    pub fn check(&self) -> Result<RunnerCheck> {
        self.one_shot("check")
    }

    /// Writes the setup into a fresh temporary directory and runs `am-runner plugins --config
    /// FILE ARGS` there.
    pub fn plugins(&self) -> Result<RunnerCheck> {
        self.one_shot("plugins")
    }

    fn one_shot(&self, command: &str) -> Result<RunnerCheck> {
        let dir = temp_dir("am-tests-runner-check-")?;
        let (file, _) = self.write(dir.path(), None)?;
        let out = command_in(command, &file, &self.args, dir.path())?;
        // The directory goes away with `dir`; the result keeps its name for messages.
        Ok(out)
    }
}

/// Runs `am-runner COMMAND --config FILE ARGS` in `dir`.
pub(super) fn command_in(
    command: &str,
    file: &Path,
    args: &[String],
    dir: &Path,
) -> Result<RunnerCheck> {
    let mut all: Vec<&std::ffi::OsStr> =
        vec![command.as_ref(), "--config".as_ref(), file.as_os_str()];
    all.extend(args.iter().map(std::ffi::OsStr::new));
    let out = run_cli(&all, dir, CLI_TIMEOUT)?;
    Ok(RunnerCheck {
        file: file.to_path_buf(),
        dir: dir.to_path_buf(),
        code: out.code(),
        stdout: out.stdout,
        stderr: out.stderr,
    })
}

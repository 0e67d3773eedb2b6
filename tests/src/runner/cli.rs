//! Where the runner and the plugin libraries are, and the runner's one-shot commands (`check`,
//! `plugins`), each bounded in time.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Result, bail};

use super::RUNNER_ENV;
use crate::cli::{CliOutput, build_dir, product_binary, run_bounded};

/// The command that builds everything these tests run.
pub const BUILD_COMMAND: &str = "cargo build --release -p am-runner -p am-plugin-example \
                                 -p am-plugin-tukeys-filter -p am-plugin-seasonal-decomposition \
                                 -p am-plugin-seasonal-decomposition-ensemble \
                                 -p am-plugin-flow-difference -p am-plugin-skyline \
                                 -p am-plugin-threshold -p am-plugin-heartbeat -p am-plugin-config-drift \
                                 -p am-test-plugin-faulty -p am-test-plugin-abi-mismatch";

/// The `am-runner` binary: `$AM_TESTS_RUNNER`, else `target/release/am-runner`; an error saying
/// how to build it when there is none.
pub fn runner_binary() -> Result<PathBuf> {
    product_binary("am-runner", RUNNER_ENV, &["release"], BUILD_COMMAND)
}

/// A plugin library built by the workspace, copied into a test's plugin folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluginLib {
    /// `libam_plugin_example.so`: the `Example` detector (plugins/example).
    Example,
    /// `libam_test_plugin_faulty.so`: the `Faulty` test plugin (tests/plugins/faulty).
    Faulty,
    /// `libam_test_plugin_abi_mismatch.so`: claims ABI version 999 (tests/plugins/abi-mismatch).
    AbiMismatch,
    /// `libam_plugin_tukeys_filter.so`: anna-molly's `TukeysFilter` (plugins/tukeys-filter).
    TukeysFilter,
    /// `libam_plugin_seasonal_decomposition.so`: anna-molly's `SeasonalDecomposition`
    /// (plugins/seasonal-decomposition).
    SeasonalDecomposition,
    /// `libam_plugin_seasonal_decomposition_ensemble.so`: anna-molly's
    /// `SeasonalDecompositionEnsemble` (plugins/seasonal-decomposition-ensemble).
    SeasonalDecompositionEnsemble,
    /// `libam_plugin_flow_difference.so`: anna-molly's `FlowDifference`
    /// (plugins/flow-difference).
    FlowDifference,
    /// `libam_plugin_skyline.so`: `Skyline`, Skyline's nine algorithms and a consensus
    /// (plugins/skyline).
    Skyline,
    /// `libam_plugin_config_drift.so`: `ConfigDrift`, configuration drift across a fleet
    /// (plugins/config-drift).
    ConfigDrift,
    /// `libam_plugin_threshold.so`: `Threshold`, monasca's alarm expressions
    /// (plugins/threshold).
    Threshold,
    /// `libam_plugin_heartbeat.so`: `Heartbeat`, numbat's automatic heartbeat
    /// (plugins/heartbeat).
    Heartbeat,
}

impl PluginLib {
    /// anna-molly's four detectors, shipped in `plugins/`.
    pub const ANNA_MOLLY: [PluginLib; 4] = [
        PluginLib::TukeysFilter,
        PluginLib::SeasonalDecomposition,
        PluginLib::SeasonalDecompositionEnsemble,
        PluginLib::FlowDifference,
    ];

    /// The library's file name.
    pub fn file_name(self) -> &'static str {
        match self {
            PluginLib::Example => "libam_plugin_example.so",
            PluginLib::Faulty => "libam_test_plugin_faulty.so",
            PluginLib::AbiMismatch => "libam_test_plugin_abi_mismatch.so",
            PluginLib::TukeysFilter => "libam_plugin_tukeys_filter.so",
            PluginLib::SeasonalDecomposition => "libam_plugin_seasonal_decomposition.so",
            PluginLib::SeasonalDecompositionEnsemble => {
                "libam_plugin_seasonal_decomposition_ensemble.so"
            }
            PluginLib::FlowDifference => "libam_plugin_flow_difference.so",
            PluginLib::Skyline => "libam_plugin_skyline.so",
            PluginLib::ConfigDrift => "libam_plugin_config_drift.so",
            PluginLib::Threshold => "libam_plugin_threshold.so",
            PluginLib::Heartbeat => "libam_plugin_heartbeat.so",
        }
    }

    /// Where the build left it (`target/release/FILE`); an error saying how to build it when
    /// it is missing.
    pub fn built_path(self) -> Result<PathBuf> {
        let path = build_dir("release").join(self.file_name());
        if path.is_file() {
            return Ok(path);
        }
        bail!(
            "the plugin library {} is missing; run `{BUILD_COMMAND}` (or `make test`) before \
             these tests",
            path.display()
        )
    }
}

/// Runs `am-runner ARGS` in `cwd` with `RUST_LOG` removed (the command's own default level
/// applies), waits for it (at most `timeout`, then kills it and fails), and returns what it
/// printed. Output goes through files, so a large output cannot block it.
pub fn run_cli<S: AsRef<OsStr>>(args: &[S], cwd: &Path, timeout: Duration) -> Result<CliOutput> {
    run_bounded("am-runner", &runner_binary()?, args, timeout, |command| {
        command.current_dir(cwd).env_remove("RUST_LOG");
    })
}

/// What `am-runner check` (or `plugins`) said about a config.
#[derive(Debug, Clone)]
pub struct RunnerCheck {
    /// The config file given with `--config` (absolute).
    pub file: PathBuf,
    /// The directory holding the config, its plugin folder and any extra files.
    pub dir: PathBuf,
    /// Exit code (`None` if killed by a signal).
    pub code: Option<i32>,
    /// Its stdout.
    pub stdout: String,
    /// Its stderr.
    pub stderr: String,
}

/// One line `FILE: at PATH: message` (or `FILE: message`) of a failed `check`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file's name relative to the config's directory (`analyzer.json`, `services.json`).
    pub file: String,
    /// The JSON path (empty when the line names none).
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl RunnerCheck {
    /// The problem lines on stderr: every line that starts with the name of a `.json` file
    /// (as given, or under the config's directory); log lines start with a timestamp and are
    /// left out.
    pub fn problems(&self) -> Vec<Problem> {
        let dir = format!("{}/", self.dir.display());
        self.stderr
            .lines()
            .filter_map(|line| {
                let rest = line.strip_prefix(&dir).unwrap_or(line);
                let (file, rest) = rest.split_once(": ")?;
                if !file.ends_with(".json") || file.contains(' ') {
                    return None;
                }
                let (path, message) = match rest.strip_prefix("at ") {
                    Some(r) => r.split_once(": ")?,
                    None => ("", rest),
                };
                Some(Problem {
                    file: file.to_owned(),
                    path: path.to_owned(),
                    message: message.to_owned(),
                })
            })
            .collect()
    }

    /// Everything it printed, for failure messages.
    pub fn describe(&self) -> String {
        format!(
            "am-runner on {} exited {:?}\n----- stdout -----\n{}----- stderr -----\n{}",
            self.file.display(),
            self.code,
            self.stdout,
            self.stderr
        )
    }
}

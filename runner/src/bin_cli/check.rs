//! `am-runner check`: the config, the plugins it names and every service's options.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use am_daemon::config::{ConfigError, Problem};
use am_plugin_api::hosting::Outcome;
use am_plugin_host::{Plugins, instantiate};
use am_runner::config::{AlgorithmSpec, AnalyzerConfig};

/// Exit 0 with "OK", or 2 with one line per problem, each against the file it is in.
pub fn check(file: &Path, config: &AnalyzerConfig, algorithms: &[AlgorithmSpec]) -> ExitCode {
    let problems = problems(config, algorithms);
    if problems.is_empty() {
        println!(
            "{}: OK ({} algorithms, {} services)",
            file.display(),
            algorithms.len(),
            algorithms.iter().map(|a| a.services.len()).sum::<usize>()
        );
        return ExitCode::SUCCESS;
    }
    let mut by_file: Vec<ConfigError> = Vec::new();
    for (f, p) in problems {
        let f = f.unwrap_or_else(|| file.to_path_buf());
        match by_file.iter_mut().find(|e| e.file == f) {
            Some(e) => e.problems.push(p),
            None => by_file.push(ConfigError {
                file: f,
                problems: vec![p],
            }),
        }
    }
    for e in by_file {
        eprintln!("{e}");
    }
    ExitCode::from(2)
}

/// Every problem with the plugins and options (the config itself already parsed), with the
/// file it is in when that is not analyzer.json.
pub fn problems(
    config: &AnalyzerConfig,
    algorithms: &[AlgorithmSpec],
) -> Vec<(Option<PathBuf>, Problem)> {
    let plugins = match Plugins::load_dir(&config.plugin_dir) {
        Ok(p) => p,
        Err(e) => {
            return vec![(
                None,
                Problem::new(
                    "plugin_dir",
                    format!("cannot read {}: {e}", config.plugin_dir.display()),
                ),
            )];
        }
    };
    let mut out = Vec::new();
    for alg in algorithms {
        for svc in &alg.services {
            let Some(plugin) = plugins.get(&svc.plugin) else {
                let skipped: Vec<String> = plugins
                    .skipped
                    .iter()
                    .map(|s| format!("{} ({})", s.path.display(), s.reason))
                    .collect();
                out.push((
                    Some(alg.file.clone()),
                    Problem::new(
                        format!("{}.scheduler_options.plugin_args.name", alg.path),
                        format!(
                            "no plugin named {:?} in {}; loaded: [{}]{}",
                            svc.plugin,
                            config.plugin_dir.display(),
                            plugins.names().join(", "),
                            if skipped.is_empty() {
                                String::new()
                            } else {
                                format!("; skipped: {}", skipped.join("; "))
                            }
                        ),
                    ),
                ));
                break;
            };
            if let Err(o) = instantiate(&plugin, &svc.options, &svc.service) {
                let msg = match o {
                    Outcome::Failed(m) => m,
                    Outcome::Panicked(m) => format!("the plugin panicked: {m}"),
                    Outcome::Ok => "the plugin failed to start".into(),
                };
                out.push((Some(alg.file.clone()), Problem::new(svc.path.clone(), msg)));
            }
        }
    }
    out
}

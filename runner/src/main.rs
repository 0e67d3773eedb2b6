//! `am-runner`: fires each service's poll task on its schedule and runs the plugins, writing
//! their analysis to Graphite.
//!
//! ```text
//! am-runner --config analyzer.json [--plugin-dir DIR] [--services services.json]   run
//! am-runner check --config analyzer.json      validate, load every plugin, parse every option
//! am-runner plugins --config analyzer.json    list the plugins found (and files skipped)
//! am-runner replay --plugin NAME_OR_FILE --options JSON (--csv FILE | --series NAME=FILE ...)
//! am-runner --config analyzer.json --role scheduler|worker|all   the distributed runner
//! am-runner status --config analyzer.json     workers, tasks per service, dead letters
//! am-runner alarms --config analyzer.json [--json] [--history N]   alarms not OK, transitions
//! am-runner backtest --config analyzer.json --service ALG/SERVICE --since SECONDS [--json]
//! ```

// A command-line tool answers on stdout.
#![allow(clippy::print_stdout)]

mod bin_cli;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// anna-molly's runner: scheduled poll tasks dispatching plugins, output to Graphite.
#[derive(Debug, Parser)]
#[command(name = "am-runner", version, about)]
struct Cli {
    /// The runner config (analyzer.json).
    #[arg(long, short, global = true)]
    config: Option<PathBuf>,
    /// The plugins folder (overrides `plugin_dir` in the config).
    #[arg(long, global = true)]
    plugin_dir: Option<PathBuf>,
    /// anna-molly's separate services.json (replaces `services` in the config).
    #[arg(long, global = true)]
    services: Option<PathBuf>,
    /// Run as part of a distributed runner sharing tasks through Redis: `scheduler`,
    /// `worker` or `all`. Without it, one process schedules and runs everything.
    #[arg(long, value_enum)]
    role: Option<bin_cli::roles::Role>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run scheduler and workers (the default).
    Run,
    /// Validate the config, load every referenced plugin and parse every service's options:
    /// exit 0, or 2 with one line per problem.
    Check,
    /// List the plugins in the plugin folder: name, version, ABI version, file.
    Plugins,
    /// The distributed runner's state, read from Redis: workers, tasks per service, dead
    /// letters.
    Status(bin_cli::status::StatusArgs),
    /// The alarms that are not OK and the newest transitions, read from Redis.
    Alarms(bin_cli::alarms::AlarmsArgs),
    /// Replay a service over the history in Redis through the alarm layer: what it would
    /// have notified.
    Backtest(am_runner::backtest::BacktestArgs),
    /// A worker's plugin process (started by `--role worker`, not by hand).
    #[command(hide = true)]
    PluginProcess,
    /// Run a plugin offline over CSVs of `timestamp,value`, tick by tick at the data's
    /// timestamps, printing one CSV row per tick: `timestamp` then the output fields.
    Replay(Box<bin_cli::replay::ReplayArgs>),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::PluginProcess) = &cli.command {
        // Each process loads the plugins: the worker already said which it found.
        am_daemon::init_tracing("info,am_plugin_host::loader=warn");
        return match am_runner::worker::child::main() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("am-runner plugin-process: {e}");
                ExitCode::from(2)
            }
        };
    }
    let running = matches!(cli.command, None | Some(Command::Run));
    am_daemon::init_tracing(if running { "info" } else { "warn" });
    if running {
        // Systemd's soft limit of 1024 is not enough for many connections.
        am_daemon::raise_open_files_limit();
    }
    if let Some(Command::Replay(args)) = &cli.command {
        return match bin_cli::replay::replay(args, cli.plugin_dir.as_deref(), cli.config.as_deref())
        {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("am-runner replay: {e:#}");
                ExitCode::from(2)
            }
        };
    }
    let Some(config_path) = cli.config else {
        eprintln!("am-runner: --config FILE is required");
        return ExitCode::from(2);
    };
    let loaded = match am_runner::config::load(&config_path, cli.services.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let (mut config, algorithms) = loaded;
    if let Some(dir) = cli.plugin_dir {
        config.plugin_dir = dir;
    }
    let result = match cli.command.unwrap_or(Command::Run) {
        Command::Check => return bin_cli::check::check(&config_path, &config, &algorithms),
        Command::Plugins => bin_cli::plugins::list(&config),
        Command::Run => match cli.role {
            Some(role) => bin_cli::roles::run(config, algorithms, role),
            None => bin_cli::run::run(config, algorithms),
        },
        Command::Status(args) => return bin_cli::status::status(&config, &algorithms, &args),
        Command::Alarms(args) => return bin_cli::alarms::alarms(&config, &args),
        Command::Backtest(args) => return bin_cli::backtest::backtest(&config, &algorithms, &args),
        Command::Replay(_) | Command::PluginProcess => Ok(()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("am-runner: {e:#}");
            ExitCode::FAILURE
        }
    }
}

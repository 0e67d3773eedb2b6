//! `am-collector`: receives carbon metrics and stores the whitelisted ones in Redis.
//!
//! ```text
//! am-collector --config collector.json                   run
//! am-collector check --config collector.json             validate; exit 0, or 2 with the problems
//! am-collector inspect --config collector.json PATTERN [--since SECONDS]
//! ```

// A command-line tool answers on stdout.
#![allow(clippy::print_stdout)]

mod bin_cli;

/// jemalloc, with its background threads purging freed pages: after a burst of connections
/// the memory goes back to the system within about its 10 s decay, where glibc's malloc kept
/// most of it (figures in the README's "Production" section, from `bench/memory-burst`).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use std::path::PathBuf;
use std::process::ExitCode;

use am_daemon::text::escaped_lines;
use clap::{Parser, Subcommand};

/// anna-molly's collector: carbon metrics in, routed through models, into Redis.
#[derive(Debug, Parser)]
#[command(name = "am-collector", version, about)]
struct Cli {
    /// The collector config (anna-molly's collector.json shape).
    #[arg(long, short, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the collector (the default).
    Run,
    /// Validate the config: exit 0 when it is good, 2 with one line per problem when not.
    Check,
    /// Print the stored points of the metrics matching PATTERN, `name timestamp value` per line.
    Inspect {
        /// A glob (`*`, `?`, `[a-z]`, `{a,b}`; `*` crosses dots) or `re:<regex>` matched at the
        /// start of the name.
        pattern: String,
        /// Only points of the last SECONDS seconds.
        #[arg(long)]
        since: Option<u64>,
        /// Only the series stored under this model tag (`r<ttl>` for RedisTimeStamped,
        /// `i<interval>r<ttl>` for RedisIntervalTimeStamped); by default every model's.
        #[arg(long)]
        model: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    am_daemon::init_tracing("info");
    let Some(config_path) = cli.config else {
        eprintln!("am-collector: --config FILE is required");
        return ExitCode::from(2);
    };
    let config = match am_collector::config::load(&config_path) {
        Ok(c) => c,
        Err(e) => {
            // Quoted keys and values are the file's: shown escaped, one problem per line.
            eprintln!("{}", escaped_lines(&e.to_string()));
            return ExitCode::from(2);
        }
    };
    let result = match cli.command.unwrap_or(Command::Run) {
        Command::Check => {
            println!("{}: OK", config_path.display());
            return ExitCode::SUCCESS;
        }
        Command::Run => bin_cli::run::run(config),
        Command::Inspect {
            pattern,
            since,
            model,
        } => bin_cli::inspect::inspect(&config, &pattern, since, model.as_deref()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("am-collector: {}", escaped_lines(&format!("{e:#}")));
            ExitCode::FAILURE
        }
    }
}

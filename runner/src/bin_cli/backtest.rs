//! `am-runner backtest`: prints what [`am_runner::backtest`] found.

use std::io::IsTerminal;
use std::process::ExitCode;

use am_runner::backtest::{BacktestArgs, run};
use am_runner::config::{AlgorithmSpec, AnalyzerConfig};

/// Runs the backtest and prints its report; exit 0, or 2 when it cannot run.
pub fn backtest(
    config: &AnalyzerConfig,
    algorithms: &[AlgorithmSpec],
    args: &BacktestArgs,
) -> ExitCode {
    let tty = std::io::stderr().is_terminal();
    let progress = |done: usize, total: usize| {
        if tty && (done.is_multiple_of(100) || done == total) {
            eprint!("\rbacktest: {done}/{total} ticks");
            if done == total {
                eprintln!();
            }
        }
    };
    match run(config, algorithms, args, progress) {
        Ok(report) if args.json => {
            println!("{}", report.to_json());
            ExitCode::SUCCESS
        }
        Ok(report) => {
            print!("{}", report.to_text());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("am-runner backtest: {e}");
            ExitCode::from(2)
        }
    }
}

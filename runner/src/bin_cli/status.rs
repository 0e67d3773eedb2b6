//! `am-runner status --config FILE`: the distributed runner's state, from Redis.

use std::process::ExitCode;

use am_runner::config::{AlgorithmSpec, AnalyzerConfig};
use am_runner::queue::QueueClient;
use am_runner::queue::status::{Status, read};

/// Options of `status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Print JSON instead of tables.
    #[arg(long)]
    json: bool,
    /// How many of the newest dead letters to show.
    #[arg(long, default_value_t = 10)]
    dead: usize,
}

/// Prints the status; exit 0, or 1 when Redis cannot be read.
pub fn status(
    config: &AnalyzerConfig,
    algorithms: &[AlgorithmSpec],
    args: &StatusArgs,
) -> ExitCode {
    let rt = match super::command_runtime("status") {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let redis = config.metric_sink.redis();
    let mut client = QueueClient::new(redis.clone(), &config.queue.prefix);
    let mut st = match rt.block_on(read(&mut client, args.dead)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("am-runner status: reading the queue at {redis}: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Configured services appear even before their first task.
    for alg in algorithms {
        for svc in &alg.services {
            st.services
                .entry(alg.name.clone())
                .or_default()
                .entry(svc.service.clone())
                .or_default();
        }
    }
    if args.json {
        match serde_json::to_string_pretty(&st) {
            Ok(j) => println!("{j}"),
            Err(e) => {
                eprintln!("am-runner status: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        print_text(&st, &redis.to_string());
    }
    ExitCode::SUCCESS
}

fn print_text(st: &Status, redis: &str) {
    let alive = st.workers.iter().filter(|w| w.alive).count();
    println!("queue {} on {redis}", st.stream);
    println!(
        "workers: {alive} alive, {} not seen recently",
        st.workers.len() - alive
    );
    for w in &st.workers {
        let get = |k: &str| w.info.get(k).map_or("?", String::as_str);
        println!(
            "  {:<32} {:<5} processes {:<3} running {:<3} ok {:<8} failed {:<6} restarts {:<4} seen {:.1} s ago",
            w.name,
            if w.alive { "alive" } else { "gone" },
            get("processes"),
            get("running"),
            get("tasks_ok"),
            get("tasks_failed"),
            get("restarts"),
            w.seen_ms_ago as f64 / 1000.0
        );
    }
    println!(
        "tasks:\n  {:<28} {:<24} {:>7} {:>7} {:>9} {:>7} {:>5} {:>8} {:>5}",
        "ALGORITHM", "SERVICE", "queued", "running", "ok", "failed", "dead", "skipped", "lost"
    );
    for (alg, svcs) in &st.services {
        for (svc, c) in svcs {
            println!(
                "  {:<28} {:<24} {:>7} {:>7} {:>9} {:>7} {:>5} {:>8} {:>5}",
                alg, svc, c.queued, c.running, c.ok, c.failed, c.dead, c.skipped, c.lost
            );
        }
    }
    println!("dead letters: {}", st.dead_letters);
    for d in &st.recent_dead {
        let get = |k: &str| d.fields.get(k).map_or("?", String::as_str);
        println!(
            "  {} {}/{} tick {} after {} attempts: {}",
            d.id,
            get("a"),
            get("s"),
            get("t"),
            get("k"),
            get("e")
        );
    }
}

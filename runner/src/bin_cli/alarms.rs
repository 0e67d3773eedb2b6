//! `am-runner alarms --config FILE`: the alarms that are not OK and the newest transitions,
//! read from Redis, so it works from any host.

use std::process::ExitCode;

use am_daemon::text::escaped;
use am_runner::alarm::store::AlarmStore;
use am_runner::alarm::{AlarmState, Transition};
use am_runner::config::AnalyzerConfig;
use am_runner::notify::format::rfc3339;
use serde_json::json;

/// Options of `alarms`.
#[derive(Debug, clap::Args)]
pub struct AlarmsArgs {
    /// Print one JSON object (`{"alarms": [...], "transitions": [...]}`) instead of tables.
    #[arg(long)]
    json: bool,
    /// How many of the newest transitions to show.
    #[arg(long, default_value_t = 20)]
    history: usize,
}

/// One alarm that is not OK, as listed.
struct Row {
    state: AlarmState,
    since: i64,
    severity: String,
    algorithm: String,
    service: String,
    metric: String,
    reason: String,
    /// When a firing alarm's verdict turned ok (it keeps firing for `keep_firing_for`).
    ok_since: Option<i64>,
}

/// Prints the alarms; exit 0, or 1 when Redis cannot be read.
pub fn alarms(config: &AnalyzerConfig, args: &AlarmsArgs) -> ExitCode {
    let rt = match super::command_runtime("alarms") {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let redis = config.metric_sink.redis();
    let mut store = AlarmStore::new(
        redis.clone(),
        &config.alarms.prefix,
        config.alarms.history_max_len,
    );
    let read = rt.block_on(async {
        let active = store.active().await?;
        let history = store.history(args.history).await?;
        Ok::<_, am_runner::alarm::store::AlarmStoreError>((active, history))
    });
    let (active, history) = match read {
        Ok(r) => r,
        Err(e) => {
            eprintln!("am-runner alarms: reading {redis}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let rows: Vec<Row> = active
        .into_iter()
        .map(|(scope, subject, r)| {
            let detail = r
                .detail
                .unwrap_or_else(|| am_runner::alarm::machine::Detail {
                    severity: String::new(),
                    reason: String::new(),
                    values: Vec::new(),
                });
            Row {
                state: r.state,
                since: r.since,
                severity: detail.severity,
                algorithm: scope.algorithm,
                service: scope.service,
                metric: subject,
                reason: detail.reason,
                ok_since: r.ok_since,
            }
        })
        .collect();
    if args.json {
        print_json(&rows, &history);
    } else {
        print_tables(&rows, &history);
    }
    ExitCode::SUCCESS
}

fn print_json(rows: &[Row], history: &[(Transition, bool)]) {
    let alarms: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            json!({"state": r.state, "since": r.since, "severity": r.severity,
                   "algorithm": r.algorithm, "service": r.service, "metric": r.metric,
                   "reason": r.reason, "ok_since": r.ok_since})
        })
        .collect();
    let transitions: Vec<serde_json::Value> = history
        .iter()
        .map(|(t, notified)| {
            let mut v = serde_json::to_value(t).unwrap_or_default();
            v["notified"] = json!(notified);
            v
        })
        .collect();
    println!("{}", json!({"alarms": alarms, "transitions": transitions}));
}

fn print_tables(rows: &[Row], history: &[(Transition, bool)]) {
    let t = |s: &str| escaped(s).into_owned();
    if rows.is_empty() {
        println!("no alarms: everything judged is OK");
    } else {
        let mut table = vec![
            [
                "STATE",
                "SINCE",
                "SEVERITY",
                "ALGORITHM",
                "SERVICE",
                "METRIC",
                "REASON",
            ]
            .map(String::from)
            .to_vec(),
        ];
        for r in rows {
            let mut reason = t(&r.reason);
            if let Some(ok) = r.ok_since {
                reason.push_str(&format!(" (ok since {}, keeps firing)", rfc3339(ok)));
            }
            table.push(vec![
                r.state.as_str().to_uppercase(),
                rfc3339(r.since),
                t(&r.severity),
                t(&r.algorithm),
                t(&r.service),
                t(&r.metric),
                reason,
            ]);
        }
        print_aligned(&table);
    }
    if history.is_empty() {
        return;
    }
    println!();
    println!("newest transitions:");
    let mut table = vec![
        ["TIME", "ALGORITHM", "SERVICE", "METRIC", "CHANGE", "REASON"]
            .map(String::from)
            .to_vec(),
    ];
    for (tr, notified) in history {
        let change = format!(
            "{} -> {}{}",
            tr.previous_state
                .map_or("NONE".into(), |s| s.as_str().to_uppercase()),
            tr.state.as_str().to_uppercase(),
            if *notified { "" } else { " (quiet)" }
        );
        table.push(vec![
            rfc3339(tr.ts),
            t(&tr.algorithm),
            t(&tr.service),
            t(&tr.subject),
            change,
            t(&tr.reason),
        ]);
    }
    print_aligned(&table);
}

/// Prints `table` with each column as wide as its widest cell (the last one unpadded).
fn print_aligned(table: &[Vec<String>]) {
    let columns = table.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            table
                .iter()
                .map(|row| row.get(c).map_or(0, |cell| cell.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in table {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == row.len() {
                line.push_str(cell);
            } else {
                let pad = widths[c].saturating_sub(cell.chars().count());
                line.push_str(cell);
                line.push_str(&" ".repeat(pad + 2));
            }
        }
        println!("{}", line.trim_end());
    }
}

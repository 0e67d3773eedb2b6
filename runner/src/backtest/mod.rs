//! `am-runner backtest`: a configured service replayed over the history in the metric store,
//! tick by tick, through the alarm state machine, to see what it would have notified before it
//! goes live.
//!
//! - **Ticks** are the algorithm's schedule's, from `--until − --since` to `--until` (now by
//!   default); every shard of the service runs at each, as the runner would run them.
//! - **Each tick sees only the past** ([`host::PastHost`]): reads end at the tick, `find`
//!   lists only the series that had a point by then; the plugin's state is kept in memory, so
//!   the live state in Redis is never read or written. The plugin is the one in the config's
//!   `plugin_dir`, with the service's options or `--options`.
//! - **Alarms** go through the layer's own planning ([`crate::alarm::layer`]'s `plan`: the
//!   state machine with the service's flap settings, and the plugin's `Reporting`) on records
//!   kept in memory instead of Redis, so a backtest and the live run over the same data make
//!   the same transitions tick for tick (unless the live runner skipped a tick, or read before
//!   a point reached the store). The report lists them per subject, with totals.

pub mod host;
mod report;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use am_plugin_api::hosting::{Call, Instance, Outcome};
use am_plugin_host::store_host::StoreHost;
use am_plugin_host::{LoadedPlugin, Plugins, Task, TaskResult, instantiate};
use am_store::Reader;

use crate::alarm::layer::{judged, plan};
use crate::alarm::store::{Scope, Stored};
use crate::alarm::{Policy, Transition};
use crate::config::{AlgorithmSpec, AnalyzerConfig};
use host::{Past, PastHost};

pub use report::{Report, Totals};

/// How long connecting to the metric store may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Ticks at most in one backtest (a day of one-second ticks is 86,400).
const MAX_TICKS: usize = 10_000_000;

/// The options of `am-runner backtest`.
#[derive(Debug, Clone, clap::Args)]
pub struct BacktestArgs {
    /// The service: `ALGORITHM/SERVICE` (its key in `services`, then in `worker_options`).
    #[arg(long)]
    pub service: String,
    /// How many seconds of history to replay, up to `--until`.
    #[arg(long)]
    pub since: u64,
    /// The end of the replay, in Unix seconds (default: now).
    #[arg(long)]
    pub until: Option<i64>,
    /// Other options for the service (JSON, or `@FILE`), to compare a tuning with the live one.
    #[arg(long)]
    pub options: Option<String>,
    /// Print one JSON object (`{"transitions": [{"metric", "ts", "state", ...}], "totals": ...}`).
    #[arg(long)]
    pub json: bool,
}

/// Why a backtest could not run.
#[derive(Debug, thiserror::Error)]
pub enum BacktestError {
    /// `--service` names no configured service.
    #[error("{0}")]
    Service(String),
    /// The options are not JSON or the plugin refuses them.
    #[error("{0}")]
    Options(String),
    /// The plugin cannot be found or loaded.
    #[error("{0}")]
    Plugin(String),
    /// The metric store cannot be reached.
    #[error("the metric store at {addr}: {error}")]
    Store {
        /// Where.
        addr: String,
        /// What failed.
        error: am_store::Error,
    },
    /// The runtime could not start.
    #[error("starting the runtime: {0}")]
    Runtime(#[from] std::io::Error),
}

/// The alarms of the replayed service, in memory: what Redis holds for the live runner.
#[derive(Debug, Default)]
struct Alarms {
    /// The alarms that are not OK, with their records (the service's hash).
    stored: HashMap<String, Stored>,
    /// The subjects judged OK at least once (the service's OK set).
    known: HashSet<String>,
}

impl Alarms {
    /// Applies a run's result as the layer would, returning its transitions.
    fn apply(
        &mut self,
        scope: &Scope,
        task: &Task,
        policy: &Policy,
        result: &TaskResult,
    ) -> Vec<Transition> {
        let judged = judged(result);
        let known = &self.known;
        let planned = plan(
            scope,
            task,
            policy,
            result,
            &judged,
            &self.stored,
            &|s: &str| known.contains(s),
        );
        let mut out = Vec::new();
        for change in planned.changes {
            match change.new {
                Some(record) => {
                    let raw = serde_json::to_string(&record).unwrap_or_default();
                    self.stored
                        .insert(change.subject.clone(), Stored { record, raw });
                }
                None => {
                    self.stored.remove(&change.subject);
                    self.known.insert(change.subject);
                }
            }
            out.extend(change.transition);
        }
        out
    }
}

/// The options to replay with: `--options` (JSON or `@FILE`) or the service's.
fn options(args: &BacktestArgs, configured: &str) -> Result<String, BacktestError> {
    let Some(given) = &args.options else {
        return Ok(configured.to_owned());
    };
    let text = match given.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| BacktestError::Options(format!("--options: reading {path}: {e}")))?,
        None => given.clone(),
    };
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| BacktestError::Options(format!("--options is not JSON: {e}")))?;
    Ok(value.to_string())
}

/// The ticks of `alg`'s schedule in `[from, until]`.
fn ticks(alg: &AlgorithmSpec, from: i64, until: i64) -> Vec<i64> {
    let mut out = Vec::new();
    let mut t = from - 1;
    while let Some(next) = alg.schedule.next_after(t) {
        if next > until || out.len() >= MAX_TICKS {
            break;
        }
        out.push(next);
        t = next;
    }
    out
}

/// Builds a fresh instance of `plugin` for `service`.
fn instance(plugin: &LoadedPlugin, options: &str, service: &str) -> Result<Instance, String> {
    instantiate(plugin, options, service).map_err(|o| match o {
        Outcome::Failed(m) => format!("the plugin refused its options: {m}"),
        Outcome::Panicked(m) => format!("the plugin panicked while starting: {m}"),
        Outcome::Ok => "the plugin failed to start".into(),
    })
}

/// Runs the backtest `args` asks for; `progress` is told each tick done (and the total).
pub fn run(
    config: &AnalyzerConfig,
    algorithms: &[AlgorithmSpec],
    args: &BacktestArgs,
    mut progress: impl FnMut(usize, usize),
) -> Result<Report, BacktestError> {
    let (alg_name, svc_name) = args.service.split_once('/').ok_or_else(|| {
        BacktestError::Service(format!(
            "--service {:?}: expected ALGORITHM/SERVICE, e.g. Threshold/cpu_high",
            args.service
        ))
    })?;
    let alg = algorithms
        .iter()
        .find(|a| a.name == alg_name)
        .ok_or_else(|| {
            let names: Vec<&str> = algorithms.iter().map(|a| a.name.as_str()).collect();
            BacktestError::Service(format!(
                "no algorithm {alg_name:?} in the config (has: {})",
                names.join(", ")
            ))
        })?;
    let svc = alg
        .services
        .iter()
        .find(|s| s.service == svc_name)
        .ok_or_else(|| {
            let names: Vec<&str> = alg.services.iter().map(|s| s.service.as_str()).collect();
            BacktestError::Service(format!(
                "no service {svc_name:?} in {alg_name} (has: {})",
                names.join(", ")
            ))
        })?;
    let options = options(args, &svc.options)?;
    let plugins = Plugins::load_dir(&config.plugin_dir).map_err(|e| {
        BacktestError::Plugin(format!(
            "reading the plugin folder {}: {e}",
            config.plugin_dir.display()
        ))
    })?;
    let plugin = plugins.get(&svc.plugin).ok_or_else(|| {
        BacktestError::Plugin(format!(
            "no plugin named {:?} in {} (loaded: {})",
            svc.plugin,
            config.plugin_dir.display(),
            plugins.names().join(", ")
        ))
    })?;
    let shards = alg.shards.max(1);
    let mut instances: Vec<Option<Instance>> = Vec::new();
    for _ in 0..shards {
        instances.push(Some(
            instance(&plugin, &options, &svc.service).map_err(BacktestError::Options)?,
        ));
    }
    let policy = alg.policy(&svc.service);
    let scope = Scope {
        algorithm: alg.name.clone(),
        plugin: svc.plugin.clone(),
        service: svc.service.clone(),
        labels: policy.labels.clone(),
    };
    let until = args.until.unwrap_or_else(am_store::unix_now);
    let from = until - i64::try_from(args.since).unwrap_or(i64::MAX / 2);
    let ticks = ticks(alg, from, until);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let redis = config.metric_sink.redis();
    let connect = || {
        rt.block_on(Reader::connect(&redis, CONNECT_TIMEOUT))
            .map_err(|error| BacktestError::Store {
                addr: redis.to_string(),
                error,
            })
    };
    let mut reader = connect()?;
    let handle = rt.handle().clone();
    let mut past = Past::default();
    let mut alarms = Alarms::default();
    let mut report = Report::new(&scope, &policy, from, until, &options, alg.period());
    for (k, &tick) in ticks.iter().enumerate() {
        for shard in 0..shards {
            let task = Task {
                algorithm: alg.name.clone(),
                plugin: svc.plugin.clone(),
                service: svc.service.clone(),
                options: options.clone(),
                tick,
                shard,
                shards,
            };
            let slot = &mut instances[shard as usize];
            let outcome;
            let mut verdicts = Vec::new();
            let stats;
            match slot {
                Some(inst) => {
                    let inner = StoreHost::new(&handle, &mut reader, plugin.name(), &svc.service);
                    let mut host = PastHost::new(inner, tick, &mut past);
                    outcome = inst.run(
                        &mut host,
                        Call {
                            tick,
                            shard,
                            shards,
                        },
                    );
                    stats = host.stats();
                    verdicts = std::mem::take(&mut host.verdicts);
                }
                None => {
                    outcome = Outcome::Failed("the plugin could not be rebuilt".into());
                    stats = Default::default();
                }
            }
            if matches!(outcome, Outcome::Panicked(_)) {
                // As the runner does: a panicked instance is rebuilt for the next tick.
                *slot = instance(&plugin, &options, &svc.service).ok();
            }
            if stats.store_errors > 0 {
                reader = connect()?;
            }
            if outcome != Outcome::Ok {
                report.failed(tick, &outcome);
                verdicts.clear();
            }
            let result = TaskResult {
                outcome,
                emitted: Vec::new(),
                verdicts,
                reporting: plugin.plugin.reporting,
                stats,
            };
            for t in alarms.apply(&scope, &task, &policy, &result) {
                report.transition(t);
            }
        }
        report.ticks += 1;
        progress(k + 1, ticks.len());
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Schedule;

    #[test]
    fn ticks_follow_the_schedule_inclusively() {
        let alg = AlgorithmSpec {
            file: "analyzer.json".into(),
            name: "Threshold".into(),
            path: "services.Threshold".into(),
            schedule: Schedule::Interval(60),
            shards: 1,
            services: Vec::new(),
            alarm: None,
        };
        assert_eq!(ticks(&alg, 120, 300), vec![120, 180, 240, 300]);
        assert_eq!(ticks(&alg, 121, 299), vec![180, 240]);
        assert!(ticks(&alg, 300, 200).is_empty());
        let args = |o: Option<&str>| BacktestArgs {
            service: "Threshold/cpu".into(),
            since: 60,
            until: None,
            options: o.map(str::to_owned),
            json: false,
        };
        assert_eq!(
            options(&args(None), "{\"a\":1}").ok(),
            Some("{\"a\":1}".into())
        );
        assert_eq!(
            options(&args(Some(" {\"b\": 2} ")), "").ok(),
            Some("{\"b\":2}".into())
        );
        assert!(options(&args(Some("{nope")), "").is_err());
    }
}

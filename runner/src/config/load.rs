//! Reading and checking `analyzer.json` (and anna-molly's `services.json`).

use std::path::{Path, PathBuf};

use indexmap::IndexMap;

pub use am_daemon::config::{ConfigError, Problem};

use super::{
    AlgorithmConfig, AlgorithmSpec, AnalyzerConfig, Schedule, ServiceSpec, ServicesSource,
};

/// Reads `analyzer.json`, and the services from `services_file` when given (anna-molly's
/// separate file; it replaces any services in analyzer.json). Returns the config and the
/// resolved algorithms, or every problem found.
pub fn load(
    file: &Path,
    services_file: Option<&Path>,
) -> Result<(AnalyzerConfig, Vec<AlgorithmSpec>), ConfigError> {
    let text = am_daemon::config::read(file)?;
    let config = parse(&text, file)?;
    let (services, from) = match (services_file, &config.services) {
        (Some(f), _) => (
            parse_services(&am_daemon::config::read(f)?, f)?,
            f.to_path_buf(),
        ),
        (None, ServicesSource::File(rel)) => {
            let f = resolve(file, rel);
            (parse_services(&am_daemon::config::read(&f)?, &f)?, f)
        }
        (None, ServicesSource::Inline(map)) => (map.clone(), file.to_path_buf()),
    };
    let inline = from == file;
    let prefix = if inline { "services." } else { "" };
    let mut problems = Vec::new();
    // Problems of a separate services.json belong to that file and are reported on their own;
    // those of inline services are reported with the rest of analyzer.json's.
    let algorithms = match resolve_algorithms(&services, &from, prefix) {
        Ok(a) => a,
        Err(e) if inline => {
            problems.extend(e.problems);
            Vec::new()
        }
        Err(e) => return Err(e),
    };
    let issues = crate::notify::validate_outputs(&config.event_outputs)
        .into_iter()
        .chain(
            config
                .output_sink
                .graphite()
                .validate("output_sink.GraphiteSink"),
        );
    for issue in issues {
        problems.push(Problem::new(issue.path, issue.message));
    }
    let super::MetricSinkConfig::RedisSink(redis) = &config.metric_sink;
    for (path, message) in redis.redis_problems() {
        problems.push(Problem::new(
            format!("metric_sink.RedisSink.{path}"),
            message,
        ));
    }
    if let Some(listen) = &config.metrics.listen
        && listen.parse::<std::net::SocketAddr>().is_err()
    {
        problems.push(Problem::new(
            "metrics.listen",
            format!("expected an address like \"127.0.0.1:9109\", got {listen:?}"),
        ));
    }
    check_key_prefix(&mut problems, "alarms.prefix", &config.alarms.prefix);
    if config.alarms.history_max_len == 0 {
        problems.push(Problem::new("alarms.history_max_len", "must be at least 1"));
    }
    if config.queue.time_limit == Some(0) {
        problems.push(Problem::new(
            "queue.time_limit",
            "must be at least 1 second",
        ));
    }
    if config.queue.processes == Some(0) {
        problems.push(Problem::new("queue.processes", "must be at least 1"));
    }
    if config.queue.max_attempts == 0 {
        problems.push(Problem::new("queue.max_attempts", "must be at least 1"));
    }
    check_key_prefix(&mut problems, "queue.prefix", &config.queue.prefix);
    if let Some(t) = &config.celery.as_ref().and_then(|c| c.time_limit.clone())
        && time_limit_secs(t).is_none()
    {
        problems.push(Problem::new(
            "celery.time_limit",
            format!("expected a number of seconds, got {t}"),
        ));
    }
    for (path, message) in config.console.validate() {
        problems.push(Problem::new(path, message));
    }
    ConfigError::unless_problems(file, problems, (config, algorithms))
}

/// A Redis key prefix must be a word: not empty, no spaces.
fn check_key_prefix(problems: &mut Vec<Problem>, path: &str, prefix: &str) {
    if prefix.is_empty() || prefix.contains(char::is_whitespace) {
        problems.push(Problem::new(
            path,
            format!("expected a key prefix without spaces, got {prefix:?}"),
        ));
    }
}

/// Seconds from anna-molly's `time_limit` (a number or a numeric string).
pub fn time_limit_secs(v: &serde_json::Value) -> Option<u64> {
    match v {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn resolve(base_file: &Path, rel: &Path) -> PathBuf {
    if rel.is_absolute() {
        rel.to_path_buf()
    } else {
        base_file.parent().unwrap_or(Path::new(".")).join(rel)
    }
}

/// Parses `analyzer.json` text.
pub fn parse(text: &str, file: &Path) -> Result<AnalyzerConfig, ConfigError> {
    am_daemon::config::parse(text, file)
}

/// Parses anna-molly's `services.json`: algorithm name → schedule and services.
pub fn parse_services(
    text: &str,
    file: &Path,
) -> Result<IndexMap<String, AlgorithmConfig>, ConfigError> {
    am_daemon::config::parse(text, file)
}

fn resolve_algorithms(
    services: &IndexMap<String, AlgorithmConfig>,
    file: &Path,
    prefix: &str,
) -> Result<Vec<AlgorithmSpec>, ConfigError> {
    let mut problems = Vec::new();
    let mut out = Vec::new();
    for (name, alg) in services {
        let at = format!("{prefix}{name}.scheduler_options");
        let so = &alg.scheduler_options;
        let schedule = match (&so.cron, so.interval_secs) {
            (Some(expr), None) => match Schedule::cron(expr) {
                Ok(s) => Some(s),
                Err(e) => {
                    problems.push(Problem::new(format!("{at}.cron"), e));
                    None
                }
            },
            (None, Some(0)) => {
                problems.push(Problem::new(
                    format!("{at}.interval_secs"),
                    "must be at least 1",
                ));
                None
            }
            (None, Some(n)) => Some(Schedule::Interval(n)),
            (Some(_), Some(_)) => {
                problems.push(Problem::new(
                    at.clone(),
                    "give either cron or interval_secs, not both",
                ));
                None
            }
            (None, None) => {
                problems.push(Problem::new(
                    at.clone(),
                    "expected a schedule: \"cron\" (e.g. \"*/30 * * * * *\") or \"interval_secs\"",
                ));
                None
            }
        };
        let shards = so.shards.unwrap_or(1);
        if !(1..=1024).contains(&shards) {
            problems.push(Problem::new(
                format!("{at}.shards"),
                format!("expected 1 to 1024 tasks per tick, got {shards}"),
            ));
        }
        if alg.worker_options.is_empty() {
            problems.push(Problem::new(
                format!("{prefix}{name}.worker_options"),
                "expected at least one service",
            ));
        }
        let plugin = so
            .plugin_args
            .as_ref()
            .map_or_else(|| name.clone(), |a| a.name.clone());
        let services = alg
            .worker_options
            .iter()
            .map(|(svc, opts)| ServiceSpec {
                algorithm: name.clone(),
                plugin: plugin.clone(),
                service: svc.clone(),
                options: opts.to_string(),
                path: format!("{prefix}{name}.worker_options.{svc}"),
            })
            .collect();
        if let Some(alarm) = &alg.alarm {
            for (svc, o) in &alarm.services {
                let at = format!("{prefix}{name}.alarm.services.{svc}");
                if !alg.worker_options.contains_key(svc) {
                    problems.push(Problem::new(
                        at.clone(),
                        format!(
                            "no such service in worker_options (has: {})",
                            alg.worker_options
                                .keys()
                                .cloned()
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ));
                }
                if !o.services.is_empty() {
                    problems.push(Problem::new(
                        format!("{at}.services"),
                        "per-service overrides go in the algorithm's `alarm.services` only",
                    ));
                }
            }
        }
        if let Some(schedule) = schedule {
            out.push(AlgorithmSpec {
                file: file.to_path_buf(),
                name: name.clone(),
                path: format!("{prefix}{name}"),
                schedule,
                shards,
                services,
                alarm: alg.alarm.clone(),
            });
        }
    }
    ConfigError::unless_problems(file, problems, out)
}

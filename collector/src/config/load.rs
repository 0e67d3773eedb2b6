//! Reading and checking `collector.json`.

use std::collections::HashSet;
use std::path::Path;

use am_daemon::config::one_line;
pub use am_daemon::config::{ConfigError, Problem};

use super::{CollectorConfig, Listener};

/// Reads and checks a config file.
pub fn load(file: &Path) -> Result<CollectorConfig, ConfigError> {
    parse(&am_daemon::config::read(file)?, file)
}

/// Parses and checks config text; `file` only names it in errors.
pub fn parse(text: &str, file: &Path) -> Result<CollectorConfig, ConfigError> {
    let config: CollectorConfig = am_daemon::config::parse(text, file)?;
    let problems = validate(&config);
    ConfigError::unless_problems(file, problems, config)
}

fn problem(problems: &mut Vec<Problem>, path: impl Into<String>, message: impl Into<String>) {
    problems.push(Problem::new(path, message));
}

/// Checks what serde cannot: regexes compile, models are in range, ports are distinct.
pub fn validate(config: &CollectorConfig) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (i, pat) in config.router.blacklist.iter().enumerate() {
        if let Err(e) = regex::Regex::new(pat) {
            problem(
                &mut problems,
                format!("router.blacklist[{i}]"),
                format!("invalid regex {pat:?}: {}", one_line(&e.to_string())),
            );
        }
    }
    if config.router.whitelist.is_empty() {
        problem(
            &mut problems,
            "router.whitelist",
            "is empty: no metric would be stored (use {\".*\": [...]} to keep everything)",
        );
    }
    for (pat, models) in &config.router.whitelist {
        let at = format!("router.whitelist[{pat:?}]");
        if let Err(e) = regex::Regex::new(pat) {
            problem(
                &mut problems,
                at.clone(),
                format!("invalid regex {pat:?}: {}", one_line(&e.to_string())),
            );
        }
        if models.is_empty() {
            problem(&mut problems, at.clone(), "expected at least one model");
        }
        for (j, m) in models.iter().enumerate() {
            if let Err(am_store::Error::InvalidModel { field, reason }) = m.model().validate() {
                let kind = match m {
                    super::ModelSpec::RedisTimeStamped(_) => "RedisTimeStamped",
                    super::ModelSpec::RedisIntervalTimeStamped(_) => "RedisIntervalTimeStamped",
                };
                problem(&mut problems, format!("{at}[{j}].{kind}.{field}"), reason);
            }
        }
    }
    let mut distinct: Vec<am_store::Model> = Vec::new();
    for m in config.router.whitelist.values().flatten() {
        if !distinct.contains(&m.model()) {
            distinct.push(m.model());
        }
    }
    if distinct.len() > crate::router::MAX_MODELS {
        problem(
            &mut problems,
            "router.whitelist",
            format!(
                "{} distinct models; at most {} are supported",
                distinct.len(),
                crate::router::MAX_MODELS
            ),
        );
    }
    let redis = config.writer.redis();
    for (path, message) in redis.redis_problems() {
        problem(&mut problems, format!("writer.RedisSink.{path}"), message);
    }
    if redis.pipeline_size == 0 {
        problem(
            &mut problems,
            "writer.RedisSink.pipeline_size",
            "must be at least 1",
        );
    }
    if redis.max_in_flight == 0 {
        problem(
            &mut problems,
            "writer.RedisSink.max_in_flight",
            "must be at least 1",
        );
    }
    if redis.buffer_max_bytes < 1 << 20 {
        problem(
            &mut problems,
            "writer.RedisSink.buffer_max_bytes",
            "must be at least 1048576 (one frame must fit)",
        );
    }
    if redis.buffer_max_seconds == 0 {
        problem(
            &mut problems,
            "writer.RedisSink.buffer_max_seconds",
            "must be at least 1",
        );
    }
    if redis.timeout_secs == 0 {
        problem(
            &mut problems,
            "writer.RedisSink.timeout_secs",
            "must be at least 1",
        );
    }
    if config.listener.0.is_empty() {
        problem(&mut problems, "listener", "expected at least one listener");
    }
    let mut binds = HashSet::new();
    for (i, l) in config.listener.0.iter().enumerate() {
        let at = format!("listener.{}", l.kind());
        let udp = matches!(l, Listener::CarbonPlaintextUdpSpout(_));
        if !binds.insert((udp, l.bind())) {
            problem(
                &mut problems,
                at.clone(),
                format!("listener #{} binds {} like an earlier one", i + 1, l.bind()),
            );
        }
        match l {
            Listener::CarbonAsyncTcpSpout(c) if c.max_frame_bytes < 1024 => problem(
                &mut problems,
                format!("{at}.max_frame_bytes"),
                "must be at least 1024",
            ),
            Listener::CarbonPlaintextTcpSpout(_) | Listener::CarbonPlaintextUdpSpout(_)
                if l.max_unit_bytes() < 64 =>
            {
                problem(
                    &mut problems,
                    format!("{at}.max_line_bytes"),
                    "must be at least 64",
                )
            }
            _ => {}
        }
        if let Some(limits) = l.tcp_limits() {
            if limits.max_connections == 0 {
                problem(
                    &mut problems,
                    format!("{at}.max_connections"),
                    "must be at least 1",
                );
            }
            if limits.idle_timeout_secs == 0 {
                problem(
                    &mut problems,
                    format!("{at}.idle_timeout_secs"),
                    "must be at least 1",
                );
            }
        }
    }
    // One whole frame or line of the largest kind must fit, with as much again for the rest.
    let floor = config.min_pending_bytes();
    if let Some(set) = config.limits.max_pending_bytes
        && set < floor
    {
        problem(
            &mut problems,
            "limits.max_pending_bytes",
            format!(
                "must be at least {floor} (twice the largest max_frame_bytes or max_line_bytes \
                 of a TCP listener, and at least 1 MiB)"
            ),
        );
    }
    if let Some(listen) = &config.metrics.listen
        && listen.parse::<std::net::SocketAddr>().is_err()
    {
        problem(
            &mut problems,
            "metrics.listen",
            format!("expected an address like \"127.0.0.1:9108\", got {listen:?}"),
        );
    }
    if let Some(g) = &config.metrics.graphite
        && g.interval == 0
    {
        problem(
            &mut problems,
            "metrics.graphite.interval",
            "must be at least 1",
        );
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANNA_MOLLY: &str = r#"{ "router": { "blacklist": ["MX", "osys.*"],
              "whitelist": { ".*": [ { "RedisTimeStamped": { "ttl": 10000 } } ],
                             ".cpu*": [ { "RedisIntervalTimeStamped": { "ttl": 1000, "interval": 300 } } ] } },
  "writer":   { "RedisSink": { "host": "127.0.0.1", "port": 6379, "db": 3, "pipeline_size": 50 } },
  "listener": { "CarbonAsyncTcpSpout": { "host": "0.0.0.0", "port": 2014 } } }"#;

    fn err(text: &str) -> String {
        parse(text, Path::new("collector.json"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn redis_fields_conflicts_name_their_path() {
        let with =
            |sink: &str| ANNA_MOLLY.replace(r#""host": "127.0.0.1", "port": 6379, "db": 3"#, sink);
        assert!(with("XX").contains("XX"), "the fixture's sink changed");
        let e = err(&with(r#""url": "rediss://u:p@h:7000/2", "host": "h""#));
        assert!(
            e.contains("at writer.RedisSink.url: give either `url` or `host`/`port`"),
            "{e}"
        );
        let e = err(&with(r#""cluster": ["redis://a:7000"], "db": 3"#));
        assert!(
            e.contains("at writer.RedisSink.db: a Redis Cluster has only database 0"),
            "{e}"
        );
        let e = err(&with(
            r#""url": "redis://h", "tls": {"ca_file": "/nonexistent/ca.pem"}"#,
        ));
        assert!(
            e.contains("at writer.RedisSink.tls.ca_file: cannot read /nonexistent/ca.pem"),
            "{e}"
        );
        assert!(e.contains("at writer.RedisSink.url: TLS is on"), "{e}");
        let e = err(&with(r#""url": "redis://h:x""#));
        assert!(e.contains("writer.RedisSink.url"), "{e}");
        let ok = parse(
            &with(r#""sentinel": {"master_name": "m", "urls": ["redis://s1:26379"]}, "username": "am", "password": "pw""#),
            Path::new("collector.json"),
        )
        .unwrap();
        let a = ok.writer.redis().addr();
        assert_eq!(a.sentinel.unwrap().nodes[0].port, 26379);
        assert_eq!(a.username.as_deref(), Some("am"));
    }

    #[test]
    fn anna_molly_config_loads_unchanged() {
        let c = parse(ANNA_MOLLY, Path::new("collector.json")).unwrap();
        assert_eq!(c.router.blacklist, vec!["MX", "osys.*"]);
        assert_eq!(c.router.whitelist.len(), 2);
        assert_eq!(c.writer.redis().addr().db, 3);
        assert_eq!(c.writer.redis().pipeline_size, 50);
        assert_eq!(c.listener.0.len(), 1);
        assert_eq!(c.listener.0[0].bind(), "0.0.0.0:2014");
    }

    #[test]
    fn several_listeners_as_object_or_array() {
        let text = ANNA_MOLLY.replace(
            r#"{ "CarbonAsyncTcpSpout": { "host": "0.0.0.0", "port": 2014 } }"#,
            r#"[{ "CarbonAsyncTcpSpout": { "port": 2014 } }, { "CarbonPlaintextTcpSpout": { "port": 2003 },
                 "CarbonPlaintextUdpSpout": { "port": 2003 } }]"#,
        );
        let c = parse(&text, Path::new("c.json")).unwrap();
        let kinds: Vec<_> = c.listener.0.iter().map(Listener::kind).collect();
        assert_eq!(
            kinds,
            [
                "CarbonAsyncTcpSpout",
                "CarbonPlaintextTcpSpout",
                "CarbonPlaintextUdpSpout"
            ]
        );
    }

    #[test]
    fn errors_name_file_path_and_expectation() {
        let e = err(&ANNA_MOLLY.replace(r#""db": 3"#, r#""db": 3, "dbb": 4"#));
        assert!(
            e.starts_with(
                "collector.json: at writer.RedisSink.dbb: unknown field `dbb`, expected one of"
            ),
            "{e}"
        );
        let e = err(&ANNA_MOLLY.replace(r#""port": 2014"#, r#""port": "2014""#));
        assert!(
            e.contains("at listener.CarbonAsyncTcpSpout.port: invalid type: string"),
            "{e}"
        );
        assert!(e.contains("expected u16"), "{e}");
        let e = err(&ANNA_MOLLY.replace(r#""MX""#, r#""M(X""#));
        assert!(
            e.contains("at router.blacklist[0]: invalid regex \"M(X\""),
            "{e}"
        );
        let e = err(&ANNA_MOLLY.replace(r#""interval": 300"#, r#""interval": 0"#));
        assert!(
            e.contains(
                r#"at router.whitelist[".cpu*"][0].RedisIntervalTimeStamped.interval: must be between 1"#
            ),
            "{e}"
        );
        let e = err(&ANNA_MOLLY.replace("CarbonAsyncTcpSpout", "CarbonSpout"));
        assert!(
            e.contains("at listener: unknown variant `CarbonSpout`"),
            "{e}"
        );
        let e = err(&ANNA_MOLLY.replace("RedisTimeStamped\"", "RedisTimestamped\""));
        assert!(e.contains("unknown variant `RedisTimestamped`"), "{e}");
        let e = err("{ \"router\": ");
        assert!(e.contains("not valid JSON"), "{e}");
    }

    #[test]
    fn connection_limits_have_defaults_and_are_checked() {
        let c = parse(ANNA_MOLLY, Path::new("c.json")).unwrap();
        assert_eq!(c.max_pending_bytes(), 256 << 20);
        assert_eq!(c.writer.redis().timeout_secs, 30);
        let limits = c.listener.0[0].tcp_limits().unwrap();
        assert_eq!(
            (limits.max_connections, limits.idle_timeout_secs),
            (4096, 600)
        );

        let text = ANNA_MOLLY
            .replacen(
                "{ \"router\"",
                "{ \"limits\": { \"max_pending_bytes\": 67108864 }, \"router\"",
                1,
            )
            .replace(
                r#""port": 2014"#,
                r#""port": 2014, "max_connections": 5, "idle_timeout_secs": 2"#,
            )
            .replace(
                r#""pipeline_size": 50"#,
                r#""pipeline_size": 50, "timeout_secs": 3"#,
            );
        let c = parse(&text, Path::new("c.json")).unwrap();
        assert_eq!(c.max_pending_bytes(), 64 << 20);
        // A listener taking bigger frames than the default budget allows raises the default.
        let big = ANNA_MOLLY.replace(
            r#""port": 2014"#,
            r#""port": 2014, "max_frame_bytes": 268435456"#,
        );
        assert_eq!(
            parse(&big, Path::new("c.json"))
                .unwrap()
                .max_pending_bytes(),
            512 << 20
        );
        assert_eq!(c.writer.redis().timeout_secs, 3);
        let limits = c.listener.0[0].tcp_limits().unwrap();
        assert_eq!((limits.max_connections, limits.idle_timeout_secs), (5, 2));

        let e =
            err(&ANNA_MOLLY.replace(r#""port": 2014"#, r#""port": 2014, "max_connections": 0"#));
        assert!(
            e.contains("at listener.CarbonAsyncTcpSpout.max_connections: must be at least 1"),
            "{e}"
        );
        let e =
            err(&ANNA_MOLLY.replace(r#""port": 2014"#, r#""port": 2014, "idle_timeout_secs": 0"#));
        assert!(
            e.contains("at listener.CarbonAsyncTcpSpout.idle_timeout_secs: must be at least 1"),
            "{e}"
        );
        let e = err(&ANNA_MOLLY.replace(
            r#""pipeline_size": 50"#,
            r#""pipeline_size": 50, "timeout_secs": 0"#,
        ));
        assert!(
            e.contains("at writer.RedisSink.timeout_secs: must be at least 1"),
            "{e}"
        );
        let e = err(&ANNA_MOLLY.replacen(
            "{ \"router\"",
            "{ \"limits\": { \"max_pending_bytes\": 1000 }, \"router\"",
            1,
        ));
        assert!(
            e.contains("at limits.max_pending_bytes: must be at least 2097152"),
            "{e}"
        );
        let e = err(&ANNA_MOLLY.replacen(
            "{ \"router\"",
            "{ \"limits\": { \"max_pending\": 1 }, \"router\"",
            1,
        ));
        assert!(
            e.contains("at limits.max_pending: unknown field `max_pending`"),
            "{e}"
        );
        // A UDP listener has no connections to bound.
        let e = err(&ANNA_MOLLY.replace(
            r#"{ "CarbonAsyncTcpSpout": { "host": "0.0.0.0", "port": 2014 } }"#,
            r#"{ "CarbonPlaintextUdpSpout": { "port": 2003, "max_connections": 5 } }"#,
        ));
        assert!(e.contains("unknown field `max_connections`"), "{e}");
    }
}

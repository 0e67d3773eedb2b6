//! The `am-collector` command line: `check` (exit 0, or 2 with `FILE: at JSON.PATH: message`
//! lines), `inspect` errors, and the daemon refusing to start on a taken port.

// Helpers of a test crate are test code too (clippy.toml allows these in #[test] functions
// only): a failing unwrap or panic is a failing test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{TcpListener, UdpSocket};
use std::path::Path;
use std::time::Duration;

use am_tests::collector::{CollectorPorts, check, run_cli};
use am_tests::{CollectorOptions, free_port};

/// anna-molly's exact collector.json, kept in the repository.
const ANNA_MOLLY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../config/collector.anna-molly.json"
);

const TIMEOUT: Duration = Duration::from_secs(30);

fn anna_molly_text() -> String {
    std::fs::read_to_string(ANNA_MOLLY).unwrap()
}

/// Replaces `from` (which must occur) in anna-molly's config.
fn mutate(from: &str, to: &str) -> String {
    let text = anna_molly_text();
    assert!(text.contains(from), "{from:?} not in {ANNA_MOLLY}");
    text.replacen(from, to, 1)
}

/// Proves anna-molly's collector.json passes `check` unchanged, and so does every config the
/// e2e tests generate.
#[test]
fn check_accepts_anna_mollys_config() {
    let out = run_cli(&["check", "--config", ANNA_MOLLY], TIMEOUT).unwrap();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert!(out.stdout.contains("OK"), "{}", out.stdout);
    assert!(
        out.stdout.contains("collector.anna-molly.json"),
        "{}",
        out.stdout
    );

    let ports = CollectorPorts {
        pickle: 1,
        line: 2,
        udp: 3,
        metrics: 4,
    };
    for options in [
        CollectorOptions::default(),
        CollectorOptions::default()
            .sink("buffer_max_bytes", "1048576")
            .max_line_bytes(64)
            .max_frame_bytes(1024)
            .graphite(2003, 1),
    ] {
        let text = options.render(6379, &ports);
        let result = check(&text).unwrap();
        assert_eq!(result.code, Some(0), "{}\n{text}", result.stderr);
    }
}

/// Proves every kind of config error exits 2 and names the file, the JSON path and the
/// problem, one `FILE: at PATH: message` line per problem.
#[test]
fn check_names_file_path_and_problem() {
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        (
            "unknown key",
            mutate(r#""db": 3"#, r#""db": 3, "dbb": 4"#),
            vec!["at writer.RedisSink.dbb: unknown field `dbb`"],
        ),
        (
            "unknown top-level key",
            mutate(r#""router": {"#, r#""routers": 1, "router": {"#),
            vec!["unknown field `routers`"],
        ),
        (
            "wrong type",
            mutate(r#""port": 2014"#, r#""port": "2014""#),
            vec![
                "at listener.CarbonAsyncTcpSpout.port: invalid type: string \"2014\"",
                "expected u16",
            ],
        ),
        (
            "invalid blacklist regex",
            mutate(r#""MX""#, r#""M(X""#),
            vec![r#"at router.blacklist[0]: invalid regex "M(X""#],
        ),
        (
            "interval 0",
            mutate(r#""interval": 300"#, r#""interval": 0"#),
            vec![
                r#"at router.whitelist[".cpu*"][0].RedisIntervalTimeStamped.interval: must be between 1 and"#,
                "got 0",
            ],
        ),
        (
            "ttl 0",
            mutate(r#""ttl": 10000"#, r#""ttl": 0"#),
            vec![r#"at router.whitelist[".*"][0].RedisTimeStamped.ttl: must be at least 1"#],
        ),
        (
            "unknown listener type",
            mutate("CarbonAsyncTcpSpout", "CarbonSpout"),
            vec![
                "at listener",
                "unknown variant `CarbonSpout`",
                "CarbonAsyncTcpSpout",
            ],
        ),
        (
            "unknown model",
            mutate(r#""RedisTimeStamped""#, r#""RedisTimestamped""#),
            vec![
                r#"at router.whitelist"#,
                "unknown variant `RedisTimestamped`",
            ],
        ),
        (
            "whitelist regex Rust cannot compile (look-ahead)",
            mutate(r#"".cpu*""#, r#""(?=x)""#),
            vec![
                r#"at router.whitelist["(?=x)"]: invalid regex "(?=x)""#,
                "look-around",
            ],
        ),
        (
            "buffer below one frame",
            mutate(
                r#""pipeline_size": 50"#,
                r#""pipeline_size": 50, "buffer_max_bytes": 1000"#,
            ),
            vec!["at writer.RedisSink.buffer_max_bytes: must be at least 1048576"],
        ),
        (
            "two TCP listeners on one port",
            mutate(
                r#"{ "CarbonAsyncTcpSpout": { "host": "0.0.0.0", "port": 2014 } }"#,
                r#"{ "CarbonAsyncTcpSpout": { "host": "0.0.0.0", "port": 2014 },
                    "CarbonPlaintextTcpSpout": { "host": "0.0.0.0", "port": 2014 } }"#,
            ),
            vec!["at listener.CarbonPlaintextTcpSpout: listener #2 binds 0.0.0.0:2014"],
        ),
        (
            "bad metrics address",
            mutate(
                r#""listener":"#,
                r#""metrics": { "listen": "localhost" }, "listener":"#,
            ),
            vec![
                r#"at metrics.listen: expected an address like"#,
                r#""localhost""#,
            ],
        ),
        (
            "graphite interval 0",
            mutate(
                r#""listener":"#,
                r#""metrics": { "graphite": { "host": "127.0.0.1", "interval": 0 } }, "listener":"#,
            ),
            vec!["at metrics.graphite.interval: must be at least 1"],
        ),
        (
            "not JSON",
            anna_molly_text()[..120].to_owned(),
            vec!["not valid JSON"],
        ),
    ];
    for (what, text, wanted) in &cases {
        let result = check(text).unwrap();
        let file = result.file.display().to_string();
        assert_eq!(
            result.code,
            Some(2),
            "{what}: stdout {:?} stderr {:?}",
            result.stdout,
            result.stderr
        );
        assert!(
            result.stderr.starts_with(&format!("{file}: ")),
            "{what}: stderr does not start with the file name {file}: {}",
            result.stderr
        );
        for w in wanted {
            assert!(
                result.stderr.contains(w),
                "{what}: {w:?} not in stderr: {}",
                result.stderr
            );
        }
        assert!(!result.stdout.contains("OK"), "{what}: {}", result.stdout);
    }

    // Plaintext TCP and UDP may share a port number (carbon's 2003 serves both).
    let text = mutate(
        r#"{ "CarbonAsyncTcpSpout": { "host": "0.0.0.0", "port": 2014 } }"#,
        r#"{ "CarbonPlaintextTcpSpout": { "port": 2003 }, "CarbonPlaintextUdpSpout": { "port": 2003 } }"#,
    );
    let result = check(&text).unwrap();
    assert_eq!(result.code, Some(0), "{}", result.stderr);

    // Every problem is reported, each on its own line.
    let text = mutate(r#""MX""#, r#""M(X""#).replace(r#""interval": 300"#, r#""interval": 0"#);
    let result = check(&text).unwrap();
    assert_eq!(result.code, Some(2));
    let file = result.file.display().to_string();
    let lines: Vec<&str> = result.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{}", result.stderr);
    assert!(lines[0].starts_with(&format!("{file}: at router.blacklist[0]: ")));
    assert!(lines[1].starts_with(&format!("{file}: at router.whitelist[\".cpu*\"][0]")));
}

/// Proves a missing `--config` or an unreadable file exits 2 with a message saying so.
#[test]
fn check_without_a_usable_config_file() {
    let out = run_cli(&["check"], TIMEOUT).unwrap();
    assert_eq!(out.code(), Some(2), "{}", out.stderr);
    assert!(out.stderr.contains("--config"), "{}", out.stderr);
    let missing = "/nonexistent/am-tests/collector.json";
    let out = run_cli(&["check", "--config", missing], TIMEOUT).unwrap();
    assert_eq!(out.code(), Some(2), "{}", out.stderr);
    assert!(
        out.stderr.starts_with(&format!("{missing}: cannot read")),
        "{}",
        out.stderr
    );
}

/// Proves `inspect` refuses a bad pattern with a clear message (before touching Redis), and an
/// unreachable Redis with one naming its address; both exit non-zero.
#[test]
fn inspect_reports_bad_patterns_and_unreachable_redis() {
    for (pattern, wanted) in [
        ("re:(", "unclosed group"),
        ("a{b", "'{' without a closing '}'"),
        ("re:(?=x)", "look-around"),
    ] {
        let out = run_cli(&["inspect", "--config", ANNA_MOLLY, pattern], TIMEOUT).unwrap();
        assert!(
            !out.status.success(),
            "inspect {pattern:?} succeeded: {}",
            out.stdout
        );
        assert!(
            out.stderr.contains("bad PATTERN"),
            "{pattern}: {}",
            out.stderr
        );
        assert!(out.stderr.contains(pattern), "{pattern}: {}", out.stderr);
        assert!(out.stderr.contains(wanted), "{pattern}: {}", out.stderr);
        assert!(out.stdout.is_empty(), "{pattern}: {}", out.stdout);
    }

    let dir = tempfile::tempdir().unwrap();
    let nobody = free_port().unwrap();
    let config = dir.path().join("collector.json");
    let ports = CollectorPorts {
        pickle: 1,
        line: 2,
        udp: 3,
        metrics: 4,
    };
    std::fs::write(&config, CollectorOptions::default().render(nobody, &ports)).unwrap();
    let out = run_cli(
        &[
            "inspect".as_ref(),
            "--config".as_ref(),
            config.as_os_str(),
            "*".as_ref(),
        ],
        TIMEOUT,
    )
    .unwrap();
    assert!(!out.status.success(), "{}", out.stdout);
    assert!(
        out.stderr.contains(&format!("127.0.0.1:{nobody}")),
        "{}",
        out.stderr
    );
}

/// Writes the default config with `ports` (Redis at `redis_port`) to `config`, runs the daemon
/// on it, and asserts that it refuses to start, naming `listener`, `127.0.0.1:TAKEN` and the
/// cause.
fn run_expecting_bind_failure(
    config: &Path,
    redis_port: u16,
    ports: &CollectorPorts,
    (listener, taken): (&str, u16),
) {
    std::fs::write(
        config,
        CollectorOptions::default().render(redis_port, ports),
    )
    .unwrap();
    let out = run_cli(&["--config".as_ref(), config.as_os_str()], TIMEOUT).unwrap();
    assert!(!out.status.success(), "started anyway: {}", out.stderr);
    let address = format!("127.0.0.1:{taken}");
    for w in [listener, address.as_str(), "Address already in use"] {
        assert!(out.stderr.contains(w), "{w:?} not in: {}", out.stderr);
    }
}

/// Proves the daemon refuses to start when a port it must bind is taken, naming the listener
/// and the address, for each kind of listener and the metrics endpoint.
#[test]
fn run_fails_clearly_when_a_port_is_taken() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("collector.json");
    let redis_port = free_port().unwrap();

    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let fresh = || CollectorPorts::fresh().unwrap();
    let cases: Vec<(CollectorPorts, &str)> = vec![
        (
            CollectorPorts {
                pickle: port,
                ..fresh()
            },
            "CarbonAsyncTcpSpout",
        ),
        (
            CollectorPorts {
                line: port,
                ..fresh()
            },
            "CarbonPlaintextTcpSpout",
        ),
        (
            CollectorPorts {
                metrics: port,
                ..fresh()
            },
            "metrics endpoint",
        ),
    ];
    for (ports, listener) in cases {
        run_expecting_bind_failure(&config, redis_port, &ports, (listener, port));
    }

    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let udp_port = udp.local_addr().unwrap().port();
    let ports = CollectorPorts {
        udp: udp_port,
        ..fresh()
    };
    let listener = ("CarbonPlaintextUdpSpout", udp_port);
    run_expecting_bind_failure(&config, redis_port, &ports, listener);
}

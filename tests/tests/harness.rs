//! Self-tests of the harness against the real daemons: redis-server, carbon-cache,
//! carbon-relay. Each test starts its own daemons on their own ports and temp dirs, so they run
//! in parallel; every wait is bounded.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use am_tests::whisper::WhisperFile;
use am_tests::{
    CarbonCache, CarbonCacheOptions, CarbonRelay, CarbonRelayOptions, FrameListener, RedisServer,
    RelayMethod, Resp, RespClient, line, now_unix, process_exists,
};

const WAIT: Duration = Duration::from_secs(30);

#[test]
fn redis_ping_set_get_stop_start_again_and_drop() {
    let mut redis = RedisServer::start().unwrap();
    let port = redis.port();
    assert_eq!(redis.url(), format!("redis://127.0.0.1:{port}/"));
    assert_eq!(redis.cmd(&["PING"]).unwrap(), Resp::Simple("PONG".into()));
    assert_eq!(
        redis.cmd(&["SET", "harness:key", "va lue"]).unwrap(),
        Resp::Simple("OK".into())
    );
    assert_eq!(
        redis.cmd(&["GET", "harness:key"]).unwrap(),
        Resp::Bulk(b"va lue".to_vec())
    );
    assert_eq!(redis.keys("harness:*").unwrap(), vec!["harness:key"]);
    let memory = redis.info("memory").unwrap();
    let used: u64 = memory["used_memory"].parse().unwrap();
    assert!(used > 0, "{memory:?}");
    // An error reply becomes an Err that names the command.
    let err = redis.cmd(&["NO-SUCH-COMMAND"]).unwrap_err();
    assert!(format!("{err:#}").contains("NO-SUCH-COMMAND"), "{err:#}");

    let pid = redis.pid().unwrap();
    redis.stop().unwrap();
    assert!(!process_exists(pid), "pid {pid} still exists after stop");
    assert_eq!(redis.pid(), None);
    assert!(RespClient::connect(port, Duration::from_millis(500)).is_err());

    redis.start_again().unwrap();
    assert_eq!(redis.port(), port);
    assert_eq!(redis.cmd(&["PING"]).unwrap(), Resp::Simple("PONG".into()));
    // `--save ""` and no AOF: a restarted server starts empty.
    assert!(redis.cmd(&["GET", "harness:key"]).unwrap().is_nil());
    let pid2 = redis.pid().unwrap();
    assert_ne!(pid, pid2);
    let log = redis.logs();
    assert!(log.contains("Ready to accept connections"), "{log}");

    drop(redis);
    assert!(!process_exists(pid2), "pid {pid2} still exists after drop");
}

#[test]
fn redis_kill_hard_suspend_resume() {
    let mut redis = RedisServer::start_with_args(&["--maxmemory", "10mb"]).unwrap();
    assert_eq!(redis.info("memory").unwrap()["maxmemory"], "10485760");

    redis.suspend().unwrap();
    let mut client = RespClient::connect(redis.port(), Duration::from_millis(300)).unwrap();
    let started = Instant::now();
    assert!(client.cmd(&["PING"]).is_err(), "a stopped redis answered");
    assert!(started.elapsed() < Duration::from_secs(3));
    redis.resume().unwrap();
    assert_eq!(redis.cmd(&["PING"]).unwrap(), Resp::Simple("PONG".into()));

    let pid = redis.pid().unwrap();
    redis.kill_hard().unwrap();
    assert!(!process_exists(pid));
    assert!(!redis.is_running());
    redis.start_again().unwrap();
    assert_eq!(redis.cmd(&["DBSIZE"]).unwrap(), Resp::Integer(0));
}

#[test]
fn redis_servers_in_parallel_are_independent() {
    let servers: Vec<RedisServer> = (0..3).map(|_| RedisServer::start().unwrap()).collect();
    let ports: std::collections::BTreeSet<u16> = servers.iter().map(RedisServer::port).collect();
    assert_eq!(ports.len(), 3);
    for (i, server) in servers.iter().enumerate() {
        server.cmd(&["SET", "who", &i.to_string()]).unwrap();
    }
    for (i, server) in servers.iter().enumerate() {
        assert_eq!(
            server.cmd(&["GET", "who"]).unwrap().as_int(),
            Some(i as i64)
        );
    }
}

#[test]
fn redis_is_stopped_when_a_test_panics() {
    let (tx, rx) = std::sync::mpsc::channel();
    let result = std::thread::spawn(move || {
        let mut redis = RedisServer::start().unwrap();
        tx.send(redis.pid().unwrap()).unwrap();
        panic!("deliberate panic with redis running");
    })
    .join();
    assert!(result.is_err());
    let pid = rx.recv_timeout(WAIT).unwrap();
    assert!(!process_exists(pid), "pid {pid} survived the panic");
}

#[test]
fn carbon_cache_writes_whisper_files_we_can_read() {
    let mut cache = CarbonCache::start().unwrap();
    let now = now_unix();
    let metric = "harness.test.metric";
    let lines =
        line(metric, 41.0, now - 2) + &line(metric, 42.0, now - 1) + &line(metric, 42.5, now);
    cache.send_lines(&lines).unwrap();
    let points = cache
        .wait_for_points(metric, 3, WAIT)
        .unwrap_or_else(|e| panic!("{e:#}\n{}", cache.logs()));
    assert_eq!(
        points,
        vec![(now - 2, 41.0), (now - 1, 42.0), (now, 42.5)],
        "{}",
        cache.logs()
    );
    let file = WhisperFile::open(&cache.whisper_file(metric).unwrap()).unwrap();
    assert_eq!(file.archives.len(), 1);
    assert_eq!(file.archives[0].seconds_per_point, 1);
    assert_eq!(file.archives[0].points, 86_400);

    // Restart on the same ports: old points stay, new ones arrive.
    cache.stop().unwrap();
    cache.start_again().unwrap();
    cache.send_lines(&line(metric, 7.0, now + 1)).unwrap();
    let points = cache.wait_for_points(metric, 4, WAIT).unwrap();
    assert_eq!(points.last(), Some(&(now + 1, 7.0)));

    let pid = cache.pid().unwrap();
    drop(cache);
    assert!(!process_exists(pid), "carbon-cache pid {pid} survived drop");
}

#[test]
fn carbon_cache_takes_custom_retentions() {
    let mut cache =
        CarbonCache::start_with(CarbonCacheOptions::default().retentions("10s:1h,1m:1d")).unwrap();
    let now = now_unix();
    cache.send_lines(&line("harness.coarse", 5.0, now)).unwrap();
    let points = cache.wait_for_points("harness.coarse", 1, WAIT).unwrap();
    assert_eq!(points, vec![(now - now % 10, 5.0)]);
    let file = WhisperFile::open(&cache.whisper_file("harness.coarse").unwrap()).unwrap();
    let layout: Vec<(u32, u32)> = file
        .archives
        .iter()
        .map(|a| (a.seconds_per_point, a.points))
        .collect();
    assert_eq!(layout, vec![(10, 360), (60, 1440)]);
}

#[test]
fn carbon_relay_sends_pickle_frames_to_every_destination() {
    let mut first = FrameListener::bind().unwrap();
    let mut second = FrameListener::bind().unwrap();
    let mut relay =
        CarbonRelay::start(&[("127.0.0.1", first.port()), ("127.0.0.1", second.port())]).unwrap();
    assert_eq!(
        relay.destinations(),
        [
            format!("127.0.0.1:{}:a", first.port()),
            format!("127.0.0.1:{}:b", second.port())
        ]
    );
    assert_ne!(relay.pickle_port(), 2014);
    relay
        .send_lines(&line("harness.relay.metric", 42.0, now_unix()))
        .unwrap();
    // RelayMethod::Rules with one default rule: every destination gets every metric.
    for destination in [&mut first, &mut second] {
        let frame = destination
            .read_frame_containing(b"harness.relay.metric", WAIT)
            .unwrap_or_else(|e| panic!("{e:#}\n{}", relay.logs()));
        // A pickle (protocol 2): PROTO opcode first, STOP opcode last.
        assert_eq!(frame.first(), Some(&0x80), "{frame:?}");
        assert_eq!(frame.last(), Some(&b'.'), "{frame:?}");
    }
    let pid = relay.pid().unwrap();
    drop(relay);
    assert!(!process_exists(pid), "carbon-relay pid {pid} survived drop");
}

#[test]
fn carbon_relay_refuses_non_loopback_destinations() {
    let err = CarbonRelay::start(&[("192.0.2.1", 2004)]).unwrap_err();
    assert!(err.to_string().contains("loopback"), "{err:#}");
}

#[test]
fn carbon_relay_into_carbon_cache() {
    let mut cache = CarbonCache::start().unwrap();
    let relay = CarbonRelay::start_with(
        &[("127.0.0.1", cache.pickle_port())],
        CarbonRelayOptions::default().method(RelayMethod::ConsistentHashing),
    )
    .unwrap();
    let now = now_unix();
    relay
        .send_lines(&(line("harness.chain.a", 1.0, now - 1) + &line("harness.chain.a", 2.0, now)))
        .unwrap();
    let points = cache
        .wait_for_points("harness.chain.a", 2, WAIT)
        .unwrap_or_else(|e| panic!("{e:#}\n{}\n{}", relay.logs(), cache.logs()));
    assert_eq!(points, vec![(now - 1, 1.0), (now, 2.0)]);
}

/// Cross-checks the Rust whisper reader against python-whisper (shipped with graphite-carbon)
/// on a file with two archives whose first one has wrapped around.
#[test]
fn whisper_reader_agrees_with_python_whisper() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.wsp");
    let script = r#"
import json, sys, time, whisper
path = sys.argv[1]
whisper.create(path, [(1, 10), (5, 12)], xFilesFactor=0.0, aggregationMethod="max")
now = int(time.time())
whisper.update_many(path, [(now - i, float(i) * 1.5 - 4) for i in range(50)])
out = {}
for name, lo, hi in (("fine", now - 9, now), ("coarse", now - 55, now)):
    (start, end, step), values = whisper.fetch(path, lo, hi, now=now)
    out[name] = [[t, v] for t, v in zip(range(start, end, step), values) if v is not None]
print(json.dumps(out))
"#;
    let output = Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(script)
        .arg(&path)
        .output()
        .expect("python3 with python3-whisper (installed with graphite-carbon)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    let expected = parse_fetch_json(&text).unwrap();

    let file = WhisperFile::open(&path).unwrap();
    assert_eq!(file.aggregation_type, 4, "max");
    for (index, name) in [(0, "fine"), (1, "coarse")] {
        let want = &expected[name];
        let (lo, hi) = (want.first().unwrap().0, want.last().unwrap().0);
        let got: Vec<(i64, f64)> = file
            .points(index)
            .unwrap()
            .into_iter()
            .filter(|&(t, _)| t >= lo && t <= hi)
            .collect();
        assert_eq!(&got, want, "archive {index} ({name}); python said {text}");
        assert!(want.len() >= 8, "{name}: {want:?}");
    }
}

/// Parses `{"name": [[ts, value], ...], ...}` as printed by the python script above.
fn parse_fetch_json(text: &str) -> Option<BTreeMap<String, Vec<(i64, f64)>>> {
    let mut out = BTreeMap::new();
    for part in text
        .trim()
        .trim_matches(|c| c == '{' || c == '}')
        .split("]], ")
    {
        let (name, rest) = part.split_once(": [[")?;
        let name = name.trim().trim_matches('"').to_owned();
        let points = rest
            .trim_end_matches("]]")
            .split("], [")
            .map(|pair| {
                let (t, v) = pair.split_once(", ")?;
                Some((t.parse().ok()?, v.parse().ok()?))
            })
            .collect::<Option<Vec<_>>>()?;
        out.insert(name, points);
    }
    Some(out)
}

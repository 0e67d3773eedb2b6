//! End-to-end tests of what `am-collector` leaves and reports: the storage models (raw and
//! interval, one name under several), the Redis layout documented in `store/src/lib.rs` as the
//! real redis-server holds it, and the self-metrics (HTTP and Graphite via a real carbon-cache).
//! Getting points in (relay, listeners, routing) is in `collector_e2e.rs`.
//!
//! Each test starts its own daemons on free ports and stops them by PID through the guards;
//! every wait is bounded.

// Helpers of a test crate are test code too (clippy.toml allows these in #[test] functions
// only): a failing unwrap or panic is a failing test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::TcpStream;

use am_store::keys;
use am_tests::collector::test_helpers::{
    WAIT, assert_counter, frame_of, inspect, p, start, wait_counter_eq,
};
use am_tests::collector::{
    INTERVAL_TAG, RAW_TAG, Sent, StoredPoint, graphite_hostname, index_names, last_write_wins,
    lines, read_series, smembers, zrange_all,
};
use am_tests::{CarbonCache, CollectorOptions, RedisServer, Resp, now_unix};

/// Proves the models: a name matching patterns of two distinct models is stored under both
/// (and once per model even when two patterns map to the same model); the interval series
/// holds one point per 300 s bucket, at the bucket start, with the value written last (also
/// when it was written out of timestamp order); whitelist patterns match at the start only.
#[test]
fn interval_model_and_multiple_models() {
    let router = r#"{
      "blacklist": [],
      "whitelist": {
        "test\\.": [ { "RedisTimeStamped": { "ttl": 86400 } } ],
        "test\\.cpu": [ { "RedisIntervalTimeStamped": { "ttl": 86400, "interval": 300 } } ],
        "test\\.cpu\\.x": [ { "RedisTimeStamped": { "ttl": 86400 } } ]
      }
    }"#;
    let redis = RedisServer::start().unwrap();
    let mut collector = start(
        &redis,
        &CollectorOptions::default()
            .router(router)
            .listeners(false, true, false),
    );
    let now = now_unix();
    let base = now - now % 300 - 3000; // a bucket start, 10 to 11 buckets ago
    let mut cpu_x: Vec<Sent> = (0..25)
        .map(|k| p("test.cpu.x", base + k * 60, k as f64))
        .collect();
    // Written last, earlier in bucket 0 than the points already there: it is the bucket's
    // last write.
    cpu_x.push(p("test.cpu.x", base + 30, 100.0));
    let cpuidle = vec![
        p("test.cpuidle.y", base + 7, 1.5),
        p("test.cpuidle.y", base + 299, 2.5),
        p("test.cpuidle.y", base + 300, 3.5),
    ];
    let raw_only = vec![p("test.cp.z", base, 8.0)];
    let ignored = vec![p("xtest.cpu.z", base, 9.0)];
    let all: Vec<Sent> = [&cpu_x[..], &cpuidle, &raw_only, &ignored].concat();
    collector.send_tcp_raw(lines(&all).as_bytes()).unwrap();

    let copies = 2 * (cpu_x.len() + cpuidle.len()) + raw_only.len();
    wait_counter_eq(&mut collector, "stored_points_total", copies as f64);
    assert_counter(&collector, "routed_points_total", copies as f64);
    assert_counter(&collector, "ignored_points_total", 1.0);

    let raw = |name: &str| read_series(&redis, RAW_TAG, name).unwrap();
    let interval = |name: &str| read_series(&redis, INTERVAL_TAG, name).unwrap();
    let flat = |m: BTreeMap<(String, i64), f64>| -> Vec<(i64, f64)> {
        m.into_iter().map(|((_, ts), v)| (ts, v)).collect()
    };
    assert_eq!(raw("test.cpu.x"), flat(last_write_wins(&cpu_x, None)));
    assert_eq!(raw("test.cpu.x").len(), 26);
    let buckets = interval("test.cpu.x");
    let mut want = vec![(base, 100.0)];
    want.extend((1..5).map(|b| (base + b * 300, (b * 5 + 4) as f64)));
    assert_eq!(buckets, want);
    assert_eq!(buckets, flat(last_write_wins(&cpu_x, Some(300))));
    assert_eq!(
        interval("test.cpuidle.y"),
        vec![(base, 2.5), (base + 300, 3.5)]
    );
    assert_eq!(raw("test.cpuidle.y").len(), 3);
    assert_eq!(raw("test.cp.z"), vec![(base, 8.0)]);
    assert_eq!(interval("test.cp.z"), vec![]);
    assert_eq!(raw("xtest.cpu.z"), vec![]);

    // inspect shows both series of each name (raw first, then the interval one).
    // The index entries follow the points by a flush interval: wait for inspect to find both.
    let shown = am_tests::wait_until("inspect to show both series of both names", WAIT, || {
        let shown = collector.inspect(r"re:^test\.cpu")?;
        Ok((shown.len() == 26 + 5 + 3 + 2).then_some(shown))
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}", collector.logs()));
    let mut want: Vec<StoredPoint> = Vec::new();
    for name in ["test.cpu.x", "test.cpuidle.y"] {
        for (ts, v) in raw(name).into_iter().chain(interval(name)) {
            want.push((name.to_owned(), ts, v));
        }
    }
    assert_eq!(shown, want);
    // `--model` narrows inspect to one model's series.
    let out = am_tests::collector::run_cli(
        &[
            "inspect".as_ref(),
            "--config".as_ref(),
            collector.config_path().as_os_str(),
            r"re:^test\.cpu".as_ref(),
            "--model".as_ref(),
            INTERVAL_TAG.as_ref(),
        ],
        WAIT,
    )
    .unwrap();
    assert!(out.status.success(), "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines.len(),
        interval("test.cpu.x").len() + interval("test.cpuidle.y").len()
    );
    let out = am_tests::collector::run_cli(
        &[
            "inspect".as_ref(),
            "--config".as_ref(),
            collector.config_path().as_os_str(),
            "test.*".as_ref(),
            "--model".as_ref(),
            "i0r5".as_ref(),
        ],
        WAIT,
    )
    .unwrap();
    assert!(
        !out.status.success() && out.stderr.contains("bad --model"),
        "{}",
        out.stderr
    );
    assert_eq!(
        index_names(&redis, INTERVAL_TAG).unwrap(),
        vec!["test.cpu.x", "test.cpuidle.y"]
    );
    assert_eq!(
        index_names(&redis, RAW_TAG).unwrap(),
        vec!["test.cp.z", "test.cpu.x", "test.cpuidle.y"]
    );
}

/// Proves the Redis layout documented in `store/src/lib.rs`, in the real Redis the collector
/// wrote to: only `am2:` keys of the four documented kinds, each series' keys under its
/// shard's hash tag; every chunk key has a TTL, expiring exactly at `chunk_start + span +
/// ttl`; the index shards of each model hold exactly the stored names (all scores 0,
/// lexicographic ranges work), the last-seen set scores the newest chunk, the tag set lists
/// both models; a chunk keeps its records in arrival order, duplicates
/// included, also once sealed (rewritten by a Lua `SET ... KEEPTTL`) when its successor is
/// created; decoding the chunks directly agrees with `inspect`.
#[test]
fn store_layout_in_real_redis() {
    let redis = RedisServer::start().unwrap();
    let mut collector = start(&redis, &CollectorOptions::default());
    let now = now_unix();
    let span = 14_400; // Model::span() of ttl 86400 (and of interval 300 with ttl 86400)
    let current = now - now % span;
    let previous = current - span;
    // The previous chunk gets an out-of-order point and a duplicate first.
    let first = [
        p("test.layout.a", previous + 30, 1.0),
        p("test.layout.a", previous + 20, 2.0),
        p("test.layout.a", previous + 30, 3.0),
        p("test.layout.b", now - 100, 4.0),
        p("test.layout.c", now - 200, 5.0),
        p("test.cpu.l", now - 300, 6.0),
        p("test.MX.l", now - 300, 7.0),
        p("else.l", now - 300, 8.0),
    ];
    let mut stream = TcpStream::connect(("127.0.0.1", collector.ports().pickle)).unwrap();
    stream.write_all(&frame_of(&first)).unwrap();
    collector
        .wait_counter("stored_points_total", WAIT, |v| v == 7.0)
        .unwrap();
    let raw = am_store::Model::Raw { ttl: 86_400 };
    let prev_key = keys::chunk(&raw, "test.layout.a", previous);
    assert!(
        prev_key.starts_with(&format!(
            "am2:c:{}:{RAW_TAG}:",
            keys::shard_tag(keys::shard_of("test.layout.a"))
        )),
        "{prev_key}"
    );
    let records = || {
        let Resp::Bulk(bytes) = redis.cmd(&["GET", &prev_key]).unwrap() else {
            panic!("{prev_key} is not a string")
        };
        am_tests::collector::decode_records(previous, &bytes).unwrap()
    };
    // Records are kept in arrival order, duplicates included; readers resolve them.
    let arrival = vec![
        (previous + 30, 1.0),
        (previous + 20, 2.0),
        (previous + 30, 3.0),
    ];
    assert_eq!(records(), arrival);
    // Its successor: the previous chunk gets sealed (rewritten at its exact size, records
    // untouched), after the successor's index entries.
    stream
        .write_all(&frame_of(&[p("test.layout.a", current, 9.0)]))
        .unwrap();
    let seen_key = keys::seen(keys::shard_of("test.layout.a"), RAW_TAG);
    am_tests::wait_until("the successor chunk to be indexed", WAIT, || {
        let score = redis.cmd(&["ZSCORE", &seen_key, "test.layout.a"])?;
        Ok((score.as_int() == Some(current)).then_some(()))
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}", collector.logs()));
    collector
        .wait_counter("stored_points_total", WAIT, |v| v == 8.0)
        .unwrap();
    // The seal is the only `SET` anyone sends here (the other chunks have no predecessor).
    am_tests::wait_until("the previous chunk to be sealed", WAIT, || {
        let stats = redis.info("commandstats")?;
        let calls = stats.get("cmdstat_set").and_then(|s| {
            s.split(',')
                .find_map(|f| f.strip_prefix("calls="))
                .and_then(|n| n.parse::<u64>().ok())
        });
        Ok((calls == Some(1)).then_some(()))
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}", collector.logs()));
    assert_eq!(
        records(),
        arrival,
        "sealing must not lose or reorder records"
    );
    let ttl = redis.cmd(&["TTL", &prev_key]).unwrap().as_int().unwrap();
    assert!(ttl > 0, "the seal kept the expiry: TTL {ttl}");
    assert_eq!(
        collector
            .counter("redis_housekeeping_errors_total")
            .unwrap(),
        0.0
    );

    let keys = redis.keys("*").unwrap();
    let mut chunk_keys = Vec::new();
    for key in &keys {
        if let Some(chunk) = am_tests::collector::ChunkKey::parse(key) {
            chunk_keys.push((key.clone(), chunk));
            continue;
        }
        let shard_key = |kind: &str| {
            (0..keys::SHARDS).any(|s| {
                [RAW_TAG, INTERVAL_TAG]
                    .iter()
                    .any(|t| *key == format!("am2:{kind}:{}:{t}", keys::shard_tag(s)))
            })
        };
        assert!(
            shard_key("idx") || shard_key("seen") || key == keys::tags(),
            "unexpected key {key:?} among {keys:?}"
        );
    }
    for (key, chunk) in &chunk_keys {
        assert!(
            key.starts_with(&format!(
                "am2:c:{}:",
                keys::shard_tag(keys::shard_of(&chunk.name))
            )),
            "{key} is not under its shard's tag"
        );
    }
    let names: Vec<(String, String)> = chunk_keys
        .iter()
        .map(|(_, c)| (c.tag.clone(), c.name.clone()))
        .collect();
    assert_eq!(chunk_keys.len(), 6, "{keys:?}");
    for (key, chunk) in &chunk_keys {
        assert_eq!(chunk.chunk_start % span, 0, "{key}");
        let ttl = redis.cmd(&["TTL", key]).unwrap().as_int().unwrap();
        assert!(ttl > 0, "{key} has TTL {ttl}");
        let at = redis.cmd(&["EXPIRETIME", key]).unwrap().as_int().unwrap();
        assert_eq!(at, chunk.chunk_start + span + 86_400, "{key}");
        let len = redis.cmd(&["STRLEN", key]).unwrap().as_int().unwrap();
        assert!(len > 0 && len % 10 == 0, "{key} is {len} bytes");
    }
    assert!(names.contains(&(INTERVAL_TAG.to_owned(), "test.cpu.l".to_owned())));

    let raw_names = vec![
        "test.cpu.l",
        "test.layout.a",
        "test.layout.b",
        "test.layout.c",
    ];
    assert_eq!(index_names(&redis, RAW_TAG).unwrap(), raw_names);
    assert_eq!(
        index_names(&redis, INTERVAL_TAG).unwrap(),
        vec!["test.cpu.l"]
    );
    // Each name sits in its own shard's index.
    for name in &raw_names {
        let index = keys::index(keys::shard_of(name), RAW_TAG);
        assert!(
            zrange_all(&redis, &index)
                .unwrap()
                .contains(&name.to_string()),
            "{name} not in {index}"
        );
    }
    let mut scores: Vec<String> = Vec::new();
    let mut by_lex: Vec<String> = Vec::new();
    for index in redis.keys(&format!("am2:idx:{{*}}:{RAW_TAG}")).unwrap() {
        let with_scores = redis
            .cmd(&["ZRANGE", &index, "0", "-1", "WITHSCORES"])
            .unwrap();
        scores.extend(
            with_scores
                .as_array()
                .unwrap()
                .iter()
                .skip(1)
                .step_by(2)
                .filter_map(Resp::as_text),
        );
        let lex = redis
            .cmd(&["ZRANGE", &index, "[test.layout.", "(test.layout/", "BYLEX"])
            .unwrap();
        by_lex.extend(lex.as_array().unwrap().iter().filter_map(Resp::as_text));
    }
    by_lex.sort();
    assert_eq!(scores, vec!["0"; 4]);
    assert_eq!(
        by_lex,
        vec!["test.layout.a", "test.layout.b", "test.layout.c"]
    );
    let seen = redis.cmd(&["ZSCORE", &seen_key, "test.layout.a"]).unwrap();
    assert_eq!(
        seen.as_int(),
        Some(current),
        "newest chunk of test.layout.a"
    );
    assert_eq!(
        smembers(&redis, keys::tags()).unwrap(),
        vec![INTERVAL_TAG, RAW_TAG]
    );

    // Decoding the chunks ourselves agrees with the product's reader.
    let mut direct: Vec<StoredPoint> = Vec::new();
    for name in [
        "test.cpu.l",
        "test.layout.a",
        "test.layout.b",
        "test.layout.c",
    ] {
        for tag in [RAW_TAG, INTERVAL_TAG] {
            for (ts, v) in read_series(&redis, tag, name).unwrap() {
                direct.push((name.to_owned(), ts, v));
            }
        }
    }
    assert_eq!(inspect(&collector, "test.*"), direct);
    assert_eq!(
        read_series(&redis, RAW_TAG, "test.layout.a").unwrap(),
        vec![(previous + 20, 2.0), (previous + 30, 3.0), (current, 9.0)]
    );
    assert_eq!(
        read_series(&redis, INTERVAL_TAG, "test.cpu.l").unwrap(),
        vec![(now - 300 - (now - 300) % 300, 6.0)]
    );
}

/// Proves the self-metrics: `GET /metrics` answers 200 with the documented Prometheus names
/// and agrees with what was sent, another path answers 404, and with `metrics.graphite` set
/// the counters reach a real carbon-cache as `am.<host>.<name>` every second.
#[test]
fn self_metrics_over_http_and_to_graphite() {
    let redis = RedisServer::start().unwrap();
    let mut cache = CarbonCache::start().unwrap();
    let mut collector = start(
        &redis,
        &CollectorOptions::default()
            .listeners(false, true, false)
            .graphite(cache.line_port(), 1),
    );
    let (status, body) = collector.http_get("/metrics").unwrap();
    assert_eq!(status, 200, "{body}");
    for name in [
        "am_collector_received_points_total",
        "am_collector_stored_points_total",
        "am_collector_bad_frames_total",
        "am_collector_bad_lines_total",
        "am_collector_connections_refused_total",
        "am_collector_dropped_buffer_full_points_total",
        "am_collector_blacklisted_points_total",
        "am_collector_ignored_points_total",
        "am_collector_redis_connected",
        "am_collector_buffer_bytes",
        "am_collector_backpressure_waits_total",
    ] {
        assert!(
            body.lines().any(|l| l.starts_with(&format!("{name} "))),
            "{name} missing from /metrics:\n{body}"
        );
        assert!(
            body.contains(&format!("# TYPE {name} ")),
            "{name}: no TYPE line"
        );
    }
    for path in ["/", "/other", "/metricsx"] {
        let (status, _) = collector.http_get(path).unwrap();
        assert_eq!(status, 404, "GET {path}");
    }

    let now = now_unix();
    let sent: Vec<Sent> = (0..7)
        .map(|k| p("test.self.m", now - 60 + k, k as f64))
        .collect();
    collector.send_tcp_raw(lines(&sent).as_bytes()).unwrap();
    collector
        .wait_counter("stored_points_total", WAIT, |v| v == 7.0)
        .unwrap();
    let received = collector.counter("received_points_total").unwrap();
    assert_eq!(received, 7.0);

    let metric = format!("am.{}.received_points_total", graphite_hostname().unwrap());
    let path = cache.whisper_file(&metric).unwrap();
    let mut last = Vec::new();
    am_tests::wait_until(
        &format!("{metric} to reach {received} in {}", path.display()),
        WAIT,
        || {
            let points = cache.read_whisper(&metric)?;
            let done = points.last().is_some_and(|&(_, v)| v == received);
            last = points;
            Ok(done.then_some(()))
        },
    )
    .unwrap_or_else(|e| {
        panic!(
            "{e:#}\nlast: {last:?}\n{}\n{}",
            collector.logs(),
            cache.logs()
        )
    });
    assert!(last.iter().all(|&(_, v)| v <= received), "{last:?}");
    let stored = cache
        .wait_for_points(
            &format!("am.{}.stored_points_total", graphite_hostname().unwrap()),
            1,
            WAIT,
        )
        .unwrap();
    assert!(stored.iter().all(|&(_, v)| v <= 7.0), "{stored:?}");
}

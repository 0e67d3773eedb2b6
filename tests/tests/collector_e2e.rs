//! End-to-end tests of `am-collector` on the happy paths: real carbon-relay → collector → real
//! redis-server, the plaintext TCP and UDP listeners, the routing and storage models, the Redis
//! layout it leaves, and its self-metrics (HTTP and Graphite via a real carbon-cache).
//!
//! Each test starts its own daemons on free ports and stops them by PID through the guards;
//! every wait is bounded.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::TcpStream;
use std::time::Duration;

use am_e2e::collector::{
    INTERVAL_TAG, RAW_TAG, StoredPoint, graphite_hostname, last_write_wins, lines, read_series,
    smembers, to_map, zrange_all,
};
use am_e2e::{CarbonCache, CarbonRelay, Collector, CollectorOptions, RedisServer, Resp, now_unix};

/// Upper bound of every wait for data to arrive.
const WAIT: Duration = Duration::from_secs(60);

/// `(name, timestamp, value)` as sent.
type Sent = (String, f64, f64);

fn p(name: &str, ts: i64, value: f64) -> Sent {
    (name.to_owned(), ts as f64, value)
}

fn start(redis: &RedisServer, options: &CollectorOptions) -> Collector {
    Collector::start(redis.port(), options).unwrap_or_else(|e| panic!("{e:#}"))
}

/// Asserts a counter's value, with the collector's logs on failure.
#[track_caller]
fn assert_counter(collector: &Collector, name: &str, expected: f64) {
    let got = collector
        .counter(name)
        .unwrap_or_else(|e| panic!("{e:#}\n{}", collector.logs()));
    assert_eq!(got, expected, "{name}\n{}", collector.logs());
}

/// Waits until a counter equals `expected` (counters are updated asynchronously).
#[track_caller]
fn wait_counter_eq(collector: &mut Collector, name: &str, expected: f64) {
    collector
        .wait_counter(name, WAIT, |v| v == expected)
        .unwrap_or_else(|e| panic!("{name} never became {expected}: {e:#}"));
}

#[track_caller]
fn wait_inspect(collector: &mut Collector, pattern: &str, expected: &BTreeMap<(String, i64), f64>) {
    collector
        .wait_inspect(pattern, expected, WAIT)
        .unwrap_or_else(|e| panic!("{e:#}"));
}

#[track_caller]
fn inspect(collector: &Collector, pattern: &str) -> Vec<StoredPoint> {
    collector
        .inspect(pattern)
        .unwrap_or_else(|e| panic!("{e:#}\n{}", collector.logs()))
}

/// Proves the production path: carbon-relay receives plaintext, relays pickle frames to the
/// collector, which routes them (blacklist anywhere, whitelist at the start, the rest ignored)
/// into Redis; a timestamp sent again later with another value reads back as the later value,
/// a fractional timestamp as its whole second; the counters agree exactly with what was sent.
#[test]
fn carbon_relay_pickles_reach_redis_routed_and_deduplicated() {
    let redis = RedisServer::start().unwrap();
    let mut collector = start(&redis, &CollectorOptions::default());
    // After the collector listens: the relay's reconnect back-off is slow.
    let relay = CarbonRelay::start(&[("127.0.0.1", collector.ports().pickle)]).unwrap();
    let now = now_unix();
    let mut sent = Vec::new();
    for (i, name) in ["test.relay.a", "test.relay.b", "test.relay.c"]
        .iter()
        .enumerate()
    {
        for k in 0..6 {
            sent.push(p(
                name,
                now - 900 + k * 60,
                (i * 10 + k as usize) as f64 + 0.25,
            ));
        }
    }
    sent.push(("test.relay.frac".to_owned(), (now - 30) as f64 + 0.75, -7.5));
    // Enough points for carbon-relay to send several 500-point frames.
    for m in 0..100 {
        for k in 0..30 {
            sent.push(p(
                &format!("test.relay.bulk.m{m:02}"),
                now - 1800 + k * 10,
                (m * 100 + k) as f64,
            ));
        }
    }
    let rejected = vec![
        p("test.MX.load", now - 60, 1.0),
        p("test.osys.x", now - 60, 2.0),
        p("other.metric", now - 60, 3.0),
    ];
    relay
        .send_lines(&(lines(&sent) + &lines(&rejected)))
        .unwrap();
    let mut expected = last_write_wins(&sent, None);
    assert_eq!(
        expected.get(&("test.relay.frac".to_owned(), now - 30)),
        Some(&-7.5)
    );
    wait_inspect(&mut collector, "test.relay.*", &expected);

    // The same timestamp again, later, with another value: last write wins.
    let again = vec![p("test.relay.a", now - 900, 99.0)];
    relay.send_lines(&lines(&again)).unwrap();
    expected.insert(("test.relay.a".to_owned(), now - 900), 99.0);
    wait_inspect(&mut collector, "test.relay.*", &expected);

    let received = (sent.len() + rejected.len() + again.len()) as f64;
    wait_counter_eq(&mut collector, "received_points_total", received);
    let routed = (sent.len() + again.len()) as f64;
    wait_counter_eq(&mut collector, "stored_points_total", routed);
    assert_counter(&collector, "routed_points_total", routed);
    assert_counter(&collector, "blacklisted_points_total", 2.0);
    assert_counter(&collector, "ignored_points_total", 1.0);
    assert_counter(&collector, "bad_frames_total", 0.0);
    assert_counter(&collector, "invalid_points_total", 0.0);
    assert_counter(&collector, "connections_refused_total", 0.0);
    assert_counter(&collector, "dropped_expired_points_total", 0.0);
    assert_counter(&collector, "redis_connected", 1.0);
    for pattern in ["*MX*", "*osys*", "other*", "re:.*metric"] {
        assert_eq!(inspect(&collector, pattern), vec![], "{pattern}");
    }
    // Globs: `*` crosses dots, `{a,b}` and `[..]` pick names, a literal name is one series.
    let names = |pattern: &str| -> Vec<String> {
        let mut n: Vec<String> = inspect(&collector, pattern)
            .into_iter()
            .map(|p| p.0)
            .collect();
        n.dedup();
        n
    };
    assert_eq!(
        names("test.relay.{a,c}"),
        vec!["test.relay.a", "test.relay.c"]
    );
    assert_eq!(
        names("test.relay.[b-c]"),
        vec!["test.relay.b", "test.relay.c"]
    );
    assert_eq!(names("test.relay.frac"), vec!["test.relay.frac"]);
    assert_eq!(names("test.*.m07").len(), 1);
    assert_eq!(names("*.bulk.*").len(), 100);
    assert_eq!(
        names("re:test\\.relay\\.[ab]$"),
        vec!["test.relay.a", "test.relay.b"]
    );
    // Nothing else was stored: the whole store is the relayed whitelisted points.
    assert_eq!(to_map(&inspect(&collector, "*")).unwrap(), expected);
    drop(relay);
}

/// Proves the plaintext listeners: lines over TCP and UDP are stored; a bad line (no fields,
/// a value that is not a number, an over-long line) is skipped and counted while the other
/// lines of the same connection or datagram are kept; the last line of a TCP connection is
/// stored without its newline; a duplicate later in the same connection wins; a point past
/// retention is dropped and counted; `inspect --since` limits the window.
#[test]
fn plaintext_tcp_and_udp_skip_bad_lines_and_keep_the_rest() {
    let redis = RedisServer::start().unwrap();
    let max_line = 1024;
    let mut collector = start(
        &redis,
        &CollectorOptions::default()
            .listeners(false, true, true)
            .max_line_bytes(max_line),
    );
    let now = now_unix();
    let long_line = format!(
        "test.tcp.long {} 1 {}\n",
        "9".repeat(2 * max_line),
        now - 50
    );

    let tcp_before = vec![
        p("test.tcp.a", now - 500, 1.0),
        p("test.tcp.a", now - 400, 2.0),
        p("test.tcp.b", now - 500, 3.5),
    ];
    let tcp_after = vec![
        p("test.tcp.b", now - 100, 4.0),
        p("test.tcp.a", now - 500, 11.0), // duplicate of the first line: wins
        ("test.tcp.frac".to_owned(), (now - 100) as f64 + 0.9, 5.0),
        p("test.tcp.old", now - 200_000, 6.0), // past the 1-day retention
    ];
    let last = p("test.tcp.last", now - 10, 42.0);
    let mut payload = lines(&tcp_before);
    payload.push_str("garbage\n");
    payload.push_str("a.b notanumber 123\n");
    payload.push_str(&long_line);
    payload.push_str(&lines(&tcp_after));
    payload.push_str(&format!("{} {} {}", last.0, last.2, last.1)); // no newline
    collector.send_tcp_raw(payload.as_bytes()).unwrap();

    let udp_points = [
        vec![
            p("test.udp.a", now - 300, 1.0),
            p("test.udp.a", now - 200, 2.0),
        ],
        vec![p("test.udp.b", now - 300, 3.0)],
        vec![p("test.udp.c", now - 20, 4.0)],
    ];
    let datagrams = [
        format!(
            "{}garbage\n{}",
            lines(&udp_points[0]),
            lines(&udp_points[1])
        ),
        // An over-long line, then a last line without its newline.
        format!(
            "test.udp.long {} 1 {}\na.b notanumber 123\n{}",
            "9".repeat(2 * max_line),
            now - 50,
            lines(&udp_points[2]).trim_end()
        ),
    ];
    for d in &datagrams {
        collector.send_udp(d.as_bytes()).unwrap();
    }

    let mut sent: Vec<Sent> = Vec::new();
    sent.extend(tcp_before.iter().cloned());
    sent.extend(tcp_after.iter().filter(|s| s.0 != "test.tcp.old").cloned());
    sent.push(last.clone());
    sent.extend(udp_points.iter().flatten().cloned());
    let expected = last_write_wins(&sent, None);
    assert_eq!(
        expected.get(&("test.tcp.frac".to_owned(), now - 100)),
        Some(&5.0)
    );
    assert_eq!(
        expected.get(&("test.tcp.a".to_owned(), now - 500)),
        Some(&11.0)
    );
    wait_inspect(&mut collector, "test.*", &expected);

    // TCP: garbage, notanumber, over-long; UDP: garbage, over-long, notanumber.
    wait_counter_eq(&mut collector, "bad_lines_total", 6.0);
    let good =
        (tcp_before.len() + tcp_after.len() + 1 + udp_points.iter().flatten().count()) as f64;
    wait_counter_eq(&mut collector, "received_points_total", good + 0.0);
    assert_counter(&collector, "dropped_expired_points_total", 1.0);
    wait_counter_eq(&mut collector, "stored_points_total", good - 1.0);
    assert_counter(&collector, "blacklisted_points_total", 0.0);
    assert_counter(&collector, "ignored_points_total", 0.0);
    assert_eq!(inspect(&collector, "*long*"), vec![]);
    assert_eq!(inspect(&collector, "test.tcp.old"), vec![]);

    // --since: only the points of the last 250 seconds (the others are 300 s old or more).
    let recent: BTreeMap<(String, i64), f64> = expected
        .iter()
        .filter(|((_, ts), _)| *ts >= now - 250)
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    let got = to_map(&collector.inspect_since("test.*", 250).unwrap()).unwrap();
    assert_eq!(got, recent);
    assert!(!recent.is_empty() && recent.len() < expected.len());
}

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
    let shown = am_e2e::wait_until("inspect to show both series of both names", WAIT, || {
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
    assert_eq!(
        zrange_all(&redis, &format!("am1:idx:{INTERVAL_TAG}")).unwrap(),
        vec!["test.cpu.x", "test.cpuidle.y"]
    );
    assert_eq!(
        zrange_all(&redis, &format!("am1:idx:{RAW_TAG}")).unwrap(),
        vec!["test.cp.z", "test.cpu.x", "test.cpuidle.y"]
    );
}

/// Proves the Redis layout documented in `store/src/lib.rs`, in the real Redis the collector
/// wrote to: only `am1:` keys of the four documented kinds; every chunk key has a TTL, expiring
/// exactly at `chunk_start + span + ttl`; the index of each model holds exactly the stored
/// names (all scores 0, lexicographic ranges work), the last-seen set scores the newest chunk,
/// `am1:tags` lists both models; a chunk is sealed (sorted, one record per timestamp, exact
/// size) once its successor exists; decoding the chunks directly agrees with `inspect`.
#[test]
fn store_layout_in_real_redis() {
    let redis = RedisServer::start().unwrap();
    let mut collector = start(&redis, &CollectorOptions::default());
    let now = now_unix();
    let span = 14_400; // Model::span() of ttl 86400 (and of interval 300 with ttl 86400)
    let current = now - now % span;
    let previous = current - span;
    // The previous chunk gets an out-of-order point and a duplicate first.
    let first = vec![
        p("test.layout.a", previous + 30, 1.0),
        p("test.layout.a", previous + 20, 2.0),
        p("test.layout.a", previous + 30, 3.0),
        p("test.layout.b", now - 100, 4.0),
        p("test.layout.c", now - 200, 5.0),
        p("test.cpu.l", now - 300, 6.0),
        p("test.MX.l", now - 300, 7.0),
        p("else.l", now - 300, 8.0),
    ];
    let frame: Vec<(&str, f64, f64)> = first.iter().map(|(n, t, v)| (n.as_str(), *t, *v)).collect();
    let mut stream = TcpStream::connect(("127.0.0.1", collector.ports().pickle)).unwrap();
    stream
        .write_all(&am_carbon::pickle::encode_frame(&frame))
        .unwrap();
    collector
        .wait_counter("stored_points_total", WAIT, |v| v == 7.0)
        .unwrap();
    let prev_key = format!("am1:c:{RAW_TAG}:test.layout.a:{previous}");
    assert_eq!(
        redis.cmd(&["STRLEN", &prev_key]).unwrap(),
        Resp::Integer(30),
        "three records, not sealed yet"
    );
    // Its successor: the previous chunk gets sealed.
    let second = vec![p("test.layout.a", current, 9.0)];
    let frame: Vec<(&str, f64, f64)> = second
        .iter()
        .map(|(n, t, v)| (n.as_str(), *t, *v))
        .collect();
    stream
        .write_all(&am_carbon::pickle::encode_frame(&frame))
        .unwrap();
    am_e2e::wait_until("the previous chunk to be sealed", WAIT, || {
        Ok((redis.cmd(&["STRLEN", &prev_key])? == Resp::Integer(20)).then_some(()))
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}", collector.logs()));
    let Resp::Bulk(sealed) = redis.cmd(&["GET", &prev_key]).unwrap() else {
        panic!("{prev_key} is not a string")
    };
    assert_eq!(
        am_e2e::collector::decode_records(previous, &sealed).unwrap(),
        vec![(previous + 20, 2.0), (previous + 30, 3.0)],
        "sealed: sorted, last write per timestamp"
    );

    let keys = redis.keys("*").unwrap();
    let mut chunk_keys = Vec::new();
    for key in &keys {
        if let Some(chunk) = am_e2e::collector::ChunkKey::parse(key) {
            chunk_keys.push((key.clone(), chunk));
            continue;
        }
        assert!(
            [
                format!("am1:idx:{RAW_TAG}"),
                format!("am1:idx:{INTERVAL_TAG}"),
                format!("am1:seen:{RAW_TAG}"),
                format!("am1:seen:{INTERVAL_TAG}"),
                "am1:tags".to_owned(),
            ]
            .contains(key),
            "unexpected key {key:?} among {keys:?}"
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
    assert_eq!(
        zrange_all(&redis, &format!("am1:idx:{RAW_TAG}")).unwrap(),
        raw_names
    );
    assert_eq!(
        zrange_all(&redis, &format!("am1:idx:{INTERVAL_TAG}")).unwrap(),
        vec!["test.cpu.l"]
    );
    let with_scores = redis
        .cmd(&[
            "ZRANGE",
            &format!("am1:idx:{RAW_TAG}"),
            "0",
            "-1",
            "WITHSCORES",
        ])
        .unwrap();
    let scores: Vec<String> = with_scores
        .as_array()
        .unwrap()
        .iter()
        .skip(1)
        .step_by(2)
        .filter_map(Resp::as_text)
        .collect();
    assert_eq!(scores, vec!["0"; 4]);
    let by_lex = redis
        .cmd(&[
            "ZRANGE",
            &format!("am1:idx:{RAW_TAG}"),
            "[test.layout.",
            "(test.layout/",
            "BYLEX",
        ])
        .unwrap();
    let by_lex: Vec<String> = by_lex
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Resp::as_text)
        .collect();
    assert_eq!(
        by_lex,
        vec!["test.layout.a", "test.layout.b", "test.layout.c"]
    );
    let seen = redis
        .cmd(&["ZSCORE", &format!("am1:seen:{RAW_TAG}"), "test.layout.a"])
        .unwrap();
    assert_eq!(
        seen.as_int(),
        Some(current),
        "newest chunk of test.layout.a"
    );
    assert_eq!(
        smembers(&redis, "am1:tags").unwrap(),
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
    am_e2e::wait_until(
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

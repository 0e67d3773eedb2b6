//! The layout against a real redis-server and a real 3-node Redis Cluster: reads, last write
//! wins, interval buckets, expiry, sealing, the index and its trimming.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use am_store::writer::{Batch, ModelTable, encode_trim, execute, write_batch};
use am_store::{Conn, Model, Pattern, Point, Reader, RedisAddr, SeriesId, keys, unix_now};
use am_tests::{RedisCluster, RedisServer};

/// A single server or a cluster, kept running while a test uses its address.
enum Target {
    One(Box<RedisServer>),
    Cluster(RedisCluster),
}

impl Target {
    fn one() -> Target {
        Target::One(Box::new(RedisServer::start().unwrap()))
    }

    fn cluster() -> Target {
        Target::Cluster(RedisCluster::start(3).unwrap())
    }

    fn addr(&self) -> RedisAddr {
        match self {
            Target::One(r) => r.addr(),
            Target::Cluster(c) => c.addr(),
        }
    }
}

async fn conn(redis: &Target) -> Conn {
    Conn::connect(&redis.addr(), Duration::from_secs(5))
        .await
        .unwrap()
}

async fn reader(redis: &Target) -> Reader {
    Reader::connect(&redis.addr(), Duration::from_secs(5))
        .await
        .unwrap()
}

/// Runs `case` against a single server and against a 3-node cluster.
macro_rules! both {
    ($case:ident, $one:ident, $cluster:ident) => {
        #[tokio::test]
        async fn $one() {
            $case(Target::one()).await;
        }

        #[tokio::test]
        async fn $cluster() {
            $case(Target::cluster()).await;
        }
    };
}

/// The points of series `name` under `model` in `[from, until]`.
async fn read(r: &mut Reader, name: &str, model: Model, from: i64, until: i64) -> Vec<Point> {
    r.read(&series(name, model), from, until).await.unwrap()
}

const RAW: Model = Model::Raw { ttl: 86_400 };
const IV: Model = Model::Interval {
    interval: 300,
    ttl: 86_400,
};

async fn write(conn: &mut Conn, table: &ModelTable, points: &[(&str, u16, f64, f64)]) -> u64 {
    let mut batch = Batch::default();
    let now = unix_now();
    for (name, model, ts, v) in points {
        batch.push(table, [*model], name, *ts, *v, now);
    }
    write_batch(conn, table, &mut batch).await.unwrap().stored
}

async fn usage(c: &mut Conn, key: &str) -> i64 {
    match c.cmd(&[b"MEMORY", b"USAGE", key.as_bytes()]).await.unwrap() {
        am_store::resp::Value::Int(n) => n,
        other => panic!("{other:?}"),
    }
}

fn series(name: &str, model: Model) -> SeriesId {
    SeriesId {
        name: name.into(),
        model,
    }
}

both!(
    last_write_wins,
    last_write_wins_in_order_across_batches_and_chunks,
    last_write_wins_on_a_cluster
);

async fn last_write_wins(redis: Target) {
    let mut c = conn(&redis).await;
    let table = ModelTable::new(vec![RAW]);
    let t0 = (unix_now() - 3600) as f64;
    // Out of order, duplicated within a batch and across batches, spanning chunk boundaries.
    write(
        &mut c,
        &table,
        &[
            ("a.b", 0, t0 + 60.0, 1.0),
            ("a.b", 0, t0, 2.0),
            ("a.b", 0, t0 + 60.0, 3.0),
        ],
    )
    .await;
    write(
        &mut c,
        &table,
        &[("a.b", 0, t0 + 0.9, 4.0), ("a.b", 0, t0 - 20000.0, 5.0)],
    )
    .await;
    let mut r = reader(&redis).await;
    let pts = read(&mut r, "a.b", RAW, i64::MIN, i64::MAX).await;
    let t = t0 as i64;
    assert_eq!(
        pts,
        vec![
            Point {
                ts: t - 20000,
                value: 5.0
            },
            Point { ts: t, value: 4.0 },
            Point {
                ts: t + 60,
                value: 3.0
            },
        ]
    );
    // A window reads only its points.
    let pts = read(&mut r, "a.b", RAW, t, t + 59).await;
    assert_eq!(pts, vec![Point { ts: t, value: 4.0 }]);
}

both!(
    interval_buckets,
    interval_model_keeps_last_value_per_bucket_at_bucket_start,
    interval_buckets_on_a_cluster
);

async fn interval_buckets(redis: Target) {
    let mut c = conn(&redis).await;
    let table = ModelTable::new(vec![RAW, IV]);
    let b = (unix_now() - 7200) / 300 * 300;
    let pts: Vec<(&str, u16, f64, f64)> = vec![
        ("x.cpu", 1, (b + 10) as f64, 1.0),
        ("x.cpu", 1, (b + 299) as f64, 2.0),
        ("x.cpu", 1, (b + 300) as f64, 3.0),
        ("x.cpu", 1, (b + 5) as f64, 9.0), // late, same bucket: last write wins
        ("x.cpu", 0, (b + 5) as f64, 9.0),
    ];
    assert_eq!(write(&mut c, &table, &pts).await, 5);
    let mut r = reader(&redis).await;
    let got = read(&mut r, "x.cpu", IV, i64::MIN, i64::MAX).await;
    assert_eq!(
        got,
        vec![
            Point { ts: b, value: 9.0 },
            Point {
                ts: b + 300,
                value: 3.0
            }
        ]
    );
    let raw = read(&mut r, "x.cpu", RAW, i64::MIN, i64::MAX).await;
    assert_eq!(
        raw,
        vec![Point {
            ts: b + 5,
            value: 9.0
        }]
    );
    // Both series are found by name.
    let found = r.find(&Pattern::parse("x.*").unwrap()).await.unwrap();
    assert_eq!(found, vec![series("x.cpu", RAW), series("x.cpu", IV)]);
}

both!(
    expiry_index_seal,
    every_chunk_expires_and_is_indexed_and_old_chunks_are_sealed,
    expiry_index_and_seal_on_a_cluster
);

async fn expiry_index_seal(redis: Target) {
    let mut c = conn(&redis).await;
    let table = ModelTable::new(vec![RAW]);
    let span = i64::from(RAW.span());
    // Three chunks back, so that the chunks after it are all in the past.
    let chunk = RAW.chunk_start(unix_now() - 4 * span);
    // Many small appends to one chunk, unsorted, with duplicates: APPEND leaves slack.
    for i in (0..200i64).rev() {
        write(
            &mut c,
            &table,
            &[("s.m", 0, (chunk + i % 150) as f64, i as f64)],
        )
        .await;
    }
    let key = keys::chunk(&RAW, "s.m", chunk);
    let before = usage(&mut c, &key).await;
    // The first point of the next chunk seals this one.
    write(&mut c, &table, &[("s.m", 0, (chunk + span) as f64, 1.0)]).await;
    let after = usage(&mut c, &key).await;
    let len = c.cmd(&[b"STRLEN", key.as_bytes()]).await.unwrap();
    assert_eq!(
        len,
        am_store::resp::Value::Int(200 * 10),
        "every record is kept"
    );
    assert!(
        after < before && after < 200 * 10 + 200,
        "sealing gives the slack back: {before} -> {after}"
    );
    let mut r = reader(&redis).await;
    let pts = read(&mut r, "s.m", RAW, chunk, chunk + span - 1).await;
    assert_eq!(pts.len(), 150);
    // Records 0..50 were written twice; the later write (smaller i) wins.
    assert_eq!(
        pts[0],
        Point {
            ts: chunk,
            value: 0.0
        }
    );
    assert_eq!(
        pts[149],
        Point {
            ts: chunk + 149,
            value: 149.0
        }
    );
    // Every chunk has its expiry at chunk end + ttl.
    for start in [chunk, chunk + span] {
        let k = keys::chunk(&RAW, "s.m", start);
        let at = c.cmd(&[b"EXPIRETIME", k.as_bytes()]).await.unwrap();
        assert_eq!(
            at,
            am_store::resp::Value::Int(RAW.chunk_expiry(start)),
            "{k}"
        );
    }
    let idx = c
        .cmd(&[
            b"ZRANGE",
            keys::index(keys::shard_of("s.m"), "r86400").as_bytes(),
            b"0",
            b"-1",
        ])
        .await
        .unwrap();
    assert_eq!(
        idx,
        am_store::resp::Value::Array(Some(vec![am_store::resp::Value::Bulk(Some(
            b"s.m".to_vec()
        ))]))
    );
}

#[tokio::test]
async fn points_past_retention_are_not_written() {
    let table = ModelTable::new(vec![Model::Raw { ttl: 600 }]);
    let mut batch = Batch::default();
    let now = unix_now();
    let c = batch.push(&table, [0u16], "old", (now - 10_000) as f64, 1.0, now);
    assert_eq!((c.queued, c.expired), (0, 1));
    let c = batch.push(&table, [0u16], "bad", f64::NAN, 1.0, now);
    assert_eq!(c.bad_timestamp, 1);
    // Milliseconds sent as seconds, or a clock far ahead: refused, not kept for years.
    let c = batch.push(&table, [0u16], "ms", (now * 1000) as f64, 1.0, now);
    assert_eq!(c.bad_timestamp, 1);
    let c = batch.push(&table, [0u16], "ahead", (now + 601) as f64, 1.0, now);
    assert_eq!(c.bad_timestamp, 1);
    let c = batch.push(&table, [0u16], "skew", (now + 590) as f64, 1.0, now);
    assert_eq!(c.queued, 1);
    batch = Batch::default();
    assert!(batch.is_empty());
}

both!(
    find_and_trim,
    find_uses_the_index_and_trim_drops_expired_names,
    find_and_trim_on_a_cluster
);

async fn find_and_trim(redis: Target) {
    let mut c = conn(&redis).await;
    let table = ModelTable::new(vec![RAW]);
    let now = unix_now() as f64;
    let names = [
        "sys.web1.cpu",
        "sys.web2.cpu",
        "sys.web1.mem",
        "app.sys.cpu",
        "sysx",
    ];
    let pts: Vec<_> = names.iter().map(|n| (*n, 0u16, now - 60.0, 1.0)).collect();
    write(&mut c, &table, &pts).await;
    let mut r = reader(&redis).await;
    let pat = Pattern::parse("sys.*.cpu").unwrap();
    let got: Vec<String> = r
        .find(&pat)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(got, vec!["sys.web1.cpu", "sys.web2.cpu"]);
    let got: Vec<String> = r
        .find(&Pattern::parse(r"re:.*\.cpu$").unwrap())
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(got, vec!["app.sys.cpu", "sys.web1.cpu", "sys.web2.cpu"]);
    // Pretend "sysx" was last written long ago: trim takes it out of the index.
    let seen = keys::seen(keys::shard_of("sysx"), "r86400");
    c.cmd(&[b"ZADD", seen.as_bytes(), b"1000", b"sysx"])
        .await
        .unwrap();
    let mut cmds = Vec::new();
    encode_trim(&table, unix_now(), &mut cmds);
    let report = execute(&mut c, &table, cmds).await.unwrap();
    assert_eq!(report.trimmed, 1);
    let all = r.find(&Pattern::parse("*").unwrap()).await.unwrap();
    assert_eq!(all.len(), 4);
    assert!(all.iter().all(|s| s.name != "sysx"));
    // An exact name asks its own shard only, and finds it.
    let one = r
        .find(&Pattern::exact("sys.web2.cpu").unwrap())
        .await
        .unwrap();
    assert_eq!(one, vec![series("sys.web2.cpu", RAW)]);
}

// `read_many_each` hands over every series in order — many more than one pipeline, raw and
// interval ones, names without data — with the same points as `read` and `read_many`, and
// the connection stays usable after it.
both!(
    read_many_each,
    read_many_each_streams_what_read_returns,
    read_many_each_on_a_cluster
);

async fn read_many_each(redis: Target) {
    let mut c = conn(&redis).await;
    let table = ModelTable::new(vec![RAW, IV]);
    let now = unix_now();
    let mut points = Vec::new();
    let names: Vec<String> = (0..300).map(|i| format!("m.{i:03}")).collect();
    for (i, name) in names.iter().enumerate() {
        // Spanning several chunks (a chunk of r86400 covers 4 h), written out of order.
        for k in (0..40).rev() {
            let ts = (now - 30_000 + k * 700 + i as i64) as f64;
            points.push((
                name.as_str(),
                (i % 2) as u16,
                ts,
                (i * 100 + k as usize) as f64,
            ));
        }
    }
    write(&mut c, &table, &points).await;
    let mut ids: Vec<SeriesId> = names
        .iter()
        .enumerate()
        .map(|(i, n)| series(n, if i % 2 == 0 { RAW } else { IV }))
        .collect();
    ids.insert(7, series("no.such.metric", RAW));
    let mut r = reader(&redis).await;
    let (from, until) = (now - 20_000, now);
    let mut streamed: Vec<(usize, Vec<Point>)> = Vec::new();
    r.read_many_each(&ids, from, until, |i, pts| streamed.push((i, pts.to_vec())))
        .await
        .unwrap();
    let collected = r.read_many(&ids, from, until).await.unwrap();
    assert_eq!(streamed.len(), ids.len());
    assert_eq!(collected.len(), ids.len());
    for (k, ((i, pts), id)) in streamed.iter().zip(&ids).enumerate() {
        assert_eq!(*i, k);
        let one = r.read(id, from, until).await.unwrap();
        assert_eq!(pts, &one, "{}", id.name);
        assert_eq!(&collected[k], &one, "{}", id.name);
        assert!(pts.windows(2).all(|w| w[0].ts < w[1].ts));
        assert!(pts.iter().all(|p| p.ts >= from && p.ts <= until));
        if id.name == "no.such.metric" {
            assert!(pts.is_empty());
        } else {
            assert!(pts.len() > 20, "{}: {}", id.name, pts.len());
        }
    }
}

/// Window reads on one server go over the store's own connections (`conn/bulk.rs`): they log
/// in as the ACL user into the configured database, and a read still succeeds after the server
/// closed its idle connections (`timeout 1`) and after a restart.
#[tokio::test]
async fn bulk_reads_log_in_and_survive_closed_connections() {
    let redis = Target::One(Box::new(
        RedisServer::start_with_args(&["--timeout", "1"]).unwrap(),
    ));
    let mut admin = conn(&redis).await;
    admin
        .cmd_ok(&[
            b"ACL", b"SETUSER", b"reader", b"on", b">s3cret", b"~*", b"+@all",
        ])
        .await
        .unwrap();
    let mut addr = redis.addr();
    addr.username = Some("reader".into());
    addr.password = Some("s3cret".into());
    addr.db = 3;
    let mut c = Conn::connect(&addr, Duration::from_secs(5)).await.unwrap();
    let table = ModelTable::new(vec![RAW]);
    let now = unix_now();
    let points: Vec<(&str, u16, f64, f64)> = (0..50)
        .map(|k| ("bulk.m", 0u16, (now - 3000 + k * 60) as f64, k as f64))
        .collect();
    write(&mut c, &table, &points).await;
    let mut r = Reader::connect(&addr, Duration::from_secs(5))
        .await
        .unwrap();
    let want: Vec<Point> = points
        .iter()
        .map(|(_, _, ts, v)| Point {
            ts: *ts as i64,
            value: *v,
        })
        .collect();
    assert_eq!(read(&mut r, "bulk.m", RAW, now - 4000, now).await, want);
    // The reads were the ACL user's, in database 3 (nothing in database 0).
    let clients = match admin.cmd(&[b"CLIENT", b"LIST"]).await.unwrap() {
        am_store::resp::Value::Bulk(Some(b)) => String::from_utf8(b).unwrap(),
        other => panic!("{other:?}"),
    };
    assert!(
        clients
            .lines()
            .filter(|l| l.contains("user=reader"))
            .all(|l| l.contains(" db=3 ")),
        "{clients}"
    );
    assert_eq!(
        clients
            .lines()
            .filter(|l| l.contains("user=reader") && l.contains(" name=am-window-reads "))
            .count(),
        1,
        "the reader's own connection: {clients}"
    );
    let Target::One(server) = &redis else {
        unreachable!()
    };
    assert!(server.keys("am2:c:*").unwrap().is_empty(), "database 0");
    // The server closes idle connections after a second: the pooled one is stale.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(read(&mut r, "bulk.m", RAW, now - 4000, now).await, want);
    drop(admin);
    drop(c);
    // A restart (no persistence): the data is gone, the read still answers.
    let Target::One(mut server) = redis else {
        unreachable!()
    };
    server.restart().unwrap();
    let mut admin = Conn::connect(&server.addr(), Duration::from_secs(5))
        .await
        .unwrap();
    admin
        .cmd_ok(&[
            b"ACL", b"SETUSER", b"reader", b"on", b">s3cret", b"~*", b"+@all",
        ])
        .await
        .unwrap();
    let got = r
        .read(&series("bulk.m", RAW), now - 4000, now)
        .await
        .unwrap();
    assert!(got.is_empty(), "{got:?}");
}

/// Window reads on a cluster go to each node over the store's own connections
/// (`conn/slots.rs`); when a slot has moved since the slot map was read (resharding), the read
/// is left to the crate, which follows the redirection, and is still right.
#[tokio::test]
async fn cluster_reads_follow_a_moved_slot() {
    let mut cluster = RedisCluster::start(3).unwrap();
    let mut c = Conn::connect(&cluster.addr(), Duration::from_secs(5))
        .await
        .unwrap();
    let table = ModelTable::new(vec![RAW]);
    let now = unix_now();
    let names: Vec<String> = (0..200).map(|i| format!("moved.m{i:03}")).collect();
    let mut points = Vec::new();
    for (i, name) in names.iter().enumerate() {
        for k in 0..20 {
            points.push((name.as_str(), 0u16, (now - 2000 + k * 60) as f64, i as f64));
        }
    }
    write(&mut c, &table, &points).await;
    let ids: Vec<SeriesId> = names.iter().map(|n| series(n, RAW)).collect();
    let mut r = Reader::connect(&cluster.addr(), Duration::from_secs(5))
        .await
        .unwrap();
    let readers = |cluster: &RedisCluster| -> Vec<usize> {
        cluster
            .nodes()
            .iter()
            .map(|n| {
                let list = n.cmd(&["CLIENT", "LIST"]).unwrap().as_text().unwrap();
                list.lines()
                    .filter(|l| l.contains(" name=am-window-reads "))
                    .count()
            })
            .collect()
    };
    assert_eq!(readers(&cluster), [0, 0, 0]);
    let before = r.read_many(&ids, now - 3000, now).await.unwrap();
    assert!(before.iter().all(|p| p.len() == 20), "{before:?}");
    // Each node now has one of the reader's own connections.
    assert_eq!(readers(&cluster), [1, 1, 1]);
    // Move the slot of the first series' shard to another node, keys and all.
    let key = keys::chunk(&RAW, &names[0], RAW.chunk_start(now - 2000));
    let from = cluster.owner_of(&key).unwrap();
    let to = (from + 1) % 3;
    let slot = keys::slot(key.as_bytes()).to_string();
    let id = |i: usize| -> String {
        cluster.nodes()[i]
            .cmd(&["CLUSTER", "MYID"])
            .unwrap()
            .as_text()
            .unwrap()
    };
    let (from_id, to_id) = (id(from), id(to));
    let (src, dst) = (&cluster.nodes()[from], &cluster.nodes()[to]);
    dst.cmd(&["CLUSTER", "SETSLOT", &slot, "IMPORTING", &from_id])
        .unwrap();
    src.cmd(&["CLUSTER", "SETSLOT", &slot, "MIGRATING", &to_id])
        .unwrap();
    let moving = src
        .texts(&["CLUSTER", "GETKEYSINSLOT", &slot, "10000"])
        .unwrap();
    assert!(!moving.is_empty());
    let port = dst.port().to_string();
    let mut migrate = vec![
        "MIGRATE",
        "127.0.0.1",
        port.as_str(),
        "",
        "0",
        "5000",
        "KEYS",
    ];
    migrate.extend(moving.iter().map(String::as_str));
    src.cmd(&migrate).unwrap();
    for node in cluster.nodes() {
        node.cmd(&["CLUSTER", "SETSLOT", &slot, "NODE", &to_id])
            .unwrap();
    }
    assert_eq!(cluster.owner_of(&key).unwrap(), to);
    let after = r.read_many(&ids, now - 3000, now).await.unwrap();
    assert_eq!(after, before);
    // And again, on the slot map read anew.
    let again = r.read_many(&ids, now - 3000, now).await.unwrap();
    assert_eq!(again, before);
    let _ = cluster.node(0);
}

//! The production Redis set-ups, and what the tests of `tests/tests/redis_*.rs` do with each:
//! [`Deployment`] is a TLS Redis with an ACL user, a 3-node cluster, or a master and replica
//! behind Sentinel; [`round_trip`] runs the collector and a runner plugin against it;
//! [`Ingest`] keeps points flowing into a collector while a test breaks something.

// These run inside #[test] functions only (clippy.toml allows panics there): a panic is a
// failing test with its message.
#![allow(clippy::panic)]

use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::{Value, json};

use crate::carbon_cache::CarbonCache;
use crate::collector::points::{Sent, StoredPoint};
use crate::collector::test_helpers::frame_of;
use crate::collector::{Collector, CollectorOptions};
use crate::redis_cluster::RedisCluster;
use crate::redis_sentinel::SentinelSet;
use crate::redis_tls::TlsRedis;
use crate::runner::test_helpers::wait_points;
use crate::runner::{PluginLib, Runner, RunnerSetup};

/// One of the production set-ups.
#[derive(Debug)]
pub enum Deployment {
    /// TLS with a test CA (client certificates required) and an ACL user.
    Tls(Box<TlsRedis>),
    /// Three cluster masters.
    Cluster(RedisCluster),
    /// A master and a replica, three sentinels.
    Sentinel(Box<SentinelSet>),
}

impl Deployment {
    /// The fields of `writer.RedisSink` / `metric_sink.RedisSink` saying where Redis is, as
    /// (field, raw JSON) pairs.
    pub fn fields(&self) -> Vec<(&'static str, String)> {
        let list = |urls: Vec<String>| {
            let quoted: Vec<String> = urls.iter().map(|u| format!("{u:?}")).collect();
            format!("[{}]", quoted.join(", "))
        };
        match self {
            Deployment::Tls(t) => vec![("url", format!("{:?}", t.url())), ("tls", t.tls_json())],
            Deployment::Cluster(c) => vec![("cluster", list(c.urls()))],
            Deployment::Sentinel(s) => vec![("sentinel", s.sentinel_json())],
        }
    }

    /// The same fields as a JSON object.
    pub fn sink_json(&self) -> Value {
        let mut map = serde_json::Map::new();
        for (field, raw) in self.fields() {
            let value: Value =
                serde_json::from_str(&raw).unwrap_or_else(|e| panic!("{field}: {e}: {raw}"));
            map.insert(field.to_string(), value);
        }
        Value::Object(map)
    }

    /// The address for the store crate's clients.
    pub fn addr(&self) -> am_store::RedisAddr {
        match self {
            Deployment::Tls(t) => t.addr(),
            Deployment::Cluster(c) => c.addr(),
            Deployment::Sentinel(s) => s.addr(),
        }
    }

    /// The tail of every Redis process's logs.
    pub fn logs(&self) -> String {
        match self {
            Deployment::Tls(t) => t.server().logs(),
            Deployment::Cluster(c) => c.logs(),
            Deployment::Sentinel(s) => s.logs(),
        }
    }
}

/// A collector writing to `deployment` with a pickle listener only, and `sink` fields added
/// to its `writer.RedisSink` (raw JSON each).
pub fn collector(deployment: &Deployment, sink: &[(&str, &str)]) -> Collector {
    let mut options = CollectorOptions::default()
        .listeners(true, false, false)
        .redis(&deployment.fields());
    for (field, json) in sink {
        options = options.sink(*field, *json);
    }
    Collector::start(0, &options).unwrap_or_else(|e| panic!("{e:#}\n{}", deployment.logs()))
}

/// Sends `points` over one pickle connection, 500 a frame.
pub fn send(collector: &Collector, points: &[Sent]) -> Result<()> {
    let mut stream = TcpStream::connect(("127.0.0.1", collector.ports().pickle))
        .context("connecting to the collector's pickle port")?;
    for chunk in points.chunks(500) {
        stream
            .write_all(&frame_of(chunk))
            .context("sending a frame")?;
    }
    Ok(())
}

/// What [`round_trip`] checked, for the test's own assertions and messages.
#[derive(Debug)]
pub struct RoundTrip {
    /// The collector (still running).
    pub collector: Collector,
    /// The runner (still running).
    pub runner: Runner,
    /// The carbon-cache the runner writes to.
    pub carbon: CarbonCache,
    /// The points sent.
    pub sent: Vec<Sent>,
}

/// Metrics of a round trip.
pub const METRICS: usize = 300;

/// Sends [`METRICS`] metrics `test.prod.m000`.. (two points each, the newer one's value the
/// metric's number) to a collector writing to `deployment`, reads every point back with
/// `am-collector inspect`, then runs the `Example` plugin every second (with `roles`, e.g.
/// `["--role", "all"]`, through the task queue) over `test.prod.*` with `test.prod.m007` as
/// its reference and threshold 289.5, and waits until it has written what it read to carbon:
/// `count` 300, `max` 299, `mean` 149.5, `reference` 7.
pub fn round_trip(deployment: &Deployment, roles: &[&str]) -> RoundTrip {
    let mut collector = collector(deployment, &[]);
    let now = crate::now_unix();
    let mut sent = Vec::new();
    for i in 0..METRICS {
        let name = format!("test.prod.m{i:03}");
        sent.push((name.clone(), (now - 120) as f64, -1.0));
        sent.push((name, (now - 60) as f64, i as f64));
    }
    send(&collector, &sent).unwrap_or_else(|e| panic!("{e:#}"));
    collector
        .wait_counter("stored_points_total", Duration::from_secs(60), |v| {
            v == sent.len() as f64
        })
        .unwrap_or_else(|e| panic!("{e:#}\n{}", deployment.logs()));
    let expected: BTreeMap<(String, i64), f64> = sent
        .iter()
        .map(|(n, t, v)| ((n.clone(), *t as i64), *v))
        .collect();
    collector
        .wait_inspect("test.prod.*", &expected, Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e:#}"));

    let carbon = CarbonCache::start().unwrap_or_else(|e| panic!("{e:#}"));
    let mut setup = RunnerSetup::new(0, carbon.line_port())
        .set("metric_sink", json!({ "RedisSink": deployment.sink_json() }))
        .plugin(PluginLib::Example)
        .service(
            "Example",
            json!({
                "scheduler_options": { "cron": "* * * * * *", "plugin_args": { "name": "Example" } },
                "worker_options": { "web": { "metrics": "test.prod.*", "window": 600,
                    "threshold": 289.5, "reference": "test.prod.m007" } }
            }),
        );
    if !roles.is_empty() {
        setup = setup.set("queue", json!({ "processes": 1 }));
        for arg in roles {
            setup = setup.arg(arg);
        }
    }
    let runner = Runner::start(&setup).unwrap_or_else(|e| panic!("{e:#}"));
    for (field, want) in [
        ("count", METRICS as f64),
        ("max", (METRICS - 1) as f64),
        ("mean", (METRICS - 1) as f64 / 2.0),
        ("reference", 7.0),
    ] {
        let got = wait_points(
            &carbon,
            &runner,
            &format!("AnnaMolly.Example.web.{field}"),
            1,
        );
        assert!(
            got.iter().all(|p| p.1 == want),
            "{field}: {got:?}, expected {want}\n{}",
            runner.logs()
        );
    }
    let runs = wait_points(&carbon, &runner, "AnnaMolly.Example.web.runs", 2);
    assert!(
        runs.windows(2).all(|w| w[1].1 > w[0].1),
        "the state in Redis counts the runs: {runs:?}"
    );
    RoundTrip {
        collector,
        runner,
        carbon,
        sent,
    }
}

/// A steady stream of points into a collector, on a thread of its own: `metrics` metrics
/// `<prefix>.m<i>`, one point each every `every` (timestamps one second apart, starting an
/// hour ago), each value unique, over new connections when one breaks.
#[derive(Debug)]
pub struct Ingest {
    stop: Arc<AtomicBool>,
    rounds: Arc<AtomicU64>,
    thread: Option<JoinHandle<Vec<Sent>>>,
}

impl Ingest {
    /// Starts sending.
    pub fn start(port: u16, prefix: &str, metrics: usize, every: Duration) -> Ingest {
        let stop = Arc::new(AtomicBool::new(false));
        let rounds = Arc::new(AtomicU64::new(0));
        let (s, r, prefix) = (stop.clone(), rounds.clone(), prefix.to_string());
        let thread = std::thread::spawn(move || {
            let start = crate::now_unix() - 3600;
            let mut sent = Vec::new();
            let mut stream: Option<TcpStream> = None;
            let mut round = 0i64;
            while !s.load(Ordering::Relaxed) && round < 3000 {
                let points: Vec<Sent> = (0..metrics)
                    .map(|i| {
                        (
                            format!("{prefix}.m{i:03}"),
                            (start + round) as f64,
                            (round * 1000 + i as i64) as f64,
                        )
                    })
                    .collect();
                let frame = frame_of(&points);
                // The collector keeps running whatever Redis does; a write fails only if the
                // collector itself went away, which fails the test later.
                let ok = stream
                    .get_or_insert_with(|| {
                        TcpStream::connect(("127.0.0.1", port))
                            .unwrap_or_else(|e| panic!("connecting to the collector: {e}"))
                    })
                    .write_all(&frame)
                    .is_ok();
                if !ok {
                    stream = None;
                    continue;
                }
                sent.extend(points);
                round += 1;
                r.store(round as u64, Ordering::Relaxed);
                std::thread::sleep(every);
            }
            sent
        });
        Ingest {
            stop,
            rounds,
            thread: Some(thread),
        }
    }

    /// Rounds sent so far.
    pub fn rounds(&self) -> u64 {
        self.rounds.load(Ordering::Relaxed)
    }

    /// Stops sending and returns every point sent.
    pub fn finish(mut self) -> Vec<Sent> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .map(|t| t.join().unwrap_or_else(|_| panic!("the sender panicked")))
            .unwrap_or_default()
    }
}

/// The points of `sent` that `stored` lacks (or holds with another value), as (name, ts).
pub fn missing(sent: &[Sent], stored: &[StoredPoint]) -> Vec<(String, i64)> {
    let have: BTreeMap<(&str, i64), f64> = stored
        .iter()
        .map(|(n, t, v)| ((n.as_str(), *t), *v))
        .collect();
    sent.iter()
        .filter(|(n, t, v)| have.get(&(n.as_str(), *t as i64)) != Some(v))
        .map(|(n, t, _)| (n.clone(), *t as i64))
        .collect()
}

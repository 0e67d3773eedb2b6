//! The writer against fake carbon listeners on 127.0.0.1.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::*;

const WAIT: Duration = Duration::from_secs(15);

fn config(port: u16, max: usize) -> GraphiteConfig {
    GraphiteConfig {
        host: "127.0.0.1".into(),
        port,
        prefix: "AnnaMolly".into(),
        buffer_max_points: max,
        url: None,
    }
}

fn point(i: u32) -> OutputPoint {
    OutputPoint {
        name: "AnnaMolly.Test.svc.v".into(),
        value: f64::from(i),
        ts: 1_700_000_000 + i64::from(i),
    }
}

fn value_of(line: &str) -> u32 {
    let fields: Vec<&str> = line.split(' ').collect();
    assert_eq!(fields.len(), 3, "{line:?}");
    fields[1].parse().unwrap()
}

type Lines = Arc<Mutex<Vec<String>>>;

/// A carbon that records every line of every connection; aborting it drops the listener and
/// every connection.
fn fake_carbon(listener: TcpListener, lines: Lines) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut conns = tokio::task::JoinSet::new();
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let lines = lines.clone();
            conns.spawn(async move {
                let mut reader = BufReader::new(stream).lines();
                while let Ok(Some(line)) = reader.next_line().await {
                    lines.lock().unwrap().push(line);
                }
            });
        }
    })
}

/// A sink writing to 127.0.0.1:`port` with room for `max` points, and its metrics.
fn sink(port: u16, max: usize) -> (Arc<RunnerMetrics>, GraphiteHandle, JoinHandle<()>) {
    let metrics = Arc::new(RunnerMetrics::default());
    let (h, task) = GraphiteSink::start(config(port, max), metrics.clone());
    (metrics, h, task)
}

/// A fake carbon on a free port and a sink writing to it: the port, the lines carbon
/// received, the fake, the sink's metrics, its handle and its task.
type Carbon = (
    u16,
    Lines,
    JoinHandle<()>,
    Arc<RunnerMetrics>,
    GraphiteHandle,
    JoinHandle<()>,
);

async fn carbon_and_sink(max: usize) -> Carbon {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let lines = Lines::default();
    let fake = fake_carbon(listener, lines.clone());
    let (metrics, h, task) = sink(port, max);
    (port, lines, fake, metrics, h, task)
}

/// The values of the lines carbon received, in order.
fn values(lines: &Lines) -> Vec<u32> {
    lines.lock().unwrap().iter().map(|l| value_of(l)).collect()
}

/// Closes the sink's last handle and waits for its task to end.
async fn stop(h: GraphiteHandle, task: JoinHandle<()>) {
    drop(h);
    tokio::time::timeout(WAIT, task).await.unwrap().unwrap();
}

async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let ok = tokio::time::timeout(WAIT, async {
        while !cond() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(ok.is_ok(), "timed out waiting for {what}");
}

/// A sink writing to a free port where no carbon listens (yet): the port, and the sink.
async fn sink_without_carbon(
    max: usize,
) -> (u16, Arc<RunnerMetrics>, GraphiteHandle, JoinHandle<()>) {
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (metrics, h, task) = sink(port, max);
    (port, metrics, h, task)
}

async fn bind_again(port: u16) -> TcpListener {
    for _ in 0..100 {
        if let Ok(l) = TcpListener::bind(("127.0.0.1", port)).await {
            return l;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("cannot bind 127.0.0.1:{port} again");
}

#[test]
fn config_loads_anna_molly_keys() {
    let c: GraphiteConfig = serde_json::from_str(
        r#"{"host": "127.0.0.1", "port": 2003, "prefix": "AnnaMolly", "url": "http://graphite/"}"#,
    )
    .unwrap();
    assert_eq!(c.buffer_max_points, 1_000_000);
    assert_eq!(c.url.as_deref(), Some("http://graphite/"));
    let c: GraphiteConfig = serde_json::from_str(r#"{"host": "h"}"#).unwrap();
    assert_eq!((c.port, c.prefix.as_str()), (2003, ""));
    assert!(serde_json::from_str::<GraphiteConfig>(r#"{"host": "h", "bogus": 1}"#).is_err());
    let bad = GraphiteConfig {
        host: " ".into(),
        port: 0,
        buffer_max_points: 0,
        ..c
    };
    let issues = bad.validate("output_sink.GraphiteSink");
    let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "output_sink.GraphiteSink.host",
            "output_sink.GraphiteSink.port",
            "output_sink.GraphiteSink.buffer_max_points"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn points_arrive_in_order() {
    let (_, lines, fake, metrics, h, task) = carbon_and_sink(1000).await;
    assert_eq!(
        h.name("Tukeys", "svc 1", "web01.flag"),
        "AnnaMolly.Tukeys.svc_1.web01.flag"
    );
    for chunk in 0..10 {
        h.send((chunk * 100..chunk * 100 + 100).map(point).collect());
    }
    assert!(h.flush(WAIT).await);
    wait_until("1000 lines", || lines.lock().unwrap().len() == 1000).await;
    let got = values(&lines);
    assert_eq!(got, (0..1000).collect::<Vec<_>>());
    assert_eq!(
        lines.lock().unwrap()[7],
        "AnnaMolly.Test.svc.v 7 1700000007"
    );
    assert_eq!(metrics.points_sent.get(), 1000);
    assert_eq!(metrics.points_buffered.get(), 0);
    assert_eq!(metrics.graphite_connected.get(), 1);
    assert_eq!(metrics.graphite_reconnects.get(), 0);
    stop(h, task).await;
    assert_eq!(metrics.graphite_connected.get(), 0);
    fake.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_finite_values_are_dropped_and_counted() {
    let (_, lines, fake, metrics, h, _task) = carbon_and_sink(10).await;
    let mut pts = vec![point(1), point(2), point(3)];
    pts[0].value = f64::NAN;
    pts[2].value = f64::NEG_INFINITY;
    pts[1].name = "evil\nname 1 2".into();
    h.send(pts);
    assert!(h.flush(WAIT).await);
    wait_until("1 line", || lines.lock().unwrap().len() == 1).await;
    assert_eq!(lines.lock().unwrap()[0], "evil_name_1_2 2 1700000002");
    assert_eq!(metrics.points_invalid.get(), 2);
    assert_eq!(metrics.points_sent.get(), 1);
    fake.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn carbon_restart_loses_nothing() {
    let (port, lines, fake, metrics, h, task) = carbon_and_sink(1_000_000).await;

    for i in 0..300 {
        h.send(vec![point(i)]);
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    // carbon dies: listener and connection go, possibly with unread bytes.
    fake.abort();
    let _ = tokio::time::timeout(WAIT, fake).await.unwrap();
    for i in 300..600 {
        h.send(vec![point(i)]);
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    wait_until("the sink to notice", || {
        metrics.graphite_connected.get() == 0
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let fake = fake_carbon(bind_again(port).await, lines.clone());
    for i in 600..900 {
        h.send(vec![point(i)]);
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert!(h.flush(WAIT).await);
    wait_until("all 900 points", || {
        lines
            .lock()
            .unwrap()
            .iter()
            .map(|l| value_of(l))
            .collect::<BTreeSet<_>>()
            .len()
            == 900
    })
    .await;
    let got = values(&lines);
    let distinct: BTreeSet<u32> = got.iter().copied().collect();
    assert_eq!(distinct, (0..900).collect());
    // Duplicates come only from the resent tail: points written shortly before carbon died.
    let dups = got.len() - distinct.len();
    assert!(dups <= 300, "{dups} duplicates");
    assert!(metrics.graphite_reconnects.get() >= 1);
    assert_eq!(metrics.points_sent.get(), 900);
    assert_eq!(metrics.points_dropped.get(), 0);
    stop(h, task).await;
    fake.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unread_bytes_of_a_dead_carbon_are_resent() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (metrics, h, task) = sink(port, 1000);
    // First connection: carbon accepts, never reads, then dies with the bytes unread (RST).
    let (first, _) = tokio::time::timeout(WAIT, listener.accept())
        .await
        .unwrap()
        .unwrap();
    h.send((0..50).map(point).collect());
    wait_until("50 points written", || metrics.points_sent.get() == 50).await;
    drop(first);
    // Second connection reads normally.
    let lines = Lines::default();
    let fake = fake_carbon(listener, lines.clone());
    wait_until("a reconnect", || metrics.graphite_reconnects.get() == 1).await;
    h.send((50..100).map(point).collect());
    assert!(h.flush(WAIT).await);
    wait_until("100 lines", || lines.lock().unwrap().len() >= 100).await;
    let got = values(&lines);
    assert_eq!(got, (0..100).collect::<Vec<_>>());
    stop(h, task).await;
    fake.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bound_drops_the_oldest_and_counts() {
    let (port, metrics, h, task) = sink_without_carbon(100).await;
    h.send((0..120).map(point).collect());
    for i in 120..250 {
        h.send(vec![point(i)]);
    }
    assert_eq!(metrics.points_dropped.get(), 150);
    assert_eq!(metrics.points_buffered.get(), 100);
    assert_eq!(h.buffered(), 100);
    assert!(!h.flush(Duration::from_millis(50)).await);
    assert_eq!(metrics.graphite_connected.get(), 0);
    let lines = Lines::default();
    let fake = fake_carbon(bind_again(port).await, lines.clone());
    assert!(h.flush(WAIT).await);
    wait_until("100 lines", || lines.lock().unwrap().len() == 100).await;
    let got = values(&lines);
    assert_eq!(got, (150..250).collect::<Vec<_>>());
    assert_eq!(metrics.points_sent.get(), 100);
    assert_eq!(
        metrics.graphite_reconnects.get(),
        0,
        "the first connection is not a reconnect"
    );
    stop(h, task).await;
    fake.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_without_carbon_ends_and_counts() {
    let (_, metrics, h, task) = sink_without_carbon(100).await;
    let h2 = h.clone();
    h.send((0..10).map(point).collect());
    drop(h);
    h2.send((10..20).map(point).collect());
    drop(h2);
    tokio::time::timeout(WAIT, task).await.unwrap().unwrap();
    assert_eq!(metrics.points_dropped.get(), 20);
    assert_eq!(metrics.points_buffered.get(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_writes_everything_first() {
    let (_, lines, fake, metrics, h, task) = carbon_and_sink(100_000).await;
    h.send((0..20_000).map(point).collect());
    stop(h, task).await;
    // The writer waited for carbon to close its side: everything has been read.
    assert_eq!(lines.lock().unwrap().len(), 20_000);
    assert_eq!(metrics.points_sent.get(), 20_000);
    fake.abort();
}

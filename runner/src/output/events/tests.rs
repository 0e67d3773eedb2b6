//! Event outputs against fake HTTP servers on 127.0.0.1.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use super::*;
use crate::metrics::RunnerMetrics;

const WAIT: Duration = Duration::from_secs(15);

fn fast() -> DispatchOptions {
    DispatchOptions {
        retry_base: Duration::from_millis(20),
        retry_max: Duration::from_millis(100),
    }
}

fn event(i: u32) -> EventRecord {
    EventRecord {
        plugin: "TukeysFilter".into(),
        service: "service1".into(),
        state: "anomalous".into(),
        severity: "warning".into(),
        metric: format!("system.web{i:02}.cpu"),
        reason: "above the upper fence".into(),
        values: vec![("value".into(), 97.5), ("upper".into(), 80.0)],
        ts: 1_700_000_000 + i64::from(i),
    }
}

#[derive(Debug, Clone)]
struct Request {
    head: String,
    body: Vec<u8>,
}

impl Request {
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// An HTTP server answering with scripted statuses (200 once the script is used up) and
/// recording every request.
struct FakeHttp {
    port: u16,
    requests: Arc<Mutex<Vec<Request>>>,
    task: JoinHandle<()>,
}

impl FakeHttp {
    async fn start(script: &[u16]) -> FakeHttp {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(
            script.iter().copied().collect::<VecDeque<u16>>(),
        ));
        let recorded = requests.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (recorded, script) = (recorded.clone(), script.clone());
                tokio::spawn(async move {
                    let _ = serve_one(stream, &script, &recorded).await;
                });
            }
        });
        FakeHttp {
            port,
            requests,
            task,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for FakeHttp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads one request, records it (before answering, so the record order is the order the
/// client saw answers in), and answers with the next scripted status.
async fn serve_one(
    mut stream: TcpStream,
    script: &Mutex<VecDeque<u16>>,
    recorded: &Mutex<Vec<Request>>,
) -> Option<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let len: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    recorded.lock().unwrap().push(Request {
        head,
        body: buf[head_end..head_end + len].to_vec(),
    });
    let status = script.lock().unwrap().pop_front().unwrap_or(200);
    let reply =
        format!("HTTP/1.1 {status} Whatever\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    stream.write_all(reply.as_bytes()).await.ok()?;
    let _ = stream.shutdown().await;
    Some(())
}

fn webhook(url: String, max_retries: u32) -> EventOutputConfig {
    EventOutputConfig::Webhook(WebhookConfig {
        url,
        headers: [("X-Token".to_string(), "secret".to_string())].into(),
        timeout_secs: 2,
        max_retries,
        queue_max_events: 10_000,
    })
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

async fn dead_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn webhook_body_shape() {
    let mut e = event(1);
    e.values.push(("nan".into(), f64::NAN));
    let v: serde_json::Value = serde_json::to_value(&e).unwrap();
    assert_eq!(
        v,
        serde_json::json!({
            "plugin": "TukeysFilter", "service": "service1", "state": "anomalous",
            "severity": "warning", "metric": "system.web01.cpu",
            "reason": "above the upper fence",
            "values": {"value": 97.5, "upper": 80.0, "nan": null},
            "ts": 1_700_000_001
        })
    );
}

#[test]
fn graphite_event_shape() {
    let mut e = event(3);
    e.service = "my service".into();
    let g = GraphiteEvent::of(&e, &["prod".into(), "dc 1".into()]);
    assert_eq!(
        g.what,
        "TukeysFilter my service anomalous: system.web03.cpu"
    );
    assert_eq!(
        g.tags,
        [
            "anna-molly",
            "TukeysFilter",
            "my_service",
            "anomalous",
            "prod",
            "dc_1"
        ]
    );
    assert_eq!(g.data, "above the upper fence (value=97.5, upper=80)");
    assert_eq!(g.when, 1_700_000_003);
    e.values.clear();
    assert_eq!(GraphiteEvent::of(&e, &[]).data, "above the upper fence");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_delivers() {
    let server = FakeHttp::start(&[]).await;
    let metrics = Arc::new(RunnerMetrics::default());
    let h = EventDispatcher::start_with(
        vec![webhook(server.url("/hook?x=1"), 3)],
        metrics.clone(),
        fast(),
    )
    .unwrap();
    h.emit(event(1));
    wait_until("delivery", || metrics.events_delivered.get() == 1).await;
    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    let head = &reqs[0].head;
    assert!(head.starts_with("POST /hook?x=1 HTTP/1.1\r\n"), "{head}");
    assert!(
        head.contains(&format!("Host: 127.0.0.1:{}\r\n", server.port)),
        "{head}"
    );
    assert!(
        head.contains("Content-Type: application/json\r\n"),
        "{head}"
    );
    assert!(head.contains("Connection: close\r\n"), "{head}");
    assert!(head.contains("X-Token: secret\r\n"), "{head}");
    assert_eq!(reqs[0].json(), serde_json::to_value(event(1)).unwrap());
    assert_eq!(
        metrics.events_retried.get() + metrics.events_failed.get(),
        0
    );
    assert!(h.shutdown(WAIT).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_5xx_then_delivers() {
    let server = FakeHttp::start(&[500, 503]).await;
    let metrics = Arc::new(RunnerMetrics::default());
    let h = EventDispatcher::start_with(vec![webhook(server.url("/"), 5)], metrics.clone(), fast())
        .unwrap();
    h.emit(event(1));
    wait_until("delivery", || metrics.events_delivered.get() == 1).await;
    assert_eq!(metrics.events_retried.get(), 2);
    assert_eq!(metrics.events_failed.get(), 0);
    assert_eq!(server.requests().len(), 3);
    assert!(h.shutdown(WAIT).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_errors_fail_at_once_but_429_retries() {
    let server = FakeHttp::start(&[400, 429]).await;
    let metrics = Arc::new(RunnerMetrics::default());
    let h = EventDispatcher::start_with(vec![webhook(server.url("/"), 5)], metrics.clone(), fast())
        .unwrap();
    h.emit(event(1));
    h.emit(event(2));
    assert!(h.shutdown(WAIT).await);
    assert_eq!(metrics.events_failed.get(), 1);
    assert_eq!(metrics.events_retried.get(), 1);
    assert_eq!(metrics.events_delivered.get(), 1);
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_down_retries_then_fails() {
    let port = dead_port().await;
    let metrics = Arc::new(RunnerMetrics::default());
    let url = format!("http://127.0.0.1:{port}/hook");
    let h = EventDispatcher::start_with(vec![webhook(url, 3)], metrics.clone(), fast()).unwrap();
    h.emit(event(1));
    wait_until("failure", || metrics.events_failed.get() == 1).await;
    assert_eq!(metrics.events_retried.get(), 3);
    assert_eq!(metrics.events_delivered.get(), 0);
    assert!(h.shutdown(WAIT).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emit_never_blocks_and_counts_overflow() {
    let port = dead_port().await;
    let metrics = Arc::new(RunnerMetrics::default());
    let url = format!("http://127.0.0.1:{port}/hook");
    let slow = DispatchOptions {
        retry_base: Duration::from_secs(5),
        retry_max: Duration::from_secs(5),
    };
    let h = EventDispatcher::start_with(vec![webhook(url, 5)], metrics.clone(), slow).unwrap();
    // Emit from a plain thread, as a plugin worker would; a blocking emit would hang it.
    let emitter = h.clone();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let start = Instant::now();
        for i in 0..100_000 {
            emitter.emit(event(i % 100));
        }
        let _ = done_tx.send(start.elapsed());
    });
    let elapsed =
        tokio::task::spawn_blocking(move || done_rx.recv_timeout(Duration::from_secs(120)))
            .await
            .unwrap()
            .expect("100k emits did not return");
    eprintln!("100000 emits to a dead output took {elapsed:?}");
    // 10 000 queued; the task may hold one more while it retries.
    let dropped = metrics.events_dropped.get();
    assert!((89_999..=90_000).contains(&dropped), "{dropped}");
    let pending = h.pending();
    assert_eq!(pending + dropped, 100_000);
    // Shutdown gives up on the dead output in time and counts what it held.
    assert!(!h.shutdown(Duration::from_millis(200)).await);
    assert_eq!(metrics.events_dropped.get(), 100_000);
    h.emit(event(0)); // after shutdown: only logged
    assert_eq!(metrics.events_dropped.get(), 100_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_output_does_not_hold_up_another() {
    let server = FakeHttp::start(&[]).await;
    let port = dead_port().await;
    let metrics = Arc::new(RunnerMetrics::default());
    let outputs = vec![
        webhook(format!("http://127.0.0.1:{port}/"), 1000),
        webhook(server.url("/"), 0),
    ];
    let h = EventDispatcher::start_with(outputs, metrics.clone(), fast()).unwrap();
    for i in 0..20 {
        h.emit(event(i));
    }
    wait_until("20 deliveries", || metrics.events_delivered.get() == 20).await;
    let metrics_seen: Vec<String> = server
        .requests()
        .iter()
        .map(|r| r.json()["metric"].as_str().unwrap().to_string())
        .collect();
    let expected: Vec<String> = (0..20).map(|i| event(i).metric).collect();
    assert_eq!(metrics_seen, expected, "one output delivers in order");
    assert!(!h.shutdown(Duration::from_millis(100)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphite_events_body() {
    let server = FakeHttp::start(&[]).await;
    let metrics = Arc::new(RunnerMetrics::default());
    let out = EventOutputConfig::GraphiteEvents(GraphiteEventsConfig {
        url: server.url("/events/"),
        tags: vec!["prod".into()],
        headers: Default::default(),
        timeout_secs: 2,
        max_retries: 0,
        queue_max_events: 10,
    });
    let h = EventDispatcher::start_with(vec![out], metrics.clone(), fast()).unwrap();
    h.emit(event(7));
    assert!(h.shutdown(WAIT).await);
    assert_eq!(metrics.events_delivered.get(), 1);
    let reqs = server.requests();
    assert!(reqs[0].head.starts_with("POST /events/ HTTP/1.1\r\n"));
    assert_eq!(
        reqs[0].json(),
        serde_json::json!({
            "what": "TukeysFilter service1 anomalous: system.web07.cpu",
            "tags": ["anna-molly", "TukeysFilter", "service1", "anomalous", "prod"],
            "data": "above the upper fence (value=97.5, upper=80)",
            "when": 1_700_000_007
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_refuses_https() {
    let metrics = Arc::new(RunnerMetrics::default());
    let issues =
        EventDispatcher::start(vec![webhook("https://h/".into(), 1)], metrics).unwrap_err();
    assert_eq!(issues.len(), 1);
    assert!(
        issues[0]
            .to_string()
            .starts_with("event_outputs[0].Webhook.url: https is not supported")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_outputs_only_logs() {
    let metrics = Arc::new(RunnerMetrics::default());
    let h = EventDispatcher::start(vec![], metrics.clone()).unwrap();
    h.emit(event(1));
    assert_eq!(h.pending(), 0);
    assert!(h.shutdown(WAIT).await);
    assert_eq!(metrics.events_dropped.get(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_server_times_out_and_retries() {
    // Accepts and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let metrics = Arc::new(RunnerMetrics::default());
    let mut out = webhook(format!("http://127.0.0.1:{port}/"), 1);
    if let EventOutputConfig::Webhook(w) = &mut out {
        w.timeout_secs = 1;
    }
    let h = EventDispatcher::start_with(vec![out], metrics.clone(), fast()).unwrap();
    h.emit(event(1));
    wait_until("failure", || metrics.events_failed.get() == 1).await;
    assert_eq!(metrics.events_retried.get(), 1);
    assert!(h.shutdown(WAIT).await);
    hold.abort();
}

#[tokio::test]
async fn futures_are_send() {
    fn assert_send<T: Send + 'static>(_: &T) {}
    let metrics = Arc::new(RunnerMetrics::default());
    let h = EventDispatcher::start(vec![], metrics.clone()).unwrap();
    let h2 = h.clone();
    let fut = async move { h2.shutdown(Duration::from_millis(10)).await };
    assert_send(&fut);
    assert!(tokio::spawn(fut).await.unwrap());
    let (g, task) = crate::output::GraphiteSink::start(
        crate::output::GraphiteConfig {
            host: "127.0.0.1".into(),
            port: dead_port().await,
            prefix: String::new(),
            buffer_max_points: 1,
            url: None,
        },
        metrics,
    );
    let flush = g.flush(Duration::from_millis(10));
    assert_send(&flush);
    assert!(tokio::spawn(flush).await.unwrap());
    drop(g);
    tokio::time::timeout(WAIT, task).await.unwrap().unwrap();
}

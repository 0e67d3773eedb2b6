//! The stack the browser tests run against: a real redis-server (the harness's), series
//! written with the store's writer, alarms planted through the runner's `AlarmStore` (the code
//! the runner records them with), the `am-console` binary of this build, and headless Chromium
//! driven over WebDriver by chromedriver. Every process is stopped by PID when its guard
//! drops; every browser call is bounded in time.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::Duration;

use am_runner::alarm::machine::{Detail, Record};
use am_runner::alarm::store::{AlarmStore, Change, Scope};
use am_runner::alarm::{AlarmState, Transition};
use am_store::writer::{Batch, ModelTable, write_batch};
use am_store::{Conn, Model, RedisAddr};
use am_tests::{DaemonProcess, DaemonSpec, RedisServer, find_binary, free_port};
use anyhow::{Context, Result, bail};
use fantoccini::{Client, ClientBuilder};
use serde_json::{Value, json};

/// How long one browser command may take.
pub const BROWSER_TIMEOUT: Duration = Duration::from_secs(30);

/// The model the planted series are stored under (the collector's default for raw metrics).
pub const MODEL: Model = Model::Raw { ttl: 86_400 };

/// Seconds between the planted points.
pub const STEP: i64 = 10;

/// The anomalous metric.
pub const ANOMALOUS: &str = "app.web.requests";
/// The metric with the same shape three minutes later.
pub const FOLLOWER: &str = "app.db.connections";
/// How much later the follower moves.
pub const FOLLOWER_LAG: i64 = 180;
/// Unrelated metrics planted beside them.
pub const UNRELATED: usize = 1000;
/// A stored metric whose name is markup.
pub const HOSTILE_METRIC: &str = "<script>window.__pwned=1</script>.cpu";
/// An alarm subject that is markup, with control characters.
pub const HOSTILE_SUBJECT: &str = "\"><img src=x onerror=\"window.__pwned=2\">\u{1b}[31m";
/// A reason that is markup.
pub const HOSTILE_REASON: &str = "<b onmouseover=\"window.__pwned=3\">bold</b>\nsecond line";

/// A deterministic pseudo-random sequence (xorshift).
pub struct Noise(u64);

impl Noise {
    pub fn new(seed: u64) -> Noise {
        Noise(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    /// Uniform in [-0.5, 0.5).
    pub fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    }
}

/// The planted anomaly's shape at `ts` for an anomaly starting at `t0`: a rise over two
/// minutes, five minutes high, a decay.
pub fn bump(ts: i64, t0: i64) -> f64 {
    let d = (ts - t0) as f64;
    if d < 0.0 {
        0.0
    } else if d < 120.0 {
        d / 120.0
    } else if d < 420.0 {
        1.0
    } else {
        (-(d - 420.0) / 240.0).exp()
    }
}

/// A running stack: Redis with the planted data, and the console.
pub struct Stack {
    pub redis: RedisServer,
    pub console: DaemonProcess,
    pub port: u16,
    /// The anomaly's time.
    pub at: i64,
    pub dir: tempfile::TempDir,
}

impl Stack {
    /// Redis with the planted series and alarms, and the console on a free port, with
    /// `console` as the config's `console` section (`{}` for the defaults).
    pub async fn start(console: Value) -> Result<Stack> {
        let redis = RedisServer::start()?;
        let now = am_store::unix_now();
        let at = now - 2400;
        let addr = redis_addr(&redis);
        plant_series(&addr, now, at).await?;
        plant_alarms(&addr, at).await?;
        let dir = tempfile::Builder::new()
            .prefix("am-console-test-")
            .tempdir()?;
        let port = free_port()?;
        let mut section = console;
        section["listen"] = json!(format!("127.0.0.1:{port}"));
        let config = json!({
            "metric_sink": { "RedisSink": { "host": "127.0.0.1", "port": redis.port(), "db": 0 } },
            "output_sink": { "GraphiteSink": { "host": "127.0.0.1", "port": 2003 } },
            "services": {},
            "console": section,
        });
        let path = dir.path().join("analyzer.json");
        std::fs::write(&path, serde_json::to_vec_pretty(&config)?)?;
        let spec = DaemonSpec::new("am-console", env!("CARGO_BIN_EXE_am-console"), dir.path())
            .arg("--config")
            .arg(&path);
        let mut console = DaemonProcess::spawn(spec)?;
        console.wait_for_port(port, Duration::from_secs(30))?;
        Ok(Stack {
            redis,
            console,
            port,
            at,
            dir,
        })
    }

    /// The console's URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Plants one more alarm (as the runner would record it).
    pub async fn plant_alarm(&self, subject: &str, reason: &str, ts: i64) -> Result<()> {
        raise(&redis_addr(&self.redis), subject, reason, ts).await
    }
}

pub fn redis_addr(redis: &RedisServer) -> RedisAddr {
    RedisAddr::new("127.0.0.1", redis.port())
}

/// Two hours of points every [`STEP`] s: the anomalous metric, its follower, the unrelated
/// ones (noisy cycles and random walks) and the hostile name.
async fn plant_series(addr: &RedisAddr, now: i64, at: i64) -> Result<()> {
    let mut conn = Conn::connect(addr, Duration::from_secs(5)).await?;
    let table = ModelTable::new(vec![MODEL]);
    let start = now - 7200 - now.rem_euclid(STEP);
    let ts: Vec<i64> = (start..=now).step_by(STEP as usize).collect();
    let mut batch = Batch::default();
    let mut want = 0u64;
    let mut stored = 0u64;
    let mut push = |batch: &mut Batch, name: &str, values: Vec<f64>| {
        for (&t, v) in ts.iter().zip(values) {
            batch.push(&table, [0u16], name, t as f64, v, now);
        }
        want += ts.len() as u64;
    };
    let mut noise = Noise::new(1);
    let anomalous = ts
        .iter()
        .map(|&t| 200.0 + 150.0 * bump(t, at) + 4.0 * noise.next())
        .collect();
    push(&mut batch, ANOMALOUS, anomalous);
    let mut noise = Noise::new(2);
    let follower = ts
        .iter()
        .map(|&t| 30.0 + 12.0 * bump(t, at + FOLLOWER_LAG) + 0.4 * noise.next())
        .collect();
    push(&mut batch, FOLLOWER, follower);
    let hostile = ts.iter().map(|&t| (t % 600) as f64).collect();
    push(&mut batch, HOSTILE_METRIC, hostile);
    for i in 0..UNRELATED {
        let mut noise = Noise::new(100 + i as u64);
        let period = 600.0 + 6000.0 * (noise.next() + 0.5);
        let phase = 10.0 * noise.next();
        let walk = i % 2 == 0;
        let mut level = 0.0;
        let values = ts
            .iter()
            .map(|&t| {
                level += noise.next();
                let cycle = (t as f64 / period * std::f64::consts::TAU + phase).sin();
                if walk {
                    50.0 + level
                } else {
                    50.0 + 10.0 * cycle + 2.0 * noise.next()
                }
            })
            .collect();
        push(
            &mut batch,
            &format!("noise.svc{:02}.metric{i:04}", i % 37),
            values,
        );
        if batch.points() > 50_000 {
            stored += write_batch(&mut conn, &table, &mut batch).await?.stored;
        }
    }
    stored += write_batch(&mut conn, &table, &mut batch).await?.stored;
    if stored != want {
        bail!("Redis stored {stored} of {want} planted points");
    }
    Ok(())
}

const ALARM_PREFIX: &str = "am1:alarm";

fn scope() -> Scope {
    Scope {
        algorithm: "Skyline".into(),
        plugin: "Skyline".into(),
        service: "demo".into(),
        labels: Default::default(),
    }
}

/// Records an ALARM on `subject` since `ts`, with its transition from OK.
async fn raise(addr: &RedisAddr, subject: &str, reason: &str, ts: i64) -> Result<()> {
    let mut store = AlarmStore::new(addr.clone(), ALARM_PREFIX, 1000);
    let detail = Detail {
        severity: "critical".into(),
        reason: reason.into(),
        values: vec![("value".into(), 350.0)],
    };
    let record = Record {
        state: AlarmState::Alarm,
        since: ts,
        anomalous_since: Some(ts),
        ok_since: None,
        fired: Some(ts),
        judged: Some(ts),
        verdict: Some("anomalous".into()),
        shard: Some((0, 1)),
        detail: Some(detail),
    };
    let transition = Transition {
        algorithm: "Skyline".into(),
        plugin: "Skyline".into(),
        service: "demo".into(),
        subject: subject.into(),
        state: AlarmState::Alarm,
        previous_state: Some(AlarmState::Ok),
        severity: "critical".into(),
        reason: reason.into(),
        values: vec![("value".into(), 350.0)],
        ts,
        since: ts,
        labels: Default::default(),
    };
    let applied = store
        .apply(
            &scope(),
            &[Change {
                subject: subject.into(),
                expected: None,
                new: Some(record),
                transition: Some(transition),
            }],
        )
        .await
        .context("planting an alarm")?;
    if applied != [true] {
        bail!("the planted alarm on {subject:?} was not applied");
    }
    Ok(())
}

async fn plant_alarms(addr: &RedisAddr, at: i64) -> Result<()> {
    raise(
        addr,
        ANOMALOUS,
        "requests 350 above the consensus of 7 algorithms",
        at + 30,
    )
    .await?;
    raise(addr, HOSTILE_SUBJECT, HOSTILE_REASON, at + 60).await
}

/// Headless Chromium under chromedriver, and a WebDriver session on it.
pub struct Browser {
    pub client: Client,
    driver: DaemonProcess,
    _profile: tempfile::TempDir,
}

fn chromium_binary() -> Result<PathBuf> {
    // Debian's /usr/bin/chromium is a wrapper script; the browser itself is here.
    let real = PathBuf::from("/usr/lib/chromium/chromium");
    if real.exists() {
        return Ok(real);
    }
    find_binary("chromium", "AM_TESTS_CHROMIUM")
}

impl Browser {
    /// Starts chromedriver on a free port and a fresh headless Chromium session.
    pub async fn start() -> Result<Browser> {
        let driver_bin = find_binary("chromedriver", "AM_TESTS_CHROMEDRIVER")?;
        let chromium = chromium_binary()?;
        let profile = tempfile::Builder::new()
            .prefix("am-console-chromium-")
            .tempdir()?;
        let port = free_port()?;
        let spec = DaemonSpec::new("chromedriver", driver_bin, profile.path())
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1");
        let mut driver = DaemonProcess::spawn(spec)?;
        driver.wait_for_port(port, Duration::from_secs(30))?;
        let data_dir = profile.path().join("user-data");
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                    "--window-size=1280,1000",
                    format!("--user-data-dir={}", data_dir.display()),
                ],
            },
        });
        let Value::Object(caps) = caps else {
            bail!("capabilities are an object");
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = tokio::time::timeout(
            Duration::from_secs(60),
            ClientBuilder::new(connector)
                .capabilities(caps)
                .connect(&format!("http://127.0.0.1:{port}")),
        )
        .await
        .context("starting a Chromium session timed out")?
        .map_err(|e| driver.error_with_logs(format!("starting a Chromium session: {e}")))?;
        Ok(Browser {
            client,
            driver,
            _profile: profile,
        })
    }

    /// Loads a page.
    pub async fn goto(&self, url: &str) -> Result<()> {
        within(self.client.goto(url)).await
    }

    /// Runs `script` (a function body; `arguments` are `args`) and returns its value.
    pub async fn eval(&self, script: &str, args: Vec<Value>) -> Result<Value> {
        within(self.client.execute(script, args)).await
    }

    /// Polls `script` until it returns something other than `null`/`false`, for up to
    /// `timeout`.
    pub async fn wait_for(&self, what: &str, script: &str, timeout: Duration) -> Result<Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let v = self.eval(script, Vec::new()).await?;
            if !(v.is_null() || v == Value::Bool(false)) {
                return Ok(v);
            }
            if tokio::time::Instant::now() > deadline {
                bail!("waited {timeout:?} for {what}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Saves a screenshot as `target/console-screenshots/<name>.png`; returns its path.
    pub async fn screenshot(&self, name: &str) -> Result<PathBuf> {
        let png = within(self.client.screenshot()).await?;
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png)?;
        eprintln!("screenshot: {}", path.display());
        Ok(path)
    }

    /// Ends the session and stops chromedriver.
    pub async fn close(mut self) -> Result<()> {
        let closed = tokio::time::timeout(BROWSER_TIMEOUT, self.client.close()).await;
        self.driver.stop()?;
        match closed {
            Ok(r) => r.context("closing the session"),
            Err(_) => bail!("closing the session timed out"),
        }
    }
}

/// Where screenshots go: `target/console-screenshots/` of this workspace.
pub fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("console-screenshots")
}

/// A WebDriver call, bounded by [`BROWSER_TIMEOUT`].
pub async fn within<T, E: std::fmt::Display>(
    f: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T> {
    match tokio::time::timeout(BROWSER_TIMEOUT, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => bail!("WebDriver: {e}"),
        Err(_) => bail!("a WebDriver call took over {BROWSER_TIMEOUT:?}"),
    }
}

/// A plain HTTP/1.0 GET to the console, for what needs no browser: `(status, headers and
/// body)`.
pub fn http_get(port: u16, path: &str, headers: &[(&str, &str)]) -> Result<(u16, String)> {
    http(port, "GET", path, headers, b"")
}

/// A plain HTTP/1.0 request with a body: `(status, headers and body)`.
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut req = format!("{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())?;
    // The server may answer (413) before taking the whole body.
    let _ = s.write_all(body);
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let out = String::from_utf8_lossy(&raw).into_owned();
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .context("no status line")?;
    Ok((status, out))
}

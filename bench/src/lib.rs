//! Shared pieces of the benchmarks: the machine description, the collector's counters, the
//! command line of the scripted benchmarks and a reproducible random source.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::Context;

/// One line describing the machine, printed with every figure.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0 / 1024.0);
    format!("{cpu}, {cores} cores, {mem_gib:.0} GiB")
}

/// Reads the collector's Prometheus counters from `127.0.0.1:port/metrics`.
pub fn collector_counters(port: u16) -> anyhow::Result<Vec<(String, f64)>> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).context("connecting to /metrics")?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n")?;
    let mut body = String::new();
    s.read_to_string(&mut body)?;
    Ok(body
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect())
}

/// One counter by its full name (0 when absent).
pub fn counter(counters: &[(String, f64)], name: &str) -> f64 {
    counters
        .iter()
        .find(|(k, _)| k == name)
        .map_or(0.0, |(_, v)| *v)
}

/// Reads the raw series named `names` (model `Raw { ttl }`, as the collector's default
/// router stores a whitelisted metric) over `[from, until]` back from Redis at `addr`, in
/// one pipelined round trip (per node); the points of each, in `names`' order.
pub fn read_back(
    addr: &am_store::RedisAddr,
    ttl: u32,
    names: &[String],
    from: i64,
    until: i64,
) -> anyhow::Result<Vec<Vec<am_store::Point>>> {
    let ids: Vec<am_store::SeriesId> = names
        .iter()
        .map(|name| am_store::SeriesId {
            name: name.clone(),
            model: am_store::Model::Raw { ttl },
        })
        .collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let mut reader = am_store::Reader::connect(addr, Duration::from_secs(5)).await?;
        Ok(reader.read_many(&ids, from, until).await?)
    })
}

/// A mode of a bench binary: runs with the `--flag value` pairs that follow its name.
pub type Mode = fn(&[(String, String)]) -> anyhow::Result<()>;

/// The command line of the bench binaries the scripts drive: `ports N` (see
/// [`print_free_ports`]) or one of `modes` by name, followed by its flags; `usage` is the
/// message when there is no mode.
pub fn run_mode(usage: &str, modes: &[(&str, Mode)]) -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((mode, rest)) = args.split_first() else {
        anyhow::bail!("usage: {usage}");
    };
    if mode == "ports" {
        return print_free_ports(rest);
    }
    match modes.iter().find(|(name, _)| name == mode) {
        Some((_, run)) => run(&flags(rest)?),
        None => {
            let names: Vec<&str> = modes.iter().map(|(name, _)| *name).collect();
            anyhow::bail!("unknown mode {mode} (ports, {})", names.join(" or "))
        }
    }
}

/// A 64-bit LCG: reproducible load without a dependency.
#[derive(Debug, Clone)]
pub struct Lcg(pub u64);

impl Lcg {
    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / 9_007_199_254_740_992.0
    }

    /// Roughly normal (sum of four uniforms), mean 0, sd 1.
    pub fn normal(&mut self) -> f64 {
        (self.uniform() + self.uniform() + self.uniform() + self.uniform() - 2.0) * 3f64.sqrt()
    }
}

/// `--flag value` pairs of a bench binary's command line.
pub fn flags(rest: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    rest.chunks(2)
        .map(|p| match p {
            [k, v] => Ok((k.clone(), v.clone())),
            _ => anyhow::bail!("{} needs a value", p.first().map_or("", String::as_str)),
        })
        .collect()
}

/// The value of `--name` parsed, or `default`; an error names the flag.
pub fn flag<T: std::str::FromStr>(
    f: &[(String, String)],
    name: &str,
    default: Option<T>,
) -> anyhow::Result<T>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    use anyhow::Context;
    match f.iter().find(|(k, _)| k == name) {
        Some((_, v)) => v.parse().with_context(|| format!("{name} {v}")),
        None => default.with_context(|| format!("{name} is required")),
    }
}

/// The `ports N` mode of the bench binaries: prints N free local TCP ports, one per line, for
/// the shell scripts that start the daemons.
#[allow(clippy::print_stdout)] // stdout is this mode's output, read by the bench scripts
pub fn print_free_ports(rest: &[String]) -> anyhow::Result<()> {
    let n: usize = rest.first().context("ports needs a count")?.parse()?;
    for p in am_tests::free_ports(n)? {
        println!("{p}");
    }
    Ok(())
}

/// Sends one sender's share of a load to `127.0.0.1:port` in 1 MiB writes, then flushes.
/// Each sender thread of a load generator calls this with its own connection's bytes.
pub fn send_share(port: u16, share: &[u8]) -> anyhow::Result<()> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    for piece in share.chunks(1 << 20) {
        s.write_all(piece)?;
    }
    s.flush()?;
    Ok(())
}

/// Writes `metrics` series straight into Redis with the store's writer, over `connections`
/// connections at once (series `c`, `c + connections`, ... on connection `c`, 100 series a
/// batch): series `i` is `name(i)` with the points `(ts[k], values(i, ts)[k])` under `model`.
/// Returns the points Redis stored; a refused point is an error.
pub async fn load_series(
    addr: &am_store::RedisAddr,
    model: am_store::Model,
    metrics: usize,
    connections: usize,
    ts: &[i64],
    series: impl Fn(usize, &[i64]) -> (String, Vec<f64>) + Clone + Send + 'static,
) -> anyhow::Result<u64> {
    use am_store::writer::{Batch, ModelTable, write_batch};
    let now = am_store::unix_now();
    let connections = connections.max(1);
    let mut tasks = Vec::new();
    for c in 0..connections {
        let (ts, addr, series) = (ts.to_vec(), addr.clone(), series.clone());
        tasks.push(tokio::spawn(async move {
            let mut conn = am_store::Conn::connect(&addr, Duration::from_secs(5)).await?;
            let table = ModelTable::new(vec![model]);
            let mut batch = Batch::default();
            let mut stored = 0u64;
            let mine: Vec<usize> = (c..metrics).step_by(connections).collect();
            for block in mine.chunks(100) {
                for &i in block {
                    let (name, values) = series(i, &ts);
                    for (&t, v) in ts.iter().zip(values) {
                        batch.push(&table, [0u16], &name, t as f64, v, now);
                    }
                }
                let report = write_batch(&mut conn, &table, &mut batch).await?;
                if report.failed != 0 {
                    anyhow::bail!("Redis refused {} points", report.failed);
                }
                stored += report.stored;
            }
            anyhow::Ok(stored)
        }));
    }
    let mut total = 0u64;
    for t in tasks {
        total += t.await.context("a loading task")??;
    }
    let want = (metrics * ts.len()) as u64;
    if total != want {
        anyhow::bail!("Redis stored {total} of {want} points");
    }
    Ok(total)
}

/// A metric's values at `ts` (seconds), drawn from `seed`: a level, a daily cycle, a slow drift
/// and noise; `extra(k, t, sd, amp)` is added to the k-th point (a planted anomaly), given the
/// series' noise deviation and cycle amplitude.
pub fn daily_values(
    seed: u64,
    ts: &[i64],
    extra: impl Fn(usize, i64, f64, f64) -> f64,
) -> Vec<f64> {
    let mut rng = Lcg(seed);
    let level = 10.0 + 990.0 * rng.uniform();
    let amp = level * 0.3 * rng.uniform();
    let sd = level * (0.01 + 0.05 * rng.uniform());
    let phase = std::f64::consts::TAU * rng.uniform();
    let mut drift = 0.0;
    ts.iter()
        .enumerate()
        .map(|(k, &t)| {
            drift += 0.05 * sd * rng.normal();
            let day = std::f64::consts::TAU * (t % 86_400) as f64 / 86_400.0;
            level + amp * (day + phase).sin() + drift + sd * rng.normal() + extra(k, t, sd, amp)
        })
        .collect()
}

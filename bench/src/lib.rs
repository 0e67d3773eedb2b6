//! Shared pieces of the benchmarks: the machine description and the collector's counters.

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
